"""Latent customers: who they are (segment, profile) and how they behave (rates, lifetime, spend)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.world.config import WorldConfig
from training.world.drift import DriftEffects
from training.world.sampling import choose, gamma_around
from training.world.segments import SEGMENTS
from training.world.vocab import PROFILE_VOCAB

# Signups grow exponentially: the last day sees SIGNUP_GROWTH_FACTOR times the first day's signups.
# Exponential growth keeps the tenure mix of the customer base stable, so with drift=0 a late cutoff
# looks like an early one.
SIGNUP_GROWTH_FACTOR = 4.0
MAX_LIFETIME_DAYS = 36_500.0  # dropout dates are capped 100 years after signup
SESSION_RATE_SHAPE = 8.0  # customer-level scatter of sessions per order around the segment's


@dataclass(frozen=True)
class Population:
    """One entry per customer, sorted by signup time (customer ids follow signup order)."""

    segment: np.ndarray  # index into SEGMENTS
    signup: np.ndarray  # fractional day from the world's start
    dropout: np.ndarray  # fractional day; may lie after the world's end
    purchase_rate: np.ndarray  # repeat orders per day while alive (year-average)
    spend_level: np.ndarray  # multiplier on list price x quantity
    session_rate: np.ndarray  # sessions per day while alive, before drift
    first_purchase: np.ndarray  # bool: orders on the signup day
    consent: np.ndarray  # bool: marketing consent
    profile: dict[str, np.ndarray]  # column -> code into PROFILE_VOCAB[column]

    def __len__(self) -> int:
        return len(self.segment)


def _param(name: str) -> np.ndarray:
    return np.array([getattr(s, name) for s in SEGMENTS], dtype=np.float64)


def signup_days(rng: np.random.Generator, n: int, n_days: int) -> np.ndarray:
    """Signup times with density growing exponentially over the timeline (inverse-CDF draw)."""
    g = np.log(SIGNUP_GROWTH_FACTOR)
    u = rng.random(n)
    return np.sort(n_days * np.log1p(u * np.expm1(g)) / g)


def dropout_days(
    signup: np.ndarray, hazard: np.ndarray, exposure: np.ndarray, effects: DriftEffects
) -> np.ndarray:
    """Time at which the cumulative dropout hazard reaches ``exposure`` (an Exp(1) draw).

    The hazard is constant per customer and multiplied by ``dropout_hazard_multiplier`` from the drift
    start, so the piecewise-linear cumulative hazard inverts in closed form.
    """
    d = float(effects.start_day)
    before = np.maximum(d - signup, 0.0) * hazard
    after_start = np.maximum(signup, d) + (exposure - before) / (hazard * effects.dropout_hazard_multiplier)
    dropout = np.where(exposure <= before, signup + exposure / hazard, after_start)
    return np.minimum(dropout, signup + MAX_LIFETIME_DAYS)


def draw_population(rng: np.random.Generator, config: WorldConfig, effects: DriftEffects) -> Population:
    n = config.n_customers
    segment = choose(rng.random(n), np.zeros(n, dtype=np.int64), _param("share")[None, :]).astype(np.int8)
    signup = signup_days(rng, n, config.n_days)
    hazard = gamma_around(rng, 1.0 / _param("lifetime_days")[segment], _param("hazard_shape")[segment])
    dropout = dropout_days(signup, hazard, rng.exponential(1.0, n), effects)
    purchase_rate = gamma_around(rng, _param("purchase_rate")[segment], _param("rate_shape")[segment])
    spend_level = gamma_around(rng, _param("spend_level")[segment], _param("spend_shape")[segment])
    session_rate = purchase_rate * gamma_around(
        rng, _param("sessions_per_order")[segment], SESSION_RATE_SHAPE
    )
    first_purchase = rng.random(n) < _param("first_purchase")[segment]
    consent = rng.random(n) < _param("consent")[segment]
    profile = {
        column: choose(rng.random(n), segment, np.array([s.profile[column] for s in SEGMENTS]))
        for column in PROFILE_VOCAB
    }
    return Population(
        segment=segment,
        signup=signup,
        dropout=dropout,
        purchase_rate=purchase_rate,
        spend_level=spend_level,
        session_rate=session_rate,
        first_purchase=first_purchase,
        consent=consent,
        profile=profile,
    )
