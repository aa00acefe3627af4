"""Checks across rows and tables: duplicate keys and references to accepted rows.

Both run on rows that already passed the contract, so "keep first" keeps the first VALID occurrence
of a key (a broken first copy does not cost the key its good copy).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from training.ingest.contracts import TableSpec
from training.ingest.quarantine import combine, findings, no_findings, quote


def duplicate_keys(spec: TableSpec, typed: pd.DataFrame) -> pd.DataFrame:
    """``duplicate_key`` findings for every repeat of a key after its first occurrence."""
    return SeenKeys(spec.key).duplicate_keys(typed)


class SeenKeys:
    """First occurrences of a table's keys across chunks, so chunked ingestion finds the same repeats.

    Kept compactly (Arrow strings, row numbers, row hashes) because a large table has tens of millions
    of keys; each chunk is looked up by scanning them against a hash set of the chunk's (fewer) keys.
    """

    def __init__(self, key: str | None) -> None:
        self.key = key  # None: the table has no key column, so there is nothing to find
        self._keys: list[pa.Array] = []
        self._rows = np.empty(0, dtype="int64")
        self._hashes = np.empty(0, dtype="uint64")

    def duplicate_keys(self, typed: pd.DataFrame) -> pd.DataFrame:
        """Findings for rows of ``typed`` repeating a key seen earlier (this or a previous chunk)."""
        if self.key is None:
            return no_findings()
        values = typed[self.key].to_numpy(dtype=object)
        hashes = pd.util.hash_pandas_object(typed, index=False).to_numpy()
        origin = self._earlier_positions(values)
        repeat = origin >= 0
        origin_row = np.full(len(values), -1, dtype="int64")
        origin_hash = np.zeros(len(values), dtype="uint64")
        origin_row[repeat] = self._rows[origin[repeat]]
        origin_hash[repeat] = self._hashes[origin[repeat]]
        fresh = np.flatnonzero(~repeat)
        local = pd.Series(values[fresh])
        several = local.duplicated(keep=False).to_numpy()
        if several.any():  # repeats inside this chunk: origin is the first position with the key
            positions = fresh[several]
            first = pd.Series(positions).groupby(values[positions]).transform("first").to_numpy()
            later = positions[first != positions]
            first = first[first != positions]
            repeat[later] = True
            origin_row[later] = typed.index[first]
            origin_hash[later] = hashes[first]
        self._remember(values, typed.index.to_numpy(), hashes, ~repeat)
        rows = np.flatnonzero(repeat)
        exact = hashes[rows] == origin_hash[rows]
        details = [
            f"{self.key} {quote(value)} repeats row {origin} ({'exact copy' if same else 'different values'}); "
            "the first occurrence is kept"
            for value, origin, same in zip(values[rows], origin_row[rows], exact, strict=True)
        ]
        return findings(typed.index[rows], "duplicate_key", self.key, details)

    def _earlier_positions(self, values: np.ndarray) -> np.ndarray:
        """Position in the remembered keys of each value, -1 if not seen before."""
        positions = np.full(len(values), -1, dtype="int64")
        if not self._keys or not len(values):
            return positions
        seen = pa.chunked_array(self._keys, type=pa.string())
        wanted = pa.array(pd.unique(values), type=pa.string())
        hits = np.flatnonzero(pc.is_in(seen, value_set=wanted).to_numpy(zero_copy_only=False))
        if len(hits):
            found = pd.Index(seen.take(pa.array(hits)).to_pylist()).get_indexer(values)
            positions[found >= 0] = hits[found[found >= 0]]
        return positions

    def _remember(self, values: np.ndarray, rows: np.ndarray, hashes: np.ndarray, first: np.ndarray) -> None:
        if first.any():
            self._keys.append(pa.array(values[first], type=pa.string()))
            self._rows = np.concatenate([self._rows, rows[first].astype("int64")])
            self._hashes = np.concatenate([self._hashes, hashes[first]])


def unknown_references(spec: TableSpec, typed: pd.DataFrame, accepted: dict[str, pd.Index],
                       quarantined: dict[str, pd.Index]) -> pd.DataFrame:
    """``unknown_customer`` / ``unknown_product`` findings for references to ids that were not accepted.

    ``accepted[t]`` holds the keys of table t kept for profiling; ``quarantined[t]`` the keys whose row
    went to quarantine, so the reason can tell "no such id" from "its row was quarantined".
    """
    parts = []
    for column, target in spec.refs.items():
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
