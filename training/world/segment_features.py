"""A synthetic features frame with known latent segments, named like ``crmlab features`` output.

For tests and benchmarks of the segmentation code only (beside the full synthetic world of
this package): it lets the clustering be checked against the truth without building a world.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CATEGORIES = ("electronics", "fashion", "home", "beauty", "grocery", "sports", "books", "toys")
CHANNELS = ("web", "app", "store")
PLANS = ("basic", "plus", "premium")
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
REGIONS = ("north", "south", "east", "west", "central")
ACQUISITION = ("organic", "paid_search", "social", "referral", "affiliate", "store")

# archetype: typical recency, orders, order value, tenure, sessions (90 d), favourite categories,
# channel weights, plan weights
ARCHETYPES: dict[str, dict] = {
    "loyal_high": dict(recency=8, frequency=28, basket=140, tenure=1100, sessions=40,
                       cats=("electronics", "home"), channels=(2, 6, 1), plans=(1, 3, 6)),
    "lapsing_big": dict(recency=260, frequency=9, basket=220, tenure=1200, sessions=2,
                        cats=("fashion", "electronics"), channels=(1, 1, 6), plans=(3, 4, 3)),
    "new_low": dict(recency=15, frequency=1.3, basket=35, tenure=35, sessions=2,
                    cats=("books", "toys"), channels=(6, 2, 1), plans=(8, 1, 1)),
    "bargain": dict(recency=10, frequency=30, basket=14, tenure=700, sessions=22,
                    cats=("grocery", "beauty"), channels=(5, 3, 1), plans=(7, 2, 1)),
    "browsers": dict(recency=140, frequency=2, basket=40, tenure=450, sessions=70,
                     cats=("sports", "fashion"), channels=(4, 5, 1), plans=(5, 4, 1)),
}


def synthetic_features(n: int, *, seed: int = 0, noise: float = 0.35, segments: int = 5,
                       cutoff: str = "2024-06-30") -> tuple[pd.DataFrame, np.ndarray]:
    """``n`` customers from the first ``segments`` archetypes; returns (features, true segment index).

    ``noise`` is the log-scale spread of every numeric draw around its archetype (higher = more overlap).
    """
    if not 1 <= segments <= len(ARCHETYPES):
        raise ValueError(f"segments must be between 1 and {len(ARCHETYPES)}")
    rng = np.random.default_rng(seed)
    names = list(ARCHETYPES)[:segments]
    truth = rng.integers(0, segments, size=n)
    arch = [ARCHETYPES[name] for name in names]

    def draw(key: str) -> np.ndarray:
        centre = np.array([a[key] for a in arch], dtype=float)[truth]
        return centre * np.exp(rng.normal(0.0, noise, size=n))

    frequency = np.maximum(1, np.round(draw("frequency"))).astype(np.int64)
    basket = draw("basket")
    monetary_total = frequency * basket
    tenure = np.round(draw("tenure")).astype(np.int64) + 1
    recency = np.minimum(np.round(draw("recency")).astype(np.int64), tenure)
    sessions = np.round(draw("sessions")).astype(np.int64)
    frame = pd.DataFrame({
        "customer_id": [f"C{i:07d}" for i in range(n)],
        "cutoff": pd.Timestamp(cutoff),
        "recency_days": recency,
        "frequency": frequency,
        "monetary_total": monetary_total,
        "monetary_mean": basket,
        "tenure_days": tenure,
        "ipt_mean_days": np.where(frequency > 1, tenure / frequency, np.nan),
        "spend_30d": monetary_total * rng.uniform(0.0, 0.2, n) * (recency < 30),
        "spend_90d": monetary_total * rng.uniform(0.1, 0.4, n) * (recency < 90),
        "spend_trend_30_90": rng.normal(0.0, 1.0, n),
        "sessions_90d": sessions,
        "page_views_90d": sessions * rng.integers(2, 9, size=n),
        "cart_adds_90d": rng.binomial(sessions, 0.15),
    })
    frame["sessions_30d"] = rng.binomial(sessions, 0.33)
    frame["page_views_30d"] = frame["sessions_30d"] * rng.integers(2, 9, size=n)
    frame["cart_adds_30d"] = rng.binomial(frame["sessions_30d"].to_numpy(), 0.15)
    frame["days_since_last_session"] = np.where(sessions > 0, rng.integers(1, 90, size=n), np.nan)
    cat_alpha = np.full((segments, len(CATEGORIES)), 0.4)
    for s, a in enumerate(arch):
        for cat in a["cats"]:
            cat_alpha[s, CATEGORIES.index(cat)] = 6.0
    for name, col in zip(CATEGORIES, _dirichlet_rows(rng, cat_alpha[truth]).T, strict=True):
        frame[f"cat_share_{name}"] = col
    chan_alpha = np.array([a["channels"] for a in arch], dtype=float)
    for name, col in zip(CHANNELS, _dirichlet_rows(rng, chan_alpha[truth]).T, strict=True):
        frame[f"channel_share_{name}"] = col
    plan_p = np.array([a["plans"] for a in arch], dtype=float)
    plan_p /= plan_p.sum(axis=1, keepdims=True)
    frame["plan"] = np.array(PLANS)[(rng.random(n)[:, None] > plan_p[truth].cumsum(axis=1)).sum(axis=1)]
    frame["age_band"] = rng.choice(AGE_BANDS, size=n)
    frame["region"] = rng.choice(REGIONS, size=n)
    frame["acquisition_channel"] = rng.choice(ACQUISITION, size=n)
    frame["churned"] = pd.array(rng.random(n) < 0.3, dtype="boolean")
    frame["future_spend"] = monetary_total * rng.uniform(0.0, 0.5, n)
    # as the feature build records a schema file's ranked attributes (customers.ordinal)
    frame.attrs["features_meta"] = {"ordinal": {"plan": list(PLANS), "age_band": list(AGE_BANDS)}}
    return frame, truth


def _dirichlet_rows(rng: np.random.Generator, alpha: np.ndarray) -> np.ndarray:
    """One Dirichlet draw per row with row-specific concentrations (vectorised via Gamma draws)."""
    g = rng.gamma(alpha)
    return g / g.sum(axis=1, keepdims=True)
