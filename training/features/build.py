"""Point-in-time feature and label tables, one row per (customer_id, cutoff).

For each cutoff: fit cleaning on rows before it, then run one DuckDB statement (training.features.sql)
over the clean parquet files. Stacking cutoffs gives a training table where every row only knows its
own past.
"""

from __future__ import annotations

import time as clock
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.cleaning import CleaningParams, NumericColumn, fit_cleaning
from training.features.catalog import (
    ID_NAMES,
    LABEL_NAMES,
    MAX_VOCABULARY,
    Available,
    Vocabulary,
    all_columns,
    column_dtypes,
    feature_specs,
)
from training.features.inputs import CleanDataError, CleanTables, open_clean_dir
from training.features.sql import Window, feature_sql, transaction_sources
from training.settings import Settings

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

    from training.features.engine import Engine

TRANSACTION_NUMERIC = (NumericColumn("amount", winsorize=True), NumericColumn("quantity", integer=True))
TRANSACTION_CATEGORICAL = ("category", "channel")

Progress = Callable[[str], None]


@dataclass
class FeatureSet:
    """The stacked table and what is needed to reproduce it (written as features_meta.json)."""

    frame: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)


def normalise_cutoffs(cutoffs: Sequence[date | str]) -> list[date]:
    """Sorted dates; a cutoff is a calendar date (midnight), given once."""
    if not cutoffs:
        raise ValueError("cutoff: give at least one date (YYYY-MM-DD).")
    days: list[date] = []
    for raw in cutoffs:
        if isinstance(raw, datetime):
            if raw.time() != datetime.min.time():
                raise ValueError(f"cutoff {raw.isoformat()}: a cutoff is a date (midnight); drop the time of day.")
            raw = raw.date()
        if isinstance(raw, str):
            try:
                raw = date.fromisoformat(raw.strip())
            except ValueError:
                raise ValueError(f"cutoff {raw!r} is not a date: use YYYY-MM-DD, e.g. 2024-01-01.") from None
        if raw in days:
            raise ValueError(f"cutoff {raw.isoformat()} is given twice: give each cutoff once.")
        days.append(raw)
    return sorted(days)


def fit_cutoff_cleaning(con: duckdb.DuckDBPyConnection, tables: CleanTables, cutoff: date,
                        settings: Settings) -> dict[str, CleaningParams]:
    """Cleaning parameters for one cutoff, fitted only on rows strictly before it (present columns only)."""
    w = Window(cutoff, 1, 1)
    params = {
        "transactions": fit_cleaning(
            con, tables.relation("transactions"), f"order_ts < {w.ts()}", settings,
            numeric=[c for c in TRANSACTION_NUMERIC if tables.has("transactions", c.name)],
            categorical=[c for c in TRANSACTION_CATEGORICAL if tables.has("transactions", c)]),
    }
    if tables.has("customers"):
        where = (f"signup_date < {w.day()}" if tables.has("customers", "signup_date") else
                 f"customer_id IN (SELECT customer_id FROM {tables.relation('transactions')} "
                 f"WHERE order_ts < {w.ts()})")
        params["customers"] = fit_cleaning(con, tables.relation("customers"), where, settings,
                                           categorical=tables.attributes)
    return params


def learn_vocabulary(con: duckdb.DuckDBPyConnection, tables: CleanTables, cutoff: date) -> Vocabulary:
    """Categories (by spend) and channels (by lines) seen before ``cutoff``, at most ``MAX_VOCABULARY`` each,
    in alphabetical order; attributes as ingestion recorded them."""
    w = Window(cutoff, 1, 1)
    sources = transaction_sources(tables)
    join = (f" LEFT JOIN {tables.relation('products')} p ON t.product_id = p.product_id"
            if "p.category" in sources.get("category", "") else "")

    def top(column: str, weight: str) -> tuple[str, ...]:
        if column not in sources:
            return ()
        expr = sources[column]
        rows = con.execute(
            f"SELECT {expr} AS v FROM {tables.relation('transactions')} t{join} WHERE t.order_ts < {w.ts()} "
            f"AND {expr} IS NOT NULL AND {expr} <> 'missing' GROUP BY v ORDER BY {weight} DESC, v "
            f"LIMIT {MAX_VOCABULARY}").fetchall()
        return tuple(sorted(str(r[0]) for r in rows))

    return Vocabulary(top("category", "sum(t.amount)"), top("channel", "count(*)"), tables.attributes)


