"""Purchase history, product catalogue and customer profiles from a clean data folder, split in time.

The recommender learns from who bought what before a cutoff and is judged on what the same customers
buy in the horizon after it. Everything is read from the clean tables ``crmlab ingest`` writes
(``transactions.parquet``, ``products.parquet``, ``customers.parquet``); only the catalogue and the
profiles are optional.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import scipy.sparse as sp

PURCHASE_COLUMNS = ("customer_id", "product_id", "order_ts")
CATALOG_TEXT = ("product_name", "description")
PROFILE_COLUMNS = ("region", "acquisition_channel", "age_band", "plan")
REPURCHASABLE = "repurchasable"  # optional boolean catalogue column (the generated world has none)


class RecsInputError(ValueError):
    """Data the recommender cannot learn from; the message names the file or column."""


@dataclass(frozen=True)
class Catalog:
    """Products in model order: ids, display names, categories, text for content scoring, repurchase flags."""

    product_ids: np.ndarray
    names: np.ndarray
    categories: np.ndarray
    text: np.ndarray
    repurchasable: np.ndarray  # bool per product
    has_content: bool  # False when no catalogue table exists (ids only, no text)


@dataclass(frozen=True)
class RecsData:
    """Everything training reads: purchases (all dates), the catalogue and customer profiles."""

    purchases: pd.DataFrame  # customer_id, product_id, order_ts
    catalog: Catalog
    profiles: pd.DataFrame | None  # customer_id + PROFILE_COLUMNS present, or None


def read_recs_data(data_dir: str | Path) -> RecsData:
    """Read the clean folder; refuse a schema without product ids with a message saying why."""
    folder = Path(data_dir)
    path = folder / "transactions.parquet"
    if not path.exists():
        raise RecsInputError(f"{path} not found: recommendations train on the clean transactions "
                             "(run `crmlab ingest` first)")
    columns = set(pq.read_schema(path).names)
    if "product_id" not in columns:
        raise RecsInputError(f"{path} has no product_id column: recommendations need product ids in the "
                             "purchase history (this schema only supports churn, CLV and segments)")
    missing = [c for c in PURCHASE_COLUMNS if c not in columns]
    if missing:
        raise RecsInputError(f"{path} lacks column(s) {', '.join(missing)}: recommendations need them")
    purchases = pd.read_parquet(path, columns=list(PURCHASE_COLUMNS))
    purchases = purchases.dropna(subset=list(PURCHASE_COLUMNS))
    if purchases.empty:
        raise RecsInputError(f"{path} holds no purchase with a customer, a product and a time: "
                             "recommendations need product ids in the purchase history")
    purchases["customer_id"] = purchases["customer_id"].astype(str)
    purchases["product_id"] = purchases["product_id"].astype(str)
    catalog = read_catalog(folder / "products.parquet", purchases["product_id"])
    return RecsData(purchases, catalog, _read_profiles(folder / "customers.parquet"))


def read_catalog(path: Path, purchased: pd.Series) -> Catalog:
    """Catalogue products plus any purchased id it lacks (those get no text); ids-only without a file."""
    ids = pd.Index(pd.unique(purchased.to_numpy())).sort_values()
    if not path.exists():
        blank = np.full(len(ids), "", dtype=object)
        return Catalog(ids.to_numpy(dtype=object), ids.to_numpy(dtype=object), blank, blank,
                       np.ones(len(ids), dtype=bool), has_content=False)
    table = pd.read_parquet(path)
    if "product_id" not in table.columns:
        raise RecsInputError(f"{path} has no product_id column: the catalogue needs product ids")
    table["product_id"] = table["product_id"].astype(str)
    table = table.drop_duplicates("product_id").set_index("product_id")
    all_ids = table.index.union(ids).sort_values()
    table = table.reindex(all_ids)
    names = table["product_name"] if "product_name" in table else pd.Series(all_ids, index=all_ids)
    names = names.astype(object).where(names.notna(), pd.Series(all_ids, index=all_ids))
    categories = (table["category"].astype(object).where(table["category"].notna(), "")
                  if "category" in table else pd.Series("", index=all_ids))
    parts = [table[c].astype(object).where(table[c].notna(), "") for c in CATALOG_TEXT if c in table]
    joined = pd.Series("", index=all_ids, dtype=object)
    for part in parts:
        joined = joined + " " + part.astype(str)
    repurchasable = (table[REPURCHASABLE].fillna(True).astype(bool).to_numpy() if REPURCHASABLE in table
                     else np.ones(len(all_ids), dtype=bool))
    return Catalog(all_ids.to_numpy(dtype=object), names.to_numpy(dtype=object),
                   categories.to_numpy(dtype=object), joined.str.strip().to_numpy(dtype=object), repurchasable,
                   has_content=bool(parts) or "category" in table)


def _read_profiles(path: Path) -> pd.DataFrame | None:
    if not path.exists():
        return None
    present = [c for c in PROFILE_COLUMNS if c in pq.read_schema(path).names]
    if not present:
        return None
    profiles = pd.read_parquet(path, columns=["customer_id", *present])
    profiles["customer_id"] = profiles["customer_id"].astype(str)
    return profiles.drop_duplicates("customer_id").reset_index(drop=True)


def as_timestamp(day: date | str) -> pd.Timestamp:
    """A cutoff date (``YYYY-MM-DD`` or a date) as a midnight timestamp; a bad value names the field."""
    try:
        return pd.Timestamp(day if isinstance(day, date | datetime) else date.fromisoformat(str(day)))
    except ValueError:
        raise RecsInputError(f"--cutoff {day!r} is not a date: use YYYY-MM-DD") from None


def window(purchases: pd.DataFrame, start: pd.Timestamp | None, end: pd.Timestamp) -> pd.DataFrame:
    """Purchases with ``start <= order_ts < end`` (no lower bound when ``start`` is None)."""
    ts = purchases["order_ts"]
    mask = ts < end if start is None else (ts >= start) & (ts < end)
    return purchases.loc[mask]


@dataclass(frozen=True)
class TimeSplit:
    """History before ``cutoff`` and the purchases in the ``horizon_days`` after it."""

    cutoff: pd.Timestamp
    horizon_days: int
    history: pd.DataFrame
    future: pd.DataFrame


def time_split(purchases: pd.DataFrame, cutoff: pd.Timestamp, horizon_days: int) -> TimeSplit:
    """Train before the cutoff, test on the horizon after it; refuses a split with an empty side."""
    history = window(purchases, None, cutoff)
    future = window(purchases, cutoff, cutoff + timedelta(days=horizon_days))
    first, last = purchases["order_ts"].min(), purchases["order_ts"].max()
    if history.empty:
        raise RecsInputError(f"no purchase before --cutoff {cutoff.date()} (data starts {first.date()}): "
                             "choose a later cutoff")
    if future.empty:
        raise RecsInputError(f"no purchase in the {horizon_days} days after --cutoff {cutoff.date()} (data ends "
                             f"{last.date()}): choose an earlier cutoff or a longer --horizon-days")
    return TimeSplit(cutoff, horizon_days, history, future)


def count_matrix(purchases: pd.DataFrame, customers: pd.Index, products: pd.Index) -> sp.csr_matrix:
    """Customers x products purchase counts (order lines); rows/columns outside the indexes are dropped."""
    rows = customers.get_indexer(purchases["customer_id"])
    cols = products.get_indexer(purchases["product_id"])
    keep = (rows >= 0) & (cols >= 0)
    data = np.ones(int(keep.sum()), dtype=np.float32)
    matrix = sp.csr_matrix((data, (rows[keep], cols[keep])), shape=(len(customers), len(products)))
    matrix.sum_duplicates()
    return matrix


def relevant_matrix(future: pd.DataFrame, customers: pd.Index, products: pd.Index) -> sp.csr_matrix:
    """Binary customers x products: what each customer bought in the horizon (the relevant set)."""
    matrix = count_matrix(future, customers, products)
    matrix.data[:] = 1.0
    return matrix
