"""The CLV promotion gate (``GATE``; ``training.clv.family`` hands it to the lifecycle).

Per-row loss: absolute error of ``predicted_spend`` against the holdout's ``future_spend``, divided by
the holdout's mean actual spend. Dividing by a constant of the holdout leaves the paired comparison
unchanged but makes ``tolerance`` scale-free: 0.02 lets a challenger's MAE be at most 2% of the mean
customer spend worse (upper 95% bound) than the champion's. Absolute error rather than squared: spend
is heavy-tailed and a few whales would otherwise decide every promotion.
Checks on the challenger alone: predictions finite and non-negative, total predicted spend within
a factor of 2 of the total actual (a gross calibration bound: a CRM budget is planned on the total), and
"not worse than the better baseline" (issue 14): its normalized Gini on the holdout is at least the best
of the ``baseline_<name>`` columns training writes into the holdout (past spend, BG/NBD + Gamma-Gamma),
minus ``BASELINE_GINI_MARGIN``. A holdout given by hand without those columns skips that check.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.core.gate_spec import GateSpec

LABEL = "future_spend"
PREDICTION = "predicted_spend"
TOLERANCE = 0.02
TOTAL_RATIO_BOUNDS = (0.5, 2.0)
BASELINE_PREFIX = "baseline_"
BASELINE_GINI_MARGIN = 0.0  # the registered model ranks at least as well as the simplest ranking


def _actual(holdout: pd.DataFrame) -> np.ndarray:
    if LABEL not in holdout.columns:
        raise ValueError(f"the CLV holdout has no '{LABEL}' column (actual spend over the horizon): "
                         "add it, or use the holdout.parquet logged by the training run")
    return holdout[LABEL].to_numpy(dtype=float)


def per_row_loss(output: pd.DataFrame, holdout: pd.DataFrame) -> np.ndarray:
    """|predicted - actual| / mean(actual), one value per holdout row."""
    actual = _actual(holdout)
    scale = actual.mean() if actual.mean() > 0 else 1.0
    return np.abs(output[PREDICTION].to_numpy(dtype=float) - actual) / scale


def checks(output: pd.DataFrame, holdout: pd.DataFrame) -> dict[str, bool]:
    predicted = output[PREDICTION].to_numpy(dtype=float)
    actual = _actual(holdout)
    low, high = TOTAL_RATIO_BOUNDS
    ratio = predicted.sum() / actual.sum() if actual.sum() > 0 else np.nan
    return {
        "finite_non_negative": bool(np.isfinite(predicted).all() and (predicted >= 0).all()),
        "total_spend_ratio_within_2x": bool(low <= ratio <= high),
    } | not_worse_than_baselines(predicted, holdout)


def not_worse_than_baselines(predicted: np.ndarray, holdout: pd.DataFrame) -> dict[str, bool]:
    """``gini_not_below_best_baseline`` when the holdout carries ``baseline_<name>`` columns."""
    from training.clv.metrics import normalized_gini

    columns = [c for c in holdout.columns if c.startswith(BASELINE_PREFIX)]
    if not columns:
        return {}
    actual = _actual(holdout)
    best = max(normalized_gini(actual, holdout[c].to_numpy(dtype=float)) for c in columns)
    gini = normalized_gini(actual, predicted) if np.isfinite(predicted).all() else -np.inf
    return {"gini_not_below_best_baseline": bool(gini >= best - BASELINE_GINI_MARGIN - 1e-12)}


GATE = GateSpec(per_row_loss=per_row_loss, checks=checks, tolerance=TOLERANCE)

