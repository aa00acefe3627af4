"""Purchases: a first order at signup, then Poisson repeat orders while the customer is alive.

Repeat orders follow each customer's rate times the calendar's seasonality (exact inverse-CDF draw,
no thinning). Category follows the segment's preference, product follows a price affinity within the
category, and the amount is list price x quantity x the customer's spend level x noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.world.calendar import invert, seconds_of_day
from training.world.catalog import EXTRA_QUANTITY, Catalog
from training.world.drift import DriftEffects
from training.world.population import Population
from training.world.sampling import choose, expand
from training.world.segments import SEGMENTS
from training.world.vocab import CATEGORIES, CHANNELS

AMOUNT_NOISE_SHAPE = 25.0  # order-to-order scatter of the amount around its expectation (CV 0.2)
# Clean amounts stay below this, far under Settings.absurd_amount (50,000): anything above is dirt.
MAX_CLEAN_AMOUNT = 40_000.0


@dataclass(frozen=True)
class Purchases:
    """Order lines sorted by time; ``customer`` indexes the population."""

    customer: np.ndarray
    seconds: np.ndarray  # whole seconds since 1970-01-01
    product: np.ndarray  # index into the catalogue
    category: np.ndarray  # index into CATEGORIES
    quantity: np.ndarray
    amount: np.ndarray
    channel: np.ndarray  # index into CHANNELS


def category_probs(effects: DriftEffects) -> np.ndarray:
    """(segment, after_drift) -> probabilities over CATEGORIES, as rows ``2 * segment + after``."""
    pre = np.array([s.categories for s in SEGMENTS], dtype=np.float64)
    pre /= pre.sum(axis=1, keepdims=True)
    return np.stack([pre, effects.shift_categories(pre)], axis=1).reshape(-1, len(CATEGORIES))


def channel_probs(effects: DriftEffects) -> np.ndarray:
    """(segment, after_drift) -> probabilities over CHANNELS, as rows ``2 * segment + after``."""
    pre = np.array([s.channels for s in SEGMENTS], dtype=np.float64)
    pre /= pre.sum(axis=1, keepdims=True)
    return np.stack([pre, effects.shift_channels(pre)], axis=1).reshape(-1, len(CHANNELS))


def product_weights(catalog: Catalog) -> np.ndarray:
    """(segment, category) -> weights over the category's products, as rows ``n_cat * segment + category``."""
    sizes = np.diff(np.append(catalog.offsets, len(catalog.unit_price)))
    weights = np.zeros((len(SEGMENTS) * len(CATEGORIES), int(sizes.max())))
    for s, segment in enumerate(SEGMENTS):
        for c in range(len(CATEGORIES)):
            prices = catalog.unit_price[catalog.offsets[c] : catalog.offsets[c] + sizes[c]]
            weights[s * len(CATEGORIES) + c, : sizes[c]] = prices**segment.price_affinity
    return weights


def _extra_quantity() -> np.ndarray:
    """(segment, category) -> mean extra units per line."""
    extra = np.array([EXTRA_QUANTITY[c] for c in CATEGORIES])
    return np.array([s.basket_size for s in SEGMENTS])[:, None] * extra[None, :]


def line_values(catalog: Catalog, effects: DriftEffects) -> np.ndarray:
    """Expected list price x quantity of an order per segment, before and after drift: shape (segments, 2).

    Multiplied by a customer's spend level this is the customer's expected order amount (truth).
    """
    weights = product_weights(catalog)
    sizes = np.diff(np.append(catalog.offsets, len(catalog.unit_price)))
    mean_price = np.zeros((len(SEGMENTS), len(CATEGORIES)))
    for s in range(len(SEGMENTS)):
        for c in range(len(CATEGORIES)):
            w = weights[s * len(CATEGORIES) + c, : sizes[c]]
            prices = catalog.unit_price[catalog.offsets[c] : catalog.offsets[c] + sizes[c]]
            mean_price[s, c] = np.sum(w * prices) / np.sum(w)
    per_category = mean_price * (1.0 + _extra_quantity())
    probs = category_probs(effects).reshape(len(SEGMENTS), 2, len(CATEGORIES))
    return np.einsum("sac,sc->sa", probs, per_category)


def _order_times(
    rng: np.random.Generator, pop: Population, n_days: int, cum: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Customer index and fractional day of every order (first orders, then repeats)."""
    first = np.flatnonzero(pop.first_purchase & (pop.signup < n_days))
    end = np.minimum(pop.dropout, n_days)
    grid = np.arange(len(cum), dtype=np.float64)
    low, high = np.interp(pop.signup, grid, cum), np.interp(end, grid, cum)
    counts = rng.poisson(pop.purchase_rate * np.maximum(high - low, 0.0))
    owner = expand(counts)
    level = low[owner] + rng.random(len(owner)) * (high - low)[owner]
    days = np.minimum(invert(cum, level), np.nextafter(end[owner], -np.inf))
    return np.concatenate([first, owner]), np.concatenate([pop.signup[first], days])


def draw_purchases(
    rng: np.random.Generator,
    pop: Population,
    catalog: Catalog,
    effects: DriftEffects,
    cum: np.ndarray,
    n_days: int,
    start_epoch_day: int,
) -> Purchases:
    customer, day = _order_times(rng, pop, n_days, cum)
    whole_day = np.floor(day).astype(np.int32)
    del day
    # Sort by time first, then draw the rest in that order: fewer large arrays to permute.
    channel = choose(
        rng.random(len(customer)),
        2 * pop.segment[customer] + (whole_day >= effects.start_day),
        channel_probs(effects),
    )
    seconds = (start_epoch_day + whole_day.astype(np.int64)) * 86_400 + seconds_of_day(rng, CHANNELS, channel)
    order = np.argsort(seconds, kind="stable")
    seconds, customer, channel = (
        seconds[order],
        customer[order].astype(np.int32),
        channel[order].astype(np.int8),
    )
    after = (whole_day[order] >= effects.start_day).astype(np.int8)
    del order, whole_day
    segment = pop.segment[customer]
    n = len(customer)

    category = choose(rng.random(n), 2 * segment + after, category_probs(effects)).astype(np.int8)
    within = choose(rng.random(n), len(CATEGORIES) * segment + category, product_weights(catalog))
    product = (catalog.offsets[category] + within).astype(np.int32)
    del within
    quantity = 1 + rng.poisson(_extra_quantity()[segment, category])
    spend = np.where(after == 1, effects.spend_multiplier, 1.0) * pop.spend_level[customer]
    spend *= rng.gamma(AMOUNT_NOISE_SHAPE, 1.0 / AMOUNT_NOISE_SHAPE, n)
    spend *= catalog.unit_price[product] * quantity
    amount = np.round(np.clip(spend, 0.01, MAX_CLEAN_AMOUNT, out=spend), 2, out=spend)
    return Purchases(
        customer=customer,
        seconds=seconds,
        product=product,
        category=category,
        quantity=quantity,
        amount=amount,
        channel=channel,
    )
