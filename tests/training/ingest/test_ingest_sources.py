"""Reading raw exports: directories (parquet/CSV), databases, and clear errors for wrong input."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from ingest_raw_case import RawCase
from pg_local import connect_local_postgres

from training.ingest import IngestError, ingest
from training.ingest.sources import open_source, redact_url
from training.settings import get_settings


def test_missing_table_is_named_with_what_to_do(raw_dir: Path, tmp_path: Path):
    (raw_dir / "events.parquet").unlink()
    (raw_dir / "products.parquet").unlink()

    with pytest.raises(IngestError) as err:
        ingest(raw_dir, tmp_path / "clean", get_settings(), progress=False)

    message = str(err.value)
    assert "table 'events' is missing: expected events.parquet or events.csv" in message
    assert "table 'products' is missing" in message
    assert "docs/DATA_MODEL.md" in message


def test_missing_column_is_named(raw_case: RawCase, tmp_path: Path):
    raw_case.tables["transactions"] = raw_case.tables["transactions"].drop(columns=["order_ts", "amount"])
    raw_case.tables["customers"] = raw_case.tables["customers"].drop(columns=["phone"])  # optional
    raw_dir = raw_case.write(tmp_path / "raw", fmt="csv")

    with pytest.raises(IngestError, match=r"table 'transactions' lacks column\(s\) order_ts, amount") as err:
        open_source(raw_dir)
    assert "customers" not in str(err.value)


def test_table_in_two_formats_is_ambiguous(raw_case: RawCase, raw_dir: Path):
    raw_case.tables["products"].to_csv(raw_dir / "products.csv", index=False)

    with pytest.raises(IngestError, match=r"'products' exists as both products\.parquet and products\.csv"):
        open_source(raw_dir)


def test_malformed_file_is_named(raw_case: RawCase, tmp_path: Path):
    raw_dir = raw_case.write(tmp_path / "raw", fmt="csv")
    with open(raw_dir / "events.csv", "a") as handle:
        handle.write('S9,C0000001,"2023-01-01 10:00:00,app,1,0\n')  # quote never closed

    source = open_source(raw_dir)

    with pytest.raises(IngestError, match=r"cannot read .*events\.csv: ParserError"):
        source.read("events")


def test_source_that_is_not_a_directory(tmp_path: Path):
    with pytest.raises(IngestError, match=r"is not a directory.*SQLAlchemy URL"):
        open_source(tmp_path / "nowhere")


def test_output_may_not_overwrite_the_source(raw_dir: Path):
    with pytest.raises(IngestError, match="is the source directory"):
        ingest(raw_dir, raw_dir, get_settings(), progress=False)


def test_extra_columns_are_not_read_and_are_reported(raw_case: RawCase, tmp_path: Path):
    raw_case.tables["customers"]["home_address"] = "12 Secretive Lane"
    source = open_source(raw_case.write(tmp_path / "raw"))

    assert source.ignored_columns["customers"] == ["home_address"]
    customers = source.read("customers")
    assert "home_address" not in customers.columns
    assert list(customers.index) == list(range(len(raw_case.tables["customers"])))


def test_urls_are_logged_without_secrets():
    url = "postgresql+psycopg://crm:s3cr3t@db.example:5432/crm?schema=raw&password=other"

    shown = redact_url(url)

    assert "s3cr3t" not in shown and "other" not in shown
    assert shown == "postgresql+psycopg://crm@db.example:5432/crm"


def test_unusable_url_is_a_clear_error():
    with pytest.raises(IngestError, match="no SQLAlchemy driver"):
        open_source("nosuchdb+driver://user@host/db")
    with pytest.raises(IngestError, match="schema given twice"):
        open_source("sqlite:///x.db?schema=a", schema="b")


# --- PostgreSQL -----------------------------------------------------------------------------------

@pytest.fixture
def pg_schema() -> Iterator[tuple[object, str, str]]:
    """(engine, URL, fresh schema) on the local PostgreSQL; the schema is dropped afterwards."""
    import sqlalchemy as sa

    engine, _, url = connect_local_postgres()
    schema = f"crmlab_ingest_{uuid.uuid4().hex[:12]}"
    with engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield engine, url, schema
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.mark.postgres
def test_postgres_source_gives_the_same_result_as_files(pg_schema, raw_case: RawCase, tmp_path: Path):
    engine, url, schema = pg_schema
    for table, frame in raw_case.tables.items():
        frame.to_sql(table, engine, schema=schema, index=False)
    secret = "NeverLogThisPw"  # the local server trusts its clients, so any password connects
    with_password = url.replace("@", f":{secret}@", 1)

    result = ingest(f"{with_password}?schema={schema}", tmp_path / "clean", get_settings(), progress=False)

    quarantine = pd.read_parquet(result.paths["quarantine"])
    got = {(t, r): (rule, col) for t, r, rule, col
           in quarantine[["table", "row_number", "rule", "column"]].itertuples(index=False)}
    assert got == raw_case.expected
    for table, counts in result.counts.items():
        assert counts.rows_in == len(raw_case.tables[table])
    assert result.source["kind"] == "database" and result.source["schema"] == schema
    assert len(pd.read_parquet(result.paths["customers"])) == 11
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "mlflow.db" for p in written)
    assert not [p for p in written if secret.encode() in p.read_bytes()]


@pytest.mark.postgres
def test_postgres_schema_without_the_tables_is_named(pg_schema):
    _, url, schema = pg_schema

    with pytest.raises(IngestError, match=f"table 'customers' is missing in schema '{schema}'"):
        open_source(url, schema=schema)
