"""A small raw export following docs/DATA_MODEL.md section 1, with every dirt kind at a known row.

Imported by the ingestion tests (plain module: conftest names are not unique across the suite)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

RAW_COLUMNS = {
    "customers": ["customer_id", "full_name", "email", "phone", "signup_date", "region",
                  "acquisition_channel", "age_band", "plan", "marketing_consent"],
    "transactions": ["transaction_id", "customer_id", "order_ts", "product_id", "category", "quantity",
                     "amount", "channel"],
    "products": ["product_id", "category", "product_name", "description", "unit_price"],
    "events": ["session_id", "customer_id", "session_ts", "device", "page_views", "cart_adds"],
}
REGIONS = ["north", "south", "east", "west", "central"]
OPTED_OUT = ["C0000011", "C0000012"]


@dataclass
class RawCase:
    """Raw tables plus what ingestion must do with them."""

    tables: dict[str, pd.DataFrame]
    # (table, row_number) -> (first rule, its column)
    expected: dict[tuple[str, int], tuple[str, str]] = field(default_factory=dict)
    pii: list[str] = field(default_factory=list)

    def write(self, directory: Path, fmt: str = "parquet") -> Path:
        """The tables plus the generated world's schema.yaml (same layout and vocabularies)."""
        from training.world.schema_export import write_world_schema

        directory.mkdir(parents=True, exist_ok=True)
        write_world_schema(directory, fmt)
        for table, frame in self.tables.items():
            if fmt == "parquet":
                frame.to_parquet(directory / f"{table}.parquet", index=False)
            else:
                frame.to_csv(directory / f"{table}.csv", index=False)
        return directory

    def rows_in(self, table: str) -> int:
        return len(self.tables[table])

    def expected_in(self, table: str) -> dict[int, tuple[str, str]]:
        return {row: rule for (t, row), rule in self.expected.items() if t == table}


@dataclass(frozen=True)
class Ingested:
    """One ingestion of the raw case, read-only for tests; ``home`` holds raw/, clean/, the MLflow store."""

    case: RawCase
    result: Any  # training.ingest.IngestResult
    home: Path
    tracking_uri: str


def ingest_in_own_store(source: Path, home: Path) -> tuple[Any, str]:
    """(IngestResult, tracking URI) of ingesting ``source`` into ``home/clean`` with its own MLflow store in
    ``home`` and the demo key, for fixtures wider than one test (the autouse fixture is per test)."""
    import mlflow
    import pytest

    from training.ingest import ingest
    from training.settings import get_settings

    uri = f"sqlite:///{home / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.setenv("CRMLAB_DEMO", "1")
        mp.delenv("CRMLAB_PII_KEY", raising=False)
        mp.delenv("MLFLOW_RUN_ID", raising=False)
        mp.chdir(home)
        result = ingest(source, home / "clean", get_settings(), progress=False)
        mlflow.set_tracking_uri(None)
    return result, uri


class _Builder:
    def __init__(self) -> None:
        self.rows: dict[str, list[dict]] = {t: [] for t in RAW_COLUMNS}
        self.expected: dict[tuple[str, int], tuple[str, str]] = {}

    def add(self, table: str, row: dict, rule: str | None = None, column: str | None = None) -> int:
        position = len(self.rows[table])
        self.rows[table].append(row)
        if rule:
            self.expected[(table, position)] = (rule, column or "")
        return position


def _customer(i: int, **changes) -> dict:
    row = {
        "customer_id": f"C{i:07d}", "full_name": f"Quirinus Zabriskie{i:02d}",
        "email": f"  Quirinus.Zabriskie{i:02d}@Example.ORG ", "phone": f"+44 7700 9{i:05d}",
        "signup_date": f"2023-01-{i:02d}", "region": REGIONS[i % 5], "acquisition_channel": "organic",
        "age_band": "25-34", "plan": "basic", "marketing_consent": f"C{i:07d}" not in OPTED_OUT,
    }
    return {**row, **changes}


def _product(product_id: str, category: str, unit_price: float) -> dict:
    return {"product_id": product_id, "category": category, "product_name": f"Item {product_id}",
            "description": f"A fine {category} item", "unit_price": unit_price}


def _transaction(n: int, customer: int, product: int = 1, **changes) -> dict:
    row = {"transaction_id": f"T{n:08d}", "customer_id": f"C{customer:07d}",
           "order_ts": f"2023-03-{1 + n % 28:02d} 10:{n % 60:02d}:00", "product_id": f"P{product:05d}",
           "category": "books", "quantity": 1 + n % 3, "amount": 10.0 + n, "channel": "web"}
    return {**row, **changes}


