"""Findings (one problem in one raw row) and the quarantine table built from them.

Every check step returns findings: ``row_number`` (0-based position in the raw table), ``rule``,
``column`` and ``detail`` (starts with the field name, quotes at most a short non-PII value).
A row with several findings is quarantined ONCE: ``rule``/``column`` are those of its first finding
(parse, then contract checks in column order, then duplicate key, then references) and ``reason`` holds
every detail, ``"<table> row <n>: <detail>; <detail>"``. Counts "by rule" count rows by that first rule.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

import pandas as pd

FINDING_COLUMNS = ["row_number", "rule", "column", "detail"]
QUARANTINE_COLUMNS = ["table", "row_number", "rule", "column", "reason", "record"]
_MAX_QUOTE = 40


def findings(rows: Sequence[int] | pd.Index, rule: str, column: str | None,
             details: Iterable[str]) -> pd.DataFrame:
    """Findings of one rule on one column (``details`` aligned with ``rows``)."""
    return pd.DataFrame({
        "row_number": pd.Series(list(rows), dtype="int64"),
        "rule": rule,
        "column": column,
        "detail": pd.Series(list(details), dtype=object),
    }, columns=FINDING_COLUMNS)


def no_findings() -> pd.DataFrame:
    return findings([], "", None, [])


def combine(parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """All findings in step order (the order decides each row's first rule)."""
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else no_findings()


def drop_covered(found: pd.DataFrame, covered: pd.DataFrame) -> pd.DataFrame:
    """``found`` without cells (row, column) already reported in ``covered`` (e.g. not_null after a
    value that could not be parsed)."""
    if not len(found) or not len(covered):
        return found
    seen = pd.MultiIndex.from_frame(covered[["row_number", "column"]])
    keys = pd.MultiIndex.from_frame(found[["row_number", "column"]])
    return found[~keys.isin(seen)].reset_index(drop=True)


def quote(value: object) -> str:
    """A short, printable rendering of a raw value for a reason."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "<empty>"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= _MAX_QUOTE else text[: _MAX_QUOTE - 3] + "..."


def quarantine_rows(table: str, raw: pd.DataFrame, found: pd.DataFrame) -> pd.DataFrame:
    """One quarantine row per raw row with findings; ``raw`` is already pseudonymised."""
    if not len(found):
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "row_number" else object)
                             for c in QUARANTINE_COLUMNS})
    ordered = found.reset_index(drop=True)
    ordered["_order"] = ordered.index
    ordered = ordered.sort_values(["row_number", "_order"], kind="stable")
    first = ordered.drop_duplicates("row_number", keep="first").set_index("row_number")
    details = first["detail"].copy()
    several = ordered["row_number"].duplicated(keep=False).to_numpy()
    if several.any():  # join in Python only for the (few) rows with several findings
        joined = ordered[several].groupby("row_number", sort=False)["detail"].agg("; ".join)
        details.loc[joined.index] = joined
    rows = first.index.to_numpy()
    reasons = [f"{table} row {row}: {detail}" for row, detail in zip(rows, details, strict=True)]
    return pd.DataFrame({
        "table": table,
        "row_number": rows.astype("int64"),
        "rule": first["rule"].to_numpy(),
        "column": first["column"].to_numpy(),
        "reason": reasons,
        "record": records_json(raw.loc[rows]),  # raw is indexed by row number
    }, columns=QUARANTINE_COLUMNS)


def records_json(rows: pd.DataFrame) -> list[str]:
    """Each row as a JSON object (nulls as null, timestamps ISO)."""
    as_list = json.loads(rows.to_json(orient="records", date_format="iso", force_ascii=False))
    return [json.dumps(record, ensure_ascii=False, sort_keys=False) for record in as_list]


def counts_by_rule(quarantine: pd.DataFrame) -> dict[str, int]:
    """Quarantined rows per (first) rule, largest first."""
    counts = quarantine["rule"].value_counts()
    return {str(rule): int(n) for rule, n in counts.items()}
