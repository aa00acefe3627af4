"""LightGBM spend models with a tuned objective, chosen on normalized Gini, fitted on every non-test row.

Future spend is a point mass at 0 plus a skewed positive part. Which loss ranks customers best depends on
the data, so Optuna chooses it with the tree parameters (issue 14):

- ``tweedie``: compound Poisson-Gamma, variance power searched (crmlab's single-model default);
- ``l2_log1p``: squared error on log(1 + spend), robust to whales; predictions are ``expm1``;
- ``huber``: Huber loss on spend, its threshold searched as a multiple of the mean positive spend;
- ``two_part``: P(buy) (binary) x E[spend | buy] (Gamma regression on buyers), two boosters;
- ``blend``: the mean of the four above (same tree parameters, each part calibrated to the validation
  total first), five boosters. Measured, not registered: it won on CDNOW by 0.005 Gini and lost by up to
  0.015 on generated worlds (bench/README.md), so ``REGISTERED`` searches the four single objectives.

Early stopping watches each objective's own metric; trials are compared on normalized Gini (the primary
metric, comparable across objectives), so pruning is off: the pruner would compare different metrics. Every
model's total is calibrated (one factor: predicted total = actual total), which leaves the ranking alone
and keeps ``l2_log1p``'s and Huber's totals honest.

Data use (``tune_spend_model(every_row=True)``, what ``crmlab train clv`` does; the core's
``training.core.lgbm_cv``): on a small table (train + validation at most ``settings.kfold_max_rows``) each
trial is K-fold cross-fitted over all non-test rows, folds grouped by customer, scored and calibrated on the
out-of-fold predictions of every row, and the K fold models of the chosen configuration are served, averaged
(``ensemble="folds"``: the model whose out-of-fold predictions were scored; measured better against the
generated worlds' true expected spend than one refit on all rows, bench/README.md). On a larger table the
search uses the validation split, and the chosen configuration is refitted on all non-test rows (each
booster's rounds scaled by its row ratio), ``seeds`` times with different seeds and averaged (``members``).
``one_se``: the best of the search's regularised starts (``CONSERVATIVE`` with each objective, the first
trials) is kept unless the best trial beats it by more than one bootstrap standard error
(``training.core.selection``): on a few thousand customers the best of N trials is mostly the luckiest. One
start per objective, not one for the first objective alone: with a single Tweedie start the rule held on to
Tweedie on CDNOW, whose two-part start ranks the holdout better and scores the better out-of-fold Gini
(bench/README.md, "CLV quality per step").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from training.clv.metrics import normalized_gini
from training.core.lgbm import CATEGORICAL_DEFAULTS, conservative_trial_params

if TYPE_CHECKING:  # the served model imports this module for ``combine``: no Optuna there
    import lightgbm
    import optuna

    from training.core.family import RunContext

OBJECTIVES = ("blend", "tweedie", "l2_log1p", "huber", "two_part")
SINGLE = OBJECTIVES[1:]
# What ``crmlab train clv`` searches (see the module docstring for the blend), in the order of the regularised
# starts: the two-part (hurdle) model first, so a one-trial budget gets it (best start out of fold on every
# bench table: the CDNOW sample and the 2k/5k worlds).
REGISTERED = ("two_part", "tweedie", "l2_log1p", "huber")
_BOOSTERS = {"tweedie": 1, "l2_log1p": 1, "huber": 1, "two_part": 2}
# The first trials of a search (one per objective): a regularised configuration (small trees, strong L2, slow
# learning rate), the sane default for a few thousand customers (measured better than LightGBM's defaults on every
# bench table).
CONSERVATIVE = {**conservative_trial_params("tweedie"), "huber_alpha_x_mean": 1.0}


@dataclass(frozen=True)
class BoosterSpec:
    """One booster of an objective: its LightGBM task and parameters, its label, which rows it learns."""

    task: str
    extra: dict
    label: Callable[[pd.Series], pd.Series]
    buyers_only: bool = False


def _same(y: pd.Series) -> pd.Series:
    return y


def _log1p(y: pd.Series) -> pd.Series:
    return np.log1p(y)


def _bought(y: pd.Series) -> pd.Series:
    return (y > 0).astype(float)


_SPECS: dict[str, tuple[BoosterSpec, ...]] = {
    "tweedie": (BoosterSpec("tweedie", {"metric": "poisson"}, _same),),
    "l2_log1p": (BoosterSpec("regression", {}, _log1p),),
    "huber": (BoosterSpec("regression", {"objective": "huber", "metric": "huber"}, _same),),
    "two_part": (BoosterSpec("binary", {}, _bought),
                 BoosterSpec("regression", {"objective": "gamma", "metric": "gamma_deviance"}, _same, True)),
}


def booster_specs(objective: str) -> tuple[BoosterSpec, ...]:
    """The boosters an objective fits, in the order ``combine`` reads their outputs."""
    if objective == "blend":
        return tuple(s for single in SINGLE for s in _SPECS[single])
    if objective not in _SPECS:
        raise ValueError(f"unknown CLV objective {objective!r}; expected one of {OBJECTIVES}")
    return _SPECS[objective]


@dataclass
class SpendModel:
    """A fitted spend model: boosters (text), how to combine them and the factor to the horizon.

    ``members`` > 1: the booster texts hold that many fits of the objective (member-major), averaged.
    """

    objective: str
    booster_texts: tuple[str, ...]
    features: list[str]
    categorical: list[str] = field(default_factory=list)
    scale: float = 1.0            # label window -> horizon, times the total calibration
    part_scales: tuple[float, ...] = ()  # blend only: each part's calibration
    params: dict[str, Any] = field(default_factory=dict)
    best_iterations: tuple[int, ...] = ()
    members: int = 1

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
        return combine_members(self.objective, [b.predict(x) for b in self.boosters()], self.part_scales,
                               self.members)

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


def combine_members(objective: str, outputs: list[np.ndarray], part_scales: tuple[float, ...] = (),
                    members: int = 1) -> np.ndarray:
    """The mean spend of ``members`` fits of ``objective`` (outputs member-major)."""
    n = booster_count(objective)
    if len(outputs) != n * members:
        raise ValueError(f"{members} member(s) of {objective!r} need {n * members} booster outputs, "
                         f"got {len(outputs)}")
    return np.mean([combine(objective, outputs[i * n:(i + 1) * n], part_scales) for i in range(members)], axis=0)


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


def objective_params(trial: optuna.Trial | optuna.trial.FixedTrial, objective: str, y: pd.Series, *,
                     categorical: bool = False) -> dict:
    """Core search space (with its categorical part when the data has categorical columns) plus what the
    objective itself needs."""
    from training.core.lgbm import suggest_lgbm_params

    params = suggest_lgbm_params(trial, "tweedie" if objective == "tweedie" else "regression",
                                 categorical=categorical)
    if objective in ("huber", "blend"):
        positive = float(y[y > 0].mean()) if (y > 0).any() else 1.0
        params["alpha"] = trial.suggest_float("huber_alpha_x_mean", 0.2, 5.0, log=True) * positive
    return params


def fit_objective(objective: str, params: dict, train: tuple[pd.DataFrame, pd.Series],
                  valid: tuple[pd.DataFrame, pd.Series], categorical: list[str]) -> list:
    """The booster(s) of one objective, early-stopped on its own validation metric."""
    from training.core.lgbm import fit_lgbm

    (xt, yt), (xv, yv) = train, valid
    boosters = []
    for spec in booster_specs(objective):
        rows_t, rows_v = _rows(spec, yt), _rows(spec, yv)
        if rows_v is not None and rows_v.sum() < 1:  # no buyer to early-stop on: validate on the training buyers
            valid_part = (xt[rows_t], spec.label(yt[rows_t]))
        else:
            valid_part = (xv, spec.label(yv)) if rows_v is None else (xv[rows_v], spec.label(yv[rows_v]))
        train_part = (xt, spec.label(yt)) if rows_t is None else (xt[rows_t], spec.label(yt[rows_t]))
        boosters.append(fit_lgbm({**params, **spec.extra}, train_part, valid_part, task=spec.task,
                                 categorical=categorical))
    return boosters


def _rows(spec: BoosterSpec, y: pd.Series) -> pd.Series | None:
    """The rows a booster learns from (None = all)."""
    return (y > 0) if spec.buyers_only else None


def calibrate(objective: str, outputs: list[np.ndarray], actual_total: float, scale: float
              ) -> tuple[float, tuple[float, ...]]:
    """(scale, part scales) so that the predicted total of ``outputs`` equals ``actual_total``.

    ``outputs`` are predictions for rows the boosters did not learn from (validation or out-of-fold).
    """
    part_scales: tuple[float, ...] = ()
    if objective == "blend":
        part_scales = tuple(_ratio(actual_total, float(p.sum())) for p in blend_parts(outputs))
    predicted = float(combine(objective, outputs, part_scales).sum())
    return scale * _ratio(actual_total, predicted), part_scales


def fitted_model(objective: str, boosters: list, features: list[str], categorical: list[str],
                 valid: tuple[pd.DataFrame, pd.Series], scale: float, params: dict) -> SpendModel:
    """Wrap boosters; the total calibration factor comes from the validation rows."""
    from training.core.lgbm import as_lgbm_frame

    x = as_lgbm_frame(valid[0][list(features)], list(categorical))
    total, part_scales = calibrate(objective, [b.predict(x) for b in boosters], float(valid[1].sum()), scale)
    return SpendModel(objective, tuple(b.model_to_string() for b in boosters), list(features), list(categorical),
                      total, part_scales, params, tuple(int(b.best_iteration) for b in boosters))


def _ratio(actual: float, predicted: float) -> float:
    return actual / predicted if predicted > 0 and actual > 0 else 1.0


@dataclass
class Choice:
    """One trial's configuration: what it scored, how to calibrate it and how to refit it on more rows."""

    objective: str
    params: dict
    value: float                       # normalized Gini on rows the boosters did not learn from
    scale: float                       # calibrated on those rows
    part_scales: tuple[float, ...]
    rounds: tuple[int, ...]            # per booster
    tuned_rows: tuple[int, ...]        # rows each booster's ``rounds`` were found for
    boosters: list                     # the fitted boosters (single split) or every fold's (member-major)
    predicted: np.ndarray | None = None  # the scored spend of those rows (validation, or out of fold)


