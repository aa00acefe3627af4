"""Web/app sessions whose rate tracks the latent state, so engagement is an early churn signal.

A customer browses at their session rate while alive; over the last ``RAMP_DAYS`` before dropout the
rate falls linearly to ``RAMP_FLOOR`` of it (sessions thin out *before* the last order), and after
dropout a residual ``POST_DROPOUT_LEVEL`` decays exponentially. Declining sessions also have fewer
page views and cart adds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from training.world.calendar import invert, seconds_of_day
from training.world.drift import DriftEffects
from training.world.population import Population
from training.world.sampling import choose, expand
from training.world.segments import SEGMENTS
from training.world.vocab import DEVICES

RAMP_DAYS = 60.0
RAMP_FLOOR = 0.2
POST_DROPOUT_LEVEL = 0.3
POST_DROPOUT_DECAY_DAYS = 45.0
DECLINE_PAGE_FACTOR = 0.6  # page views and cart-add chance of sessions in decline


@dataclass(frozen=True)
class Sessions:
    """Sessions sorted by time; ``customer`` indexes the population."""

    customer: np.ndarray
    seconds: np.ndarray
    device: np.ndarray  # index into DEVICES
    page_views: np.ndarray
    cart_adds: np.ndarray


def session_weights(daily: np.ndarray, effects: DriftEffects) -> np.ndarray:
    """Daily session intensity: the purchase calendar times the engagement change after drift start."""
    days = np.arange(len(daily))
    return daily * np.where(days >= effects.start_day, effects.engagement_multiplier, 1.0)


def device_probs(effects: DriftEffects) -> np.ndarray:
    """(segment, after_drift) -> probabilities over DEVICES (the segment's web:app ratio)."""
    pre = np.array([s.channels[:2] for s in SEGMENTS], dtype=np.float64)
    pre /= pre.sum(axis=1, keepdims=True)
    return np.stack([pre, effects.shift_channels(pre, DEVICES)], axis=1).reshape(-1, len(DEVICES))


def _steady(
    rng: np.random.Generator, pop: Population, cum: np.ndarray, n_days: int
) -> tuple[np.ndarray, np.ndarray]:
    """Full-rate sessions from signup until the decline ramp starts (exact inverse-CDF draw)."""
    end = np.minimum(np.maximum(pop.signup, pop.dropout - RAMP_DAYS), n_days)
    grid = np.arange(len(cum), dtype=np.float64)
    low, high = np.interp(pop.signup, grid, cum), np.interp(end, grid, cum)
    owner = expand(rng.poisson(pop.session_rate * np.maximum(high - low, 0.0)))
    level = low[owner] + rng.random(len(owner)) * (high - low)[owner]
    return owner, invert(cum, level)


def _thinned(
    rng: np.random.Generator,
    expected: np.ndarray,
    weights: np.ndarray,
    draw_day: Callable[[np.ndarray], np.ndarray],
    keep: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Non-homogeneous Poisson by thinning.

    ``expected`` sessions per customer before calendar weighting; candidates are drawn at the
    calendar's peak weight (``draw_day`` places them) and kept with probability weight/peak x ``keep``.
    """
    top = float(weights.max())
    owner = expand(rng.poisson(expected * top))
    day = draw_day(owner)
    idx = np.minimum(np.floor(day).astype(np.int64), len(weights) - 1)
    accept = rng.random(len(owner)) < weights[idx] / top * keep(owner, day)
    return owner[accept], day[accept]


def _declining(
    rng: np.random.Generator, pop: Population, weights: np.ndarray, n_days: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sessions on the ramp before dropout and in the decaying tail after it."""
    ramp_start = np.minimum(np.maximum(pop.signup, pop.dropout - RAMP_DAYS), n_days)
    ramp_stop = np.minimum(pop.dropout, n_days)
    ramp = _thinned(
        rng,
        pop.session_rate * np.maximum(ramp_stop - ramp_start, 0.0),
        weights,
        lambda o: ramp_start[o] + rng.random(len(o)) * (ramp_stop - ramp_start)[o],
        lambda o, t: RAMP_FLOOR + (1 - RAMP_FLOOR) * np.clip((pop.dropout[o] - t) / RAMP_DAYS, 0, 1),
    )
    # Tail: intensity LEVEL * exp(-(t - dropout) / DECAY); candidates drawn from the truncated exponential.
    span = np.maximum(n_days - pop.dropout, 0.0)
    mass = 1.0 - np.exp(-span / POST_DROPOUT_DECAY_DAYS)
    tail_rate = pop.session_rate * POST_DROPOUT_LEVEL * POST_DROPOUT_DECAY_DAYS * mass
    tail = _thinned(
        rng,
        tail_rate,
        weights,
        lambda o: pop.dropout[o] - POST_DROPOUT_DECAY_DAYS * np.log1p(-rng.random(len(o)) * mass[o]),
        lambda o, t: np.ones(len(o)),
    )
    return np.concatenate([ramp[0], tail[0]]), np.concatenate([ramp[1], tail[1]])


def draw_sessions(
    rng: np.random.Generator,
    pop: Population,
    daily: np.ndarray,
    effects: DriftEffects,
    n_days: int,
    start_epoch_day: int,
) -> Sessions:
    weights = session_weights(daily, effects)
    cum = np.concatenate([[0.0], np.cumsum(weights)])
    steady_owner, steady_day = _steady(rng, pop, cum, n_days)
    decline_owner, decline_day = _declining(rng, pop, weights, n_days)
    declining = np.concatenate([np.zeros(len(steady_owner), bool), np.ones(len(decline_owner), bool)])
    customer = np.concatenate([steady_owner, decline_owner]).astype(np.int32)
    del steady_owner, decline_owner
    whole_day = np.minimum(np.floor(np.concatenate([steady_day, decline_day])), n_days - 1).astype(np.int32)
    del steady_day, decline_day

    # Sort by time first, then draw the rest in that order: fewer large arrays to permute.
    device = choose(
        rng.random(len(customer)),
        2 * pop.segment[customer] + (whole_day >= effects.start_day),
        device_probs(effects),
    )
    seconds = (start_epoch_day + whole_day.astype(np.int64)) * 86_400 + seconds_of_day(rng, DEVICES, device)
    del whole_day
    order = np.argsort(seconds, kind="stable")
    seconds, customer, device, declining = (
        seconds[order],
        customer[order],
        device[order].astype(np.int8),
        declining[order],
    )
    del order
    segment = pop.segment[customer]
    factor = np.where(declining, DECLINE_PAGE_FACTOR, 1.0)
    del declining
    pages = np.array([s.pages_per_session for s in SEGMENTS])[segment]
    page_views = 1 + rng.poisson((pages - 1.0) * factor)
    del pages
    cart_adds = rng.binomial(page_views, np.array([s.cart_rate for s in SEGMENTS])[segment] * factor)
    return Sessions(
        customer=customer, seconds=seconds, device=device, page_views=page_views, cart_adds=cart_adds
    )
