"""CLV tiers from predicted spend, with thresholds frozen at training time.

Thresholds are quantiles of the winning model's predictions on its *training* population and travel
with the registered model, so a customer's tier depends on their own prediction only, not on who else
is in a scoring batch (re-quantiling each batch would reshuffle tiers between runs).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

# Tier -> share of the training population at or above its lower threshold (cumulative, best first).
TIER_SHARES: dict[str, float] = {"platinum": 0.10, "gold": 0.30, "silver": 0.60, "bronze": 1.00}
TIERS = list(TIER_SHARES)


def fit_tier_thresholds(predicted: np.ndarray, shares: dict[str, float] = TIER_SHARES) -> dict[str, float]:
    """Lower bound of each tier except the last: platinum = top 10%, gold next 20%, silver next 30%."""
    predicted = np.asarray(predicted, float)
    if predicted.size == 0 or not np.isfinite(predicted).all():
        raise ValueError("tier thresholds need finite predictions for a non-empty training population")
    names = list(shares)
    return {name: float(np.quantile(predicted, 1 - shares[name])) for name in names[:-1]}


def assign_tiers(predicted: np.ndarray, thresholds: dict[str, float]) -> np.ndarray:
    """Best tier whose threshold the prediction reaches; NaN predictions get no tier (None)."""
    predicted = np.asarray(predicted, float)
    out = np.full(predicted.shape, TIERS[-1], dtype=object)
    for name in reversed(TIERS[:-1]):  # best tier last so it wins
        out[predicted >= thresholds[name]] = name
    out[np.isnan(predicted)] = None
    return out


def save_thresholds(thresholds: dict[str, float], path: str | Path) -> str:
    Path(path).write_text(json.dumps({"tiers": TIERS, "shares": TIER_SHARES, "thresholds": thresholds},
                                     indent=2))
    return str(path)


def load_thresholds(path: str | Path) -> dict[str, float]:
    return {k: float(v) for k, v in json.loads(Path(path).read_text())["thresholds"].items()}
