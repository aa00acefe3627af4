"""Tune LightGBM with the shared loop, keep the best booster, refit it when the best trial is older.

Every LightGBM family (churn, clv, ...) tunes through ``tune_lightgbm``: the core search space
(``lgbm.suggest_lgbm_params``), early stopping on the validation set, pruning, and the study named by
the lifecycle. The best booster of *this* process is kept in memory; when a resumed study's best trial
came from an earlier run, its parameters are refitted (same data, same seed), so the returned booster
always belongs to ``study.best_trial``.

Small tables (train + validation at most ``settings.kfold_max_rows`` rows, default 10,000) are tuned with
K-fold cross-validation on train and validation together (``lightgbm.cv``: the objective is the fold mean
of the metric at the round where that mean is lowest). Why 10,000: one validation split of 15-30% holds
1,500-3,000 rows there; the standard error of a mean log loss on that many rows (about 0.5/sqrt(n), i.e.
0.009-0.013) is as large as the differences between good configurations, so the search chases noise (issue
14: on 1,470- and 5,000-row tables tuning lost to a default model). Scoring every row K times removes most
of that noise, and below 10,000 rows a LightGBM fit takes well under a second, so K folds cost little.
Above it, the split's noise is small next to the gains and K-fold would divide the trials per second by K.
The returned booster never sees the validation rows in either mode: in K-fold mode it is the best
configuration fitted on ``train`` with the cross-validated rounds (scaled to the train rows), so callers
that score their validation split stay honest. ``best_iteration``/``tuned_rows`` say what a refit on more
rows should scale from (``scaled_rounds``).

``one_se`` (K-fold mode): the best of the warm starts is kept unless the search's best beats it by more than
one standard error of the best's cross-validated metric (the fold standard deviation over sqrt(K)), Breiman's
rule as in glmnet's ``lambda.1se``. On the 2,000-customer bench worlds the search's best (of 60 trials)
beat the regularised start by less than that on all 6 seeds, and keeping the start raised churn's test AUC
by 0.0016 on average (0 to +0.0035; bench/README.md, churn quality, "one-SE rule"). CLV's search has every
trial's out-of-fold predictions and uses the paired bootstrap form (``training.core.selection``);
``lightgbm.cv`` gives only fold means and standard deviations, hence this form here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import lightgbm
import optuna
import pandas as pd

from training.core.family import RunContext
from training.core.lgbm import METRIC, Task, default_trial_params, direction, fit_lgbm, suggest_lgbm_params
from training.core.tuning import is_warm_start, run_study, warm_starts
from training.settings import Settings


@dataclass
class TunedBooster:
    booster: lightgbm.Booster
    params: dict[str, Any]      # the full searched params of the best trial (plus extra_params and seed)
    study: optuna.Study
    value: float                # the best validation (or cross-validated) metric (``metric``)
    metric: str
    best_iteration: int = 0     # the selected number of rounds for ``tuned_rows`` training rows
    tuned_rows: int = 0         # rows each tuning fit trained on (train, or K-1 folds of train + validation)
    folds: int = 0              # K of the K-fold tuning; 0 = one validation split
    kept_start: str = ""        # why a warm start was kept over the search's best (``one_se``), else empty

    @property
    def how(self) -> str:
        """One line for notes and model cards."""
        if self.folds:
            return f"{self.folds}-fold cross-validation ({self.metric})" + (f", {self.kept_start}"
                                                                            if self.kept_start else "")
        return f"one validation split ({self.metric})"


class CvScore(NamedTuple):
    """``cv_lgbm``'s result: rounds and fold-mean metric at the best round, and that mean's standard error."""

    rounds: int
    value: float
    se: float


def tune_lightgbm(train: tuple[pd.DataFrame, pd.Series], valid: tuple[pd.DataFrame, pd.Series], *,
                  task: Task, run: RunContext, categorical: list[str] | None = None,
                  extra_params: dict[str, Any] | None = None, max_rounds: int = 2000,
                  warm_start: dict | list[dict] | None = None, groups: pd.Series | None = None,
                  one_se: bool = False) -> TunedBooster:
    """Optimise the validation ``metric`` (``extra_params["metric"]``, else the task's) over the core space:
    minimise a loss, maximise a score such as ``auc`` (``lgbm.direction``).

    ``groups``: a customer id per row of train then validation; in K-fold mode a customer's rows stay in one
    fold (``cv_lgbm``).

    ``warm_start``: searched-parameter values (one set or several) evaluated first in a new study
    (``lgbm.default_trial_params``, ``lgbm.conservative_trial_params``); ``one_se``: keep the best of them
    unless clearly beaten (module docstring).
    """
    extra = dict(extra_params or {})
    metric = extra.get("metric", METRIC[task])
    rows = len(train[0]) + len(valid[0])
    folds = kfold_count(rows, run.settings)
    sense = direction(metric)
    maximize = sense == "maximize"
    best: dict[str, Any] = {}
    starts = warm_starts(warm_start)
    start_fits: list[dict[str, Any]] = []

    def fit(trial: optuna.Trial | optuna.trial.FixedTrial) -> tuple[lightgbm.Booster, dict, int, float, float]:
        """(booster, params, best rounds, value, its standard error: 0 on one split) of one configuration."""
        params = {**suggest_lgbm_params(trial, task, categorical=bool(categorical)), **extra, "seed": run.seed}
        pruning = trial if isinstance(trial, optuna.Trial) else None
        if folds:
            rounds, value, se = cv_lgbm(params, train, valid, task=task, folds=folds, trial=pruning,
                                        categorical=categorical, max_rounds=max_rounds, metric=metric,
                                        seed=run.seed, groups=groups)
            return None, params, rounds, value, se  # type: ignore[return-value]  # fitted once, for the best
        booster = fit_lgbm(params, train, valid, task=task, trial=pruning, categorical=categorical,
                           max_rounds=max_rounds)
        return booster, params, int(booster.best_iteration), float(booster.best_score["valid"][metric]), 0.0

    def objective(trial: optuna.Trial) -> float:
        booster, params, rounds, value, se = fit(trial)
        trial.set_user_attr("best_iteration", rounds)
        fitted = dict(value=value, se=se, number=trial.number, booster=booster, params=params, rounds=rounds)
        if not best or (value > best["value"] if maximize else value < best["value"]):
            best.update(fitted)
        if is_warm_start(trial.params, starts):
            start_fits.append(fitted)
        return value

    study = run_study(objective, study_name=run.study_name, direction=sense, trials=run.trials,
                      timeout=run.timeout, seed=run.seed, storage=run.storage, settings=run.settings,
                      warm_start=warm_start)
    if best.get("number") != study.best_trial.number:  # the best trial came from an earlier, resumed run
        # a study begun by an older crmlab may lack parameters the space has gained: LightGBM's defaults
        known = {**default_trial_params(task, categorical=bool(categorical)), **study.best_trial.params}
        booster, params, rounds, _, _ = fit(optuna.trial.FixedTrial(known))
        best.update(booster=booster, params=params, rounds=rounds)
    kept = ""
    if one_se and folds and start_fits and best.get("number") == study.best_trial.number:
        bar = best["value"] - best["se"] if maximize else best["value"] + best["se"]
        near = [f for f in start_fits if (f["value"] >= bar if maximize else f["value"] <= bar)]
        if near:
            start = (max if maximize else min)(near, key=lambda f: f["value"])
            if start["number"] != best["number"]:
                kept = (f"a starting configuration kept (one-SE rule: {start['value']:.4f} vs the search's best "
                        f"{best['value']:.4f}, SE {best['se']:.4f})")
            best.update(booster=start["booster"], params=start["params"], rounds=start["rounds"])
    tuned_rows = len(train[0])
    if folds:  # the configuration on the train rows only, with the cross-validated rounds scaled to them
        cv_rows = rows - rows // folds
        booster = fit_rounds(best["params"], *train, task=task, categorical=categorical,
                             rounds=scaled_rounds(best["rounds"], cv_rows, tuned_rows))
        booster.best_iteration = booster.current_iteration()
        best.update(booster=booster)
        tuned_rows = cv_rows
    return TunedBooster(best["booster"], best["params"], study, float(study.best_value), metric,
                        best_iteration=int(best["rounds"]), tuned_rows=tuned_rows, folds=folds, kept_start=kept)


def cv_lgbm(params: dict[str, Any], train: tuple[pd.DataFrame, pd.Series], valid: tuple[pd.DataFrame, pd.Series],
            *, task: Task, folds: int, metric: str, seed: int, trial: optuna.Trial | None = None,
            categorical: list[str] | None = None, max_rounds: int = 2000, early_stopping: int = 50,
            groups: pd.Series | None = None) -> CvScore:
    """K-fold ``lightgbm.cv`` on train + validation: best rounds, fold-mean ``metric`` there (the best is the
    highest for a score such as ``auc``, else the lowest) and its standard error (fold std / sqrt(K)).

    Folds are stratified for binary tasks. When ``groups`` (a customer id per row) repeat, as on a
    time-based split with a row per customer and cutoff, a customer's rows stay in one fold
    (``splits.stratified_folds``): a fold model scored on a customer whose other rows it learned from
    flatters flexible configurations. Early stopping watches the fold mean, so every fold stops at the same
    round; with a trial, the fold mean is reported to Optuna's pruner.
    """
    from training.core.lgbm import PRUNING_REPORT_INTERVAL, as_lgbm_frame, base_params
    from training.core.splits import group_folds, repeats, stratified_folds

    x = pd.concat([train[0], valid[0]])
    y = pd.concat([train[1], valid[1]]).astype(float)
    cats = [c for c in (categorical or []) if c in x.columns]
    data = lightgbm.Dataset(as_lgbm_frame(x, cats), label=y, categorical_feature=cats or "auto",
                            free_raw_data=False)
    full = {**base_params(task), **params, "metric": metric}
    callbacks = [lightgbm.early_stopping(early_stopping, first_metric_only=True, verbose=False)]
    if trial is not None:
        from optuna_integration import LightGBMPruningCallback

        callbacks.append(LightGBMPruningCallback(trial, metric, valid_name="valid",
                                                 report_interval=PRUNING_REPORT_INTERVAL))
    if repeats(groups):
        split = (stratified_folds(y, folds, seed, groups) if task == "binary"
                 else group_folds(groups, folds, seed))
        result = lightgbm.cv(full, data, num_boost_round=max_rounds, folds=split, callbacks=callbacks)
    else:
        result = lightgbm.cv(full, data, num_boost_round=max_rounds, nfold=folds, stratified=task == "binary",
                             shuffle=True, seed=seed, callbacks=callbacks)
    curve = result[f"valid {metric}-mean"]
    pick = max if direction(metric) == "maximize" else min
    best_round = pick(range(len(curve)), key=curve.__getitem__)
    se = float(result[f"valid {metric}-stdv"][best_round]) / folds ** 0.5
    return CvScore(best_round + 1, float(curve[best_round]), se)


def kfold_count(rows: int, settings: Settings) -> int:
    """Folds for ``rows`` non-test rows: ``settings.kfold_folds`` for a small table, else 0 (one split)."""
    return settings.kfold_folds if rows <= settings.kfold_max_rows else 0


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
