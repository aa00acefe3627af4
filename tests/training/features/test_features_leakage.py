"""No feature may change when anything at or after the cutoff changes; labels must be able to."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from features_tiny_world import CUTOFF, HORIZON, tables, write_clean

from training.features.build import build_feature_set
from training.features.catalog import ID_NAMES, LABEL_NAMES
from training.settings import get_settings

CUT = pd.Timestamp(CUTOFF)


def features_of(built) -> list[str]:
    return [*ID_NAMES, *built.meta["features"]]
SETTINGS = {
    "iqr-median-missing": {},
    "zscore-mode": {"outliers": "zscore", "zscore_max": 1.5, "impute_categorical": "mode"},
    "none": {"outliers": "none", "impute_numeric": "none"},
}


def _random_world(seed: int = 7, n_customers: int = 40) -> dict[str, pd.DataFrame]:
    """The tiny world plus random customers with history on both sides of the cutoff and nulls."""
    rng = np.random.default_rng(seed)
    frames = tables()
    ids = [f"R{i:03d}" for i in range(n_customers)]
    signup = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 500, n_customers), unit="D")
    customers = pd.DataFrame({
        "customer_id": ids, "email_hmac": ids, "signup_date": signup,
        "region": rng.choice(["north", "south", "missing"], n_customers),
        "acquisition_channel": rng.choice(["organic", "social", "missing"], n_customers),
        "age_band": rng.choice(["25-34", "missing"], n_customers), "plan": rng.choice(["basic", "plus"], n_customers),
        "marketing_consent": True,
    })
    n_tx = 600
    owner = rng.integers(0, n_customers, n_tx)
    ts = signup[owner] + pd.to_timedelta(rng.integers(0, 400 * 86400, n_tx), unit="s")
    transactions = pd.DataFrame({
        "transaction_id": [f"RT{i}" for i in range(n_tx)], "customer_id": np.array(ids)[owner], "order_ts": ts,
        "product_id": rng.choice(["P1", "P2", "P3"], n_tx),
        "category": rng.choice(["electronics", "fashion", "home", "missing"], n_tx),
        "quantity": pd.array(np.where(rng.random(n_tx) < 0.1, None, rng.integers(1, 4, n_tx)), dtype="Int64"),
        "amount": np.where(rng.random(n_tx) < 0.1, np.nan, rng.gamma(2.0, 40.0, n_tx).round(2)),
        "channel": rng.choice(["web", "app", "store", "missing"], n_tx),
    })
    n_ev = 900
    owner = rng.integers(0, n_customers, n_ev)
    events = pd.DataFrame({
        "session_id": [f"RS{i}" for i in range(n_ev)], "customer_id": np.array(ids)[owner],
        "session_ts": signup[owner] + pd.to_timedelta(rng.integers(0, 400 * 86400, n_ev), unit="s"),
        "device": "web", "page_views": rng.integers(1, 9, n_ev), "cart_adds": rng.integers(0, 3, n_ev),
    })
    return {
        "customers": pd.concat([frames["customers"], customers], ignore_index=True),
        "transactions": pd.concat([frames["transactions"], transactions], ignore_index=True),
        "products": frames["products"],
        "events": pd.concat([frames["events"], events], ignore_index=True),
    }


def _future(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column] >= CUT


def _drop_future(world):
    out = dict(world)
    out["transactions"] = world["transactions"][~_future(world["transactions"], "order_ts")]
    out["events"] = world["events"][~_future(world["events"], "session_ts")]
    out["customers"] = world["customers"][world["customers"]["signup_date"] < CUT]
    return out


def _absurd_future(world):
    """Post-cutoff rows with values that would move medians, IQR/z-score bounds and modes if they leaked."""
    out = {k: v.copy() for k, v in world.items()}
    tx, ev, cu = out["transactions"], out["events"], out["customers"]
    later = _future(tx, "order_ts")
    tx.loc[later, "amount"] = 1e9
    tx.loc[later, "quantity"] = pd.NA
    tx.loc[later, "category"] = "toys"
    tx.loc[later, "channel"] = "store"
    n = 200
    extra = pd.DataFrame({
        "transaction_id": [f"X{i}" for i in range(n)], "customer_id": tx["customer_id"].iloc[np.arange(n) % len(tx)],
        "order_ts": CUT + pd.to_timedelta(np.arange(n) * 3600, unit="s"), "product_id": "P1", "category": "missing",
        "quantity": pd.array([None] * n, dtype="Int64"), "amount": np.r_[np.full(n - 1, 5e4), np.nan],
        "channel": "missing",
    })
    out["transactions"] = pd.concat([tx, extra], ignore_index=True)
    ev.loc[_future(ev, "session_ts"), "page_views"] = 10_000
    out["events"] = pd.concat([ev, pd.DataFrame({
        "session_id": ["XS1"], "customer_id": ["D"], "session_ts": [CUT], "device": ["app"],
        "page_views": [7], "cart_adds": [7]})], ignore_index=True)
    new = pd.DataFrame({
        "customer_id": [f"N{i}" for i in range(50)], "email_hmac": "x", "signup_date": CUT,
        "region": "west", "acquisition_channel": "store", "age_band": "65+", "plan": "premium",
        "marketing_consent": True,
    })
    out["customers"] = pd.concat([cu, new], ignore_index=True)
    return out


def _shift_future(world):
    """Post-cutoff transactions moved around inside the future (labels change, features must not)."""
    out = {k: v.copy() for k, v in world.items()}
    tx = out["transactions"]
    later = _future(tx, "order_ts")
    tx.loc[later, "order_ts"] = tx.loc[later, "order_ts"] + pd.Timedelta(days=HORIZON)
    return out


PERTURBATIONS = {"drop": _drop_future, "absurd": _absurd_future, "shift": _shift_future}


@pytest.fixture(scope="module")
def world():
    return _random_world()


def _build(world, tmp_path, name, overrides, cutoffs=(CUTOFF,)):
    clean = write_clean(world, tmp_path / name)
    return build_feature_set(clean, list(cutoffs), HORIZON, get_settings(**overrides))


@pytest.mark.parametrize("settings_name", sorted(SETTINGS))
@pytest.mark.parametrize("perturbation", sorted(PERTURBATIONS))
def test_future_rows_change_no_feature(world, tmp_path, settings_name, perturbation):
    overrides = SETTINGS[settings_name]
    base = _build(world, tmp_path, "base", overrides)
    changed = _build(PERTURBATIONS[perturbation](world), tmp_path, "changed", overrides)
    pd.testing.assert_frame_equal(base.frame[features_of(base)], changed.frame[features_of(base)])
    assert base.meta["cleaning"] == changed.meta["cleaning"], "cleaning statistics saw post-cutoff rows"
    # The perturbation really reached the label window, so the equality above is not vacuous.
    assert not base.frame[list(LABEL_NAMES)].equals(changed.frame[list(LABEL_NAMES)])


def test_earlier_cutoff_ignores_rows_between_it_and_a_later_cutoff(world, tmp_path):
    early = date(2023, 12, 1)
    stacked = _build(world, tmp_path, "stacked", {}, cutoffs=(early, CUTOFF))
    alone = _build(_drop_rows_from(world, pd.Timestamp(early)), tmp_path, "alone", {}, cutoffs=(early,))
    rows = stacked.frame[stacked.frame["cutoff"] == pd.Timestamp(early)].reset_index(drop=True)
    pd.testing.assert_frame_equal(rows[features_of(alone)], alone.frame[features_of(alone)])


def _drop_rows_from(world, moment: pd.Timestamp):
    out = dict(world)
    out["transactions"] = world["transactions"][world["transactions"]["order_ts"] < moment]
    out["events"] = world["events"][world["events"]["session_ts"] < moment]
    return out
