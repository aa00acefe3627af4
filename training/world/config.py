"""The knobs of a synthetic customer world, validated once so generators can trust them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

# Transactions carry six disjoint dirt kinds, each at ``dirt_rate``: the rate must leave clean rows.
MAX_DIRT_RATE = 0.15


@dataclass(frozen=True)
class WorldConfig:
    """Size, seed, timeline, drift and dirt of a generated world.

    ``drift_start`` is a date or a fraction of the timeline (0.85 = drift begins 85% of the way in).
    ``dirt_rate`` is the share of rows per dirt kind (missing value, duplicate, bad date, ...).
    """

    n_customers: int = 10_000
    seed: int = 42
    start: date = date(2023, 1, 1)
    end: date = date(2025, 12, 31)
    drift: float = 0.0
    drift_start: date | float = 0.85
    dirt_rate: float = 0.01

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            object.__setattr__(self, name, _as_date(name, getattr(self, name)))
        if isinstance(self.drift_start, str):
            object.__setattr__(self, "drift_start", _parse_drift_start(self.drift_start))
        if (
            isinstance(self.n_customers, bool)
            or int(self.n_customers) != self.n_customers
            or self.n_customers < 1
        ):
            raise ValueError(f"n_customers must be a positive integer, got {self.n_customers!r}")
        object.__setattr__(self, "n_customers", int(self.n_customers))
        object.__setattr__(self, "seed", int(self.seed))
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start}): widen the timeline")
        if not 0.0 <= float(self.drift) <= 1.0:
            raise ValueError(f"drift must lie in [0, 1] (0 = stationary world), got {self.drift}")
        if not 0.0 <= float(self.dirt_rate) <= MAX_DIRT_RATE:
            raise ValueError(
                f"dirt_rate must lie in [0, {MAX_DIRT_RATE}] (it applies per dirt kind, and transactions "
                f"have six kinds), got {self.dirt_rate}"
            )
        if isinstance(self.drift_start, date):
            if not self.start <= self.drift_start <= self.end:
                raise ValueError(
                    f"drift_start {self.drift_start} must lie between start {self.start} and end {self.end}"
                )
        elif not 0.0 <= float(self.drift_start) <= 1.0:
            raise ValueError(f"drift_start as a fraction must lie in [0, 1], got {self.drift_start}")

    @property
    def n_days(self) -> int:
        """Days in the timeline, both ends included."""
        return (self.end - self.start).days + 1

    @property
    def drift_start_date(self) -> date:
        if isinstance(self.drift_start, date):
            return self.drift_start
        return self.start + timedelta(days=round(float(self.drift_start) * (self.n_days - 1)))

    @property
    def drift_start_day(self) -> int:
        """Day index (0 = ``start``) from which drift applies."""
        return (self.drift_start_date - self.start).days


def _as_date(name: str, value: date | str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{name} must be a date YYYY-MM-DD, got {value!r}") from None


def _parse_drift_start(text: str) -> date | float:
    """``"0.85"`` is a fraction of the timeline, ``"2025-06-01"`` a date."""
    try:
        return float(text)
    except ValueError:
        return _as_date("drift_start", text)
