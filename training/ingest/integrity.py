"""Checks across rows and tables: duplicate keys and references to accepted rows.

Both run on rows that already passed the contract, so "keep first" keeps the first VALID occurrence
of a key (a broken first copy does not cost the key its good copy).
"""

from __future__ import annotations

import pandas as pd

from training.ingest.contracts import SPECS
from training.ingest.quarantine import combine, findings, quote


def duplicate_keys(table: str, typed: pd.DataFrame) -> pd.DataFrame:
    """``duplicate_key`` findings for every repeat of a key after its first occurrence."""
    key = SPECS[table].key
    repeated = typed[key].duplicated(keep="first")
    if not repeated.any():
        return findings([], "duplicate_key", key, [])
    typed = typed[typed[key].duplicated(keep=False)]  # only keys that occur more than once
    repeated = repeated[typed.index]
    first_row = typed.index.to_series().groupby(typed[key]).transform("first")
    repeats = typed[repeated]
    originals = typed.loc[first_row[repeated].to_numpy()]
    exact = (pd.util.hash_pandas_object(repeats, index=False).to_numpy()
             == pd.util.hash_pandas_object(originals, index=False).to_numpy())
    details = [
        f"{key} {quote(value)} repeats row {origin} ({'exact copy' if same else 'different values'}); "
        "the first occurrence is kept"
        for value, origin, same in zip(repeats[key], first_row[repeated], exact, strict=True)
    ]
    return findings(repeats.index, "duplicate_key", key, details)


def unknown_references(table: str, typed: pd.DataFrame, accepted: dict[str, pd.Index],
                       quarantined: dict[str, pd.Index]) -> pd.DataFrame:
    """``unknown_customer`` / ``unknown_product`` findings for references to ids that were not accepted.

    ``accepted[t]`` holds the keys of table t kept for profiling; ``quarantined[t]`` the keys whose row
    went to quarantine, so the reason can tell "no such id" from "its row was quarantined".
    """
    parts = []
    for column, target in SPECS[table].refs.items():
        missing = ~typed[column].isin(accepted[target])
        if not missing.any():
            continue
        values = typed.loc[missing, column]
        entity = target.removesuffix("s")
        why = {True: f"its {entity} row was quarantined", False: f"no {entity} has this id"}
        details = [f"{column} {quote(v)} is not an accepted {entity} ({why[bool(q)]})"
                   for v, q in zip(values, values.isin(quarantined[target]), strict=True)]
        parts.append(findings(values.index, f"unknown_{entity}", column, details))
    return combine(parts)
