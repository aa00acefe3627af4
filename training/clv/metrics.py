"""Holdout metrics for spend predictions: errors for planning, ranking metrics for targeting.

Ties in a prediction (common: many customers predicted 0) are resolved by averaging the actual spend
within each tie group, i.e. the expected value under random tie-breaking, so that row order in the
input never changes a metric.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

# Higher is better for these; the others are errors (lower is better).
HIGHER_IS_BETTER = {"spearman", "normalized_gini", "top_decile_capture"}
PRIMARY_METRIC = "normalized_gini"


def _tie_averaged_actual_by_prediction(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Actual values sorted by prediction (descending), each tie group replaced by its mean."""
    order = np.argsort(-predicted, kind="stable")
    a, p = actual[order], predicted[order]
    groups = np.concatenate([[0], np.cumsum(p[1:] != p[:-1])])
    sums = np.bincount(groups, weights=a)
    counts = np.bincount(groups)
    return (sums / counts)[groups]


def _gini(actual: np.ndarray, predicted: np.ndarray) -> float:
    a = _tie_averaged_actual_by_prediction(actual, predicted)
    total = a.sum()
    if total <= 0:
        return float("nan")
    n = len(a)
    return float(np.cumsum(a).sum() / total / n - (n + 1) / (2 * n))


def normalized_gini(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Gini of the spend-capture curve ordered by prediction, over the best possible: 1 = perfect order."""
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    best = _gini(actual, actual)
    return _gini(actual, predicted) / best if best and not math.isnan(best) else float("nan")


def top_decile_capture(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Share of all actual spend made by the 10% of customers predicted most valuable."""
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    a = _tie_averaged_actual_by_prediction(actual, predicted)
    total = a.sum()
    return float(a[: max(1, math.ceil(len(a) / 10))].sum() / total) if total > 0 else float("nan")


def regression_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """MAE, RMSE, Spearman, normalized Gini, top-decile capture and total predicted / total actual."""
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    if len(actual) != len(predicted) or len(actual) == 0:
        raise ValueError(f"metrics need equal, non-empty arrays (got {len(actual)} and {len(predicted)})")
    err = predicted - actual
    rho = spearmanr(actual, predicted).statistic if np.ptp(predicted) > 0 and np.ptp(actual) > 0 else np.nan
    return {
        "mae": float(np.abs(err).mean()),
        "rmse": float(np.sqrt((err ** 2).mean())),
        "spearman": float(rho),
        "normalized_gini": normalized_gini(actual, predicted),
        "top_decile_capture": top_decile_capture(actual, predicted),
        "total_ratio": float(predicted.sum() / actual.sum()) if actual.sum() > 0 else float("nan"),
    }


def comparison_table(actual: np.ndarray, predictions: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per model, one column per metric; sorted best first on the primary metric."""
    rows = [{"model": name, **regression_metrics(actual, pred)} for name, pred in predictions.items()]
    table = pd.DataFrame(rows).set_index("model")
    return table.sort_values(PRIMARY_METRIC, ascending=False, na_position="last")


def pick_winner(table: pd.DataFrame, metric: str = PRIMARY_METRIC) -> str:
    """Best model on ``metric`` (NaN never wins); ties go to the first listed (the simpler baseline first)."""
    values = table[metric].astype(float)
    if values.isna().all():
        raise ValueError(f"no model has a finite {metric} on the holdout (is all actual spend 0?)")
    ordered = values.fillna(-np.inf if metric in HIGHER_IS_BETTER else np.inf)
    return str(ordered.idxmax() if metric in HIGHER_IS_BETTER else ordered.idxmin())


def calibration_by_decile(actual: np.ndarray, predicted: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Mean predicted vs mean actual spend per decile of prediction (decile 1 = lowest predictions)."""
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    ranks = pd.Series(predicted).rank(method="first").to_numpy()
    decile = np.ceil(ranks / len(ranks) * bins).astype(int)
    frame = pd.DataFrame({"decile": decile, "predicted": predicted, "actual": actual})
    return frame.groupby("decile").agg(n=("actual", "size"), mean_predicted=("predicted", "mean"),
                                       mean_actual=("actual", "mean")).reset_index()


def plot_calibration(actual: np.ndarray, predictions: dict[str, np.ndarray], path: str) -> str:
    """Calibration-by-decile lines (predicted vs actual mean spend), one panel per model; saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(predictions), figsize=(5 * len(predictions), 4), squeeze=False)
    for ax, (name, pred) in zip(axes[0], predictions.items(), strict=True):
        cal = calibration_by_decile(actual, pred)
        ax.plot(cal["decile"], cal["mean_actual"], "o-", label="actual")
        ax.plot(cal["decile"], cal["mean_predicted"], "s--", label="predicted")
        ax.set(title=name, xlabel="decile of predicted spend", ylabel="mean spend per customer")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
