"""Parse step: raw values (strings from CSV, whatever types from parquet or SQL) to the contract's types.

A value that is present but cannot be read as its type becomes null in the typed frame and a finding
(``unparseable_date``, ``unparseable_number``, ``unparseable_bool``) here, so the quarantine says
what was wrong instead of a later "must not be null". Dates and timestamps accept ISO 8601 text
(``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM:SS``, with ``T`` or fractional seconds) unless the schema gives a
``date_format`` (strftime codes, e.g. ``%Y%m%d`` or ``%d/%m/%Y %H:%M``); values with a UTC offset
are converted to naive UTC; a date with a time part keeps the day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.ingest.contracts import Kind, TableSpec
from training.ingest.quarantine import combine, findings, quote

_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n"}
_RULES: dict[Kind, str] = {"date": "unparseable_date", "timestamp": "unparseable_date",
                           "int": "unparseable_number", "float": "unparseable_number",
                           "bool": "unparseable_bool"}
_EXPECTED = {"date": "an ISO date such as 2024-01-31",
             "timestamp": "an ISO timestamp such as 2024-01-31 13:45:00"}


def parse_table(table: TableSpec, raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(typed frame with the contract's columns and ``raw``'s index, findings for unparseable values)."""
    typed: dict[str, pd.Series] = {}
    found = []
    for column, spec in table.columns.items():
        values, bad = _parse(raw[column], spec.kind, table.date_format)
        typed[column] = values
        if bad.any():
            rows = raw.index[bad.to_numpy()]
            found.append(findings(rows, _RULES[spec.kind], column,
                                  [_detail(column, spec.kind, v, table.date_format) for v in raw[column][bad]]))
    return pd.DataFrame(typed, index=raw.index), combine(found)


def _detail(column: str, kind: Kind, value: object, date_format: str | None = None) -> str:
    if kind in _EXPECTED:
        expected = f"the format {date_format}" if date_format else _EXPECTED[kind]
        return f"{column} {quote(value)} is not a valid {kind} (expected {expected})"
    if kind == "int":
        return f"{column} {quote(value)} is not a whole number"
    if kind == "float":
        return f"{column} {quote(value)} is not a number"
    return f"{column} {quote(value)} is not true/false"


def _parse(values: pd.Series, kind: Kind, date_format: str | None = None) -> tuple[pd.Series, pd.Series]:
    """(typed values, mask of present-but-unreadable values)."""
    present = values.notna()
    if kind in ("id", "text", "category"):
        return _as_text(values), pd.Series(False, index=values.index)
    if kind in ("date", "timestamp"):
        parsed = _as_datetime(values, date_format)
        if kind == "date":
            parsed = parsed.dt.normalize()
    elif kind == "bool":
        parsed = _as_bool(values)
    else:
        number = _as_number(values)
        if kind == "int":
            whole = number.notna() & np.isfinite(number) & (number == np.round(number))
            number = number.where(whole)
            parsed = number.astype("Int64")
        else:
            parsed = number
    return parsed, present & parsed.isna()


def _is_text(values: pd.Series) -> bool:
    """Strings already (pandas/Arrow string dtype, or objects that are all str or null)?"""
    if pd.api.types.is_string_dtype(values):
        return True
    return values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty")


def _as_text(values: pd.Series) -> pd.Series:
    present = values.notna()
    if _is_text(values):
        return values.astype(object).where(present, None)
    return values.astype(object).where(~present, values.astype(str)).where(present, None)


def _as_datetime(values: pd.Series, date_format: str | None = None) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert(None).astype("datetime64[ns]")
    if pd.api.types.is_datetime64_dtype(values):
        return values.astype("datetime64[ns]")
    text = values if _is_text(values) else values.astype(object).where(values.isna(), values.astype(str))
    fmt = date_format or "ISO8601"
    parsed = pd.to_datetime(text, format=fmt, errors="coerce", utc=True)
    retry = parsed.isna() & values.notna()
    if retry.any():  # surrounding blanks are formatting, not a wrong date: strip only where it failed
        stripped = pd.Series(text[retry], dtype=object).str.strip()
        parsed[retry] = pd.to_datetime(stripped, format=fmt, errors="coerce", utc=True)
    return parsed.dt.tz_convert(None).astype("datetime64[ns]")


def _as_number(values: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return pd.Series(np.nan, index=values.index)  # true/false is not a quantity or an amount
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    text = values.astype(object).where(values.isna(), values.astype(str).str.strip())
    return pd.to_numeric(text, errors="coerce").astype("float64")


def _as_bool(values: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return values.astype("boolean")
    if pd.api.types.is_numeric_dtype(values):
        return values.map({1: True, 0: False}).astype("boolean")
    lowered = values.astype(object).where(values.isna(), values.astype(str).str.strip().str.lower())
    parsed = pd.Series(pd.NA, index=values.index, dtype="boolean")
    parsed[lowered.isin(_TRUE)] = True
    parsed[lowered.isin(_FALSE)] = False
    return parsed
