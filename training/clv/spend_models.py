"""LightGBM spend models with a tuned objective, chosen on validation normalized Gini.

Future spend is a point mass at 0 plus a skewed positive part. Which loss ranks customers best depends on
the data, so Optuna chooses it with the tree parameters (issue 14):

- ``tweedie``: compound Poisson-Gamma, variance power searched (crmlab's single-model default);
- ``l2_log1p``: squared error on log(1 + spend), robust to whales; predictions are ``expm1``;
- ``huber``: Huber loss on spend, its threshold searched as a multiple of the mean positive spend;
- ``two_part``: P(buy) (binary) x E[spend | buy] (Gamma regression on buyers), two boosters;
- ``blend``: the mean of the four above (same tree parameters, each part calibrated to the validation
  total first), five boosters. Measured, not registered: it won on CDNOW by 0.005 Gini and lost by up to
  0.015 on generated worlds (bench/README.md), so ``REGISTERED`` searches the four single objectives.

Early stopping watches each objective's own metric; trials are compared on the validation normalized Gini
(the primary metric, comparable across objectives), so pruning is off: the pruner would compare
different metrics. Every model's total is calibrated on validation (one factor: predicted total = actual
total), which leaves the ranking alone and keeps ``l2_log1p``'s and Huber's totals honest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from training.clv.metrics import normalized_gini

if TYPE_CHECKING:  # the served model imports this module for ``combine``: no Optuna there
    import optuna

    from training.core.family import RunContext

OBJECTIVES = ("blend", "tweedie", "l2_log1p", "huber", "two_part")
SINGLE = OBJECTIVES[1:]
REGISTERED = SINGLE  # what ``crmlab train clv`` searches (see the module docstring for the blend)
_BOOSTERS = {"tweedie": 1, "l2_log1p": 1, "huber": 1, "two_part": 2}
# The first trial of a search: a regularised configuration (small trees, strong L2, slow learning rate), the
# sane default for a few thousand customers (measured better than LightGBM's defaults on every bench table).
CONSERVATIVE = {"learning_rate": 0.03, "num_leaves": 8, "min_child_samples": 60, "feature_fraction": 0.8,
                "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l1": 1e-8, "lambda_l2": 1.0,
                "limit_depth": False, "tweedie_variance_power": 1.5, "huber_alpha_x_mean": 1.0}


@dataclass
class SpendModel:
    """A fitted spend model: boosters (text), how to combine them and the factor to the horizon."""

    objective: str
    booster_texts: tuple[str, ...]
    features: list[str]
    categorical: list[str] = field(default_factory=list)
    scale: float = 1.0            # label window -> horizon, times the validation total calibration
    part_scales: tuple[float, ...] = ()  # blend only: each part's validation calibration
    params: dict[str, Any] = field(default_factory=dict)
    best_iterations: tuple[int, ...] = ()

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_boosters"}

    def boosters(self) -> list:
        if getattr(self, "_boosters", None) is None:
            import lightgbm

            self._boosters = [lightgbm.Booster(model_str=text) for text in self.booster_texts]
        return self._boosters

    def raw(self, frame: pd.DataFrame) -> np.ndarray:
        """Spend over the label window, before the scale (non-negative)."""
        from training.core.lgbm import as_lgbm_frame

        x = as_lgbm_frame(frame[self.features], self.categorical)
        return combine(self.objective, [b.predict(x) for b in self.boosters()], self.part_scales)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Expected spend over the horizon."""
        return self.raw(frame) * self.scale


def combine(objective: str, outputs: list[np.ndarray], part_scales: tuple[float, ...] = ()) -> np.ndarray:
    """Booster outputs -> non-negative spend over the label window (before the scale)."""
    if objective == "blend":
        parts = blend_parts(outputs)
        return np.mean([p * f for p, f in zip(parts, part_scales or (1.0,) * len(parts), strict=True)], axis=0)
    if objective == "two_part":
        return np.clip(outputs[0], 0, 1) * np.clip(outputs[1], 0, None)
    if objective == "l2_log1p":
        return np.expm1(np.clip(outputs[0], 0, None))
    return np.clip(outputs[0], 0, None)


def booster_count(objective: str) -> int:
    """How many boosters a model of ``objective`` holds."""
    return sum(_BOOSTERS.values()) if objective == "blend" else _BOOSTERS[objective]


def blend_parts(outputs: list[np.ndarray]) -> list[np.ndarray]:
    """The four single-objective spends of a blend's five booster outputs (in ``SINGLE`` order)."""
    parts, start = [], 0
    for objective in SINGLE:
        parts.append(combine(objective, outputs[start:start + _BOOSTERS[objective]]))
        start += _BOOSTERS[objective]
    return parts


def objective_params(trial: optuna.Trial | optuna.trial.FixedTrial, objective: str, y: pd.Series) -> dict:
    """Core search space plus what the objective itself needs."""
    from training.core.lgbm import suggest_lgbm_params

    params = suggest_lgbm_params(trial, "tweedie" if objective == "tweedie" else "regression")
    if objective in ("huber", "blend"):
        positive = float(y[y > 0].mean()) if (y > 0).any() else 1.0
        params["alpha"] = trial.suggest_float("huber_alpha_x_mean", 0.2, 5.0, log=True) * positive
    return params