@dataclass
class TunedSpend:
    model: SpendModel
    study: optuna.Study
    value: float                  # best normalized Gini of the search (validation, or out-of-fold)
    how: str = "one validation split"
    choice: Choice | None = None  # the chosen configuration (``final_model`` fits other served variants)
    rows: tuple[pd.DataFrame, pd.Series] | None = None  # every non-test row (train + valid)
    folds: int = 0                # K of the K-fold selection; 0 = one validation split
    searched: Choice | None = None  # the search's best before the one-SE rule (``choice`` after it)


def tune_spend_model(train: tuple[pd.DataFrame, pd.Series], valid: tuple[pd.DataFrame, pd.Series], *,
                     run: RunContext, categorical: list[str], scale: float,
                     objectives: tuple[str, ...] = REGISTERED, groups: pd.Series | np.ndarray | None = None,
                     every_row: bool = False, seeds: int = 1, ensemble: str = "refit",
                     one_se: bool = False, starts: tuple[str, ...] | None = None) -> TunedSpend:
    """Optuna over ``objectives`` x the core space; the best normalized Gini wins.

    ``every_row``: use every non-test row (module docstring): K-fold (folds grouped by ``groups``, the
    customer of each row of train then valid) on a small table, and a refit of the chosen configuration on
    train + valid, averaged over ``seeds`` seeds; ``ensemble="folds"`` serves the K fold models instead of
    the refit (K-fold mode only). Without it: fitted on train, chosen and calibrated on valid (the
    benchmark's earlier steps). The first trials are ``CONSERVATIVE`` with each of ``starts`` (default: every
    one of ``objectives``, in order), so a tiny budget still yields a sane model; ``one_se``: the best of those
    starts is kept unless the best trial beats it by more than one bootstrap standard error of the Gini
    difference (``training.core.selection``).
    """
    import optuna

    from training.core.lgbm_search import kfold_count
    from training.core.selection import prefer_default
    from training.core.splits import group_folds
    from training.core.tuning import is_warm_start, run_study

    if not set(starts or ()) <= set(objectives):
        raise ValueError(f"starts {starts} must be among the searched objectives {objectives}")
    features = list(train[0].columns)
    x_all, y_all = pd.concat([train[0], valid[0]]), pd.concat([train[1], valid[1]]).astype(float)
    k = kfold_count(len(x_all), run.settings) if every_row else 0
    groups = np.arange(len(x_all)) if groups is None else np.asarray(groups)
    folds = group_folds(groups, k, run.seed) if k else []
    # LightGBM's own categorical settings in the first trials: with categorical columns it is the same model
    # as before the categorical part joined the search (the one-SE rule keeps it unless clearly beaten).
    cat_defaults = CATEGORICAL_DEFAULTS if categorical else {}
    warm = [{**CONSERVATIVE, **cat_defaults, "objective": objective} for objective in starts or objectives]
    best: dict[str, Any] = {}

    def build(trial) -> Choice:
        objective = trial.suggest_categorical("objective", list(objectives))
        params = {**objective_params(trial, objective, train[1], categorical=bool(categorical)), "seed": run.seed}
        if folds:
            return _cross_fitted(objective, params, (x_all, y_all), folds, categorical, scale)
        return _split_fitted(objective, params, train, valid, categorical, scale)

    def objective_fn(trial: optuna.Trial) -> float:
        choice = build(trial)
        trial.set_user_attr("best_iteration", int(choice.rounds[0]))
        if not best or choice.value > best["choice"].value:
            best.update(number=trial.number, choice=choice)
        if is_warm_start(trial.params, warm) and ("default" not in best or choice.value > best["default"].value):
            best["default"] = choice
        return choice.value

    study = run_study(objective_fn, study_name=run.study_name, direction="maximize", trials=run.trials,
                      timeout=run.timeout, seed=run.seed, storage=run.storage, settings=run.settings,
                      warm_start=warm)
    if best.get("number") != study.best_trial.number:  # a resumed study's best came from an earlier run
        # a study begun by an older crmlab may lack parameters the space has gained: LightGBM's defaults
        best.update(choice=build(optuna.trial.FixedTrial({**cat_defaults, **study.best_trial.params})))
    choice: Choice = best["choice"]
    how = f"{k}-fold cross-validation over {len(x_all)} rows (grouped by customer)" if k else \
        f"one validation split ({len(valid[0])} rows)"
    searched = choice
    if one_se and best.get("default") is not None and best["default"] is not choice:
        scored = (y_all, groups) if k else (valid[1].astype(float), groups[len(train[0]):])
        keep, gain, se = prefer_default(normalized_gini, scored[0].to_numpy(float), choice.predicted,
                                        best["default"].predicted, scored[1], seed=run.seed)
        how += (f"; the search's best beat the best regularised start ({best['default'].objective}) by "
                f"{gain:+.4f} Gini (SE {se:.4f}): " + ("start kept (one-SE rule)" if keep else "best kept"))
        choice = best["default"] if keep else choice
    elif one_se and best.get("default") is choice:
        how += f"; the best trial is the regularised {choice.objective} start"
    if not every_row:
        return TunedSpend(wrap_model(choice, choice.boosters, features, categorical, 1), study,
                          float(study.best_value), how, choice, (x_all, y_all), k, searched)
    model, final = final_model(choice, (x_all, y_all), categorical, folds=len(folds), seeds=seeds,
                               ensemble=ensemble, seed=run.seed)
    return TunedSpend(model, study, float(study.best_value), f"{how}; {final}", choice, (x_all, y_all), k,
                      searched)