def _event(n: int, customer: int, **changes) -> dict:
    row = {"session_id": f"S{n:08d}", "customer_id": f"C{customer:07d}",
           "session_ts": f"2023-04-{1 + n % 28:02d} 09:{n % 60:02d}:30", "device": "app",
           "page_views": 1 + n % 5, "cart_adds": n % 2}
    return {**row, **changes}


def build_raw_case() -> RawCase:
    """12 good customers (2 opted out), 5 products, transactions and events, plus one row per dirt kind."""
    b = _Builder()
    for i in range(1, 13):
        b.add("customers", _customer(i))
    b.add("customers", _customer(13, signup_date="31/12/2024"), "unparseable_date", "signup_date")
    b.add("customers", _customer(3), "duplicate_key", "customer_id")              # exact copy
    b.add("customers", _customer(14, region="atlantis"), "allowed_values", "region")
    b.add("customers", _customer(15, marketing_consent=None), "not_null", "marketing_consent")
    b.add("customers", _customer(16, region=None, plan=None))                     # nulls are fine
    b.add("customers", _customer(17, signup_date="2024-02-30"), "unparseable_date", "signup_date")

    for p, category in enumerate(["books", "toys", "home", "beauty", "sports"], start=1):
        b.add("products", _product(f"P{p:05d}", category, 5.0 * p))
    b.add("products", _product("P00006", "books", 0.0), "min_value", "unit_price")
    b.add("products", _product("P00002", "toys", 7.0), "duplicate_key", "product_id")   # same key, new values
    b.add("products", _product("P00007", "weapons", 7.0), "allowed_values", "category")

    n = 0
    for customer in range(1, 13):
        for _ in range(2):
            n += 1
            b.add("transactions", _transaction(n, customer, product=1 + n % 5))
    b.add("transactions", _transaction(1, 1, product=2), "duplicate_key", "transaction_id")  # exact copy
    dirty_tx = [
        ({"customer_id": "C9999999"}, "unknown_customer", "customer_id"),
        ({"customer_id": "C0000013"}, "unknown_customer", "customer_id"),   # its customer is quarantined
        ({"product_id": "P00099"}, "unknown_product", "product_id"),
        ({"product_id": "P00006"}, "unknown_product", "product_id"),        # its product is quarantined
        ({"order_ts": "n/a"}, "unparseable_date", "order_ts"),
        ({"amount": -12.5}, "min_value", "amount"),
        ({"amount": 3_000_000.0}, "max_value", "amount"),
        ({"quantity": 0}, "min_value", "quantity"),
        ({"category": "cars"}, "allowed_values", "category"),
        ({"transaction_id": None}, "not_null", "transaction_id"),
        ({"order_ts": "2023-13-01 09:00:00", "amount": -1.0}, "unparseable_date", "order_ts"),  # two faults
    ]
    for changes, rule, column in dirty_tx:
        n += 1
        b.add("transactions", _transaction(n, 2, **changes), rule, column)
    for changes in ({"quantity": None}, {"amount": None}, {"category": None, "channel": None}):
        n += 1
        b.add("transactions", _transaction(n, 4, **changes))                       # nullable: kept

    m = 0
    for customer in range(1, 13):
        m += 1
        b.add("events", _event(m, customer))
    dirty_ev = [
        ({"session_ts": "unknown"}, "unparseable_date", "session_ts"),
        ({"page_views": 0}, "min_value", "page_views"),
        ({"cart_adds": -1}, "min_value", "cart_adds"),
        ({"customer_id": "C8888888"}, "unknown_customer", "customer_id"),
        ({"device": "fax"}, "allowed_values", "device"),
    ]
    for changes, rule, column in dirty_ev:
        m += 1
        b.add("events", _event(m, 5, **changes), rule, column)
    b.add("events", _event(1, 1), "duplicate_key", "session_id")
    m += 1
    b.add("events", _event(m, 6, device=None))

    tables = {t: pd.DataFrame(rows, columns=RAW_COLUMNS[t]) for t, rows in b.rows.items()}
    tables["transactions"]["quantity"] = tables["transactions"]["quantity"].astype("Int64")
    tables["transactions"]["amount"] = tables["transactions"]["amount"].astype("float64")
    customers = tables["customers"]
    pii = [*customers["full_name"], *customers["phone"], *customers["email"],
           *customers["email"].str.strip(), *customers["email"].str.strip().str.lower()]
    return RawCase(tables, b.expected, sorted(set(pii)))
