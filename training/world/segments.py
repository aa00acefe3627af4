"""The five latent customer segments: the hidden truth that drives every generated behaviour.

Each segment fixes the *means* of per-customer latent parameters (purchase rate, lifetime, spend
level, engagement); customers scatter around them with gamma heterogeneity, as in Pareto/NBD and
gamma-gamma models. Segments are deliberately well separated in RFM, engagement, category mix,
channel mix and profile, so a clustering model has something real to find. Two choices keep them
recoverable from features at a cutoff: repeat segments live for years (annual dropout of about 6-16%),
because a customer who lapsed long ago looks like every other lapsed customer whatever their segment;
and each segment has a home channel of its own (loyal: app, regular: store, big spenders: web after
long research, one-timers: web via ads, bargain hunters: app deals, some web).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from training.world.vocab import CATEGORIES, CHANNELS, PROFILE_VOCAB


@dataclass(frozen=True)
class Segment:
    """Latent behaviour of one segment (rates per day, amounts in currency units)."""

    name: str
    share: float
    purchase_rate: float  # mean repeat orders per day while alive
    rate_shape: float  # gamma shape of the rate across customers (higher = more alike)
    lifetime_days: float  # typical time from signup to dropout
    hazard_shape: float  # gamma shape of the dropout hazard across customers
    first_purchase: float  # probability of an order on the signup day
    spend_level: float  # mean multiplier on list price x quantity
    spend_shape: float  # gamma shape of the customer's spend level
    price_affinity: float  # product choice weight ~ unit_price ** affinity within a category
    basket_size: float  # multiplier on the category's extra-quantity mean
    categories: tuple[float, ...]  # preference over CATEGORIES
    channels: tuple[float, ...]  # preference over CHANNELS (web, app, store)
    sessions_per_order: float  # web/app sessions per expected order while alive
    pages_per_session: float
    cart_rate: float  # chance a page view adds to cart
    consent: float  # share with marketing consent
    profile: dict[str, tuple[float, ...]]  # weights over PROFILE_VOCAB[column]


SEGMENTS: tuple[Segment, ...] = (
    Segment(
        name="loyal_high_value",
        share=0.12,
        purchase_rate=0.06,
        rate_shape=12.0,
        lifetime_days=5500.0,
        hazard_shape=8.0,
        first_purchase=1.0,
        spend_level=1.15,
        spend_shape=8.0,
        price_affinity=0.5,
        basket_size=1.2,
        categories=(0.03, 0.50, 0.38, 0.04, 0.02, 0.01, 0.01, 0.01),
        channels=(0.15, 0.75, 0.10),
        sessions_per_order=2.0,
        pages_per_session=6.0,
        cart_rate=0.12,
        consent=0.95,
        profile={
            "region": (0.18, 0.17, 0.20, 0.20, 0.25),
            "acquisition_channel": (0.35, 0.10, 0.05, 0.35, 0.05, 0.10),
            "age_band": (0.03, 0.17, 0.32, 0.30, 0.13, 0.05),
            "plan": (0.10, 0.35, 0.55),
        },
    ),
    Segment(
        name="regular_mid_value",
        share=0.28,
        purchase_rate=0.03,
        rate_shape=10.0,
        lifetime_days=3000.0,
        hazard_shape=8.0,
        first_purchase=0.98,
        spend_level=1.0,
        spend_shape=8.0,
        price_affinity=0.0,
        basket_size=1.0,
        categories=(0.02, 0.06, 0.06, 0.30, 0.08, 0.40, 0.04, 0.04),
        channels=(0.20, 0.10, 0.70),
        sessions_per_order=2.0,
        pages_per_session=5.0,
        cart_rate=0.10,
        consent=0.92,
        profile={
            "region": (0.20, 0.20, 0.20, 0.20, 0.20),
            "acquisition_channel": (0.40, 0.15, 0.10, 0.15, 0.05, 0.15),
            "age_band": (0.08, 0.22, 0.25, 0.22, 0.15, 0.08),
            "plan": (0.45, 0.40, 0.15),
        },
    ),
    Segment(
        name="bargain_hunters",
        share=0.22,
        purchase_rate=0.12,
        rate_shape=10.0,
        lifetime_days=2100.0,
        hazard_shape=8.0,
        first_purchase=0.98,
        spend_level=0.8,
        spend_shape=8.0,
        price_affinity=-1.0,
        basket_size=0.5,
        categories=(0.01, 0.03, 0.03, 0.15, 0.55, 0.01, 0.02, 0.20),
        channels=(0.35, 0.60, 0.05),
        sessions_per_order=1.5,
        pages_per_session=8.0,
        cart_rate=0.20,
        consent=0.90,
        profile={
            "region": (0.15, 0.30, 0.20, 0.15, 0.20),
            "acquisition_channel": (0.10, 0.10, 0.40, 0.05, 0.30, 0.05),
            "age_band": (0.30, 0.35, 0.18, 0.10, 0.05, 0.02),
            "plan": (0.75, 0.20, 0.05),
        },
    ),
    Segment(
        name="occasional_big_spenders",
        share=0.13,
        purchase_rate=0.012,
        rate_shape=10.0,
        lifetime_days=4000.0,
        hazard_shape=8.0,
        first_purchase=0.97,
        spend_level=1.3,
        spend_shape=6.0,
        price_affinity=1.0,
        basket_size=1.0,
        categories=(0.75, 0.02, 0.08, 0.01, 0.01, 0.11, 0.01, 0.01),
        channels=(0.70, 0.10, 0.20),
        sessions_per_order=5.0,
        pages_per_session=10.0,
        cart_rate=0.05,
        consent=0.88,
        profile={
            "region": (0.25, 0.15, 0.20, 0.25, 0.15),
            "acquisition_channel": (0.15, 0.40, 0.05, 0.10, 0.05, 0.25),
            "age_band": (0.02, 0.08, 0.20, 0.32, 0.28, 0.10),
            "plan": (0.25, 0.45, 0.30),
        },
    ),
    Segment(
        name="low_engagement_one_timers",
        share=0.25,
        purchase_rate=0.006,
        rate_shape=4.0,
        lifetime_days=40.0,
        hazard_shape=4.0,
        first_purchase=0.90,
        spend_level=1.0,
        spend_shape=5.0,
        price_affinity=0.0,
        basket_size=1.0,
        categories=(0.02, 0.03, 0.02, 0.02, 0.02, 0.02, 0.85, 0.02),
        channels=(0.80, 0.05, 0.15),
        sessions_per_order=4.0,
        pages_per_session=3.0,
        cart_rate=0.05,
        consent=0.85,
        profile={
            "region": (0.20, 0.20, 0.20, 0.20, 0.20),
            "acquisition_channel": (0.10, 0.35, 0.30, 0.05, 0.15, 0.05),
            "age_band": (0.25, 0.30, 0.18, 0.12, 0.10, 0.05),
            "plan": (0.85, 0.12, 0.03),
        },
    ),
)

SEGMENT_NAMES: tuple[str, ...] = tuple(s.name for s in SEGMENTS)


def _check(segments: tuple[Segment, ...]) -> None:
    """Fail at import if a definition is malformed: every draw below relies on these shapes."""
    if abs(sum(s.share for s in segments) - 1.0) > 1e-9:
        raise ValueError("segment shares must sum to 1")
    for s in segments:
        if len(s.categories) != len(CATEGORIES) or len(s.channels) != len(CHANNELS):
            raise ValueError(f"segment {s.name}: category/channel weights have the wrong length")
        for column, vocab in PROFILE_VOCAB.items():
            if len(s.profile[column]) != len(vocab):
                raise ValueError(f"segment {s.name}: profile weights for {column} have the wrong length")


_check(SEGMENTS)


def segment_table() -> list[dict]:
    """Segment definitions as plain dicts (for world.json)."""
    rows = []
    for s in SEGMENTS:
        row = asdict(s)
        row["categories"] = dict(zip(CATEGORIES, s.categories, strict=True))
        row["channels"] = dict(zip(CHANNELS, s.channels, strict=True))
        row["profile"] = {c: dict(zip(PROFILE_VOCAB[c], w, strict=True)) for c, w in s.profile.items()}
        rows.append(row)
    return rows