def final_model(choice: Choice, data: tuple[pd.DataFrame, pd.Series], categorical: list[str], *, folds: int,
                seeds: int, ensemble: str, seed: int) -> tuple[SpendModel, str]:
    """The served model of a chosen configuration and how it was fitted: the K fold models averaged
    (``ensemble="folds"``, K-fold mode only), else a refit on all of ``data`` averaged over ``seeds``."""
    features = list(data[0].columns)
    if folds and ensemble == "folds":
        return (wrap_model(choice, choice.boosters, features, categorical, folds),
                f"the {folds} fold models averaged")
    members = [b for s in range(seeds) for b in refit_objective(choice, data, categorical, seed=seed + s)]
    return (wrap_model(choice, members, features, categorical, seeds),
            f"refit on all {len(data[0])} non-test rows (rounds scaled by the row ratio)"
            + (f", {seeds} seeds averaged" if seeds > 1 else ""))


def _split_fitted(objective: str, params: dict, train: tuple[pd.DataFrame, pd.Series],
                  valid: tuple[pd.DataFrame, pd.Series], categorical: list[str], scale: float) -> Choice:
    """Fitted on train, early-stopped, scored and calibrated on valid."""
    from training.core.lgbm import as_lgbm_frame

    boosters = fit_objective(objective, params, train, valid, categorical)
    x = as_lgbm_frame(valid[0], categorical)
    outputs = [b.predict(x) for b in boosters]
    total, part_scales = calibrate(objective, outputs, float(valid[1].sum()), scale)
    rows = tuple(int((train[1] > 0).sum()) if s.buyers_only else len(train[1]) for s in booster_specs(objective))
    predicted = combine(objective, outputs, part_scales)
    value = normalized_gini(valid[1].to_numpy(float), predicted)
    return Choice(objective, params, value, total, part_scales, tuple(int(b.best_iteration) for b in boosters),
                  rows, boosters, predicted)


