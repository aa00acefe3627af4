"""The drift knob: a stationary world at drift=0, a clearly shifted one after drift_start at drift=1."""

from __future__ import annotations

import pandas as pd
import pytest

from training.world import WorldConfig, generate_world
from training.world.truth import alive_at

N = 2500


def _windows(world) -> dict[str, dict[str, float]]:
    """Order and session statistics in the 200 days before drift start and from drift start on."""
    start = pd.Timestamp(world.meta["drift"]["start_date"])
    price = world.products.set_index("product_id")["unit_price"]
    tx = world.transactions.assign(
        ts=pd.to_datetime(world.transactions["order_ts"]),
        # What customers pay relative to list price x quantity: the spend level, free of the category mix.
        paid=lambda t: t["amount"] / (price.reindex(t["product_id"]).to_numpy() * t["quantity"]),
    )
    ev = world.events.assign(ts=pd.to_datetime(world.events["session_ts"]))
    out = {}
    for name, low, high in (("before", start - pd.Timedelta(days=200), start), ("after", start, None)):
        orders = tx[(tx["ts"] >= low) & ((tx["ts"] < high) if high is not None else True)]
        sessions = ev[(ev["ts"] >= low) & ((ev["ts"] < high) if high is not None else True)]
        out[name] = {
            "paid": orders["paid"].median(),
            "app": (orders["channel"] == "app").mean(),
            "home": (orders["category"] == "home").mean(),
            "sessions_per_order": len(sessions) / len(orders),
            "mix": orders["category"].value_counts(normalize=True),
        }
    return out


@pytest.fixture(scope="module")
def stationary():
    return generate_world(WorldConfig(n_customers=N, seed=41, drift=0.0, dirt_rate=0.0))


@pytest.fixture(scope="module")
def drifted():
    return generate_world(WorldConfig(n_customers=N, seed=41, drift=1.0, dirt_rate=0.0))


def test_without_drift_late_months_look_like_earlier_ones(stationary):
    w = _windows(stationary)
    assert 0.93 < w["after"]["paid"] / w["before"]["paid"] < 1.07
    assert abs(w["after"]["app"] - w["before"]["app"]) < 0.04
    assert (w["after"]["mix"] - w["before"]["mix"]).abs().sum() < 0.08
    assert 0.85 < w["after"]["sessions_per_order"] / w["before"]["sessions_per_order"] < 1.15
    multipliers = stationary.meta["drift"]
    assert multipliers["spend_multiplier"] == 1.0 and multipliers["dropout_hazard_multiplier"] == 1.0
    assert multipliers["app_shift"] == 0.0 and multipliers["category_shift"] == 0.0


def test_full_drift_shifts_spend_channel_mix_and_engagement(drifted):
    w = _windows(drifted)
    assert w["after"]["paid"] / w["before"]["paid"] < 0.85
    assert w["after"]["app"] - w["before"]["app"] > 0.15
    assert w["after"]["home"] - w["before"]["home"] > 0.08
    assert w["after"]["sessions_per_order"] / w["before"]["sessions_per_order"] < 0.8


def test_full_drift_raises_the_dropout_hazard(stationary, drifted):
    start = pd.Timestamp(stationary.meta["drift"]["start_date"])
    soon = start + pd.Timedelta(days=90)

    def dropped_soon(world) -> float:
        truth = world.truth_customers.set_index("customer_id")
        alive = alive_at(world.truth_customers, start)
        return float((truth.loc[alive[alive].index, "dropout_date"] < soon).mean())

    assert dropped_soon(drifted) > 1.4 * dropped_soon(stationary)


def test_drift_settings_are_recorded(tmp_path):
    import json

    from training.world import write_world

    world = generate_world(WorldConfig(n_customers=300, seed=42, drift=0.5, drift_start="2024-06-01"))
    meta = json.loads(write_world(world, tmp_path)["world"].read_text())["drift"]
    assert meta["start_date"] == "2024-06-01" and meta["strength"] == 0.5
    assert meta["spend_multiplier"] == pytest.approx(0.875)
    assert meta["dropout_hazard_multiplier"] == pytest.approx(1.5)
    assert 0 < meta["app_shift"] < 0.5 and 0 < meta["category_shift"] < 0.4
    assert meta["engagement_multiplier"] < 1.0
