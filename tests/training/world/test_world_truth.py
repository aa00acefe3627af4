"""The hidden truth (tests only): alive customers and expected spend agree with the realised world."""

from __future__ import annotations

import pandas as pd
import pytest
from scipy.stats import spearmanr

from training.world import WorldConfig, generate_world, write_world
from training.world.truth import alive_at, expected_spend, load_truth

CUTOFF = pd.Timestamp("2025-03-01")
HORIZON = 120


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("truth")
    world = generate_world(
        WorldConfig(n_customers=3000, seed=51, drift=0.6, drift_start="2025-04-01", dirt_rate=0.0)
    )
    write_world(world, out)
    return out, world


def _realised(world, cutoff, horizon) -> pd.Series:
    tx = world.transactions
    ts = pd.to_datetime(tx["order_ts"])
    window = tx[(ts >= cutoff) & (ts < cutoff + pd.Timedelta(days=horizon))]
    return window.groupby("customer_id")["amount"].sum()


def test_load_truth_round_trips(world_dir):
    out, world = world_dir
    truth, meta = load_truth(out)
    assert list(truth.columns) == [
        "customer_id",
        "segment",
        "purchase_rate",
        "mean_spend",
        "dropout_date",
        "signup_date",
    ]
    assert len(truth) == 3000 and truth["customer_id"].is_unique
    pd.testing.assert_frame_equal(truth, world.truth_customers, check_dtype=False, check_categorical=False)
    assert (truth["purchase_rate"] > 0).all() and (truth["mean_spend"] > 0).all()
    assert (truth["dropout_date"] >= truth["signup_date"]).all()
    assert truth["dropout_date"].max() > pd.Timestamp(meta["end"]), "some customers outlive the world"
    assert meta["seed"] == 51 and meta["drift"]["start_date"] == "2025-04-01"
    assert {s["name"] for s in meta["segments"]} == set(truth["segment"].astype(str))


def test_load_truth_names_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"truth_customers\.parquet.*crmlab generate"):
        load_truth(tmp_path)


def test_customers_not_alive_at_cutoff_never_buy_after_it(world_dir):
    out, world = world_dir
    truth, _ = load_truth(out)
    alive = alive_at(truth, CUTOFF)
    signed_up = truth.set_index("customer_id")["signup_date"] <= CUTOFF
    assert 0.2 < alive.mean() < 0.9
    realised = _realised(world, CUTOFF, 300).reindex(alive.index).fillna(0.0)
    assert realised[signed_up & ~alive].sum() == 0
    assert realised[alive].sum() > 0


def test_expected_spend_tracks_realised_spend(world_dir):
    out, world = world_dir
    truth, meta = load_truth(out)
    expected = expected_spend(truth, meta, CUTOFF, HORIZON)
    realised = _realised(world, CUTOFF, HORIZON).reindex(expected.index).fillna(0.0)
    alive = alive_at(truth, CUTOFF)
    rho = spearmanr(expected[alive], realised[alive]).statistic
    assert rho > 0.5, f"expected spend should rank customers like realised spend (rho={rho:.2f})"
    assert 0.85 < realised.sum() / expected.sum() < 1.15, "expected spend should be calibrated in total"
    assert (expected[~alive & (truth.set_index("customer_id")["signup_date"] <= CUTOFF)] == 0).all()


def test_expected_spend_reflects_drift(world_dir):
    out, _ = world_dir
    truth, meta = load_truth(out)
    stationary = {**meta, "drift": {**meta["drift"], "spend_multiplier": 1.0}}
    for row in stationary["segments"]:
        row["line_value_after_drift"] = row["line_value_before_drift"]
    drifted_total = expected_spend(truth, meta, "2025-06-01", 60).sum()
    assert drifted_total < 0.95 * expected_spend(truth, stationary, "2025-06-01", 60).sum()
    with pytest.raises(ValueError, match="horizon_days"):
        expected_spend(truth, meta, CUTOFF, 0)
