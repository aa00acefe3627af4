"""Small generated inputs for the CLV tests: a BTYD-simulated log and a crmlab-style features folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training.clv.btyd import BGNBD, GammaGamma
from training.clv.simulate import simulate_transactions
from training.clv.transaction_features import future_spend, rfm_features

HORIZON = 90
CALIBRATION_END = "2020-12-30"


@pytest.fixture(scope="session")
def sim_log() -> pd.DataFrame:
    """~600 customers over 78 weeks (first purchases in the first 12 weeks)."""
    return simulate_transactions(600, bgnbd=BGNBD(0.9, 5.0, 0.6, 3.0), gamma_gamma=GammaGamma(6.0, 4.0, 15.0),
                                 weeks=78, seed=11)


def write_features_world(folder: Path, log: pd.DataFrame, cutoffs: list[str],
                         horizon: int = HORIZON) -> tuple[Path, Path]:
    """A clean-data folder (transactions.parquet) and a features folder shaped like `crmlab features`."""
    clean, features = folder / "clean", folder / "features"
    clean.mkdir(parents=True, exist_ok=True)
    features.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    seconds = pd.to_timedelta(rng.integers(0, 86_400, len(log)), unit="s")
    pd.DataFrame({"transaction_id": [f"T{i:07d}" for i in range(len(log))], "customer_id": log["customer_id"],
                  "order_ts": log["date"] + seconds, "amount": log["amount"]}).to_parquet(
        clean / "transactions.parquet", index=False)
    regions = dict(zip(sorted(log["customer_id"].unique()),
                       rng.choice(["north", "south", "east"], log["customer_id"].nunique()), strict=True))
    rows = []
    for cutoff in map(pd.Timestamp, cutoffs):
        feats = rfm_features(log[log["date"] < cutoff], cutoff - pd.Timedelta(days=1))
        frame = pd.DataFrame({
            "recency_days": feats["days_since_last"], "n_orders": feats["purchase_days"],
            "total_spend": feats["total_spend"], "spend_90d": feats["spend_last_90d"],
            "tenure_days": feats["btyd_T"] * 7,
        })
        frame["future_spend"] = future_spend(log, cutoff - pd.Timedelta(days=1), horizon, frame.index)
        frame["churned"] = frame["future_spend"] == 0
        frame["region"] = [regions[c] for c in frame.index]
        rows.append(frame.reset_index().assign(cutoff=cutoff))
    pd.concat(rows, ignore_index=True).to_parquet(features / "features.parquet", index=False)
    (features / "features_meta.json").write_text(json.dumps({"horizon_days": horizon}))
    return features, clean


@pytest.fixture(scope="session")
def sim_split() -> tuple[str, int]:
    """(calibration end, horizon days) for ``sim_log``."""
    return CALIBRATION_END, HORIZON


@pytest.fixture
def features_world(tmp_path, sim_log) -> tuple[Path, Path]:
    return write_features_world(tmp_path, sim_log, ["2020-09-01", "2020-11-30"])
