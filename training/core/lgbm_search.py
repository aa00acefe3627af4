"""Tune LightGBM with the shared loop, keep the best booster, refit it when the best trial is older.

Every LightGBM family (churn, clv, ...) tunes through ``tune_lightgbm``: the core search space
(``lgbm.suggest_lgbm_params``), early stopping on the validation set, pruning, and the study named by
the lifecycle. The best booster of *this* process is kept in memory; when a resumed study's best trial
came from an earlier run, its parameters are refitted (same data, same seed), so the returned booster
always belongs to ``study.best_trial``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightgbm
import optuna
import pandas as pd

from training.core.family import RunContext
from training.core.lgbm import METRIC, Task, fit_lgbm, suggest_lgbm_params
from training.core.tuning import run_study


@dataclass
class TunedBooster:
    booster: lightgbm.Booster
    params: dict[str, Any]      # the full searched params of the best trial (plus extra_params and seed)
    study: optuna.Study
    value: float                # the best validation metric (``metric``)
    metric: str


def tune_lightgbm(train: tuple[pd.DataFrame, pd.Series], valid: tuple[pd.DataFrame, pd.Series], *,
                  task: Task, run: RunContext, categorical: list[str] | None = None,
                  extra_params: dict[str, Any] | None = None, max_rounds: int = 2000,
                  warm_start: dict | None = None) -> TunedBooster:
    """Minimise the validation ``metric`` (``extra_params["metric"]``, else the task's) over the core space.

    ``warm_start``: searched-parameter values evaluated first in a new study (``lgbm.default_trial_params``).
    """
    extra = dict(extra_params or {})
    metric = extra.get("metric", METRIC[task])
    best: dict[str, Any] = {}

    def fit(trial: optuna.Trial | optuna.trial.FixedTrial) -> tuple[lightgbm.Booster, dict]:
        params = {**suggest_lgbm_params(trial, task), **extra, "seed": run.seed}
        pruning = trial if isinstance(trial, optuna.Trial) else None
        booster = fit_lgbm(params, train, valid, task=task, trial=pruning, categorical=categorical,
                           max_rounds=max_rounds)
        return booster, params

    def objective(trial: optuna.Trial) -> float:
        booster, params = fit(trial)
        value = float(booster.best_score["valid"][metric])
        trial.set_user_attr("best_iteration", int(booster.best_iteration))
        if not best or value < best["value"]:
            best.update(value=value, number=trial.number, booster=booster, params=params)
        return value

    study = run_study(objective, study_name=run.study_name, direction="minimize", trials=run.trials,
                      timeout=run.timeout, seed=run.seed, storage=run.storage, settings=run.settings,
                      warm_start=warm_start)
    if best.get("number") != study.best_trial.number:  # the best trial came from an earlier, resumed run
        booster, params = fit(optuna.trial.FixedTrial(study.best_trial.params))
        best.update(booster=booster, params=params)
    return TunedBooster(best["booster"], best["params"], study, float(study.best_value), metric)


def scaled_rounds(best_iteration: int, tuned_rows: int, rows: int) -> int:
    """Boosting rounds for a refit on ``rows``: the tuned best iteration scaled by the row ratio.

    Early stopping found the rounds for ``tuned_rows`` training rows; with more rows each round moves less
    per row and the optimum shifts up roughly in proportion (the usual practice for a full-data refit).
    """
    return max(1, round(best_iteration * rows / max(tuned_rows, 1)))


def fit_rounds(params: dict[str, Any], x: pd.DataFrame, y: pd.Series, *, task: Task, rounds: int,
               categorical: list[str] | None = None) -> lightgbm.Booster:
    """A fixed number of rounds, no validation set: the refit of a tuned configuration on more rows."""
    from training.core.lgbm import as_lgbm_frame, base_params

    cats = [c for c in (categorical or []) if c in x.columns]
    data = lightgbm.Dataset(as_lgbm_frame(x, cats), label=y.astype(float), categorical_feature=cats or "auto")
    return lightgbm.train({**base_params(task), **params}, data, num_boost_round=rounds)