def _cross_fitted(objective: str, params: dict, data: tuple[pd.DataFrame, pd.Series],
                  folds: list[tuple[np.ndarray, np.ndarray]], categorical: list[str], scale: float) -> Choice:
    """Every booster cross-fitted over ``folds``; scored and calibrated on the out-of-fold predictions."""
    from training.core.lgbm_cv import lgbm_cross_fit

    x, y = data
    fits = [lgbm_cross_fit({**params, **spec.extra}, x, spec.label(y), folds, task=spec.task, categorical=categorical,
                      fit_mask=(y > 0).to_numpy() if spec.buyers_only else None)
            for spec in booster_specs(objective)]
    outputs = [f.oof for f in fits]
    total, part_scales = calibrate(objective, outputs, float(y.sum()), scale)
    fold_members = [f.members[i] for i in range(len(folds)) for f in fits]  # member-major
    predicted = combine(objective, outputs, part_scales)
    value = normalized_gini(y.to_numpy(float), predicted)
    return Choice(objective, params, value, total, part_scales, tuple(f.rounds for f in fits),
                  tuple(f.fit_rows for f in fits), fold_members, predicted)


def refit_objective(choice: Choice, data: tuple[pd.DataFrame, pd.Series], categorical: list[str], *,
                    seed: int) -> list[lightgbm.Booster]:
    """The chosen configuration's boosters on all of ``data`` (rounds scaled from ``choice.tuned_rows``)."""
    from training.core.lgbm_cv import refit

    x, y = data
    boosters = []
    for spec, rounds, tuned_rows in zip(booster_specs(choice.objective), choice.rounds, choice.tuned_rows, strict=True):
        rows = (y > 0) if spec.buyers_only else np.ones(len(y), bool)
        boosters.append(refit({**choice.params, **spec.extra, "seed": seed}, x[rows], spec.label(y[rows]),
                              task=spec.task, rounds=rounds, tuned_rows=tuned_rows, categorical=categorical))
    return boosters


def wrap_model(choice: Choice, boosters: list, features: list[str], categorical: list[str], members: int) -> SpendModel:
    """A ``SpendModel`` of ``members`` fits of the chosen configuration (``boosters`` member-major)."""
    n = booster_count(choice.objective)
    return SpendModel(choice.objective, tuple(b.model_to_string() for b in boosters), list(features),
                      list(categorical), choice.scale, choice.part_scales, choice.params,
                      tuple(int(b.current_iteration() if b.best_iteration <= 0 else b.best_iteration)
                            for b in boosters[:n]), members)