def build_feature_set(clean_dir: Path, cutoffs: Sequence[date | str], horizon_days: int, settings: Settings,
                      progress: Progress | None = None, vocabulary: Vocabulary | None = None,
                      engine: Engine | None = None) -> FeatureSet:
    """Features and labels for every cutoff, stacked, with the fitted cleaning parameters per cutoff.

    ``engine`` runs the statements (``training.features.engine``; default: DuckDB in process).

    The vocabulary (categories, channels) is learned before the earliest cutoff unless given (e.g. the
    training features' vocabulary for a scoring batch, so the columns match the models').
    """
    import duckdb
    import pandas as pd

    if horizon_days <= 0:
        raise ValueError(f"horizon_days must be a positive number of days, got {horizon_days}.")
    days = normalise_cutoffs(cutoffs)
    started = clock.perf_counter()
    con = duckdb.connect()
    sql_con = None
    try:
        tables = open_clean_dir(Path(clean_dir), con)
        sql_con = engine(tables) if engine is not None else con
        vocabulary = vocabulary if vocabulary is not None else learn_vocabulary(sql_con, tables, days[0])
        vocabulary = Vocabulary(vocabulary.categories, vocabulary.channels, tables.attributes)
        available = tables.available(vocabulary)
        observed = observed_until(sql_con, tables)
        frames, cleaning, labelled = [], {}, {}
        for cutoff in days:
            _say(progress, f"cutoff {cutoff}: fitting cleaning on rows before it")
            params = fit_cutoff_cleaning(sql_con, tables, cutoff, settings)
            cleaning[cutoff.isoformat()] = {name: p.to_dict() for name, p in params.items()}
            _say(progress, f"cutoff {cutoff}: aggregating features and labels")
            window = Window(cutoff, horizon_days, settings.active_window_days)
            sql = feature_sql(tables, window, params["transactions"], params.get("customers"), available)
            frame_c = _one_row_per_customer(sql_con.execute(sql).df(), tables, cutoff)
            labelled[cutoff.isoformat()] = observed is not None and window.end <= observed
            if not labelled[cutoff.isoformat()]:
                frame_c[list(LABEL_NAMES)] = None  # the label window runs past the data: outcome unknown
            frames.append(frame_c)
    finally:
        if engine is not None and sql_con is not None:
            sql_con.close()
        con.close()
    frame = _typed(pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0], available)
    specs = feature_specs(available)
    meta = {
        "data_dir": str(Path(clean_dir).resolve()),
        "cutoffs": [d.isoformat() for d in days],
        "horizon_days": horizon_days,
        "active_window_days": settings.active_window_days,
        "id_columns": list(ID_NAMES),
        "features": [f.name for f in specs],
        "categorical_features": [f.name for f in specs if f.dtype == "string"],
        "feature_needs": {f.name: list(f.needs) for f in specs},
        "tables": {t: list(c) for t, c in tables.columns.items()},
        "vocabulary": vocabulary.to_dict(),
        "ordinal": {a: list(values) for a, values in tables.ordinal.items()},
        "labels": list(LABEL_NAMES),
        "rows": len(frame),
        "labels_observed": labelled,
        "observed_until": observed.isoformat() if observed is not None else None,
        "rows_per_cutoff": {d.isoformat(): int(n) for d, n in zip(days, (len(f) for f in frames), strict=True)},
        "cleaning_settings": {k: getattr(settings, k) for k in
                              ("impute_numeric", "impute_categorical", "outliers", "iqr_k", "zscore_max")},
        "cleaning": cleaning,
        "engine": "duckdb" if engine is None else "spark",
        "build_seconds": round(clock.perf_counter() - started, 3),
    }
    frame.attrs["crmlab_features"] = meta
    return FeatureSet(frame=frame, meta=meta)


def observed_until(con: duckdb.DuckDBPyConnection, tables: CleanTables) -> datetime | None:
    """End of the last day with any recorded activity: label windows ending later are not yet observed.

    Only labels depend on it (never features), so it cannot leak into a feature.
    """
    from datetime import timedelta

    from training.cleaning import first_row

    parts = [f"(SELECT max(order_ts) FROM {tables.relation('transactions')})"]
    if tables.has("events"):
        parts.append(f"(SELECT max(session_ts) FROM {tables.relation('events')})")
    row = first_row(con, f"SELECT greatest({', '.join(parts)})")
    if row is None or row[0] is None:
        return None
    last = row[0]
    return datetime.combine(last.date(), datetime.min.time()) + timedelta(days=1)


def build_features(clean_dir: Path, cutoffs: Sequence[date], horizon_days: int, settings: Settings) -> pd.DataFrame:
    """One row per (customer_id, cutoff): features from before the cutoff, labels from [cutoff, cutoff + H).

    The metadata (cutoffs, fitted cleaning per cutoff) is also in ``frame.attrs["crmlab_features"]``.
    """
    return build_feature_set(clean_dir, cutoffs, horizon_days, settings).frame


def _one_row_per_customer(frame: pd.DataFrame, tables: CleanTables, cutoff: date) -> pd.DataFrame:
    dup = frame["customer_id"].duplicated()
    if dup.any():
        first = frame.loc[dup, "customer_id"].iloc[0]
        raise CleanDataError(f"{tables.path('customers')}: customer_id {first!r} appears more than once "
                             f"(cutoff {cutoff}); customer_id must be unique. Re-run `crmlab ingest`, which "
                             "removes duplicate keys.")
    return frame


def _typed(frame: pd.DataFrame, available: Available) -> pd.DataFrame:
    """Enforce catalog dtypes, so the schema does not depend on whether a column happens to hold nulls."""
    dtypes = column_dtypes(all_columns(available))
    if list(frame.columns) != list(dtypes):
        raise RuntimeError(f"feature query columns differ from the catalog: {sorted(set(frame.columns) ^ set(dtypes))}")
    return frame.astype(dtypes)


def _say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)
