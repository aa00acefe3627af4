"""The clean tables the feature build reads, checked against docs/DATA_MODEL.md section 2.

Checks are cheap (parquet footers, plus a scan only when a footer reports a problem) and fail with
the file, column and row, and what to do next, instead of letting a NULL key silently drop rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from training.cleaning import first_row, quote_ident, sql_literal
from training.features.catalog import PROFILE_COLUMNS

if TYPE_CHECKING:
    import duckdb
    import pyarrow.parquet as pq

TABLES: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id", "signup_date", *PROFILE_COLUMNS),
    "transactions": ("customer_id", "order_ts", "product_id", "category", "quantity", "amount", "channel"),
    "products": ("product_id", "category"),
    "events": ("customer_id", "session_ts", "page_views", "cart_adds"),
}
NOT_NULL: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id", "signup_date"),
    "transactions": ("customer_id", "order_ts"),
    "products": ("product_id",),
    "events": ("customer_id", "session_ts"),
}
TEMPORAL: dict[tuple[str, str], str] = {
    ("customers", "signup_date"): "date32",
    ("transactions", "order_ts"): "timestamp",
    ("events", "session_ts"): "timestamp",
}
# customers.customer_id uniqueness is checked on the built rows (one per customer and cutoff), for free.
UNIQUE: dict[str, str] = {"products": "product_id"}
RAW_ONLY_COLUMNS = ("full_name", "phone")


class CleanDataError(ValueError):
    """The --data directory does not hold clean tables as ingestion writes them."""


@dataclass(frozen=True)
class CleanTables:
    """Paths of the four clean parquet tables."""

    root: Path

    def path(self, table: str) -> Path:
        return self.root / f"{table}.parquet"

    def relation(self, table: str) -> str:
        """DuckDB FROM-clause text reading the table."""
        return f"read_parquet({sql_literal(str(self.path(table)))})"


def open_clean_dir(clean_dir: Path, con: duckdb.DuckDBPyConnection | None = None) -> CleanTables:
    """Check the clean directory and return its tables; raise CleanDataError saying what to fix."""
    import duckdb
    import pyarrow.parquet as pq

    tables = CleanTables(Path(clean_dir))
    if not tables.root.is_dir():
        raise CleanDataError(f"--data {tables.root}: no such directory. Run `crmlab ingest --out DIR` first.")
    con = con if con is not None else duckdb.connect()
    for table, columns in TABLES.items():
        path = tables.path(table)
        if not path.exists():
            raise CleanDataError(f"{path} is missing: --data must be a clean directory written by `crmlab ingest`.")
        pf = pq.ParquetFile(path)
        schema = pf.schema_arrow
        if any(c in schema.names for c in RAW_ONLY_COLUMNS):
            raise CleanDataError(f"{path} still has direct identifiers ({', '.join(RAW_ONLY_COLUMNS)}): this looks "
                                 "like raw data. Run `crmlab ingest --source RAW --out CLEAN` and pass CLEAN.")
        for column in columns:
            if column not in schema.names:
                raise CleanDataError(f"{path}: column {column!r} is missing (see docs/DATA_MODEL.md section 2).")
        for (t, column), kind in TEMPORAL.items():
            if t == table and not str(schema.field(column).type).startswith(kind):
                raise CleanDataError(f"{path}: column {column!r} has type {schema.field(column).type}, expected "
                                     f"{kind}: raw string dates must go through `crmlab ingest` first.")
        for column in NOT_NULL[table]:
            _check_not_null(con, tables, table, column, pf)
        if table in UNIQUE:
            _check_unique(con, tables, table, UNIQUE[table])
    return tables


def _check_not_null(con: duckdb.DuckDBPyConnection, tables: CleanTables, table: str, column: str,
                    pf: pq.ParquetFile) -> None:
    if not _footer_may_have_nulls(pf, column):
        return
    c = quote_ident(column)
    row = first_row(con, f"SELECT file_row_number FROM read_parquet({sql_literal(str(tables.path(table)))}, "
                  f"file_row_number=true) WHERE {c} IS NULL LIMIT 1")
    if row is not None:
        raise CleanDataError(f"{tables.path(table)} row {row[0]}: {column} is empty. Clean data must not have empty "
                             f"{column}; re-run `crmlab ingest`, which quarantines such rows.")


def _footer_may_have_nulls(pf: pq.ParquetFile, column: str) -> bool:
    index = pf.schema_arrow.get_field_index(column)
    meta = pf.metadata
    for rg in range(meta.num_row_groups):
        stats = meta.row_group(rg).column(index).statistics
        if stats is None or not stats.has_null_count or stats.null_count > 0:
            return True
    return False


def _check_unique(con: duckdb.DuckDBPyConnection, tables: CleanTables, table: str, column: str) -> None:
    c = quote_ident(column)
    row = first_row(con, f"SELECT {c}, count(*) FROM {tables.relation(table)} GROUP BY {c} HAVING count(*) > 1 "
                  f"ORDER BY {c} LIMIT 1")
    if row is not None:
        raise CleanDataError(f"{tables.path(table)}: {column} {row[0]!r} appears {row[1]} times; it must be unique. "
                             "Re-run `crmlab ingest`, which removes duplicate keys.")


def hash_inputs(tables: CleanTables) -> dict[str, str]:
    """SHA-256 of each clean table file plus a combined ``data_hash``, for provenance in the metadata."""
    digests: dict[str, str] = {}
    for table in TABLES:
        h = hashlib.sha256()
        with tables.path(table).open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        digests[table] = h.hexdigest()
    combined = hashlib.sha256("".join(f"{t}:{d};" for t, d in digests.items()).encode()).hexdigest()
    return {"data_hash": combined, **{f"{t}_sha256": d for t, d in digests.items()}}
