"""The declared contract (``TableSpec``, ``contracts.py``) as DuckDB SQL: parsed columns and one flag per rule.

The rules stay declared once, in ``contracts.py``; this module only renders them. The pandas parser
(``parse.py``) and the pandera schema (``contract``) render the same rules for the rows that fail, so
the quarantine keeps its exact reasons; a test runs both renderings on the same tricky values.

Why SQL rendered from the spec and not a pandera backend on the engine: pandera 0.35's Ibis and Polars
backends validate a table and report failure cases, but (a) they have no parse step (an unparseable
date must be told apart from a missing one, with the raw value), (b) their failure cases carry no
stable raw row number on an engine without an index, which the quarantine needs to keep the rest of
the row and to count every row once, and (c) keys, consent and references are relations between
tables, which pandera does not express. A row-level flag per rule in one SELECT does all of that in
one scan, and the declared rules (types, nullability, vocabularies, bounds) remain the single source.
"""

from __future__ import annotations

from dataclasses import dataclass

from training.ingest.contracts import MISSING, ColumnSpec, TableSpec
from training.settings import Settings

_TRUE = ("true", "t", "1", "yes", "y")
_FALSE = ("false", "f", "0", "no", "n")
# what pandas' ISO8601 parser accepts: a full date, optional time, optional UTC offset
_ISO = r"^\d{4}-\d{2}-\d{2}([ T]\d{2}(:\d{2}(:\d{2}(\.\d+)?)?)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)?$"
# the range of pandas' datetime64[ns]: a date outside it could not be parsed by the pandas path either
_TS_MIN, _TS_MAX = "1677-09-22", "2262-04-11"
SQL_TYPES = {"id": "VARCHAR", "text": "VARCHAR", "category": "VARCHAR", "date": "DATE", "timestamp": "TIMESTAMP",
             "int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN"}


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: object) -> str:
    """A SQL literal of a string or number."""
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(float(value)) if isinstance(value, float) else str(value)


def _family(raw_type: str) -> str:
    t = raw_type.upper()
    if t == "VARCHAR":
        return "text"
    if t == "BOOLEAN":
        return "bool"
    if t.endswith("INT") or t in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                                  "UINTEGER", "UBIGINT", "UHUGEINT"):
        return "integer"
    if t in ("FLOAT", "DOUBLE", "REAL") or t.startswith("DECIMAL"):
        return "float"
    if t == "DATE" or t.startswith("TIMESTAMP"):
        return "tz" if "TIME ZONE" in t else "timestamp"
    if t == '"NULL"' or t == "NULL":
        return "null"
    return "other"


@dataclass(frozen=True)
class Parsed:
    """SQL of a column's typed value and of its "present but unreadable" flag."""

    value: str
    unreadable: str


def parse_column(name: str, col: ColumnSpec, raw_type: str, date_format: str | None) -> Parsed:
    """The typed value of raw column ``name`` (DuckDB type ``raw_type``) as ``parse.py`` reads it."""
    raw = ident(name)
    family = _family(raw_type)
    text = raw if family == "text" else f"CAST({raw} AS VARCHAR)"
    present = f"({raw} IS NOT NULL AND NOT isnan({raw}))" if family == "float" else f"({raw} IS NOT NULL)"
    if family == "null":
        return Parsed(f"CAST(NULL AS {SQL_TYPES[col.kind]})", "FALSE")
    if col.kind in ("id", "text", "category"):
        return Parsed(text, "FALSE")
    if col.kind in ("date", "timestamp"):
        value = _timestamp(raw, family, text, date_format)
        value = f"CASE WHEN {value} >= TIMESTAMP '{_TS_MIN}' AND {value} < TIMESTAMP '{_TS_MAX}' THEN {value} END"
        if col.kind == "date":
            value = f"CAST({value} AS DATE)"
    elif col.kind == "bool":
        value = _boolean(raw, family, text)
    else:
        number = _number(raw, family, text)
        if col.kind == "int":
            value = (f"CASE WHEN isfinite({number}) AND {number} = round({number}) AND abs({number}) < 9.2e18 "
                     f"THEN CAST({number} AS BIGINT) END")
        else:
            value = number
    return Parsed(value, f"({present} AND ({value}) IS NULL)")


def _timestamp(raw: str, family: str, text: str, date_format: str | None) -> str:
    if family == "timestamp":
        return f"CAST({raw} AS TIMESTAMP)"
    if family == "tz":
        return f"CAST({raw} AS TIMESTAMP)"  # the session time zone is UTC: naive UTC, as parse.py
    trimmed = f"trim({text})"
    if date_format:
        fmt = literal(date_format)
        return (f"CAST(coalesce(try_strptime({text}, {fmt}), try_strptime({trimmed}, {fmt})) AS TIMESTAMP)")
    return (f"CASE WHEN regexp_matches({trimmed}, {literal(_ISO)}) "
            f"THEN CAST(try_cast({trimmed} AS TIMESTAMPTZ) AS TIMESTAMP) END")


def _number(raw: str, family: str, text: str) -> str:
    if family in ("integer", "float"):
        return f"CASE WHEN NOT isnan(CAST({raw} AS DOUBLE)) THEN CAST({raw} AS DOUBLE) END"
    if family == "bool":
        return "CAST(NULL AS DOUBLE)"  # true/false is not a quantity or an amount
    trimmed = f"trim({text})"
    number = f"try_cast({trimmed} AS DOUBLE)"
    return f"CASE WHEN NOT contains({trimmed}, '_') AND NOT isnan({number}) THEN {number} END"


def _boolean(raw: str, family: str, text: str) -> str:
    if family == "bool":
        return raw
    if family in ("integer", "float"):
        return f"CASE WHEN {raw} = 1 THEN TRUE WHEN {raw} = 0 THEN FALSE END"
    lowered = f"lower(trim({text}))"
    return (f"CASE WHEN {lowered} IN ({', '.join(map(literal, _TRUE))}) THEN TRUE "
            f"WHEN {lowered} IN ({', '.join(map(literal, _FALSE))}) THEN FALSE END")


def rule_flags(spec: TableSpec, settings: Settings) -> list[str]:
    """One SQL boolean per contract rule on the typed columns (true: the row breaks it), as ``contract``
    with ``stage="raw"``: nulls pass value checks, a non-nullable null fails ``not_null`` unless its
    value was present but unreadable (then the parse finding covers it)."""
    flags = []
    for name, col in spec.columns.items():
        value = ident(name)
        if not col.nullable:
            flags.append(f"({value} IS NULL AND NOT {unreadable_flag(name)})")
        if col.categories:
            flags.append(f"({value} IS NOT NULL AND {value} NOT IN ({', '.join(map(literal, col.categories))}))")
        for bound in col.bounds:
            op = {"ge": ">=", "gt": ">", "le": "<="}[bound.op]
            flags.append(f"({value} IS NOT NULL AND NOT ({value} {op} {literal(bound.value(settings))}))")
    return flags


def unreadable_flag(name: str) -> str:
    """Name of the typed table's column flagging an unreadable raw value of ``name``."""
    return ident(f"__unreadable_{name}")


def clean_value(name: str, col: ColumnSpec) -> str:
    """Output expression: typed value with the contract's type, a null category as ``"missing"``."""
    value = ident(name)
    if col.kind == "category" and col.nullable:
        return f"coalesce({value}, {literal(MISSING)}) AS {value}"
    return f"CAST({value} AS {SQL_TYPES[col.kind]}) AS {value}"
