"""The second way in: one user table (CSV or Parquet) with an id column and a binary target.

Column types are inferred, not trusted, because exports store numbers as text:

- numbers, including text such as ``"1,234.5"``, ``" 42 "``, ``"$12"`` -> numeric (a text column is
  numeric when at least 95% of its non-empty values parse; the rest become missing and are reported);
- ``true/false``, ``yes/no``, ``y/n``, ``t/f`` -> boolean (1.0 / 0.0);
- ISO dates -> ``days before the reference date`` (the latest date in the table, stored with the model
  so scoring uses the same origin);
- other text -> categorical. Empty strings, ``NA``, ``n/a``, ``null``, ``none``, ``-``, ``?`` are missing.

Dropped, and said so in the report: direct identifiers by name (name, email, phone, address), columns
that are entirely empty or constant, and text columns with mostly unique values (ids, free text).
The inferred ``TableSchema`` travels with the model: the pyfunc parses raw rows the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

Kind = Literal["numeric", "numeric_text", "boolean", "date", "categorical"]

NA_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "-", "?"})
_TRUE = frozenset({"true", "yes", "y", "t"})
_FALSE = frozenset({"false", "no", "n", "f"})
_BINARY_TRUE = _TRUE | {"1", "1.0"}
_BINARY_WORDS = _BINARY_TRUE | _FALSE | {"0", "0.0"}
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_CURRENCY = re.compile(r"^[$€£]\s*")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?$")
_PII_NAME = re.compile(
    r"(^|_)(name|full_?name|first_?name|last_?name|e_?mail|phone|mobile|address)($|_)", re.IGNORECASE
)
NUMERIC_SHARE = 0.95
ID_LIKE_SHARE = 0.5


class TableError(ValueError):
    """A user table that cannot be used as given; the message says what to change."""


@dataclass(frozen=True)
class ColumnRule:
    name: str
    kind: Kind


@dataclass(frozen=True)
class TableSchema:
    """How raw columns become model features; applied at training and again inside the served model."""

    rules: tuple[ColumnRule, ...]
    reference_date: str | None = None

    @property
    def features(self) -> list[str]:
        return [r.name for r in self.rules]

    @property
    def categorical(self) -> list[str]:
        return [r.name for r in self.rules if r.kind == "categorical"]

    def apply(self, raw: pd.DataFrame, *, strict: bool = True) -> pd.DataFrame:
        """Raw rows -> features; ``strict`` refuses unparseable values (names column and count only)."""
        out, bad = self.parse(raw)
        for col in bad.columns:
            if strict and bad[col].any():
                kind = next(r.kind for r in self.rules if r.name == col).replace("_text", "")
                raise TableError(
                    f"column {col!r} expects {kind} values but {int(bad[col].sum())} row(s) hold something "
                    f"else (first at row position {int(np.flatnonzero(bad[col].to_numpy())[0])})"
                )
        return out

    def parse(self, raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(features, mask of present raw values that did not parse and became missing)."""
        out = pd.DataFrame(index=raw.index)
        bad = pd.DataFrame(index=raw.index)
        for rule in self.rules:
            if rule.name not in raw.columns:
                continue  # the model's own validation decides whether it was required
            out[rule.name], bad[rule.name] = _parse(raw[rule.name], rule.kind, self.reference_date)
        return out, bad


@dataclass
class LoadedTable:
    features: pd.DataFrame  # model-ready features (labelled rows only)
    raw: pd.DataFrame       # the same rows' raw feature columns (what a served model receives)
    label: pd.Series        # 0/1
    ids: pd.Series
    schema: TableSchema
    positive: str
    report: list[str]


def read_table(path: str | Path) -> pd.DataFrame:
    """CSV (every column read as text, types inferred later) or Parquet."""
    path = Path(path)
    if not path.exists():
        raise TableError(f"no such table: {path}")
    if path.is_dir():
        raise TableError(f"{path} is a directory: give a .csv or .parquet file")
    suffix = path.suffix.lower()
    if suffix not in {".parquet", ".pq", ".csv", ".txt", ".tsv"}:
        raise TableError(f"unsupported table format {path.suffix!r}: give a .csv or .parquet file")
    try:
        if suffix in {".parquet", ".pq"}:
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, sep="\t" if suffix == ".tsv" else ",")
    except pd.errors.EmptyDataError:
        raise TableError(f"{path} is empty: it needs a header row and at least one customer") from None
    except (OSError, ValueError, UnicodeDecodeError) as err:  # pyarrow's ArrowInvalid is a ValueError
        kind = "Parquet" if suffix in {".parquet", ".pq"} else "CSV"
        raise TableError(f"{path} cannot be read as {kind} ({type(err).__name__}): check that the file "
                         f"is a {kind} table") from None
    if frame.empty:
        raise TableError(f"{path} has no rows: it needs at least one customer")
    return frame


