"""Latent draws -> raw Arrow tables in the DATA_MODEL.md layout, with the planned dirt applied.

Dirt is applied while the columns are built (null masks, replaced rows, repeated rows), so a table
is formatted once and never copied to make it dirty.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from training.world.config import WorldConfig
from training.world.dirt import TableDirt, bad_dates, dirty_amounts, plan_dirt, unknown_customer_numbers
from training.world.events import Sessions
from training.world.people import identities
from training.world.population import Population
from training.world.segments import SEGMENT_NAMES
from training.world.text import format_dates, format_ids, format_timestamps, id_width
from training.world.transactions import Purchases
from training.world.vocab import CATEGORIES, CHANNELS, DEVICES, PROFILE_VOCAB


def _labels(vocab: tuple[str, ...], codes: np.ndarray, nulls: np.ndarray | None = None) -> pa.Array:
    return pa.array(vocab).take(pa.array(codes, mask=nulls))


def customer_id_width(n_customers: int) -> int:
    """Digits of customer ids, with room above the last customer for (dirty) unknown ids."""
    return id_width(n_customers + 1000, 7)


def _customer_ids(numbers: np.ndarray, n_customers: int) -> pa.Array:
    return format_ids("C", numbers, customer_id_width(n_customers))


def _customer_numbers(
    index: np.ndarray, dirt: TableDirt, rng: np.random.Generator, n_customers: int
) -> np.ndarray:
    """1-based customer numbers of each row, unknown ones on the rows planned for them."""
    numbers = index.astype(np.int64) + 1
    unknown = dirt.kinds["unknown_customer_ids"]
    numbers[unknown] = unknown_customer_numbers(
        rng, len(unknown), n_customers, customer_id_width(n_customers)
    )
    return numbers


def customers_table(
    rng: np.random.Generator,
    dirt_rng: np.random.Generator,
    pop: Population,
    config: WorldConfig,
    start_day: int,
) -> tuple[pa.Table, dict]:
    n = len(pop)
    dirt = plan_dirt(dirt_rng, "customers", n, config.dirt_rate)
    signup = format_dates(start_day + np.floor(pop.signup).astype(np.int64))
    columns = {
        "customer_id": _customer_ids(np.arange(1, n + 1), n),
        **identities(rng, n, config.seed),
        "signup_date": bad_dates(dirt_rng, signup, dirt.mask(dirt.kinds["bad_dates"]), with_time=False),
    }
    columns.update({c: _labels(PROFILE_VOCAB[c], pop.profile[c], dirt.null_mask(c)) for c in PROFILE_VOCAB})
    columns["marketing_consent"] = pa.array(pop.consent)
    return pa.table(columns), dirt.report()


def transactions_table(
    orders: Purchases, dirt_rng: np.random.Generator, n_customers: int, rate: float
) -> tuple[pa.Table, dict]:
    n = len(orders.customer)
    dirt = plan_dirt(dirt_rng, "transactions", n, rate)
    customer = _customer_numbers(orders.customer, dirt, dirt_rng, n_customers)
    amount = dirty_amounts(dirt_rng, orders.amount, dirt)
    rows = dirt.output_rows()  # duplicates repeat their clean row, id included
    order_ts = bad_dates(
        dirt_rng,
        format_timestamps(orders.seconds[rows]),
        dirt.mask(dirt.kinds["bad_dates"])[rows],
        with_time=True,
    )
    table = pa.table(
        {
            "transaction_id": format_ids("T", rows + 1, id_width(n, 9)),
            "customer_id": _customer_ids(customer[rows], n_customers),
            "order_ts": order_ts,
            "product_id": format_ids("P", orders.product[rows] + 1, 5),
            "category": _labels(CATEGORIES, orders.category[rows], dirt.null_mask("category")[rows]),
            "quantity": pa.array(
                orders.quantity[rows], type=pa.int64(), mask=dirt.null_mask("quantity")[rows]
            ),
            "amount": pa.array(amount[rows], type=pa.float64(), mask=dirt.null_mask("amount")[rows]),
            "channel": _labels(CHANNELS, orders.channel[rows], dirt.null_mask("channel")[rows]),
        }
    )
    return table, dirt.report()


def events_table(
    sessions: Sessions, dirt_rng: np.random.Generator, n_customers: int, rate: float
) -> tuple[pa.Table, dict]:
    n = len(sessions.customer)
    dirt = plan_dirt(dirt_rng, "events", n, rate)
    session_ts = bad_dates(
        dirt_rng, format_timestamps(sessions.seconds), dirt.mask(dirt.kinds["bad_dates"]), with_time=True
    )
    table = pa.table(
        {
            "session_id": format_ids("S", np.arange(1, n + 1), id_width(n, 9)),
            "customer_id": _customer_ids(
                _customer_numbers(sessions.customer, dirt, dirt_rng, n_customers), n_customers
            ),
            "session_ts": session_ts,
            "device": _labels(DEVICES, sessions.device, dirt.null_mask("device")),
            "page_views": pa.array(sessions.page_views, type=pa.int64()),
            "cart_adds": pa.array(sessions.cart_adds, type=pa.int64()),
        }
    )
    return table, dirt.report()


def truth_table(pop: Population, config: WorldConfig, values: np.ndarray) -> pd.DataFrame:
    start = np.datetime64(config.start, "D")
    return pd.DataFrame(
        {
            "customer_id": pd.arrays.ArrowStringArray(
                pa.chunked_array([_customer_ids(np.arange(1, len(pop) + 1), len(pop))])
            ),
            "segment": pd.Categorical.from_codes(pop.segment, categories=list(SEGMENT_NAMES)),
            "purchase_rate": pop.purchase_rate,
            "mean_spend": pop.spend_level * values[pop.segment, 0],
            "dropout_date": (start + np.floor(pop.dropout).astype("timedelta64[D]")).astype("datetime64[ns]"),
            "signup_date": (start + np.floor(pop.signup).astype("timedelta64[D]")).astype("datetime64[ns]"),
        }
    )
