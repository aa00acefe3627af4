"""Cutoffs against the span of the data: refuse one before any customer exists, warn on one past its end.

A cutoff on or before the first signup has no customer to describe (the build would write a 0-row
``features.parquet``); a cutoff after the last recorded activity describes everyone as inactive since
then and has no observable label. The first is an error, the second a warning: scoring "as of today"
on data that ends a few days earlier is legitimate, a gap of months usually is a typo.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from training.features.inputs import CleanTables

WARN_AFTER_DAYS = 30  # a cutoff this many days past the last activity gets a warning


@dataclass(frozen=True)
class DataSpan:
    first_signup: date | None
    last_activity: date | None


def data_span(clean_dir: Path) -> DataSpan | None:
    """First signup day (the first purchase when the export has no customers table) and last day with an
    order or a session; None when the tables cannot be read (``open_clean_dir`` then says what is wrong)."""
    import duckdb
    import pyarrow.parquet as pq

    tables = CleanTables(Path(clean_dir))

    def has(table: str, column: str) -> bool:
        path = tables.path(table)
        return path.exists() and column in pq.read_schema(path).names

    try:
        first = (f"(SELECT min(signup_date) FROM {tables.relation('customers')})" if has("customers", "signup_date")
                 else f"(SELECT min(order_ts)::DATE FROM {tables.relation('transactions')})")
        last = [f"(SELECT max(order_ts) FROM {tables.relation('transactions')})"]
        if has("events", "session_ts"):
            last.append(f"(SELECT max(session_ts) FROM {tables.relation('events')})")
        with duckdb.connect() as con:
            first_day, last_day = con.execute(f"SELECT {first}, greatest({', '.join(last)})::DATE").fetchone()
    except (duckdb.Error, OSError, ValueError):  # unreadable: open_clean_dir says what is wrong
        return None
    return DataSpan(first_day, last_day)


def check_cutoffs(cutoffs: Sequence[date], span: DataSpan) -> list[str]:
    """Warnings for cutoffs far past the data; raises ``ValueError`` for a cutoff before any customer."""
    if span.first_signup is None:
        raise ValueError("the clean data has no customers: nothing to build features for.")
    early = [c for c in cutoffs if c <= span.first_signup]
    if early:
        raise ValueError(f"cutoff {early[0].isoformat()} is on or before the first signup in the data "
                         f"({span.first_signup.isoformat()}; the first purchase without a customers table): "
                         "no customer exists yet; give a later cutoff.")
    warnings = []
    if span.last_activity is not None:
        for cutoff in cutoffs:
            gap = (cutoff - span.last_activity).days
            if gap > WARN_AFTER_DAYS:
                warnings.append(f"cutoff {cutoff.isoformat()} is {gap} days after the data ends "
                                f"({span.last_activity.isoformat()}): every customer looks inactive since "
                                "then and no label can be observed; is the cutoff right?")
    return warnings
