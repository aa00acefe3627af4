"""Marketing consent: opted-out customers leave profiling with all their rows, counted, not quarantined.

Opt-out wins wherever it can be read: a customer id with ``marketing_consent`` False in ANY raw row
(even a row quarantined for another problem, or one of several rows sharing the id) is opted out, and
so are its transactions and events. Rows that fail the contract are still quarantined first (they need
fixing at the source), so each row is counted once.
"""

from __future__ import annotations

import pandas as pd

from training.ingest.contracts import TableSpec


def opted_out_ids(customers: pd.DataFrame) -> pd.Index:
    """Customer ids with an explicit opt-out (parsed ``marketing_consent`` False).

    Without a consent column every customer is taken as consented (README "Your own data").
    """
    if "marketing_consent" not in customers.columns:
        return pd.Index([])
    refused = customers["marketing_consent"].eq(False).fillna(False).astype(bool)
    return pd.Index(customers.loc[refused, "customer_id"].dropna().unique())


def excluded_for_consent(spec: TableSpec, typed: pd.DataFrame, opted_out: pd.Index) -> pd.Series:
    """Mask of rows belonging to opted-out customers (products belong to nobody)."""
    if not len(opted_out) or "customer_id" not in spec.columns:
        return pd.Series(False, index=typed.index)
    return typed["customer_id"].isin(opted_out)
