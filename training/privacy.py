"""Pseudonymisation of direct identifiers, applied at the door before anything else sees the data.

A keyed HMAC (not a plain hash) is used so that nobody without ``CRMLAB_PII_KEY`` can confirm a guess
("is alice@example.org in this data?") by hashing it; the same key gives the same pseudonym, so
records stay joinable across runs.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from training.ingest.contracts import TableSpec

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
    return pseudonymise(df.drop(columns=[c for c in DROPPED_PII if c in df.columns]), key, list(HASHED_PII))


def pseudonymise(df: pd.DataFrame, key: bytes, columns: list[str]) -> pd.DataFrame:
    """Each listed column replaced, in place, by ``<name>_hmac`` (text trimmed and lower-cased first, so
    ``Ann@X.org `` and ``ann@x.org`` share a pseudonym)."""
    out = df
    for raw in columns:
        if raw in out.columns:
            position = out.columns.get_loc(raw)
            hashed_values = hmac_hex(normalise_email(out[raw]), key)
            out = out.drop(columns=[raw])
            out.insert(position, f"{raw}_hmac", hashed_values)
    return out


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
# a phone number is written with a + or separators: plain digit strings are ids, not phones
_PHONE = re.compile(r"^(?!\d{4}-\d{2}-\d{2}$)(?=(?:\D*\d){7,15}\D*$)(?:\+|00)?[\d\s().-]*[\s().-][\d\s().-]*$"
                    r"|^\+\d{7,15}$")
_SAMPLE = 500


def undeclared_pii(frame: pd.DataFrame, spec: TableSpec) -> tuple[str, str] | None:
    """(column, "e-mail addresses" | "phone numbers") of a read text column most of whose values look
    like direct identifiers; hashed columns (``*_hmac``) are already pseudonymised."""
    for column, col in spec.columns.items():
        if col.kind not in ("id", "text", "category") or column.endswith("_hmac") or column not in frame:
            continue
        values = frame[column].dropna()
        if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)) or not len(values):
            continue
        sample = values.head(_SAMPLE).astype(str).str.strip()
        for pattern, what in ((_EMAIL, "e-mail addresses"), (_PHONE, "phone numbers")):
            if sample.str.match(pattern).mean() >= 0.5:
                return column, what
    return None