def load_table(path: str | Path, *, target: str, id_col: str, positive: str | None = None) -> LoadedTable:
    """Read, check and type a user table; every inference and exclusion is listed in ``report``."""
    frame = read_table(path)
    name = Path(path).name
    for col, role in ((target, "target"), (id_col, "id")):
        if col not in frame.columns:
            columns = ", ".join(map(str, frame.columns))
            raise TableError(f"no {role} column {col!r} in {name}; columns are: {columns}")
    if target == id_col:
        raise TableError("the target and the id must be different columns")
    _check_ids(frame[id_col], id_col)
    label, positive, report = _binary_label(frame[target], target, positive)
    known = label.notna()
    schema, inferred = infer_schema(frame.loc[known].drop(columns=[target, id_col]))
    report += inferred
    raw = frame.loc[known, schema.features]
    features, bad = schema.parse(raw)
    raw = raw.astype(object).where(~bad, None)  # reported as missing at inference: kept missing downstream
    return LoadedTable(features, raw, label[known].astype(int), frame.loc[known, id_col], schema, positive,
                       report)


def infer_schema(raw: pd.DataFrame) -> tuple[TableSchema, list[str]]:
    """Infer each column's kind; returns the schema and one report line per column."""
    rules: list[ColumnRule] = []
    report: list[str] = []
    dates: list[pd.Series] = []
    for col in raw.columns:
        values = raw[col]
        if _PII_NAME.search(str(col)):
            report.append(f"{col}: dropped (looks like a direct identifier; never used for modelling)")
            continue
        kind, note = _infer_kind(values)
        present = values[~_is_missing(values)]
        if present.empty:
            report.append(f"{col}: dropped (entirely empty)")
            continue
        if present.astype(str).nunique() < 2:
            report.append(f"{col}: dropped (a single value: carries no information)")
            continue
        if kind == "categorical" and present.nunique() > max(50, ID_LIKE_SHARE * len(present)):
            report.append(f"{col}: dropped (mostly unique text: an identifier or free text)")
            continue
        if kind == "date":
            dates.append(_parse(values, "date", None)[0])
        rules.append(ColumnRule(str(col), kind))
        report.append(f"{col}: {kind.replace('_text', ' (stored as text)')}{note}")
    reference = None
    if dates:
        reference = str(max(d.max() for d in dates).date())
        report.append(f"dates become days before the reference date {reference}")
    return TableSchema(tuple(rules), reference), report


def _infer_kind(values: pd.Series) -> tuple[Kind, str]:
    if pd.api.types.is_bool_dtype(values):
        return "boolean", ""
    if pd.api.types.is_numeric_dtype(values):
        return "numeric", ""
    if pd.api.types.is_datetime64_any_dtype(values):
        return "date", ""
    text = values[~_is_missing(values)].astype(str).str.strip()
    if text.empty:
        return "categorical", ""
    lowered = text.str.lower()
    if lowered.isin(_TRUE | _FALSE).all():
        return "boolean", ""
    numbers = _to_number(text)
    share = numbers.notna().mean()
    if share >= NUMERIC_SHARE:
        bad = int(numbers.isna().sum())
        return "numeric_text", f"; {bad} non-numeric value(s) treated as missing" if bad else ""
    if text.str.match(_ISO_DATE).mean() >= NUMERIC_SHARE:
        bad = int(pd.to_datetime(text, errors="coerce", format="mixed").isna().sum())
        return "date", f"; {bad} unparseable date(s) treated as missing" if bad else ""
    return "categorical", ""


