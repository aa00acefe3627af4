"""Synthetic direct identifiers (names, emails, phones), combined vectorially from small pools.

Faker is called only to fill pools of first and last names once; a million customers are then
built by indexing into the pools with Arrow compute, which is ~1000x faster than Faker per row.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

FIRST_NAME_DRAWS = 3000
LAST_NAME_DRAWS = 3000
EMAIL_DOMAINS = (
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "icloud.com",
    "proton.me",
    "gmx.net",
    "aol.com",
)
EMAIL_DOMAIN_WEIGHTS = (0.42, 0.12, 0.12, 0.08, 0.12, 0.05, 0.05, 0.04)


def name_pools(seed: int) -> tuple[dict[str, int], dict[str, int]]:
    """First and last names from a seeded Faker with how often each was drawn (common names stay common)."""
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    first = Counter(fake.first_name() for _ in range(FIRST_NAME_DRAWS))
    last = Counter(fake.last_name() for _ in range(LAST_NAME_DRAWS))
    return dict(sorted(first.items())), dict(sorted(last.items()))


def _pick(rng: np.random.Generator, pool: dict[str, int], n: int) -> pa.Array:
    weights = np.fromiter(pool.values(), dtype=np.float64)
    return pa.array(rng.choice(len(pool), size=n, p=weights / weights.sum()))


def _email_part(names: list[str]) -> pa.Array:
    return pa.array([re.sub(r"[^a-z]", "", name.lower()) or "user" for name in names])


def identities(rng: np.random.Generator, n: int, seed: int) -> dict[str, pa.Array]:
    """``full_name``, ``email`` (first.last<digits>@domain, unique per customer) and E.164 ``phone``."""
    first, last = name_pools(seed)
    first_i, last_i = _pick(rng, first, n), _pick(rng, last, n)
    full_name = pc.binary_join_element_wise(
        pa.array(list(first)).take(first_i), pa.array(list(last)).take(last_i), " "
    )
    # A distinct number per customer keeps emails unique whatever names collide.
    digits = pc.cast(pa.array(rng.permutation(n) + 1), pa.string())
    domain_i = rng.choice(len(EMAIL_DOMAINS), size=n, p=np.asarray(EMAIL_DOMAIN_WEIGHTS))
    email = pc.binary_join_element_wise(
        _email_part(list(first)).take(first_i),
        ".",
        _email_part(list(last)).take(last_i),
        digits,
        "@",
        pa.array(EMAIL_DOMAINS).take(pa.array(domain_i)),
        "",
    )
    # North American numbering plan: area and exchange codes start with 2-9.
    number = (
        rng.integers(200, 1000, n) * 10_000_000
        + rng.integers(200, 1000, n) * 10_000
        + rng.integers(0, 10_000, n)
    )
    phone = pc.binary_join_element_wise("+1", pc.cast(pa.array(number), pa.string()), "")
    return {"full_name": full_name, "email": email, "phone": phone}
