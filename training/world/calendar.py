"""When things happen: seasonality of activity over the year and week, and time of day by channel.

``truth.py`` integrates the same weights to turn latent rates into expected spend, so the generator
and the expected values can never disagree.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from training.world.sampling import choose

# Activity peaks in mid-December and dips in mid-June; weekends are busier.
YEARLY_AMPLITUDE = 0.12
PEAK_DAY_OF_YEAR = 344
WEEKDAY_WEIGHTS = (0.95, 0.95, 0.97, 1.0, 1.05, 1.1, 0.98)  # Monday .. Sunday

# Relative activity per hour of day (0..23) for each channel / device.
HOURLY_WEIGHTS: dict[str, tuple[float, ...]] = {
    "web": (
        0.3,
        0.2,
        0.1,
        0.1,
        0.1,
        0.2,
        0.5,
        1.0,
        1.5,
        1.8,
        2.0,
        2.2,
        2.6,
        2.4,
        2.0,
        1.9,
        1.9,
        2.0,
        2.2,
        2.6,
        2.8,
        2.6,
        1.8,
        0.8,
    ),
    "app": (
        0.6,
        0.3,
        0.2,
        0.1,
        0.1,
        0.3,
        1.0,
        2.0,
        2.2,
        1.6,
        1.4,
        1.6,
        2.2,
        1.9,
        1.5,
        1.5,
        1.7,
        2.0,
        2.4,
        2.8,
        3.2,
        3.4,
        2.8,
        1.5,
    ),
    "store": (
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        1.0,
        1.6,
        2.0,
        2.4,
        2.2,
        2.0,
        2.0,
        2.2,
        2.6,
        2.6,
        1.8,
        0.6,
        0.0,
        0.0,
        0.0,
    ),
}


def calendar_params() -> dict:
    """The seasonality constants, for world.json (``daily_weights(**params)`` reproduces the weights)."""
    return {
        "yearly_amplitude": YEARLY_AMPLITUDE,
        "peak_day_of_year": PEAK_DAY_OF_YEAR,
        "weekday_weights": list(WEEKDAY_WEIGHTS),
    }


def daily_weights(
    start: date,
    n_days: int,
    yearly_amplitude: float = YEARLY_AMPLITUDE,
    peak_day_of_year: int = PEAK_DAY_OF_YEAR,
    weekday_weights: tuple[float, ...] | list[float] = WEEKDAY_WEIGHTS,
) -> np.ndarray:
    """Relative activity of each day from ``start``; averages 1 over a year (rates stay 'per day')."""
    days = np.arange(n_days)
    first = np.datetime64(start, "D")
    dates = first + days
    day_of_year = (dates - dates.astype("datetime64[Y]")).astype(np.int64) + 1
    yearly = 1.0 + yearly_amplitude * np.cos(2 * np.pi * (day_of_year - peak_day_of_year) / 365.25)
    weekday = (dates.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    week = np.asarray(weekday_weights)[weekday] / np.mean(weekday_weights)
    return yearly * week


def cumulative(weights: np.ndarray) -> np.ndarray:
    """Integrated activity at each whole day: ``C[d]`` = sum of weights before day ``d``."""
    return np.concatenate([[0.0], np.cumsum(weights)])


def integrate(cum: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Integral of the (piecewise constant per day) activity over ``[a, b]`` in fractional days."""
    grid = np.arange(len(cum), dtype=np.float64)
    return np.interp(b, grid, cum) - np.interp(a, grid, cum)


def invert(cum: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Fractional day at which integrated activity reaches ``level`` (inverse of ``integrate``)."""
    return np.interp(level, cum, np.arange(len(cum), dtype=np.float64))


def seconds_of_day(
    rng: np.random.Generator, channel_names: tuple[str, ...], channel: np.ndarray
) -> np.ndarray:
    """A time of day in seconds for each row, drawn from its channel's hourly profile."""
    weights = np.array([HOURLY_WEIGHTS[name] for name in channel_names])
    hour = choose(rng.random(len(channel)), channel, weights)
    return hour * 3600 + rng.integers(0, 3600, size=len(channel))
