"""Pseudonymisation of direct identifiers, applied at the door before anything else sees the data.

A keyed HMAC (not a plain hash) is used so that nobody without ``CRMLAB_PII_KEY`` can confirm a guess
("is alice@example.org in this data?") by hashing it; the same key gives the same pseudonym, so
records stay joinable across runs.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

# Direct identifiers of the raw customers table (docs/DATA_MODEL.md section 1).
DROPPED_PII: tuple[str, ...] = ("full_name", "phone")
HASHED_PII: dict[str, str] = {"email": "email_hmac"}


def hmac_hex(values: pd.Series, key: bytes) -> pd.Series:
    """Hex HMAC-SHA256 of each value under ``key``; nulls stay null.

    Each distinct value is hashed once (``factorize``); the keyed inner/outer SHA-256 states are built
    once and copied per value (RFC 2104), which is about 2.5x faster than ``hmac.digest`` per value
    (1M distinct e-mails: ~1.5 s instead of ~3.5 s here). Equality with ``hmac`` is tested.
    """
    if not key:
        raise ValueError("the PII key is empty: set CRMLAB_PII_KEY to a secret of at least 16 characters")
    inner, outer = _keyed_states(key)

    def digest(value: object) -> str:
        h_inner = inner.copy()
        h_inner.update(str(value).encode("utf-8"))
        h_outer = outer.copy()
        h_outer.update(h_inner.digest())
        return h_outer.hexdigest()

    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    digests = np.array([digest(value) for value in uniques] + [None], dtype=object)
    # code -1 (null) picks the trailing None
    return pd.Series(digests[codes], index=values.index, dtype=object, name=values.name)


def _keyed_states(key: bytes) -> tuple[hashlib._Hash, hashlib._Hash]:
    """SHA-256 states after absorbing ``key XOR ipad`` and ``key XOR opad`` (RFC 2104)."""
    block = hashlib.sha256().block_size
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    return (hashlib.sha256(bytes(b ^ 0x36 for b in key)), hashlib.sha256(bytes(b ^ 0x5C for b in key)))


def normalise_email(emails: pd.Series) -> pd.Series:
    """Lower-case, trimmed e-mail (so ``Ann@X.org `` and ``ann@x.org`` share a pseudonym); blank -> null."""
    cleaned = emails.astype("string").str.strip().str.lower()
    cleaned = cleaned.mask(cleaned == "")
    return cleaned.astype(object).where(cleaned.notna(), None)


def pseudonymise_customers(df: pd.DataFrame, key: bytes) -> pd.DataFrame:
    """Customers without direct identifiers: name and phone dropped, e-mail replaced by its HMAC."""
    out = df.drop(columns=[c for c in DROPPED_PII if c in df.columns])
    for raw, hashed in HASHED_PII.items():
        if raw in out.columns:
            position = out.columns.get_loc(raw)
            hashed_values = hmac_hex(normalise_email(out[raw]), key)
            out = out.drop(columns=[raw])
            out.insert(position, hashed, hashed_values)
    return out
