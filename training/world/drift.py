"""The drift knob: from ``drift_start`` on, the world changes by an amount scaled by ``drift``.

Story: prices get tighter (customers spend less per order), the company pushes its app, baskets tilt
toward everyday categories, browsing thins out and a competitor raises the dropout hazard. With
``drift=0`` every multiplier is 1 (shifts 0) and the world is stationary.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from training.world.config import WorldConfig
from training.world.vocab import CATEGORIES, CHANNELS

# Effect of full drift (drift=1); intermediate strengths scale linearly.
FULL_SPEND_CHANGE = -0.25
FULL_APP_SHIFT = 0.5
FULL_CATEGORY_SHIFT = 0.4
FULL_ENGAGEMENT_CHANGE = -0.35
FULL_HAZARD_CHANGE = 1.0
CATEGORY_SHIFT_TARGET = (0.04, 0.06, 0.40, 0.22, 0.14, 0.06, 0.04, 0.04)  # over CATEGORIES (home-heavy)


@dataclass(frozen=True)
class DriftEffects:
    """Multipliers in force from ``start_day`` (day index from the world's start)."""

    strength: float
    start_date: str
    start_day: int
    spend_multiplier: float  # order amounts
    app_shift: float  # share of web/store probability moved to the app
    category_shift: float  # blend weight toward CATEGORY_SHIFT_TARGET
    engagement_multiplier: float  # session rate
    dropout_hazard_multiplier: float

    def shift_categories(self, weights: np.ndarray) -> np.ndarray:
        """Category preferences (rows over CATEGORIES) after drift."""
        p = np.asarray(weights, dtype=np.float64)
        p = p / p.sum(axis=-1, keepdims=True)
        return (1.0 - self.category_shift) * p + self.category_shift * np.asarray(CATEGORY_SHIFT_TARGET)

    def shift_channels(self, weights: np.ndarray, names: tuple[str, ...] = CHANNELS) -> np.ndarray:
        """Channel (or device) preferences after drift: part of every other channel moves to ``app``."""
        p = np.asarray(weights, dtype=np.float64)
        p = p / p.sum(axis=-1, keepdims=True)
        app = np.zeros(len(names))
        app[names.index("app")] = 1.0
        return (1.0 - self.app_shift) * p + self.app_shift * app

    def as_dict(self) -> dict:
        out = asdict(self)
        out["category_shift_target"] = dict(zip(CATEGORIES, CATEGORY_SHIFT_TARGET, strict=True))
        return out


def drift_effects(config: WorldConfig) -> DriftEffects:
    s = float(config.drift)
    return DriftEffects(
        strength=s,
        start_date=config.drift_start_date.isoformat(),
        start_day=config.drift_start_day,
        spend_multiplier=1.0 + FULL_SPEND_CHANGE * s,
        app_shift=FULL_APP_SHIFT * s,
        category_shift=FULL_CATEGORY_SHIFT * s,
        engagement_multiplier=1.0 + FULL_ENGAGEMENT_CHANGE * s,
        dropout_hazard_multiplier=1.0 + FULL_HAZARD_CHANGE * s,
    )
