"""Binary-classification metrics crmlab reports for every probabilistic model.

ECE (expected calibration error) uses 10 fixed, equal-width probability bins [0, 0.1), ..., [0.9, 1.0]:
the weighted mean over non-empty bins of |observed rate - mean predicted probability|, weighted by the
bin's share of rows. Fixed bins (not quantile bins) make the number comparable between models and
runs; empty bins contribute nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

ECE_BINS = 10
_EPS = 1e-15


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE with ``bins`` fixed equal-width bins (see the module docstring)."""
    y, p = _arrays(y, p)
    idx = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            total += mask.mean() * abs(y[mask].mean() - p[mask].mean())
    return float(total)


def calibrated_ece_noise(p: np.ndarray, bins: int = ECE_BINS) -> float:
    """The ECE a perfectly calibrated model with these predictions is expected to show by chance.

    In a bin of n rows with mean probability q, a calibrated model's observed rate misses q by about
    sqrt(2/pi) * sqrt(q(1-q)/n) (half-normal mean); weighted as ECE weighs bins. On a few hundred rows
    this is 0.03-0.05, so a fixed ECE bound alone would refuse well calibrated models on small holdouts.
    """
    p = np.asarray(p, dtype=float)
    idx = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            var = float(np.mean(p[mask] * (1 - p[mask])))
            total += mask.mean() * np.sqrt(2 / np.pi) * np.sqrt(var / mask.sum())
    return float(total)


def reliability_table(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> pd.DataFrame:
    """Per fixed bin: rows, mean predicted probability, observed rate (for the reliability curve)."""
    y, p = _arrays(y, p)
    idx = np.minimum((p * bins).astype(int), bins - 1)
    frame = pd.DataFrame({"bin": idx, "y": y, "p": p})
    table = frame.groupby("bin").agg(rows=("y", "size"), predicted=("p", "mean"), observed=("y", "mean"))
    return table.reset_index()


def binary_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """ROC AUC, PR AUC (average precision), log loss, Brier score, ECE, base rate and row count."""
    y, p = _arrays(y, p)
    if len(np.unique(y)) < 2:
        raise ValueError("metrics need both classes in the evaluation rows; use more rows or a longer window")
    clipped = np.clip(p, _EPS, 1 - _EPS)
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "log_loss": float(log_loss(y, clipped, labels=[0, 1])),
        "brier": float(brier_score_loss(y, p)),
        "ece": expected_calibration_error(y, p),
        "base_rate": float(y.mean()),
        "rows": float(len(y)),
    }


def per_row_log_loss(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Log loss of each row (for paired comparisons such as the promotion gate)."""
    y, p = _arrays(y, p)
    p = np.clip(p, _EPS, 1 - _EPS)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def lift_table(y: np.ndarray, p: np.ndarray, groups: int = 10) -> pd.DataFrame:
    """Lift and cumulative gain by score decile (decile 1 = highest scores)."""
    y, p = _arrays(y, p)
    order = np.argsort(-p, kind="stable")
    parts = np.array_split(order, groups)
    base = y.mean() if y.mean() > 0 else np.nan
    rows = []
    captured = 0.0
    for i, part in enumerate(parts, start=1):
        positives = float(y[part].sum())
        captured += positives
        rate = positives / len(part) if len(part) else np.nan
        rows.append({
            "decile": i, "rows": len(part), "positives": positives, "rate": rate,
            "mean_score": float(p[part].mean()) if len(part) else np.nan,
            "lift": rate / base, "cumulative_gain": captured / max(y.sum(), 1.0),
        })
    return pd.DataFrame(rows)


def _arrays(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    if y.shape != p.shape:
        raise ValueError(f"labels ({y.shape}) and probabilities ({p.shape}) differ in length")
    if np.isnan(p).any():
        raise ValueError("probabilities contain NaN: the model produced no score for some rows")
    return y, p
