"""The hidden truth of a generated world, for tests and benchmarks ONLY.

Training code never reads this module or ``truth_customers.parquet``: models must learn from the raw
tables alone. Tests use it to check that what models recover (alive customers, future spend,
segments) matches what the generator actually put in the world.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from training.world.calendar import cumulative, daily_weights, integrate

TRUTH_FILE = "truth_customers.parquet"
META_FILE = "world.json"


def load_truth(world_dir: str | Path) -> tuple[pd.DataFrame, dict]:
    """``truth_customers.parquet`` and ``world.json`` written by ``write_world`` (tests only)."""
    folder = Path(world_dir)
    missing = [name for name in (TRUTH_FILE, META_FILE) if not (folder / name).exists()]
    if missing:
        raise FileNotFoundError(
            f"{folder} has no {', '.join(missing)}: point at a folder written by `crmlab generate --out DIR`"
        )
    truth = pd.read_parquet(folder / TRUTH_FILE)
    meta = json.loads((folder / META_FILE).read_text())
    return truth, meta


def _day(value: str | date | pd.Timestamp) -> pd.Timestamp:
    return pd.Timestamp(value).normalize()


def alive_at(truth: pd.DataFrame, cutoff: str | date | pd.Timestamp) -> pd.Series:
    """Whether each customer has signed up by ``cutoff`` and drops out on it or later (index: customer_id)."""
    day = _day(cutoff)
    alive = (truth["signup_date"] <= day) & (truth["dropout_date"] >= day)
    return pd.Series(alive.to_numpy(), index=pd.Index(truth["customer_id"], name="customer_id"), name="alive")


def expected_spend(
    truth: pd.DataFrame, meta: dict, cutoff: str | date | pd.Timestamp, horizon_days: int
) -> pd.Series:
    """Expected spend in ``[cutoff, cutoff + horizon_days)`` given each customer's latent parameters.

    Repeat orders arrive at ``purchase_rate`` x seasonality while the customer is alive (signup to
    dropout, within the world's timeline); each costs ``mean_spend``, times the drift's spend multiplier
    and category-mix change after the drift start; a signup inside the window adds the expected first
    order. Dates in the truth are whole days, so alive spans are taken from mid-day to mid-day.
    """
    if horizon_days <= 0:
        raise ValueError(f"horizon_days must be positive, got {horizon_days}")
    start = pd.Timestamp(meta["start"])
    n_days = int(meta["n_days"])
    drift = meta["drift"]
    weights = daily_weights(date.fromisoformat(meta["start"]), n_days, **meta["calendar"])
    cum = cumulative(weights)

    segments = {s["name"]: s for s in meta["segments"]}
    names = truth["segment"].astype(str)
    after_factor = (
        drift["spend_multiplier"]
        * names.map(
            {k: s["line_value_after_drift"] / s["line_value_before_drift"] for k, s in segments.items()}
        ).to_numpy()
    )
    first = names.map({k: s["first_purchase"] for k, s in segments.items()}).to_numpy()

    cut = float((_day(cutoff) - start).days)
    window_end = min(cut + horizon_days, float(n_days))
    drift_day = float(drift["start_day"])
    signup = (truth["signup_date"] - start).dt.days.to_numpy(dtype=np.float64)
    dropout = (truth["dropout_date"] - start).dt.days.to_numpy(dtype=np.float64)
    a = np.clip(np.maximum(cut, signup + 0.5), 0.0, n_days)
    b = np.clip(np.minimum(window_end, dropout + 0.5), 0.0, n_days)
    b = np.maximum(a, b)
    before = integrate(cum, a, np.clip(b, None, np.maximum(a, drift_day)))
    after = integrate(cum, np.clip(a, drift_day, None), np.maximum(b, drift_day))
    rate = truth["purchase_rate"].to_numpy()
    spend = truth["mean_spend"].to_numpy()
    repeat = rate * spend * (before + after_factor * np.maximum(after, 0.0))

    in_window = (signup >= cut) & (signup < window_end)
    first_order = np.where(in_window, first * spend * np.where(signup >= drift_day, after_factor, 1.0), 0.0)
    return pd.Series(
        repeat + first_order, index=pd.Index(truth["customer_id"], name="customer_id"), name="expected_spend"
    )