def fit_objective(objective: str, params: dict, train: tuple[pd.DataFrame, pd.Series],
                  valid: tuple[pd.DataFrame, pd.Series], categorical: list[str]) -> list:
    """The booster(s) of one objective, early-stopped on its own validation metric."""
    from training.core.lgbm import fit_lgbm

    (xt, yt), (xv, yv) = train, valid

    def fit(task: str, extra: dict, tr: tuple, va: tuple):
        return fit_lgbm({**params, **extra}, tr, va, task=task, categorical=categorical)

    if objective == "tweedie":
        return [fit("tweedie", {"metric": "poisson"}, (xt, yt), (xv, yv))]
    if objective == "l2_log1p":
        return [fit("regression", {}, (xt, np.log1p(yt)), (xv, np.log1p(yv)))]
    if objective == "huber":
        return [fit("regression", {"objective": "huber", "metric": "huber"}, (xt, yt), (xv, yv))]
    if objective == "two_part":
        buy = fit("binary", {}, (xt, (yt > 0).astype(float)), (xv, (yv > 0).astype(float)))
        pos_t, pos_v = yt > 0, yv > 0
        if pos_v.sum() < 1:  # no buyer to early-stop on: validate on the training buyers
            pos_v, xv, yv = pos_t, xt, yt
        spend = fit("regression", {"objective": "gamma", "metric": "gamma_deviance"},
                    (xt[pos_t], yt[pos_t]), (xv[pos_v], yv[pos_v]))
        return [buy, spend]
    if objective == "blend":
        return [b for single in SINGLE for b in fit_objective(single, params, train, valid, categorical)]
    raise ValueError(f"unknown CLV objective {objective!r}; expected one of {OBJECTIVES}")


def fitted_model(objective: str, boosters: list, features: list[str], categorical: list[str],
                 valid: tuple[pd.DataFrame, pd.Series], scale: float, params: dict) -> SpendModel:
    """Wrap boosters; the total calibration factor comes from the validation rows."""
    from training.core.lgbm import as_lgbm_frame

    model = SpendModel(objective, tuple(b.model_to_string() for b in boosters), list(features), list(categorical),
                       1.0, (), params, tuple(int(b.best_iteration) for b in boosters))
    actual = float(valid[1].sum())
    if objective == "blend":
        x = as_lgbm_frame(valid[0][model.features], model.categorical)
        parts = blend_parts([b.predict(x) for b in model.boosters()])
        model.part_scales = tuple(_ratio(actual, float(p.sum())) for p in parts)
    predicted = model.raw(valid[0]).sum()
    model.scale = scale * _ratio(actual, predicted)
    return model


def _ratio(actual: float, predicted: float) -> float:
    return actual / predicted if predicted > 0 and actual > 0 else 1.0


@dataclass
class TunedSpend:
    model: SpendModel
    study: optuna.Study
    value: float                  # best validation normalized Gini


def tune_spend_model(train: tuple[pd.DataFrame, pd.Series], valid: tuple[pd.DataFrame, pd.Series], *,
                     run: RunContext, categorical: list[str], scale: float,
                     objectives: tuple[str, ...] = REGISTERED) -> TunedSpend:
    """Optuna over ``objectives`` x the core space; the best validation normalized Gini wins.

    The first trial is ``CONSERVATIVE`` with the first of ``objectives``, so a tiny budget still yields
    a sane model.
    """
    import optuna

    from training.core.tuning import run_study

    features = list(train[0].columns)
    best: dict[str, Any] = {}

    def build(trial) -> tuple[float, SpendModel]:
        objective = trial.suggest_categorical("objective", list(objectives))
        params = {**objective_params(trial, objective, train[1]), "seed": run.seed}
        boosters = fit_objective(objective, params, train, valid, categorical)
        model = fitted_model(objective, boosters, features, categorical, valid, scale, params)
        return normalized_gini(valid[1].to_numpy(float), model.raw(valid[0])), model

    def objective_fn(trial: optuna.Trial) -> float:
        value, model = build(trial)
        trial.set_user_attr("best_iteration", int(model.best_iterations[0]))
        if not best or value > best["value"]:
            best.update(value=value, number=trial.number, model=model)
        return value

    warm = {**CONSERVATIVE, "objective": objectives[0]}
    study = run_study(objective_fn, study_name=run.study_name, direction="maximize", trials=run.trials,
                      timeout=run.timeout, seed=run.seed, storage=run.storage, settings=run.settings,
                      warm_start=warm)
    if best.get("number") != study.best_trial.number:  # a resumed study's best came from an earlier run
        _, model = build(optuna.trial.FixedTrial(study.best_trial.params))
        best.update(model=model)
    return TunedSpend(best["model"], study, float(study.best_value))
