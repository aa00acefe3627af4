"""Generate a synthetic customer world (raw CRM tables + hidden truth); ``write_world`` stores it.

Everything is vectorised over customers and rows: a million customers (about 18 million orders)
generate in minutes. The same ``WorldConfig`` always gives byte-identical tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from training.world.calendar import calendar_params, cumulative, daily_weights
from training.world.catalog import Catalog, make_catalog
from training.world.config import WorldConfig
from training.world.drift import DriftEffects, drift_effects
from training.world.events import (
    POST_DROPOUT_DECAY_DAYS,
    POST_DROPOUT_LEVEL,
    RAMP_DAYS,
    RAMP_FLOOR,
    draw_sessions,
)
from training.world.population import SIGNUP_GROWTH_FACTOR, draw_population
from training.world.segments import segment_table
from training.world.store import RAW_TABLES, write_world
from training.world.tables import customers_table, events_table, transactions_table, truth_table
from training.world.text import arrow_to_pandas
from training.world.transactions import MAX_CLEAN_AMOUNT, draw_purchases, line_values

__all__ = ["RAW_TABLES", "STAGES", "World", "generate_world", "write_world"]

STAGES = ("customers", "transactions", "events")
_EPOCH = date(1970, 1, 1)


@dataclass
class World:
    """Raw tables as a CRM would export them, plus the hidden truth (tests and benchmarks only)."""

    customers: pd.DataFrame
    transactions: pd.DataFrame
    products: pd.DataFrame
    events: pd.DataFrame
    truth_customers: pd.DataFrame
    meta: dict = field(default_factory=dict)

    def raw_tables(self) -> dict[str, pd.DataFrame]:
        return {name: getattr(self, name) for name in RAW_TABLES}


def _streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent random streams per component: changing one generator leaves the others' draws alone."""
    names = (
        "population",
        "identities",
        "catalog",
        "purchases",
        "sessions",
        "dirt_customers",
        "dirt_transactions",
        "dirt_events",
    )
    children = np.random.SeedSequence(seed).spawn(len(names))
    return {name: np.random.default_rng(child) for name, child in zip(names, children, strict=True)}


def _meta(
    config: WorldConfig, effects: DriftEffects, values: np.ndarray, dirt: dict, tables: dict[str, int]
) -> dict:
    segments = segment_table()
    for row, value in zip(segments, values, strict=True):
        row["line_value_before_drift"] = float(value[0])
        row["line_value_after_drift"] = float(value[1])
    return {
        "generator": "training.world",
        "schema_version": 1,
        "seed": config.seed,
        "n_customers": config.n_customers,
        "start": config.start.isoformat(),
        "end": config.end.isoformat(),
        "n_days": config.n_days,
        "rows": tables,
        "drift": effects.as_dict(),
        "dirt": {"rate": config.dirt_rate, **dirt},
        "segments": segments,
        "calendar": calendar_params(),
        "signup_growth_factor": SIGNUP_GROWTH_FACTOR,
        "max_clean_amount": MAX_CLEAN_AMOUNT,
        "engagement": {
            "ramp_days": RAMP_DAYS,
            "ramp_floor": RAMP_FLOOR,
            "post_dropout_level": POST_DROPOUT_LEVEL,
            "post_dropout_decay_days": POST_DROPOUT_DECAY_DAYS,
        },
    }


def generate_world(config: WorldConfig, progress: Callable[[str], None] | None = None) -> World:
    """Draw a world from ``config``; ``progress`` is called with each finished stage's name (see STAGES)."""
    step = progress or (lambda _stage: None)
    rng = _streams(config.seed)
    effects = drift_effects(config)
    start_day = (config.start - _EPOCH).days
    daily = daily_weights(config.start, config.n_days)
    catalog: Catalog = make_catalog(rng["catalog"])
    values = line_values(catalog, effects)

    pop = draw_population(rng["population"], config, effects)
    n = len(pop)
    customers, dirt_customers = customers_table(
        rng["identities"], rng["dirt_customers"], pop, config, start_day
    )
    step("customers")
    orders = draw_purchases(
        rng["purchases"], pop, catalog, effects, cumulative(daily), config.n_days, start_day
    )
    transactions, dirt_transactions = transactions_table(
        orders, rng["dirt_transactions"], n, config.dirt_rate
    )
    del orders
    step("transactions")
    sessions = draw_sessions(rng["sessions"], pop, daily, effects, config.n_days, start_day)
    events, dirt_events = events_table(sessions, rng["dirt_events"], n, config.dirt_rate)
    del sessions
    step("events")

    dirt = {"customers": dirt_customers, "transactions": dirt_transactions, "events": dirt_events}
    rows = {
        "customers": customers.num_rows,
        "transactions": transactions.num_rows,
        "products": len(catalog.products),
        "events": events.num_rows,
    }
    return World(
        customers=arrow_to_pandas(customers),
        transactions=arrow_to_pandas(transactions),
        products=catalog.products,
        events=arrow_to_pandas(events),
        truth_customers=truth_table(pop, config, values),
        meta=_meta(config, effects, values, dirt, rows),
    )
