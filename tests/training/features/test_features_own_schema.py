"""Own data through a schema file gives the native path's features value for value (files and PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import yaml
from module_store import module_store

from training.features.build import build_feature_set
from training.ingest import ingest
from training.settings import get_settings
from training.world import WorldConfig, generate_world, write_world

CUTOFFS = [date(2025, 3, 1), date(2025, 7, 1)]
DATE_FORMATS = {"customers": "%d/%m/%Y", "transactions": "%d/%m/%Y %H.%M.%S", "events": "%d/%m/%Y %H.%M.%S"}
TEMPORAL = {"signup_date", "order_ts", "session_ts"}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """A clean generated world (no dirt: other date formats would read some dirty dates differently)."""
    home = tmp_path_factory.mktemp("own")
    write_world(generate_world(WorldConfig(n_customers=300, seed=3, dirt_rate=0.0)), home / "raw")
    with module_store(home):
        native = _features(home / "raw", home / "clean")
        yield {"home": home, "native": native}


def _features(source: Path, clean: Path) -> pd.DataFrame:
    settings = get_settings()
    ingest(source, clean, settings, progress=False)
    return build_feature_set(clean, CUTOFFS, 90, settings)


def _renamed(raw: Path) -> tuple[dict[str, pd.DataFrame], dict]:
    """The raw tables with export-style column names and dates, and the schema content describing them."""
    native = yaml.safe_load((raw / "schema.yaml").read_text())
    tables, schema = {}, {"name": "renamed-export"}
    for table in ("products", "customers", "transactions", "events"):
        frame = pd.read_parquet(raw / f"{table}.parquet")
        for column in TEMPORAL & set(frame.columns):
            frame[column] = pd.to_datetime(frame[column]).dt.strftime(DATE_FORMATS[table])
        tables[table] = frame.rename(columns=lambda c: f"Export {c.upper()}")
        entry = dict(native[table])
        entry["columns"] = {role: f"Export {raw_name.upper()}" for role, raw_name in entry["columns"].items()}
        if table == "customers":
            entry["attributes"] = [f"Export {a.upper()}" for a in entry["attributes"]]
            entry["pii"] = {k: [f"Export {c.upper()}" for c in v] for k, v in entry["pii"].items()}
            entry["allowed_values"] = {f"Export {k.upper()}": v for k, v in entry["allowed_values"].items()}
            entry["ordinal"] = [f"Export {a.upper()}" for a in entry.get("ordinal", [])]
        if table in DATE_FORMATS:
            entry["date_format"] = DATE_FORMATS[table]
        schema[table] = entry
    return tables, schema


def _same_features(native, own) -> None:
    attributes = {f"Export {c.upper()}": c for c in native.meta["vocabulary"]["attributes"]}
    frame = own.frame.rename(columns=attributes)
    assert own.meta["vocabulary"]["categories"] == native.meta["vocabulary"]["categories"]
    assert len(native.frame) > 300 and native.frame["churned"].notna().any()
    pd.testing.assert_frame_equal(frame, native.frame)


def test_renamed_csv_export_with_other_dates_gives_the_same_features(world, tmp_path: Path):
    tables, schema = _renamed(world["home"] / "raw")
    export = tmp_path / "export"
    (export / "tx").mkdir(parents=True)
    for table, frame in tables.items():
        if table == "transactions":  # a folder of CSV parts
            half = len(frame) // 2
            frame.iloc[:half].to_csv(export / "tx" / "part-0.csv", sep=";", index=False)
            frame.iloc[half:].to_csv(export / "tx" / "part-1.csv", sep=";", index=False)
            schema[table]["path"] = "export/tx"  # relative to the schema file
        else:
            frame.to_csv(export / f"{table}.csv", sep=";", index=False)
            schema[table]["path"] = f"export/{table}.csv"
        schema[table]["csv"] = {"delimiter": ";"}
    (tmp_path / "my_schema.yaml").write_text(yaml.safe_dump(schema))

    own = _features(tmp_path / "my_schema.yaml", tmp_path / "clean")

    _same_features(world["native"], own)


@pytest.mark.postgres
def test_postgres_tables_and_a_query_give_the_same_features(world, tmp_path: Path):
    import sqlalchemy as sa
    from pg_local import connect_local_postgres

    tables, schema = _renamed(world["home"] / "raw")
    engine, _, url = connect_local_postgres()
    db_schema = f"crmlab_own_{uuid.uuid4().hex[:10]}"
    with engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{db_schema}"'))
    try:
        for table, frame in tables.items():
            frame.to_sql(f"export_{table}", engine, schema=db_schema, index=False, chunksize=5000)
            schema[table].pop("path", None)
            schema[table] |= {"url": url, "table": f"export_{table}", "schema": db_schema}
        del schema["transactions"]["table"], schema["transactions"]["schema"]
        schema["transactions"]["query"] = f'SELECT * FROM "{db_schema}".export_transactions'
        (tmp_path / "schema.yaml").write_text(yaml.safe_dump(schema))

        own = _features(tmp_path, tmp_path / "clean")
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{db_schema}" CASCADE'))
        engine.dispose()

    _same_features(world["native"], own)
