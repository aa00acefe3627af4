"""A features frame with a known churn signal, shaped like ``crmlab features`` output: test and benchmark
data, kept apart from the product code that reads real features (``training.churn.inputs``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from training.churn.inputs import CUTOFF, ID, LABEL, NON_FEATURES


def synthetic_features(n: int = 4000, *, seed: int = 0, kind: str = "nonlinear", cutoffs: int = 1,
                       horizon_days: int = 90) -> pd.DataFrame:
    """A features frame with a known churn signal, shaped like ``crmlab features`` output.

    ``kind="nonlinear"``: thresholds and interactions (trees should beat a linear baseline);
    ``kind="linear"``: a logistic signal in the features (the linear baseline is the right model).
    Used by tests and by the FLAML benchmark when no features directory is given.
    """
    rng = np.random.default_rng(seed)
    rows = n // cutoffs
    parts = []
    for c in range(cutoffs):
        cutoff = pd.Timestamp("2024-12-31") - pd.Timedelta(days=horizon_days * (cutoffs - 1 - c))
        recency = rng.gamma(2.0, 40.0, rows)
        frequency = rng.poisson(4.0, rows).astype(float)
        sessions = rng.poisson(6.0, rows).astype(float)
        spend = rng.gamma(2.0, 50.0, rows) * (1 + frequency)
        tenure = rng.uniform(30, 1500, rows)
        region = rng.choice(["north", "south", "east", "west", "central"], rows)
        channel = rng.choice(["organic", "paid_search", "social", "referral", "affiliate", "store"], rows)
        age_band = rng.choice(["18-24", "25-34", "35-44", "45-54", "55-64", "65+"], rows)
        plan = rng.choice(["basic", "plus", "premium"], rows, p=[0.5, 0.3, 0.2])
        if kind == "linear":
            logit = (-0.5 + 0.02 * (recency - 80) - 0.4 * (frequency - 4) - 0.2 * (sessions - 6)
                     - 0.8 * (plan == "premium"))
        else:
            dormant = recency > 120
            logit = (-1.2 + 2.4 * dormant - 1.6 * (dormant & (sessions >= 7)) + 1.2 * (frequency <= 1)
                     + 1.0 * ((plan == "basic") & (sessions <= 3)) - 0.8 * (tenure > 900)
                     + 0.8 * np.sin(spend / 150.0))
        churned = rng.random(rows) < 1 / (1 + np.exp(-logit))
        frame = pd.DataFrame({
            ID: [f"C{i:07d}" for i in range(rows)], CUTOFF: cutoff,
            "recency_days": recency.round(0), "frequency": frequency, "monetary_total": spend.round(2),
            "sessions_90d": sessions, "tenure_days": tenure.round(0),
            "region": region, "acquisition_channel": channel, "age_band": age_band, "plan": plan,
            LABEL: pd.array(churned, dtype="boolean"), "future_spend": np.where(churned, 0.0, spend / 4),
        })
        frame.loc[rng.random(rows) < 0.05, "sessions_90d"] = np.nan  # an optional feature
        frame.loc[rng.random(rows) < 0.03, LABEL] = pd.NA            # unlabelled rows exist
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def write_features_dir(frame: pd.DataFrame, out: str | Path, *, horizon_days: int = 90) -> Path:
    """Write a frame as a features directory (features.parquet + features_meta.json)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out / "features.parquet", index=False)
    features = [c for c in frame.columns if c not in NON_FEATURES]
    meta = {"horizon_days": horizon_days, "feature_columns": features, "source": "synthetic"}
    (out / "features_meta.json").write_text(json.dumps(meta, indent=2))
    return out
