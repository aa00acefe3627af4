"""Screening on DuckDB: every table parsed, checked and written by the engine; pandas only for the refused rows.

Per table (products, customers, transactions, events; the order references need):
1. ``raw``: parquet files are read by DuckDB in place (numbered rows: file offset + row in file). CSV
   files, database tables and tables with PII to pseudonymise stream through ``raw_chunks`` (pandas,
   bounded by ``chunk_rows``; the keyed HMAC is applied there, before DuckDB sees the rows) into a
   DuckDB table.
2. ``typed``: one SELECT parses every column and adds ``__bad``, true when any row-local rule fails
   (``rules_sql``: parse, not_null, allowed_values, min/max).
3. duplicate keys among rows that are not ``__bad`` (first valid occurrence kept), consent (customer
   ids with an opt-out in ANY raw row), references to the kept keys of earlier tables: joins.
4. kept rows: ``COPY ... TO parquet`` with the contract's types; categorical nulls -> ``"missing"``.
5. refused rows (few) are fetched with their raw values and explained by the same code as before
   (``parse_table``, the pandera ``contract``, the duplicate/reference texts), so the quarantine
   rows, rules and reasons do not change. A row flagged in SQL that pandas finds clean is a bug: raised.

DuckDB spills to a temporary directory beside the output above ``settings.ingest_memory_limit``.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from training.ingest.contracts import TableSpec, check_contract
from training.ingest.output import QUARANTINE_SCHEMA, quarantine_arrow
from training.ingest.parse import parse_table
from training.ingest.quarantine import combine, drop_covered, findings, quarantine_rows, quote
from training.ingest.report import TableCounts
from training.ingest.rules_sql import clean_value, ident, literal, parse_column, rule_flags, unreadable_flag
from training.ingest.sources import RawSource, _parquet_chunks
from training.settings import Settings

ROW = "__row"
RawChunks = Callable[[str], Iterator[pd.DataFrame]]


@dataclass
class Screening:
    """Per-table results: the rule of each quarantined row and the counts."""

    rules: dict[str, pd.Series] = field(default_factory=dict)
    counts: dict[str, TableCounts] = field(default_factory=dict)


def screen_all(raw_source: RawSource, settings: Settings, paths: dict[str, Path], raw_chunks: RawChunks,
               pii_check: Callable[[str, pd.DataFrame], None], native: Callable[[str], bool],
               status: Callable[[str], None]) -> Screening:
    """Screen every declared table on DuckDB; writes ``paths[table]`` and ``paths["quarantine"]``."""
    import duckdb

    screening = Screening()
    specs = raw_source.specs
    referenced = {target for spec in specs.values() for target in spec.refs.values()}
    with (tempfile.TemporaryDirectory(prefix=".ingest-spill-", dir=paths["quarantine"].parent) as spill,
          duckdb.connect(config={"memory_limit": settings.ingest_memory_limit, "temp_directory": spill}) as con,
          pq.ParquetWriter(paths["quarantine"], QUARANTINE_SCHEMA) as quarantine_writer):
        con.execute("SET TimeZone = 'UTC'")
        for table, spec in specs.items():
            status(f"ingest: reading {table}")
            dtypes = _load_raw(con, raw_source, table, raw_chunks, native(table))
            if native(table):
                pii_check(table, con.execute(f"SELECT * EXCLUDE ({ROW}) FROM raw_{table} LIMIT 20000").df())
            status(f"ingest: checking {table}")
            _typed(con, table, spec, settings)
            if table == "customers" and "marketing_consent" in spec.columns:
                con.execute("CREATE TABLE opted_out AS SELECT DISTINCT customer_id AS id FROM typed_customers "
                            "WHERE marketing_consent = FALSE AND customer_id IS NOT NULL")
            _duplicates(con, table, spec)
            fate = _fate_sql(con, table, spec)
            kept = con.execute(f"COPY (SELECT {', '.join(clean_value(c, s) for c, s in spec.columns.items())} "
                               f"FROM ({fate}) WHERE __fate = 'k' ORDER BY {ROW}) "
                               f"TO {literal(str(paths[table]))} (FORMAT parquet)").fetchone()[0]
            by_fate = dict(con.execute(f"SELECT __fate, count(*) FROM ({fate}) GROUP BY __fate").fetchall())
            quarantine = _explain(con, table, spec, fate, dtypes, settings)
            quarantine_writer.write_table(quarantine_arrow(quarantine))
            counts = TableCounts(sum(by_fate.values()), by_fate.get("k", 0), by_fate.get("q", 0), by_fate.get("x", 0))
            if kept != counts.rows_kept or len(quarantine) != counts.rows_quarantined:
                raise RuntimeError(f"{table}: screening counts disagree ({kept} written, {counts}) - please report it")
            counts.check_identity(table)
            if table in referenced:
                con.execute(f"CREATE TABLE kept_{table} AS SELECT DISTINCT {ident(spec.key)} AS id FROM ({fate}) "
                            "WHERE __fate = 'k'")
                con.execute(f"CREATE TABLE refused_{table} AS SELECT DISTINCT {ident(spec.key)} AS id FROM ({fate}) "
                            f"WHERE __fate = 'q' AND {ident(spec.key)} IS NOT NULL")
            con.execute(f"DROP TABLE typed_{table}")
            con.execute(f"DROP {'VIEW' if native(table) else 'TABLE'} raw_{table}")
            screening.rules[table] = quarantine["rule"].reset_index(drop=True)
            screening.counts[table] = counts
    return screening


def _load_raw(con: object, raw_source: RawSource, table: str, raw_chunks: RawChunks, native: bool) -> dict:
    """Create ``raw_<table>`` (numbered raw rows); returns the pandas dtypes a chunked read gives, so the
    quarantine records look as before."""
    if native:
        source = raw_source.tables[table]
        columns = list(source.rename)
        selects, offset = [], 0
        for path in source.files:
            cols = ", ".join(f"{ident(raw)} AS {ident(clean)}" for raw, clean in source.rename.items())
            selects.append(f"SELECT {offset} + file_row_number AS {ROW}, {cols} FROM "
                           f"read_parquet({literal(str(path))}, file_row_number = true)")
            offset += pq.ParquetFile(path).metadata.num_rows
        con.execute(f"CREATE VIEW raw_{table} AS {' UNION ALL '.join(selects)}")
        first = next(_parquet_chunks(source.files[0], columns, 1))
        return first.rename(columns=source.rename).dtypes.to_dict()
    dtypes: dict | None = None
    for chunk in raw_chunks(table):
        if dtypes is None:
            dtypes = chunk.dtypes.to_dict()
        arrow = _arrow_of(chunk)
        con.register("raw_chunk", arrow)
        if not con.execute(f"SELECT count(*) FROM information_schema.tables WHERE table_name = 'raw_{table}'"
                           ).fetchone()[0]:
            con.execute(f"CREATE TABLE raw_{table} AS SELECT * FROM raw_chunk")
        else:
            con.execute(f"INSERT INTO raw_{table} BY NAME SELECT * FROM raw_chunk")
        con.unregister("raw_chunk")
    return dtypes or {}


def _arrow_of(chunk: pd.DataFrame) -> pa.Table:
    """A pandas chunk as Arrow with its raw row numbers; mixed or all-null object columns become text."""
    arrays = {ROW: pa.array(chunk.index.to_numpy(dtype="int64"))}
    for column in chunk.columns:
        values = chunk[column]
        try:
            array = pa.array(values, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            array = pa.array(values.astype(object).where(values.isna(), values.astype(str)), type=pa.string(),
                             from_pandas=True)
        if pa.types.is_null(array.type):
            array = array.cast(pa.string())
        arrays[column] = array
    return pa.table(arrays)


def _typed(con: object, table: str, spec: TableSpec, settings: Settings) -> None:
    raw_types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE raw_{table})").fetchall())
    parsed = [parse_column(c, col, raw_types[c], spec.date_format) for c, col in spec.columns.items()]
    columns = [f"{p.value} AS {ident(c)}" for c, p in zip(spec.columns, parsed, strict=True)]
    columns += [f"{p.unreadable} AS {unreadable_flag(c)}" for c, p in zip(spec.columns, parsed, strict=True)]
    flags = [unreadable_flag(c) for c in spec.columns] + rule_flags(spec, settings)
    con.execute(f"CREATE TABLE typed_{table} AS SELECT *, ({' OR '.join(flags)}) AS __bad FROM "
                f"(SELECT {ROW}, {', '.join(columns)} FROM raw_{table})")


def _duplicates(con: object, table: str, spec: TableSpec) -> None:
    """``dup_<table>``: rows (not ``__bad``) repeating a key, with the first valid row and whether the
    typed rows are equal (as ``SeenKeys``)."""
    if spec.key is None:
        con.execute(f"CREATE TABLE dup_{table} ({ROW} BIGINT, value VARCHAR, first_row BIGINT, same BOOLEAN)")
        return
    key = ident(spec.key)
    row_hash = f"hash({', '.join(f't.{ident(c)}' for c in spec.columns)})"
    con.execute(f"""
        CREATE TABLE dup_{table} AS
        WITH rep AS (SELECT {key} AS value, min({ROW}) AS first_row FROM typed_{table} WHERE NOT __bad
                     GROUP BY {key} HAVING count(*) > 1),
             r AS (SELECT t.{ROW}, rep.value, rep.first_row, {row_hash} AS h
                   FROM typed_{table} t JOIN rep ON t.{key} = rep.value WHERE NOT t.__bad)
        SELECT r.{ROW}, r.value, r.first_row, r.h = f.h AS same FROM r JOIN r f ON f.{ROW} = r.first_row
        WHERE r.{ROW} <> r.first_row""")


def _fate_sql(con: object, table: str, spec: TableSpec) -> str:
    """SELECT of the typed rows with ``__fate`` (k kept, q quarantined, x excluded for consent) and, per
    reference, ``__missing_<col>`` / ``__refused_<col>``."""
    joins = [f"LEFT JOIN dup_{table} d ON d.{ROW} = t.{ROW}"]
    consent = "FALSE"
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    if "customer_id" in spec.columns and "opted_out" in tables:
        joins.append("LEFT JOIN opted_out o ON o.id = t.customer_id")
        consent = "o.id IS NOT NULL"
    missing, extra = [], []
    for i, (column, target) in enumerate(spec.refs.items()):
        joins.append(f"LEFT JOIN kept_{target} k{i} ON k{i}.id = t.{ident(column)}")
        joins.append(f"LEFT JOIN refused_{target} r{i} ON r{i}.id = t.{ident(column)}")
        missing.append(f"k{i}.id IS NULL")
        extra += [f"k{i}.id IS NULL AS {ident('__missing_' + column)}",
                  f"r{i}.id IS NOT NULL AS {ident('__refused_' + column)}"]
    referenced = f"WHEN {' OR '.join(missing)} THEN 'q' " if missing else ""
    fate = (f"CASE WHEN t.__bad THEN 'q' WHEN d.{ROW} IS NOT NULL THEN 'q' WHEN {consent} THEN 'x' "
            f"{referenced}ELSE 'k' END AS __fate")
    return (f"SELECT t.*, d.first_row AS __first_row, d.same AS __same, {', '.join([fate, *extra])} "
            f"FROM typed_{table} t {' '.join(joins)}")


def _explain(con: object, table: str, spec: TableSpec, fate: str, dtypes: dict, settings: Settings) -> pd.DataFrame:
    """Quarantine rows (rule, column, reason, raw record) of the refused rows, as the pandas path wrote them."""
    refused = con.execute(f"SELECT * FROM ({fate}) WHERE __fate = 'q' ORDER BY {ROW}").df().set_index(ROW)
    raw = _raw_rows(con, table, refused.index, dtypes)
    local = refused.index[refused["__bad"].to_numpy(dtype=bool)]
    parts = []
    if len(local):
        typed, parse_found = parse_table(spec, raw.loc[local])
        parts.append(combine([parse_found, drop_covered(check_contract(spec, typed, settings), parse_found)]))
        explained = set(parts[0]["row_number"]) if len(parts[0]) else set()
        if explained != set(local):
            rows = sorted(set(local) ^ explained)[:5]
            raise RuntimeError(f"{table}: the SQL and pandas renderings of the contract disagree on rows {rows} "
                               "- please report it")
    dup = refused[refused["__first_row"].notna() & ~refused["__bad"].astype(bool)]
    if len(dup):
        details = [f"{spec.key} {quote(v)} repeats row {int(origin)} "
                   f"({'exact copy' if same else 'different values'}); the first occurrence is kept"
                   for v, origin, same in zip(dup[spec.key], dup["__first_row"], dup["__same"], strict=True)]
        parts.append(findings(dup.index, "duplicate_key", spec.key, details))
    rest = refused[refused["__first_row"].isna() & ~refused["__bad"].astype(bool)]
    for column, target in spec.refs.items():
        bad = rest[rest[f"__missing_{column}"].astype(bool)]
        if not len(bad):
            continue
        entity = target.removesuffix("s")
        why = {True: f"its {entity} row was quarantined", False: f"no {entity} has this id"}
        details = [f"{column} {quote(v)} is not an accepted {entity} ({why[bool(q)]})"
                   for v, q in zip(bad[column], bad[f"__refused_{column}"], strict=True)]
        parts.append(findings(bad.index, f"unknown_{entity}", column, details))
    return quarantine_rows(table, raw, combine(parts))


def _raw_rows(con: object, table: str, rows: pd.Index, dtypes: dict) -> pd.DataFrame:
    """The raw rows numbered ``rows``, with the dtypes of a chunked pandas read."""
    con.register("wanted_rows", pa.table({ROW: pa.array(np.asarray(rows, dtype="int64"))}))
    try:
        frame = con.execute(f"SELECT r.* FROM raw_{table} r SEMI JOIN wanted_rows w ON r.{ROW} = w.{ROW} "
                            f"ORDER BY r.{ROW}").df()
    finally:
        con.unregister("wanted_rows")
    frame = frame.set_index(ROW)
    frame.index = frame.index.astype("int64")
    frame.index.name = None
    for column, dtype in dtypes.items():
        if column in frame and frame[column].dtype != dtype:
            with contextlib.suppress(TypeError, ValueError):  # e.g. ints with nulls: keep what DuckDB gave
                frame[column] = frame[column].astype(dtype)
    return frame
