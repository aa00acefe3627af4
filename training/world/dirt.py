"""Realistic dirt in the raw tables, counted per kind so ingestion tests can check its quarantine.

Each dirt kind hits about ``rate`` of a table's rows, and kinds never share a row: a row is either
clean or dirty in exactly one way (a duplicated row is a clean row written twice). The plan is drawn
on row positions *before* the tables are formatted, so dirt costs no extra copy of a table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

BAD_DATES = ("2024-02-30", "n/a", "31/12/2024", "2023-13-01", "unknown")
BAD_TIMESTAMPS = ("2024-02-30 10:15:00", "n/a", "31/12/2024 18:45:00", "2023-13-01 09:00:00", "unknown")
ABSURD_AMOUNT_RANGE = (1e6, 1e7)

KINDS: dict[str, tuple[str, ...]] = {
    "customers": ("missing_values", "bad_dates"),
    "transactions": (
        "missing_values",
        "duplicates",
        "negative_amounts",
        "absurd_amounts",
        "bad_dates",
        "unknown_customer_ids",
    ),
    "events": ("missing_values", "bad_dates", "unknown_customer_ids"),
}
NULLABLE: dict[str, tuple[str, ...]] = {
    "customers": ("region", "acquisition_channel", "age_band", "plan"),
    "transactions": ("category", "quantity", "amount", "channel"),
    "events": ("device",),
}


@dataclass(frozen=True)
class TableDirt:
    """Which clean rows of one table get which dirt (positions in clean row order)."""

    n_rows: int
    kinds: dict[str, np.ndarray]  # kind -> row positions
    missing: dict[str, np.ndarray]  # nullable column -> row positions (a split of kinds["missing_values"])

    def mask(self, positions: np.ndarray) -> np.ndarray:
        out = np.zeros(self.n_rows, dtype=bool)
        out[positions] = True
        return out

    def null_mask(self, column: str) -> np.ndarray:
        return self.mask(self.missing[column])

    def output_rows(self) -> np.ndarray:
        """Clean-row index of each output row: duplicated rows appear twice, one after the other."""
        duplicated = self.kinds.get("duplicates", np.empty(0, dtype=np.int64))
        return np.repeat(np.arange(self.n_rows), 1 + self.mask(duplicated))

    def report(self) -> dict:
        counts: dict = {"missing_values": {c: len(p) for c, p in self.missing.items()}}
        counts.update({kind: len(p) for kind, p in self.kinds.items() if kind != "missing_values"})
        return counts


def plan_dirt(rng: np.random.Generator, table: str, n_rows: int, rate: float) -> TableDirt:
    """Disjoint dirty rows per kind (each row dirty with probability ``rate`` per kind)."""
    kinds = KINDS[table]
    if rate > 0:
        bucket = np.floor(rng.random(n_rows) / rate).astype(np.int64)
    else:
        bucket = np.full(n_rows, len(kinds), dtype=np.int64)
    rows = {kind: np.flatnonzero(bucket == k) for k, kind in enumerate(kinds)}
    columns = NULLABLE[table]
    which = rng.integers(0, len(columns), len(rows["missing_values"]))
    missing = {c: rows["missing_values"][which == k] for k, c in enumerate(columns)}
    return TableDirt(n_rows=n_rows, kinds=rows, missing=missing)


def bad_dates(rng: np.random.Generator, array: pa.Array, mask: np.ndarray, with_time: bool) -> pa.Array:
    """Replace the masked rows of a date/timestamp string column with unparseable strings."""
    k = int(mask.sum())
    if k == 0:
        return array
    pool = np.asarray(BAD_TIMESTAMPS if with_time else BAD_DATES)
    return pc.replace_with_mask(
        array, pa.array(mask), pa.array(pool[rng.integers(0, len(pool), k)]).cast(array.type)
    )


def unknown_customer_numbers(rng: np.random.Generator, k: int, n_customers: int, width: int) -> np.ndarray:
    """Customer numbers that look real (same id width) but belong to nobody."""
    high = 10**width - 1
    if high <= n_customers:
        raise ValueError(f"customer id width {width} leaves no room for unknown ids above {n_customers}")
    return rng.integers(n_customers + 1, high + 1, k)


def dirty_amounts(rng: np.random.Generator, amount: np.ndarray, dirt: TableDirt) -> np.ndarray:
    """Negative and absurd (1e6-1e7) amounts on their planned rows."""
    out = amount.copy()
    out[dirt.kinds["negative_amounts"]] *= -1.0
    absurd = dirt.kinds["absurd_amounts"]
    out[absurd] = np.round(rng.uniform(*ABSURD_AMOUNT_RANGE, len(absurd)), 2)
    return out
