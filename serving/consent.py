"""Who may be exported: batch scores reach a CRM only for customers with recorded marketing consent.

Clean data already excludes opted-out customers; this is the second lock, at the export. Two optional
lists, both read by column name (no other column of the file is loaded, so PII columns never are):

- a consent list (``customer_id``, ``marketing_consent``): only ids whose consent is true are scored.
  False, null, unreadable-as-yes or absent from the list means no consent; an id with any false row is
  opted out (opt-out wins, as in ingestion);
- an exclusion list (``customer_id``): ids that must never be exported (e.g. erasure requests).

Skipped customers are counted, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

ID = "customer_id"
CONSENT = "marketing_consent"
_YES = frozenset({"true", "t", "yes", "y", "1", "1.0"})

ListSource = str | Path | pd.DataFrame


@dataclass(frozen=True)
class ConsentFilter:
    allowed: frozenset[str] | None  # ids with consent; None = no consent list given (clean data decides)
    excluded: frozenset[str]

    # Hashed once (``isin`` with a set would turn it into an array again for every chunk).
    @cached_property
    def _excluded_index(self) -> pd.Index:
        return pd.Index(sorted(self.excluded), dtype=object)

    @cached_property
    def _allowed_index(self) -> pd.Index:
        return pd.Index(sorted(self.allowed or ()), dtype=object)

    def split(self, ids: pd.Series) -> tuple[np.ndarray, int, int]:
        """(mask of rows to score, rows skipped for no consent, rows skipped as excluded)."""
        ids = ids.astype(str)
        excluded = ids.isin(self._excluded_index).to_numpy() if self.excluded else np.zeros(len(ids), bool)
        no_consent = np.zeros(len(ids), dtype=bool)
        if self.allowed is not None:
            no_consent = ~ids.isin(self._allowed_index).to_numpy() & ~excluded
        keep = ~(excluded | no_consent)
        return keep, int(no_consent.sum()), int(excluded.sum())


def load_consent_filter(consent: ListSource | None = None,
                        exclude: ListSource | Iterable[str] | None = None) -> ConsentFilter:
    """Build the filter from a consent list and/or an exclusion list (files: .parquet or .csv)."""
    allowed = None
    if consent is not None:
        table = _read(consent, [ID, CONSENT], "consent list")
        yes = table[CONSENT].map(_is_yes)
        refused = set(table.loc[~yes, ID].astype(str))
        allowed = frozenset(set(table.loc[yes, ID].astype(str)) - refused)
    excluded: frozenset[str] = frozenset()
    if exclude is not None:
        if isinstance(exclude, str | Path | pd.DataFrame):
            ids = _read(exclude, [ID], "exclusion list")[ID]
        else:
            ids = pd.Series(list(exclude), dtype=object)
        excluded = frozenset(ids.dropna().astype(str))
    return ConsentFilter(allowed, excluded)


def _read(source: ListSource, columns: list[str], what: str) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        frame = source
    else:
        path = Path(source)
        if not path.exists():
            raise ValueError(f"{what} {path} does not exist")
        if path.suffix.lower() == ".csv":
            header = pd.read_csv(path, nrows=0).columns
            frame = pd.read_csv(path, usecols=[c for c in columns if c in header], dtype=str,
                                keep_default_na=False)
        else:
            import pyarrow.parquet as pq

            present = set(pq.read_schema(path).names)
            frame = pd.read_parquet(path, columns=[c for c in columns if c in present])
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        hint = (" (for an opt-out list without consent flags use the exclusion list)"
                if CONSENT in missing else "")
        raise ValueError(f"{what} has no column(s) {', '.join(missing)}: expected {', '.join(columns)}{hint}")
    return frame[columns]


def _is_yes(value: object) -> bool:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return False
    if isinstance(value, bool | np.bool_):
        return bool(value)
    return str(value).strip().lower() in _YES
