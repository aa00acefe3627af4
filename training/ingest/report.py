"""The data-quality report: counts, quarantine by rule, null rates, value ranges (JSON + Markdown).

Only aggregates of pseudonymised, non-identifying columns: no row values, so the report can be shared
and logged to MLflow. ``null_rates`` are shares of KEPT rows without a value (for categoricals: the
share that became ``"missing"``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from training.ingest.contracts import MISSING, TableSpec


@dataclass(frozen=True)
class TableCounts:
    """Per-table row accounting; ``rows_in`` always equals the sum of the other three."""

    rows_in: int
    rows_kept: int
    rows_quarantined: int
    rows_excluded_no_consent: int

    def check_identity(self, table: str) -> None:
        total = self.rows_kept + self.rows_quarantined + self.rows_excluded_no_consent
        if total != self.rows_in:
            raise RuntimeError(f"{table}: rows_in {self.rows_in} != kept + quarantined + excluded = {total}; "
                               "ingestion lost or duplicated rows - please report it")


def profile(table: TableSpec, clean: pd.DataFrame) -> dict[str, Any]:
    """Null rates, numeric/date ranges and category counts of a clean table."""
    return profile_columns(table, clean.__getitem__)


def profile_columns(table: TableSpec, column_of: Callable[[str], pd.Series]) -> dict[str, Any]:
    """``profile`` fetching one column at a time (e.g. from the written file: a large table never needs
    to be in memory whole)."""
    null_rates: dict[str, float] = {}
    ranges: dict[str, dict[str, Any]] = {}
    categories: dict[str, dict[str, int]] = {}
    for column, spec in table.columns.items():
        values = column_of(column)
        empty = values.isna() | (values == MISSING) if spec.kind == "category" else values.isna()
        null_rates[column] = round(float(empty.mean()), 6) if len(values) else 0.0
        present = values.dropna()
        if spec.kind in ("int", "float") and len(present):
            as_kind = int if spec.kind == "int" else float
            ranges[column] = {"min": as_kind(present.min()), "max": as_kind(present.max()),
                              "mean": round(float(present.mean()), 6)}
        elif spec.kind in ("date", "timestamp") and len(present):
            fmt = "%Y-%m-%d" if spec.kind == "date" else "%Y-%m-%d %H:%M:%S"
            ranges[column] = {"min": present.min().strftime(fmt), "max": present.max().strftime(fmt)}
        elif spec.kind == "category":
            categories[column] = {str(k): int(n) for k, n in values.value_counts().items()}
    return {"null_rates": null_rates, "value_ranges": ranges, "categories": categories}


def profile_parquet(con: object, table: TableSpec, path: Path) -> dict[str, Any]:
    """``profile`` of a written clean table, computed by DuckDB on the file (one scan for the numbers,
    one per categorical column): tens of millions of rows never enter pandas."""
    source = f"read_parquet('{str(path).replace(chr(39), chr(39) * 2)}')"
    parts = ["count(*)"]
    for column, spec in table.columns.items():
        c = '"' + column.replace('"', '""') + '"'
        empty = f"{c} IS NULL OR {c} = '{MISSING}'" if spec.kind == "category" else f"{c} IS NULL"
        parts.append(f"count(*) FILTER (WHERE {empty})")
        if spec.kind in ("int", "float", "date", "timestamp"):
            parts += [f"min({c})", f"max({c})", f"avg({c})" if spec.kind in ("int", "float") else "NULL"]
    values = iter(con.execute(f"SELECT {', '.join(parts)} FROM {source}").fetchone())
    rows = next(values)
    null_rates: dict[str, float] = {}
    ranges: dict[str, dict[str, Any]] = {}
    categories: dict[str, dict[str, int]] = {}
    for column, spec in table.columns.items():
        nulls = next(values)  # always taken: the values are read in order, one per part
        null_rates[column] = round(nulls / rows, 6) if rows else 0.0
        if spec.kind in ("int", "float", "date", "timestamp"):
            low, high, mean = next(values), next(values), next(values)
            if low is None:
                continue
            if spec.kind in ("int", "float"):
                as_kind = int if spec.kind == "int" else float
                ranges[column] = {"min": as_kind(low), "max": as_kind(high), "mean": round(float(mean), 6)}
            else:
                fmt = "%Y-%m-%d" if spec.kind == "date" else "%Y-%m-%d %H:%M:%S"
                ranges[column] = {"min": low.strftime(fmt), "max": high.strftime(fmt)}
        elif spec.kind == "category":
            c = '"' + column.replace('"', '""') + '"'
            counts = con.execute(f"SELECT {c}, count(*) AS n FROM {source} WHERE {c} IS NOT NULL GROUP BY {c} "
                                 f"ORDER BY n DESC, {c}").fetchall()
            categories[column] = {str(k): int(n) for k, n in counts}
    return {"null_rates": null_rates, "value_ranges": ranges, "categories": categories}


def build_report(source: dict[str, Any], counts: dict[str, TableCounts],
                 quarantine_by_rule: dict[str, dict[str, int]], profiles: dict[str, dict[str, Any]],
                 contract_settings: dict[str, Any]) -> dict[str, Any]:
    tables = {
        table: {**asdict(counts[table]), "quarantine_by_rule": quarantine_by_rule[table], **profiles[table]}
        for table in counts
    }
    fields = ("rows_in", "rows_kept", "rows_quarantined", "rows_excluded_no_consent")
    totals = {name: sum(getattr(c, name) for c in counts.values()) for name in fields}
    return {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": source,
        "contract": contract_settings,
        "identity": "rows_in = rows_kept + rows_quarantined + rows_excluded_no_consent (checked per table)",
        "quarantine_rule_note": "a row failing several rules is counted once, under its first rule; "
                                "its reason lists every problem",
        "totals": totals,
        "tables": tables,
    }


def render_markdown(report: dict[str, Any]) -> str:
    """A readable version of the report."""
    src = report["source"]
    lines = [
        "# Data-quality report", "",
        f"- created: {report['created_at']}",
        f"- source: {src['kind']} `{src['location']}`",
        f"- contract: {', '.join(f'{k}={v}' for k, v in report['contract'].items())}",
        "", "## Rows per table", "",
        "| table | in | kept | quarantined | excluded (no consent) |", "|---|---:|---:|---:|---:|",
    ]
    for table, t in report["tables"].items():
        lines.append(f"| {table} | {t['rows_in']} | {t['rows_kept']} | {t['rows_quarantined']} "
                     f"| {t['rows_excluded_no_consent']} |")
    lines += ["", "Each table: rows in = kept + quarantined + excluded.", "", "## Quarantine by rule", "",
              report["quarantine_rule_note"].capitalize() + ".", "",
              "| table | rule | rows |", "|---|---|---:|"]
    rule_rows = [f"| {table} | {rule} | {n} |" for table, t in report["tables"].items()
                 for rule, n in t["quarantine_by_rule"].items()]
    lines += rule_rows or ["| - | - | 0 |"]
    lines += ["", "## Columns of kept rows", "",
              "| table | column | null rate | range |", "|---|---|---:|---|"]
    for table, t in report["tables"].items():
        for column, rate in t["null_rates"].items():
            rng = t["value_ranges"].get(column)
            shown = f"{rng['min']} .. {rng['max']}" if rng else ""
            lines.append(f"| {table} | {column} | {rate:.2%} | {shown} |")
    ignored = {t: cols for t, cols in src.get("ignored_columns", {}).items() if cols}
    if ignored:
        lines += ["", "## Columns not read (not in the contract)", ""]
        lines += [f"- {table}: {', '.join(cols)}" for table, cols in ignored.items()]
    return "\n".join(lines) + "\n"
