"""LightGBM search space and fit, shared by the families (binary churn, regression / tweedie CLV).

The space is the one an experienced practitioner searches: learning rate and tree size on log scales,
row/column subsampling, L1/L2 on log scales, optional depth limit, and for binary tasks whether to
re-weight the positive class. Early stopping picks the number of rounds, so it is not searched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import lightgbm
import pandas as pd

if TYPE_CHECKING:  # served models import this module (CLV's spend models): no Optuna on that path
    import optuna

Task = Literal["binary", "regression", "tweedie"]

# The validation metric early stopping (and pruning) watches, per task.
METRIC: dict[str, str] = {"binary": "binary_logloss", "regression": "l2", "tweedie": "tweedie"}
# LightGBM metrics where higher is better (its own list, ``metric`` docs); every other one is a loss.
HIGHER_IS_BETTER = frozenset({"auc", "average_precision", "auc_mu", "map", "ndcg"})
_VALID_NAME = "valid"
# Each report is a write to the study storage (an RDB): every 10 rounds keeps pruning responsive
# without making a SQLite-backed study spend more time writing than boosting.
PRUNING_REPORT_INTERVAL = 10


# LightGBM's native categorical splits partition a column's values by their gradient statistics; on a few
# thousand rows a column of many values with no signal (a US state, a store) lets them fit noise. LightGBM
# documents these three as the controls for that; searched (with LightGBM's defaults as the warm start)
# whenever there is a categorical column. On the generated 5,000-row telecom table (``training/world/churn_tables.py``,
# a 51-value column without signal) a fixed max_cat_threshold=4, min_data_per_group=200 lowered the 5-fold
# log loss on three seeds (0.2109 -> 0.2056, 0.2146 -> 0.2101, 0.2104 -> 0.2040) about as much as dropping
# the column did. name -> (low, high, LightGBM default); log scale.
CATEGORICAL_SPACE: dict[str, tuple[float, float, float]] = {
    "max_cat_threshold": (2, 64, 32),
    "min_data_per_group": (10, 400, 100),
    "cat_smooth": (1.0, 100.0, 10.0),
}

CATEGORICAL_DEFAULTS = {name: default for name, (_, _, default) in CATEGORICAL_SPACE.items()}


def suggest_lgbm_params(trial: optuna.Trial, task: Task, *, categorical: bool = False) -> dict:
    """Sample one LightGBM parameter set; returns ready-to-use ``lightgbm.train`` params.

    ``categorical``: the data has categorical columns, so how hard LightGBM regularises its categorical
    splits is searched too (``CATEGORICAL_SPACE``)."""
    if task not in METRIC:
        raise ValueError(f"unknown task {task!r}; expected one of {sorted(METRIC)}")
    params: dict = {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 8, 256, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 5, 200, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.5, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
        "bagging_freq": trial.suggest_int("bagging_freq", 1, 7),
        "lambda_l1": trial.suggest_float("lambda_l1", 1e-8, 10.0, log=True),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-8, 10.0, log=True),
        "max_depth": -1,
    }
    if trial.suggest_categorical("limit_depth", [False, True]):
        params["max_depth"] = trial.suggest_int("max_depth", 3, 12)
        # More leaves than a depth-limited tree can hold only adds noise to the search.
        params["num_leaves"] = min(params["num_leaves"], 2 ** params["max_depth"])
    if task == "binary":
        weighting = trial.suggest_categorical("class_weighting", ["none", "is_unbalance", "scale_pos_weight"])
        if weighting == "is_unbalance":
            params["is_unbalance"] = True
        elif weighting == "scale_pos_weight":
            params["scale_pos_weight"] = trial.suggest_float("scale_pos_weight", 0.2, 10.0, log=True)
    elif task == "tweedie":
        params["tweedie_variance_power"] = trial.suggest_float("tweedie_variance_power", 1.1, 1.9)
    if categorical:
        params |= {name: (trial.suggest_int if isinstance(low, int) else trial.suggest_float)(name, low, high, log=True)
                   for name, (low, high, _) in CATEGORICAL_SPACE.items()}
    return params


def default_trial_params(task: Task, *, categorical: bool = False) -> dict:
    """Search-space values of a conventional starting point (LightGBM-like defaults, mild L2)."""
    params = {"learning_rate": 0.05, "num_leaves": 31, "min_child_samples": 20, "feature_fraction": 0.9,
              "bagging_fraction": 0.9, "bagging_freq": 1, "lambda_l1": 1e-8, "lambda_l2": 1e-3,
              "limit_depth": False}
    if task == "binary":
        params["class_weighting"] = "none"
    elif task == "tweedie":
        params["tweedie_variance_power"] = 1.5
    if categorical:
        params |= CATEGORICAL_DEFAULTS
    return params


# The second starting point: small trees, strong L2, a slow learning rate, and categorical splits held
# to few, well-populated groups. A few thousand rows rarely support more; trial 2 of every search, so
# a small budget explores both LightGBM's defaults and this. CLV's first trial (measured better than the
# defaults on every CLV bench table) and, for categorical data, the fixed setting that lowered the
# telecom table's 5-fold log loss (``CATEGORICAL_SPACE`` comment).
CONSERVATIVE = {"learning_rate": 0.03, "num_leaves": 8, "min_child_samples": 60, "feature_fraction": 0.8,
                "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l1": 1e-8, "lambda_l2": 1.0,
                "limit_depth": False}
CONSERVATIVE_CATEGORICAL = {"max_cat_threshold": 4, "min_data_per_group": 200, "cat_smooth": 50.0}


def conservative_trial_params(task: Task, *, categorical: bool = False) -> dict:
    """Search-space values of the regularised starting point (``CONSERVATIVE``)."""
    task_part = {k: v for k, v in default_trial_params(task).items() if k not in CONSERVATIVE}
    return {**CONSERVATIVE, **task_part, **(CONSERVATIVE_CATEGORICAL if categorical else {})}


def direction(metric: str) -> Literal["minimize", "maximize"]:
    """The Optuna study direction for a LightGBM metric."""
    return "maximize" if metric in HIGHER_IS_BETTER else "minimize"


def base_params(task: Task, seed: int = 0) -> dict:
    """Fixed settings: objective, metric, determinism and silence."""
    return {
        "objective": task,
        "metric": METRIC[task],
        "verbosity": -1,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "feature_pre_filter": False,  # min_child_samples varies between trials
        "num_threads": 1,
    }


def as_lgbm_frame(frame: pd.DataFrame, categorical: list[str] | None) -> pd.DataFrame:
    """Categorical columns as pandas ``category`` (LightGBM maps unseen values to missing at predict)."""
    if not categorical:
        return frame
    out = frame.copy()
    for col in categorical:
        out[col] = out[col].astype("category")
    return out


def fit_lgbm(params: dict, train: tuple[pd.DataFrame, pd.Series], valid: tuple[pd.DataFrame, pd.Series],
             *, task: str, trial: optuna.Trial | None = None, categorical: list[str] | None = None,
             max_rounds: int = 2000, early_stopping: int = 50) -> lightgbm.Booster:
    """Train with early stopping on ``valid``; with a trial, report each round to Optuna's pruner.

    ``params`` may be just the searched ones: objective, metric and determinism default from
    ``base_params(task)`` (a ``seed`` in ``params`` wins). The booster predicts with its best iteration.
    """
    full = {**base_params(task), **params}  # type: ignore[arg-type]
    x_train, y_train = train
    x_valid, y_valid = valid
    cats = [c for c in (categorical or []) if c in x_train.columns]
    dtrain = lightgbm.Dataset(as_lgbm_frame(x_train, cats), label=y_train.astype(float),
                              categorical_feature=cats or "auto", free_raw_data=False)
    dvalid = lightgbm.Dataset(as_lgbm_frame(x_valid, cats), label=y_valid.astype(float), reference=dtrain)
    callbacks = [lightgbm.early_stopping(early_stopping, first_metric_only=True, verbose=False)]
    if trial is not None:
        from optuna_integration import LightGBMPruningCallback

        callbacks.append(LightGBMPruningCallback(trial, full["metric"], valid_name=_VALID_NAME,
                                                 report_interval=PRUNING_REPORT_INTERVAL))
    return lightgbm.train(full, dtrain, num_boost_round=max_rounds, valid_sets=[dvalid],
                          valid_names=[_VALID_NAME], callbacks=callbacks)
