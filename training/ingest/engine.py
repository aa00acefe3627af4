"""Screening on DuckDB: every table parsed, checked, explained and written by the engine.

Per table (products, customers, transactions, events: the order references need):
1. ``raw_<t>``: parquet files are read by DuckDB in place (row number = file offset + row in file). CSV
   files, database tables and tables with PII to pseudonymise stream through ``raw_chunks`` (pandas,
   ``chunk_rows`` at a time; the keyed HMAC is applied there, before DuckDB sees the rows) into a table.
2. ``typed_<t>``: one SELECT reads every column as its kind (``rules_sql.parse_column``), keeps the raw
   value where parsing may change it, and flags ``__bad`` when any row-local rule fails.
3. ``dup_<t>``: rows repeating a key among the rows that are not ``__bad`` (the first valid occurrence
   is kept), found by grouping key hashes first, then the keys themselves (cheap on 30M unique keys).
4. the fate of each row (``k`` kept, ``q`` quarantined, ``x`` excluded for consent) from left joins to
   the small tables: duplicates, opted-out customer ids (an opt-out in ANY raw row), kept and refused
   keys of the referenced tables. Kept rows are written with ``COPY ... TO parquet``; quarantined rows,
   with their first rule, column, every reason and the raw record as JSON, go to ``quarantine``.
   The big table is the probe side of every join (join reordering is off on this connection), so
   clean rows come out in raw order in practice, without a sort; DuckDB guarantees order only through
   scans and filters, so nothing downstream may rely on it (features aggregate; the quarantine is sorted).

DuckDB spills to a temporary directory beside the output above ``settings.ingest_memory_limit``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from training.ingest.contracts import TableSpec
from training.ingest.report import TableCounts
from training.ingest.rules_sql import (
    QUOTE_MACROS,
    clean_value,
    ident,
    literal,
    local_findings,
    parse_column,
    quote_sql,
    raw_name,
    record_sql,
    stores_raw,
)
from training.ingest.sources import IngestError
from training.settings import Settings

ROW = "__row"
RawChunks = Callable[[str], Iterator[pd.DataFrame]]
_QUARANTINE = ('CREATE TABLE quarantine ("table" VARCHAR, row_number BIGINT, rule VARCHAR, "column" VARCHAR, '
               "reason VARCHAR, record VARCHAR)")


@dataclass
class Screening:
    """Per-table counts and quarantined rows per (first) rule."""

    by_rule: dict[str, dict[str, int]] = field(default_factory=dict)
    counts: dict[str, TableCounts] = field(default_factory=dict)


def screen_all(raw_source: object, settings: Settings, paths: dict[str, Path], raw_chunks: RawChunks,
               pii_check: Callable[[str, pd.DataFrame], None], native: Callable[[str], bool],
               status: Callable[[str], None]) -> Screening:
    """Screen every declared table on DuckDB; writes ``paths[table]`` and ``paths["quarantine"]``."""
    import duckdb

    screening = Screening()
    specs: dict[str, TableSpec] = raw_source.specs
    referenced = {target for spec in specs.values() for target in spec.refs.values()}
    with (tempfile.TemporaryDirectory(prefix=".ingest-spill-", dir=paths["quarantine"].parent) as spill,
          duckdb.connect(config={"memory_limit": settings.ingest_memory_limit, "temp_directory": spill}) as con):
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")  # crmlab shows its own progress; stdout stays clean
        con.execute("SET disabled_optimizers = 'join_order,build_side_probe_side'")  # see docstring
        for macro in QUOTE_MACROS:
            con.execute(macro)
        con.execute(_QUARANTINE)
        for table, spec in specs.items():
            status(f"ingest: reading {table}")
            _load_raw(con, raw_source, table, raw_chunks, native(table))
            if native(table):
                pii_check(table, con.execute(f"SELECT * EXCLUDE ({ROW}) FROM raw_{table} LIMIT 20000").df())
            status(f"ingest: checking {table}")
            raw_types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE raw_{table})").fetchall())
            raw_columns = [c for c in raw_types if c != ROW]
            findings = local_findings(spec, raw_types, settings)
            _typed(con, table, spec, raw_types, findings)
            con.execute(f"{'DROP VIEW' if native(table) else 'DROP TABLE'} raw_{table}")
            if table == "customers" and "marketing_consent" in spec.columns:
                con.execute("CREATE TABLE opted_out AS SELECT DISTINCT customer_id AS id FROM typed_customers "
                            "WHERE marketing_consent = FALSE AND customer_id IS NOT NULL")
                con.execute("UPDATE typed_customers SET __opted_out = TRUE "
                            "WHERE customer_id IN (SELECT id FROM opted_out)")
            _duplicates(con, table, spec)
            con.execute(f"UPDATE typed_{table} SET __dup = TRUE, __suspect = TRUE "
                        f"WHERE {ROW} IN (SELECT {ROW} FROM dup_{table})")
            fate = _fate_sql(table, spec, f"typed_{table}")
            status(f"ingest: writing {table}")
            # kept rows: a filter on one table (no join), so DuckDB keeps the raw order
            kept = con.execute(f"COPY (SELECT {', '.join(clean_value(c, s) for c, s in spec.columns.items())} "
                               f"FROM typed_{table} WHERE NOT __suspect AND NOT __opted_out) "
                               f"TO {literal(str(paths[table]))} (FORMAT parquet)").fetchone()[0]
            suspects = _fate_sql(table, spec, f"(SELECT * FROM typed_{table} WHERE __suspect)")
            quarantined = con.execute(_quarantine_sql(table, spec, suspects, findings,
                                                      record_sql(raw_columns, spec, raw_types))).fetchone()[0]
            rows_in = con.execute(f"SELECT count(*) FROM typed_{table}").fetchone()[0]
            if rows_in == 0:  # a header and nothing else: an export gone wrong, not a table to build on
                raise IngestError(f"table {table!r} holds no rows: nothing to ingest. Check or re-export it.")
            counts = TableCounts(rows_in, kept, quarantined, rows_in - kept - quarantined)
            if table in referenced:  # one lookup per referenced table: kept, refused (and opted-out) keys
                key = ident(spec.key)
                opted = "o.id IS NOT NULL" if table == "customers" and _has(con, "opted_out") else "FALSE"
                join = "LEFT JOIN opted_out o ON o.id = f.customer_id" if opted != "FALSE" else ""
                con.execute(f"""
                    CREATE TABLE lookup_{table} AS
                    SELECT f.{key} AS id, bool_or(f.__fate = 'k') AS kept, bool_or(f.__fate = 'q') AS refused,
                           bool_or({opted}) AS opted_out
                    FROM ({fate}) f {join} WHERE f.{key} IS NOT NULL GROUP BY f.{key}""")
                if opted != "FALSE":  # opted-out ids without a readable customers row still exclude rows
                    con.execute("INSERT INTO lookup_customers SELECT id, FALSE, FALSE, TRUE FROM opted_out "
                                "ANTI JOIN lookup_customers l USING (id)")
            excluded = con.execute(f"SELECT count(*) FROM typed_{table} "  # counted independently: a guard
                                   "WHERE __opted_out AND NOT __bad AND NOT __dup").fetchone()[0]
            if excluded != counts.rows_excluded_no_consent:
                raise RuntimeError(f"{table}: {counts} but {excluded} rows excluded - please report it")
            counts.check_identity(table)
            con.execute(f"DROP TABLE typed_{table}")
            screening.counts[table] = counts
            screening.by_rule[table] = dict(con.execute(
                f"SELECT rule, count(*) AS n FROM quarantine WHERE \"table\" = {literal(table)} GROUP BY rule "
                "ORDER BY n DESC, rule").fetchall())
        status("ingest: writing the quarantine")
        con.execute(f"COPY quarantine TO {literal(str(paths['quarantine']))} (FORMAT parquet)")
    return screening


def _has(con: object, table: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                            [table]).fetchone()[0])


def _load_raw(con: object, raw_source: object, table: str, raw_chunks: RawChunks, native: bool) -> None:
    """Create ``raw_<table>``: the declared columns under their clean names, numbered in ``__row``."""
    if native:
        source = raw_source.tables[table]
        selects, offset = [], 0
        for path in source.files:
            cols = ", ".join(f"{ident(raw)} AS {ident(clean)}" for raw, clean in source.rename.items())
            selects.append(f"SELECT {offset} + file_row_number AS {ROW}, {cols} FROM "
                           f"read_parquet({literal(str(path))}, file_row_number = true)")
            offset += pq.ParquetFile(path).metadata.num_rows
        con.execute(f"CREATE VIEW raw_{table} AS {' UNION ALL '.join(selects)}")
        return
    for chunk in raw_chunks(table):
        con.register("raw_chunk", _arrow_of(chunk))
        if not _has(con, f"raw_{table}"):
            con.execute(f"CREATE TABLE raw_{table} AS SELECT * FROM raw_chunk")
        else:
            con.execute(f"INSERT INTO raw_{table} BY NAME SELECT * FROM raw_chunk")
        con.unregister("raw_chunk")


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


def _typed(con: object, table: str, spec: TableSpec, raw_types: dict[str, str], findings: list) -> None:
    """``typed_<table>``: row number, typed columns, raw values where parsing may change them, ``__bad``,
    and the lookups in earlier tables: ``__opted_out``, per reference ``__missing_<col>``/``__refused_<col>``."""
    read, checked, kept_raw = [], [], []
    for name, col in spec.columns.items():
        first, check = parse_column(name, col, raw_types[name], spec.date_format)
        read.append(f"{first} AS {ident(name)}")
        checked.append(f"{check.format(v=ident(name))} AS {ident(name)}")
        if stores_raw(col, raw_types[name]):
            kept_raw.append(f"{ident(name)} AS {ident(raw_name(name))}")
    raws = [ident(raw_name(c)) for c in spec.columns if stores_raw(spec.columns[c], raw_types[c])]
    bad = " OR ".join(f.flag for f in findings) or "FALSE"
    joins, lookups, missing = [], [], []
    opted_out = "FALSE AS __opted_out"  # customers: set from their own rows once typed
    for i, (column, target) in enumerate(spec.refs.items()):
        joins.append(f"LEFT JOIN lookup_{target} l{i} ON l{i}.id = x.{ident(column)}")
        lookups += [f"NOT coalesce(l{i}.kept, FALSE) AS {ident('__missing_' + column)}",
                    f"coalesce(l{i}.refused, FALSE) AS {ident('__refused_' + column)}"]
        missing.append(f"NOT coalesce(l{i}.kept, FALSE)")
        if target == "customers" and _has(con, "opted_out"):
            opted_out = f"coalesce(l{i}.opted_out, FALSE) AS __opted_out"
    suspect = " OR ".join(["x.__bad", *missing])
    lookups += [opted_out, "FALSE AS __dup", f"({suspect}) AS __suspect"]
    con.execute(f"""
        CREATE TABLE typed_{table} AS
        SELECT {', '.join(['x.*', *lookups])} FROM (
            SELECT *, ({bad}) AS __bad FROM (
                SELECT {ROW}, {', '.join(checked + raws)}
                FROM (SELECT {ROW}, {', '.join(read + kept_raw)} FROM raw_{table}))) x {' '.join(joins)}""")


def _duplicates(con: object, table: str, spec: TableSpec) -> None:
    """``dup_<table>``: rows (not ``__bad``) repeating a key, with the first valid row and whether the
    typed rows are equal."""
    if spec.key is None:
        con.execute(f"CREATE TABLE dup_{table} ({ROW} BIGINT, first_row BIGINT, same BOOLEAN)")
        return
    key = ident(spec.key)
    row_hash = f"hash({', '.join(f't.{ident(c)}' for c in spec.columns)})"
    con.execute(f"""
        CREATE TABLE dup_{table} AS
        WITH hashed AS (SELECT hash({key}) AS h FROM typed_{table} WHERE NOT __bad GROUP BY h HAVING count(*) > 1),
             rep AS (SELECT t.{key} AS value, min(t.{ROW}) AS first_row FROM typed_{table} t
                     SEMI JOIN hashed ON hash(t.{key}) = hashed.h WHERE NOT t.__bad
                     GROUP BY t.{key} HAVING count(*) > 1),
             r AS (SELECT t.{ROW}, rep.first_row, {row_hash} AS h
                   FROM typed_{table} t JOIN rep ON t.{key} = rep.value WHERE NOT t.__bad)
        SELECT r.{ROW}, r.first_row, r.h = f.h AS same FROM r JOIN r f ON f.{ROW} = r.first_row
        WHERE r.{ROW} <> r.first_row""")


def _fate_sql(table: str, spec: TableSpec, source: str) -> str:
    """SELECT of ``source`` (typed rows) with ``__fate`` (k kept, q quarantined, x excluded for consent)
    and the duplicate's first row, in the order of the rules (row-local, duplicate, consent, references)."""
    missing = [f"t.{ident('__missing_' + c)}" for c in spec.refs]
    referenced = f"WHEN {' OR '.join(missing)} THEN 'q' " if missing else ""
    fate = f"CASE WHEN t.__bad OR t.__dup THEN 'q' WHEN t.__opted_out THEN 'x' {referenced}ELSE 'k' END AS __fate"
    return (f"SELECT t.*, d.first_row AS __first_row, d.same AS __same, {fate} "
            f"FROM {source} t LEFT JOIN dup_{table} d ON d.{ROW} = t.{ROW}")


