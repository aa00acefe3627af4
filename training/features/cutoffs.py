"""Cutoffs chosen from the data's own date range (the rule ``crmlab main`` uses; overridable).

Rule: the data is observed until the day after its last order or session (``observed_until``). The
current (scoring) batch is at ``observed_until``. Training cutoffs step back one horizon at a time
from there: ``observed_until - k * horizon`` for k = 1..count, so the latest label window ends exactly
where the data ends; a cutoff is kept only when at least ``min_history_days`` (default: one horizon)
of data lie before it. At least one training cutoff must remain, else the data is too short.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path


class CutoffError(ValueError):
    """The data's range cannot hold a labelled cutoff; the message says how long it must be."""


@dataclass(frozen=True)
class Plan:
    """Training cutoffs (labelled) and the current batch's cutoff."""

    training: list[date]
    current: date
    first_day: date
    observed_until: date

    def describe(self) -> str:
        return (f"data {self.first_day} .. {self.observed_until - timedelta(days=1)}; training cutoffs "
                f"{', '.join(d.isoformat() for d in self.training)}; current batch {self.current}")


def data_range(clean_dir: Path) -> tuple[date, date]:
    """(first day with activity, day after the last activity) of a clean directory."""
    import duckdb

    from training.features.build import observed_until
    from training.features.inputs import open_clean_dir

    con = duckdb.connect()
    try:
        tables = open_clean_dir(Path(clean_dir), con)
        first = con.execute(f"SELECT min(order_ts) FROM {tables.relation('transactions')}").fetchone()[0]
        until = observed_until(con, tables)
    finally:
        con.close()
    if first is None or until is None:
        raise CutoffError(f"{clean_dir}: the clean transactions are empty; nothing to build features from")
    return first.date(), until.date()


def plan_cutoffs(first_day: date, observed_until: date, horizon_days: int, count: int = 3,
                 min_history_days: int | None = None) -> Plan:
    """The documented rule (module docstring)."""
    history = horizon_days if min_history_days is None else min_history_days
    training = [observed_until - timedelta(days=horizon_days * k) for k in range(count, 0, -1)]
    training = [d for d in training if (d - first_day).days >= history]
    if not training:
        span = (observed_until - first_day).days
        raise CutoffError(f"the data spans {span} days ({first_day} .. {observed_until - timedelta(days=1)}); "
                          f"a labelled cutoff needs {history} days of history plus a {horizon_days}-day label "
                          f"window ({history + horizon_days} days). Use a shorter --horizon-days or give "
                          "--cutoffs yourself.")
    return Plan(training, observed_until, first_day, observed_until)


def plan_for(clean_dir: Path, horizon_days: int, cutoffs: list[date] | None = None, count: int = 3) -> Plan:
    """The rule applied to a clean directory, or the given training cutoffs with the current batch at the end."""
    first, until = data_range(clean_dir)
    if cutoffs:
        late = [d for d in cutoffs if d > until]
        if late:
            raise CutoffError(f"cutoff {late[0]} is after the data's end ({until - timedelta(days=1)})")
        return Plan(sorted(cutoffs), until, first, until)
    return plan_cutoffs(first, until, horizon_days, count)
