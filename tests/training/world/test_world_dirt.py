"""Planned dirt: present at about the requested rate, and every kind counted exactly in world.meta."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.world import WorldConfig, generate_world

RATE = 0.02


@pytest.fixture(scope="module")
def world():
    return generate_world(WorldConfig(n_customers=1500, seed=31, dirt_rate=RATE))


def _near_rate(count: int, rows: int, rate: float = RATE) -> bool:
    expected = rate * rows
    return abs(count - expected) <= 5 * np.sqrt(expected) + 3


def _unparseable(values: pd.Series, fmt: str) -> int:
    return int(pd.to_datetime(values, format=fmt, errors="coerce").isna().sum())


def test_transaction_dirt_matches_the_recorded_counts(world):
    tx, dirt = world.transactions, world.meta["dirt"]["transactions"]
    clean_rows = world.meta["rows"]["transactions"] - dirt["duplicates"]
    assert int(tx.duplicated().sum()) == dirt["duplicates"]
    assert int(tx["transaction_id"].duplicated().sum()) == dirt["duplicates"]
    assert int((tx["amount"] < 0).sum()) == dirt["negative_amounts"]
    assert int((tx["amount"] >= 1e6).sum()) == dirt["absurd_amounts"]
    assert int(tx["amount"].between(50_000, 1e6, inclusive="neither").sum()) == 0
    assert _unparseable(tx["order_ts"], "%Y-%m-%d %H:%M:%S") == dirt["bad_dates"]
    known = tx["customer_id"].isin(world.customers["customer_id"])
    assert int((~known).sum()) == dirt["unknown_customer_ids"]
    assert tx.loc[~known, "customer_id"].str.fullmatch(r"C\d{7}").all(), "unknown ids should look real"
    for column, count in dirt["missing_values"].items():
        assert int(tx[column].isna().sum()) == count, column
    for kind in ("duplicates", "negative_amounts", "absurd_amounts", "bad_dates", "unknown_customer_ids"):
        assert _near_rate(dirt[kind], clean_rows), f"{kind}: {dirt[kind]} of {clean_rows} rows"
    assert _near_rate(sum(dirt["missing_values"].values()), clean_rows)


def test_customer_and_event_dirt_matches_the_recorded_counts(world):
    customers, events = world.customers, world.events
    dirt = world.meta["dirt"]
    assert _unparseable(customers["signup_date"], "%Y-%m-%d") == dirt["customers"]["bad_dates"]
    for column, count in dirt["customers"]["missing_values"].items():
        assert int(customers[column].isna().sum()) == count, column
    assert _near_rate(dirt["customers"]["bad_dates"], len(customers))
    assert _unparseable(events["session_ts"], "%Y-%m-%d %H:%M:%S") == dirt["events"]["bad_dates"]
    assert int(events["device"].isna().sum()) == dirt["events"]["missing_values"]["device"]
    unknown = ~events["customer_id"].isin(customers["customer_id"])
    assert int(unknown.sum()) == dirt["events"]["unknown_customer_ids"]
    assert _near_rate(dirt["events"]["unknown_customer_ids"], len(events))
    assert world.customers["marketing_consent"].notna().all()


def test_dirt_kinds_never_share_a_row(world):
    tx = world.transactions
    bad_date = pd.to_datetime(tx["order_ts"], format="%Y-%m-%d %H:%M:%S", errors="coerce").isna()
    bad_amount = (tx["amount"] < 0) | (tx["amount"] >= 1e6)
    unknown = ~tx["customer_id"].isin(world.customers["customer_id"])
    missing = tx[["category", "quantity", "amount", "channel"]].isna().sum(axis=1)
    flags = bad_date.astype(int) + bad_amount.astype(int) + unknown.astype(int) + missing
    assert int(flags.max()) == 1
    duplicated = tx.duplicated(keep=False)
    assert int(flags[duplicated].sum()) == 0, "a duplicated row is a clean row written twice"


def test_zero_dirt_rate_gives_clean_tables():
    world = generate_world(WorldConfig(n_customers=400, seed=32, dirt_rate=0.0))
    tx = world.transactions
    assert not tx.duplicated().any() and tx.notna().all().all()
    assert (tx["amount"] > 0).all() and (tx["amount"] < 50_000).all()
    assert tx["customer_id"].isin(world.customers["customer_id"]).all()
    assert world.customers.notna().all().all() and world.events.notna().all().all()
    assert _unparseable(tx["order_ts"], "%Y-%m-%d %H:%M:%S") == 0
    counts = world.meta["dirt"]["transactions"]
    assert counts["duplicates"] == 0 and sum(counts["missing_values"].values()) == 0