def _quarantine_sql(table: str, spec: TableSpec, fate: str, findings: list, record: str) -> str:
    """INSERT of the quarantined rows: first rule and column, every detail (row-local rules in order, else
    the duplicate, else the references), the raw record."""
    local_rule = " ".join(f"WHEN {f.flag} THEN {literal(f.rule)}" for f in findings)
    local_column = " ".join(f"WHEN {f.flag} THEN {literal(f.column)}" for f in findings)
    local_detail = ", ".join(f"CASE WHEN {f.flag} THEN {f.detail} END" for f in findings)
    rule: list[str] = []
    column: list[str] = []
    detail: list[str] = []
    if findings:
        rule.append(f"WHEN __bad THEN CASE {local_rule} END")
        column.append(f"WHEN __bad THEN CASE {local_column} END")
        detail.append(f"WHEN __bad THEN concat_ws('; ', {local_detail})")
    if spec.key is not None:
        key = ident(spec.key)
        rule.append("WHEN __first_row IS NOT NULL THEN 'duplicate_key'")
        column.append(f"WHEN __first_row IS NOT NULL THEN {literal(spec.key)}")
        detail.append(f"WHEN __first_row IS NOT NULL THEN {literal(spec.key + ' ')} || {quote_sql(key, 'text')} "
                      "|| ' repeats row ' || __first_row || ' (' || CASE WHEN __same THEN 'exact copy' "
                      "ELSE 'different values' END || '); the first occurrence is kept'")
    ref_details = []
    for ref_column, target in spec.refs.items():
        entity = target.removesuffix("s")
        missing, refused = ident("__missing_" + ref_column), ident("__refused_" + ref_column)
        rule.append(f"WHEN {missing} THEN {literal('unknown_' + entity)}")
        column.append(f"WHEN {missing} THEN {literal(ref_column)}")
        ref_details.append(
            f"CASE WHEN {missing} THEN {literal(ref_column + ' ')} || {quote_sql(ident(ref_column), 'text')} "
            f"|| ' is not an accepted {entity} (' || CASE WHEN {refused} THEN 'its {entity} row was quarantined' "
            f"ELSE 'no {entity} has this id' END || ')' END")
    if ref_details:
        detail.append(f"ELSE concat_ws('; ', {', '.join(ref_details)})")
    return f"""
        INSERT INTO quarantine
        SELECT {literal(table)}, {ROW}, CASE {' '.join(rule)} END, CASE {' '.join(column)} END,
               {literal(table + ' row ')} || {ROW} || ': ' || CASE {' '.join(detail)} END, {record}
        FROM ({fate}) WHERE __fate = 'q' ORDER BY {ROW}"""
