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


def test_missing_table_file_is_named_by_its_schema_key(raw_dir: Path, tmp_path: Path):
    (raw_dir / "events.parquet").unlink()
    (raw_dir / "products.parquet").unlink()

    with pytest.raises(IngestError) as err:
        ingest(raw_dir, tmp_path / "clean", get_settings(), progress=False)

    message = str(err.value)
    assert "events.path:" in message and "events.parquet does not exist" in message
    assert "products.path:" in message
    assert "docs/SCHEMA.md" in message


def test_missing_column_is_named_by_its_role(raw_case: RawCase, tmp_path: Path):
    raw_case.tables["transactions"] = raw_case.tables["transactions"].drop(columns=["order_ts", "amount"])
    raw_case.tables["customers"] = raw_case.tables["customers"].drop(columns=["phone"])  # dropped PII: optional
    raw_dir = raw_case.write(tmp_path / "raw", fmt="csv")

    with pytest.raises(IngestError) as err:
        open_source(raw_dir)
    message = str(err.value)
    assert "transactions.columns.order_ts: column 'order_ts' is not in" in message
    assert "transactions.columns.amount: column 'amount' is not in" in message
    assert "customers" not in message


def test_malformed_file_is_named(raw_case: RawCase, tmp_path: Path):
    raw_dir = raw_case.write(tmp_path / "raw", fmt="csv")
    with open(raw_dir / "events.csv", "a") as handle:
        handle.write('S9,C0000001,"2023-01-01 10:00:00,app,1,0\n')  # quote never closed

    source = open_source(raw_dir)

    with pytest.raises(IngestError, match=r"cannot read events from .*events\.csv: ParserError"):
        list(source.read_chunks("events", 1000))


def test_source_without_a_schema_says_what_to_write(tmp_path: Path):
    with pytest.raises(IngestError, match=r"does not exist: give a schema file"):
        open_source(tmp_path / "nowhere")
    with pytest.raises(IngestError, match=r"holds no schema\.yaml.*docs/SCHEMA\.md"):
        open_source(tmp_path)
    with pytest.raises(IngestError, match=r"a database is described in a schema file"):
        open_source("postgresql+psycopg://u@h/db")


def test_output_may_not_overwrite_the_source(raw_dir: Path):
    with pytest.raises(IngestError, match=r"holds the raw .* file"):
        ingest(raw_dir, raw_dir, get_settings(), progress=False)


def test_extra_columns_are_not_read_and_are_reported(raw_case: RawCase, tmp_path: Path):
    raw_case.tables["customers"]["home_address"] = "12 Secretive Lane"
    source = open_source(raw_case.write(tmp_path / "raw"))

    assert source.ignored_columns["customers"] == ["home_address"]
    customers = pd.concat(source.read_chunks("customers", 1000))
    assert "home_address" not in customers.columns and "full_name" not in customers.columns
    assert list(customers.index) == list(range(len(raw_case.tables["customers"])))


def test_urls_are_logged_without_secrets():
    url = "postgresql+psycopg://crm:s3cr3t@db.example:5432/crm?schema=raw&password=other"

    shown = redact_url(url)

    assert "s3cr3t" not in shown and "other" not in shown
    assert shown == "postgresql+psycopg://crm@db.example:5432/crm"


def test_unusable_url_is_a_clear_error(tmp_path: Path):
    schema = tmp_path / "schema.yaml"
    schema.write_text("name: x\ntransactions:\n  url: nosuchdb+driver://user@host/db\n  table: tx\n"
                      "  columns: {customer_id: c, order_ts: t, amount: a}\n")
    with pytest.raises(IngestError, match=r"transactions\.url: no SQLAlchemy driver"):
        open_source(schema)


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


def database_schema(raw_dir: Path, url: str, db_schema: str) -> Path:
    """The raw case's schema file with every table read from the database instead of a file."""
    import yaml

    path = raw_dir / "schema.yaml"
    data = yaml.safe_load(path.read_text())
    for table in ("products", "customers", "transactions", "events"):
        data[table].pop("path")
        data[table] |= {"url": url, "table": table, "schema": db_schema}
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.postgres
def test_postgres_source_gives_the_same_result_as_files(pg_schema, raw_case: RawCase, tmp_path: Path):
    engine, url, schema = pg_schema
    for table, frame in raw_case.tables.items():
        frame.to_sql(table, engine, schema=schema, index=False)
    secret = "NeverLogThisPw"  # the local server trusts its clients, so any password connects
    with_password = url.replace("@", f":{secret}@", 1)
    source = database_schema(raw_case.write(tmp_path / "raw"), with_password, schema)
    for table in raw_case.tables:
        (tmp_path / "raw" / f"{table}.parquet").unlink()  # nothing read from files

    result = ingest(source, tmp_path / "clean", get_settings(), progress=False)

    quarantine = pd.read_parquet(result.paths["quarantine"])
    got = {(t, r): (rule, col) for t, r, rule, col
           in quarantine[["table", "row_number", "rule", "column"]].itertuples(index=False)}
    assert got == raw_case.expected
    for table, counts in result.counts.items():
        assert counts.rows_in == len(raw_case.tables[table])
    assert result.source["kind"] == "database" and schema in result.source["tables"]["customers"]
    assert len(pd.read_parquet(result.paths["customers"])) == 11
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "mlflow.db" for p in written)
    assert not [p for p in written if secret.encode() in p.read_bytes() and p.name != "schema.yaml"]


@pytest.mark.postgres
def test_postgres_schema_without_the_tables_is_named(pg_schema, raw_case: RawCase, tmp_path: Path):
    _, url, schema = pg_schema
    source = database_schema(raw_case.write(tmp_path / "raw"), url, schema)

    with pytest.raises(IngestError, match=f"customers.table: no table 'customers' in .*schema {schema}"):
        open_source(source)
