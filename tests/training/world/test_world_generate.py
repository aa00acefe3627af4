"""The generated raw world: determinism, file layout and the DATA_MODEL.md contract."""

from __future__ import annotations

import json
import re

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from training.world import RAW_TABLES, WorldConfig, generate_world, write_world

# Column -> raw Arrow type, straight from docs/DATA_MODEL.md section 1.
CONTRACT = {
    "customers": {
        "customer_id": pa.string(),
        "full_name": pa.string(),
        "email": pa.string(),
        "phone": pa.string(),
        "signup_date": pa.string(),
        "region": pa.string(),
        "acquisition_channel": pa.string(),
        "age_band": pa.string(),
        "plan": pa.string(),
        "marketing_consent": pa.bool_(),
    },
    "transactions": {
        "transaction_id": pa.string(),
        "customer_id": pa.string(),
        "order_ts": pa.string(),
        "product_id": pa.string(),
        "category": pa.string(),
        "quantity": pa.int64(),
        "amount": pa.float64(),
        "channel": pa.string(),
    },
    "products": {
        "product_id": pa.string(),
        "category": pa.string(),
        "product_name": pa.string(),
        "description": pa.string(),
        "unit_price": pa.float64(),
    },
    "events": {
        "session_id": pa.string(),
        "customer_id": pa.string(),
        "session_ts": pa.string(),
        "device": pa.string(),
        "page_views": pa.int64(),
        "cart_adds": pa.int64(),
    },
}
NOT_NULL = {
    "customers": ["customer_id", "full_name", "email", "phone", "signup_date", "marketing_consent"],
    "transactions": ["transaction_id", "customer_id", "order_ts", "product_id"],
    "products": list(CONTRACT["products"]),
    "events": ["session_id", "customer_id", "session_ts", "page_views", "cart_adds"],
}
VOCAB = {
    ("customers", "region"): {"north", "south", "east", "west", "central"},
    ("customers", "acquisition_channel"): {
        "organic",
        "paid_search",
        "social",
        "referral",
        "affiliate",
        "store",
    },
    ("customers", "age_band"): {"18-24", "25-34", "35-44", "45-54", "55-64", "65+"},
    ("customers", "plan"): {"basic", "plus", "premium"},
    ("transactions", "category"): {
        "electronics",
        "fashion",
        "home",
        "beauty",
        "grocery",
        "sports",
        "books",
        "toys",
    },
    ("transactions", "channel"): {"web", "app", "store"},
    ("products", "category"): {
        "electronics",
        "fashion",
        "home",
        "beauty",
        "grocery",
        "sports",
        "books",
        "toys",
    },
    ("events", "device"): {"web", "app"},
}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    world = generate_world(WorldConfig(n_customers=800, seed=11, drift=0.5))
    out = tmp_path_factory.mktemp("world")
    return world, write_world(world, out)


def test_same_config_writes_byte_identical_files(written, tmp_path):
    _, first = written
    again = write_world(generate_world(WorldConfig(n_customers=800, seed=11, drift=0.5)), tmp_path / "again")
    for name, path in first.items():
        assert path.read_bytes() == again[name].read_bytes(), f"{name} differs between two runs with one seed"


def test_another_seed_gives_another_world(written):
    world, _ = written
    other = generate_world(WorldConfig(n_customers=800, seed=12, drift=0.5))
    assert not world.transactions["amount"].head(200).equals(other.transactions["amount"].head(200))
    assert set(world.customers["email"]) != set(other.customers["email"])


def test_raw_files_follow_the_data_model(written):
    world, paths = written
    assert set(RAW_TABLES) == set(CONTRACT)
    for table, columns in CONTRACT.items():
        schema = pq.read_schema(paths[table])
        assert schema.names == list(columns), table
        for column, dtype in columns.items():
            assert schema.field(column).type == dtype, f"{table}.{column} is {schema.field(column).type}"
        df = pq.read_table(paths[table]).to_pandas()
        assert len(df) == world.meta["rows"][table]
        for column in NOT_NULL[table]:
            assert df[column].notna().all(), f"{table}.{column} must never be null"
    for (table, column), allowed in VOCAB.items():
        values = set(getattr(world, table)[column].dropna().unique())
        assert values <= allowed, f"{table}.{column} has values outside the contract: {values - allowed}"
        assert len(values) == len(allowed), f"{table}.{column} never uses {allowed - values}"


