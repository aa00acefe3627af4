"""The clean tables the feature build reads, checked against docs/DATA_MODEL.md section 2.

Checks are cheap (parquet footers, plus a scan only when a footer reports a problem) and fail with
the file, column and row, and what to do next, instead of letting a NULL key silently drop rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from training.cleaning import first_row, quote_ident, sql_literal

if TYPE_CHECKING:
    import duckdb
    import pyarrow.parquet as pq

    from training.features.catalog import Available, Vocabulary

REQUIRED: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id",),
    "transactions": ("customer_id", "order_ts", "amount"),
    "products": ("product_id",),
    "events": ("customer_id", "session_ts"),
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
INGEST_META = "ingest_meta.json"
_ROLES = {"customer_id", "signup_date", "marketing_consent"}


class CleanDataError(ValueError):
    """The --data directory does not hold clean tables as ingestion writes them."""


@dataclass(frozen=True)
class CleanTables:
    """The clean parquet tables present (transactions always), their columns and customer attributes."""

    root: Path
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    attributes: tuple[str, ...] = ()
    ordinal: dict[str, tuple[str, ...]] = field(default_factory=dict)  # attribute -> values, lowest rank first

    def path(self, table: str) -> Path:
        return self.root / f"{table}.parquet"

    def has(self, table: str, column: str | None = None) -> bool:
        return table in self.columns and (column is None or column in self.columns[table])

    def relation(self, table: str) -> str:
        """DuckDB FROM-clause text reading the table."""
        return f"read_parquet({sql_literal(str(self.path(table)))})"

    def available(self, vocabulary: Vocabulary) -> Available:
        """Inputs present, as the catalog's "table.role" names."""
        from training.features.catalog import ATTRIBUTE, CATEGORY, Available

        inputs = {f"{t}.{c}" for t, cols in self.columns.items() for c in cols}
        if self.has("transactions", "category") or (self.has("transactions", "product_id")
                                                      and self.has("products", "category")):
            inputs.add(CATEGORY)
        if self.attributes:
            inputs.add(ATTRIBUTE)
        return Available(frozenset(inputs), vocabulary)


def open_clean_dir(clean_dir: Path, con: duckdb.DuckDBPyConnection | None = None) -> CleanTables:
    """Check the clean directory and return its tables; raise CleanDataError saying what to fix."""
    import duckdb
    import pyarrow.parquet as pq

    root = Path(clean_dir)
    if not root.is_dir():
        raise CleanDataError(f"--data {root}: no such directory. Run `crmlab ingest --out DIR` first.")
    con = con if con is not None else duckdb.connect()
    columns: dict[str, tuple[str, ...]] = {}
    for table, required in REQUIRED.items():
        path = root / f"{table}.parquet"
        if not path.exists():
            if table == "transactions":
                raise CleanDataError(f"{path} is missing: --data must be a clean directory written by "
                                     "`crmlab ingest`.")
            continue
        pf = pq.ParquetFile(path)
        schema = pf.schema_arrow
        if any(c in schema.names for c in RAW_ONLY_COLUMNS):
            raise CleanDataError(f"{path} still has direct identifiers ({', '.join(RAW_ONLY_COLUMNS)}): this looks "
                                 "like raw data. Run `crmlab ingest --source RAW --out CLEAN` and pass CLEAN.")
        for column in required:
            if column not in schema.names:
                raise CleanDataError(f"{path}: column {column!r} is missing (see docs/DATA_MODEL.md section 2).")
        for (t, column), kind in TEMPORAL.items():
            if t == table and column in schema.names and not str(schema.field(column).type).startswith(kind):
                raise CleanDataError(f"{path}: column {column!r} has type {schema.field(column).type}, expected "
                                     f"{kind}: raw string dates must go through `crmlab ingest` first.")
        columns[table] = tuple(schema.names)
    attributes = _attributes(root, columns)
    tables = CleanTables(root, columns, attributes, _ordinal(root, attributes))
    for table in columns:
        for column in NOT_NULL[table]:
            if column in columns[table]:
                _check_not_null(con, tables, table, column, pq.ParquetFile(tables.path(table)))
        if table in UNIQUE:
            _check_unique(con, tables, table, UNIQUE[table])
    return tables


def _ordinal(root: Path, attributes: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Ranked attributes as the schema file declared them (``customers.ordinal``), via ingestion's meta."""
    import json

    meta = root / INGEST_META
    declared = json.loads(meta.read_text()).get("ordinal", {}) if meta.exists() else {}
    return {a: tuple(values) for a, values in declared.items() if a in attributes}


def _attributes(root: Path, columns: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Customer attributes: as ingestion recorded them, else every non-role, non-pseudonym column."""
    import json

    if "customers" not in columns:
        return ()
    meta = root / INGEST_META
    if meta.exists():
        listed = json.loads(meta.read_text()).get("attributes", [])
        return tuple(a for a in listed if a in columns["customers"])
    return tuple(c for c in columns["customers"] if c not in _ROLES and not c.endswith("_hmac"))


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
    for table in tables.columns:
        h = hashlib.sha256()
        with tables.path(table).open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        digests[table] = h.hexdigest()
    combined = hashlib.sha256("".join(f"{t}:{d};" for t, d in digests.items()).encode()).hexdigest()
    return {"data_hash": combined, **{f"{t}_sha256": d for t, d in digests.items()}}