def _parse(values: pd.Series, kind: Kind, reference: str | None) -> tuple[pd.Series, pd.Series]:
    """(parsed values, mask of present values that failed to parse)."""
    missing = _is_missing(values)
    if kind == "categorical":
        parsed = values.astype(object).where(~missing, None).map(lambda v: v if v is None else str(v).strip())
        return parsed, pd.Series(False, index=values.index)
    if kind == "numeric":
        parsed = pd.to_numeric(values, errors="coerce").astype(float)
    elif kind == "numeric_text":
        parsed = _to_number(values.astype(str).str.strip()).astype(float)
    elif kind == "boolean":
        if pd.api.types.is_bool_dtype(values):
            parsed = values.astype(float)
        else:
            lowered = values.astype(str).str.strip().str.lower()
            flags = np.where(lowered.isin(_TRUE), 1.0, np.where(lowered.isin(_FALSE), 0.0, np.nan))
            parsed = pd.Series(flags, index=values.index)
    else:
        stamps = pd.to_datetime(values.where(~missing), errors="coerce", format="mixed")
        parsed = stamps if reference is None else (pd.Timestamp(reference) - stamps).dt.days.astype(float)
    parsed = parsed.where(~missing)
    return parsed, parsed.isna() & ~missing


def _to_number(text: pd.Series) -> pd.Series:
    cleaned = text.str.replace(_CURRENCY, "", regex=True)
    cleaned = cleaned.where(~cleaned.str.match(_THOUSANDS), cleaned.str.replace(",", "", regex=False))
    return pd.to_numeric(cleaned, errors="coerce")


def _is_missing(values: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        return values.isna()
    return values.isna() | values.astype(str).str.strip().str.lower().isin(NA_TOKENS)


def _check_ids(ids: pd.Series, id_col: str) -> None:
    missing = _is_missing(ids)
    if missing.any():
        raise TableError(f"id column {id_col!r} is empty in {int(missing.sum())} row(s) (first at row "
                         f"{int(np.flatnonzero(missing.to_numpy())[0])}): every row needs an id")
    dup = ids.duplicated(keep="first")
    if dup.any():
        raise TableError(f"id column {id_col!r} is not unique: {int(dup.sum())} repeated id(s) (first repeat "
                         f"at row {int(np.flatnonzero(dup.to_numpy())[0])}); give one row per customer")


def _binary_label(values: pd.Series, target: str, positive: str | None) -> tuple[pd.Series, str, list[str]]:
    missing = _is_missing(values)
    text = values.astype(str).str.strip()
    found = sorted(text[~missing].unique(), key=str)
    report = []
    if missing.any():
        report.append(f"{int(missing.sum())} row(s) without a {target!r} value are not used for training")
    shown = ", ".join(map(repr, found[:10])) + (" ..." if len(found) > 10 else "")
    if positive is None:
        if {v.lower() for v in found} <= _BINARY_WORDS:
            is_pos = text.str.lower().isin(_BINARY_TRUE)
            positive = next((v for v in found if v.lower() in _BINARY_TRUE), "true")
        elif len(found) == 2:
            raise TableError(f"target {target!r} has the values {shown}: say which one is positive with "
                             "--positive VALUE")
        else:
            raise TableError(f"target {target!r} is not binary (values: {shown}): give --positive VALUE "
                             "to model that value against all others")
    else:
        is_pos = text == str(positive).strip()
        if not is_pos.any():
            as_number = pd.to_numeric(text, errors="coerce")
            wanted = pd.to_numeric(pd.Series([positive]), errors="coerce").iloc[0]
            is_pos = as_number == wanted if pd.notna(wanted) else is_pos
        if not is_pos.any():
            raise TableError(f"positive value {positive!r} is not present in target {target!r}; "
                             f"values found: {shown}")
        if len(found) > 2:
            report.append(f"target {target!r}: {positive!r} against all {len(found) - 1} other values")
    label = pd.Series(np.where(is_pos, 1.0, 0.0), index=values.index).where(~missing)
    classes = label.dropna().unique()
    if len(classes) < 2:
        raise TableError(f"target {target!r} has only one class among {int((~missing).sum())} labelled rows "
                         f"(values: {shown}): a churn model needs both churned and retained customers")
    report.append(f"target {target!r}: positive = {positive!r} "
                  f"({int(label.sum())} of {int(label.notna().sum())} rows)")
    return label, str(positive), report
