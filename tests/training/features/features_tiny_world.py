"""A hand-sized clean world (docs/DATA_MODEL.md section 2) whose features can be computed on paper.

Cutoff 2024-03-01, horizon 30 days. Customers:
- A: three orders before the cutoff (one with two lines at the same timestamp), one order exactly at
  the cutoff (label window), one exactly at cutoff + 30 days (outside everything).
- B: two orders, one with a null amount (imputed) and one absurd amount (winsorized).
- C: one order two years ago (outside the active window: churn label undefined).
- D: signed up 10 days before the cutoff, only a session.
- E: signed up on the cutoff day: no row.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

CUTOFF = date(2024, 3, 1)
HORIZON = 30

CUSTOMERS = [
    # customer_id, signup_date, region, acquisition_channel, age_band, plan
    ("A", "2023-01-01", "north", "organic", "25-34", "basic"),
    ("B", "2023-12-01", "missing", "missing", "35-44", "plus"),
    ("C", "2022-01-01", "south", "paid_search", "missing", "premium"),
    ("D", "2024-02-20", "north", "social", "18-24", "basic"),
    ("E", "2024-03-01", "west", "store", "65+", "premium"),
]
PRODUCTS = [("P1", "electronics"), ("P2", "fashion"), ("P3", "home")]
TRANSACTIONS = [
    # transaction_id, customer_id, order_ts, product_id, category, quantity, amount, channel
    ("T01", "A", "2023-06-01 10:00:00", "P1", "electronics", 1, 100.0, "web"),
    ("T02", "A", "2023-11-15 12:00:00", "P2", "missing", 2, 40.0, "app"),  # category from the product
    ("T03", "A", "2024-02-10 08:00:00", "P1", "electronics", None, 60.0, "web"),  # quantity imputed
    ("T04", "A", "2024-02-10 08:00:00", "P3", "home", 1, 20.0, "store"),  # same order as T03
    ("T05", "A", "2024-03-01 00:00:00", "P2", "fashion", 1, 30.0, "web"),  # exactly the cutoff: label
    ("T06", "A", "2024-03-31 00:00:00", "P2", "fashion", 1, 500.0, "web"),  # cutoff + 30 days: outside
    ("T07", "B", "2024-01-05 09:00:00", "P2", "fashion", 1, None, "app"),  # amount imputed
    ("T08", "B", "2024-02-28 23:59:59", "P1", "electronics", 3, 10_000.0, "web"),  # winsorized
    ("T09", "C", "2022-06-01 10:00:00", "P3", "home", 1, 80.0, "store"),
    ("T10", "E", "2024-03-05 10:00:00", "P1", "electronics", 1, 70.0, "web"),
]
EVENTS = [
    # session_id, customer_id, session_ts, device, page_views, cart_adds
    ("S1", "A", "2024-02-25 10:00:00", "web", 5, 1),
    ("S2", "A", "2023-12-15 10:00:00", "app", 3, 0),
    ("S3", "A", "2023-05-01 10:00:00", "web", 2, 0),
    ("S4", "A", "2024-03-01 00:00:00", "web", 100, 9),  # at the cutoff: not a feature
    ("S5", "B", "2024-01-10 10:00:00", "app", 4, 2),
    ("S6", "D", "2024-02-29 23:00:00", "web", 1, 0),
]


def tables() -> dict[str, pd.DataFrame]:
    """The four clean tables as DataFrames (string timestamps parsed)."""
    customers = pd.DataFrame(CUSTOMERS, columns=["customer_id", "signup_date", "region",
                                                 "acquisition_channel", "age_band", "plan"])
    customers.insert(1, "email_hmac", [f"h{i}" for i in range(len(customers))])
    customers["signup_date"] = pd.to_datetime(customers["signup_date"])
    customers["marketing_consent"] = True
    transactions = pd.DataFrame(TRANSACTIONS, columns=["transaction_id", "customer_id", "order_ts", "product_id",
                                                       "category", "quantity", "amount", "channel"])
    transactions["order_ts"] = pd.to_datetime(transactions["order_ts"])
    transactions["quantity"] = transactions["quantity"].astype("Int64")
    products = pd.DataFrame(PRODUCTS, columns=["product_id", "category"])
    products["product_name"], products["description"], products["unit_price"] = "name", "text", 10.0
    events = pd.DataFrame(EVENTS, columns=["session_id", "customer_id", "session_ts", "device", "page_views",
                                           "cart_adds"])
    events["session_ts"] = pd.to_datetime(events["session_ts"])
    return {"customers": customers, "transactions": transactions, "products": products, "events": events}


ARROW = {"signup_date": pa.date32(), "order_ts": pa.timestamp("us"), "session_ts": pa.timestamp("us"),
         "quantity": pa.int64(), "amount": pa.float64(), "page_views": pa.int64(), "cart_adds": pa.int64(),
         "unit_price": pa.float64(), "marketing_consent": pa.bool_()}


def write_clean(frames: dict[str, pd.DataFrame], out: Path) -> Path:
    """Write tables with the clean contract's Arrow types (date32, timestamp[us], int64, float64)."""
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        schema = pa.schema([pa.field(c, ARROW.get(c, pa.string())) for c in frame.columns])
        pq.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False), out / f"{name}.parquet")
    return out


def write_tiny_world(out: Path) -> Path:
    return write_clean(tables(), out)