def test_identifiers_and_dates_are_well_formed(written):
    world, _ = written
    assert world.customers["customer_id"].str.fullmatch(r"C\d{7}").all()
    assert world.customers["customer_id"].is_unique
    assert world.products["product_id"].str.fullmatch(r"P\d{5}").all()
    assert world.events["session_id"].is_unique
    assert world.customers["email"].is_unique
    assert world.customers["email"].str.fullmatch(r"[a-z]+\.[a-z]+\d+@[a-z]+\.[a-z]+").all()
    assert world.customers["phone"].str.fullmatch(r"\+1[2-9]\d{2}[2-9]\d{6}").all()
    assert world.customers["full_name"].str.fullmatch(r"\S+ \S+.*").all()
    signup = pd.to_datetime(world.customers["signup_date"], format="%Y-%m-%d", errors="coerce")
    assert signup.notna().mean() > 0.97  # the rest is planned dirt
    assert signup.min() >= pd.Timestamp("2023-01-01") and signup.max() <= pd.Timestamp("2025-12-31")
    orders = pd.to_datetime(world.transactions["order_ts"], format="%Y-%m-%d %H:%M:%S", errors="coerce")
    assert orders.dropna().between("2023-01-01", "2025-12-31 23:59:59").all()
    assert orders.dropna().dt.hour.nunique() > 12, "orders should spread over the day"


def test_products_catalogue(written):
    products = written[0].products
    assert 150 <= len(products) <= 250
    assert products["product_id"].is_unique and products["product_name"].nunique() >= len(products) * 0.9
    assert (products["unit_price"] > 0).all()
    assert products["description"].str.len().between(10, 200).all()
    by_category = products.groupby("category")["unit_price"].median()
    assert by_category["electronics"] > 5 * by_category["grocery"], (
        "categories should have distinct price levels"
    )


def test_counts_and_amounts_are_plausible(written):
    world = written[0]
    tx, ev = world.transactions, world.events
    assert (tx["quantity"].dropna() >= 1).all()
    clean = tx["amount"].dropna()
    clean = clean[(clean > 0) & (clean < 50_000)]
    assert 5 < clean.median() < 200
    assert (ev["page_views"] >= 1).all() and (ev["cart_adds"] >= 0).all()
    assert (ev["cart_adds"] <= ev["page_views"]).all()
    assert 5 <= len(tx) / len(world.customers) <= 25


def test_csv_output_and_world_json(written, tmp_path):
    world, _ = written
    paths = write_world(world, tmp_path, fmt="csv")
    for table in RAW_TABLES:
        assert paths[table].suffix == ".csv"
        frame = pd.read_csv(paths[table], dtype=str, keep_default_na=False)
        assert list(frame.columns) == list(CONTRACT[table])
        assert len(frame) == world.meta["rows"][table]
    assert paths["truth_customers"].suffix == ".parquet"
    meta = json.loads(paths["world"].read_text())
    assert meta["format"] == "csv" and meta["seed"] == 11 and meta["n_customers"] == 800
    assert meta["files"]["transactions"] == "transactions.csv"
    with pytest.raises(ValueError, match="fmt"):
        write_world(world, tmp_path, fmt="xlsx")


def test_world_json_never_holds_identifiers(written):
    world, paths = written
    text = paths["world"].read_text()
    sample = world.customers.sample(50, random_state=0)
    for column in ("full_name", "email", "phone"):
        assert not any(value in text for value in sample[column]), f"{column} leaked into world.json"
    assert re.search(r'"seed": 11', text)
