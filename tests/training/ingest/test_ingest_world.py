"""Ingesting a generated world: the quarantine finds exactly the dirt the generator recorded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import pytest
from ingest_raw_case import ingest_in_own_store

from training.world import World, WorldConfig, generate_world, write_world


@dataclass(frozen=True)
class IngestedWorld:
    world: World
    result: Any
    quarantine: pd.DataFrame


@pytest.fixture(scope="module")
def ingested_world(tmp_path_factory: pytest.TempPathFactory) -> IngestedWorld:
    home = tmp_path_factory.mktemp("world")
    world = generate_world(WorldConfig(n_customers=300, seed=11, dirt_rate=0.03))
    write_world(world, home / "world")
    result, _ = ingest_in_own_store(home / "world", home)
    return IngestedWorld(world, result, pd.read_parquet(result.paths["quarantine"]))


def test_counts_add_up_on_a_generated_world(ingested_world: IngestedWorld):
    for table, counts in ingested_world.result.counts.items():
        assert counts.rows_in == len(ingested_world.world.raw_tables()[table])
        assert counts.rows_in == counts.rows_kept + counts.rows_quarantined + counts.rows_excluded_no_consent
    assert ingested_world.result.counts["customers"].rows_excluded_no_consent > 0


def test_quarantine_counts_match_the_generators_dirt(ingested_world: IngestedWorld):
    world, by_rule = ingested_world.world, ingested_world.result.quarantine_by_rule
    dirt = world.meta["dirt"]

    # the generator's dirt kinds never share a row, so each kind maps to exactly one rule
    assert by_rule["customers"] == {"unparseable_date": dirt["customers"]["bad_dates"]}
    tx = dirt["transactions"]
    assert by_rule["transactions"]["duplicate_key"] == tx["duplicates"]
    assert by_rule["transactions"]["min_value"] == tx["negative_amounts"]
    assert by_rule["transactions"]["max_value"] == tx["absurd_amounts"]
    assert by_rule["transactions"]["unparseable_date"] == tx["bad_dates"]
    assert by_rule["events"]["unparseable_date"] == dirt["events"]["bad_dates"]
    assert by_rule["products"] == {}


def test_unknown_customers_are_unknown_ids_or_quarantined_customers(ingested_world: IngestedWorld):
    world, quarantine = ingested_world.world, ingested_world.quarantine
    quarantined_customers = set(world.customers["customer_id"].iloc[
        quarantine.loc[quarantine["table"].eq("customers"), "row_number"]])

    for table in ("transactions", "events"):
        unknown = quarantine[quarantine["table"].eq(table) & quarantine["rule"].eq("unknown_customer")]
        no_such_id = unknown["reason"].str.contains("no customer has this id")
        assert no_such_id.sum() == world.meta["dirt"][table]["unknown_customer_ids"]
        parents = world.raw_tables()[table]["customer_id"].iloc[unknown.loc[~no_such_id, "row_number"]]
        assert len(parents) > 0 and set(parents) <= quarantined_customers


def test_missing_values_are_kept_not_quarantined(ingested_world: IngestedWorld):
    world, result = ingested_world.world, ingested_world.result
    missing = world.meta["dirt"]["customers"]["missing_values"]

    assert "not_null" not in ingested_world.quarantine["rule"].unique()
    customers = pd.read_parquet(result.paths["customers"])
    raw = world.customers.set_index("customer_id").loc[customers["customer_id"]]
    for column, n_dirty in missing.items():
        kept_nulls = int(raw[column].isna().sum())
        assert int(customers[column].eq("missing").sum()) == kept_nulls <= n_dirty
    transactions = pd.read_parquet(result.paths["transactions"])
    n_quantity = world.meta["dirt"]["transactions"]["missing_values"]["quantity"]
    assert 0 < transactions["quantity"].isna().sum() <= n_quantity
