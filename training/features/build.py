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
    CATEGORICAL_FEATURES,
    FEATURE_NAMES,
    ID_NAMES,
    LABEL_NAMES,
    PROFILE_COLUMNS,
    column_dtypes,
)
from training.features.inputs import CleanDataError, CleanTables, open_clean_dir
from training.features.sql import Window, feature_sql
from training.settings import Settings

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

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
    """Cleaning parameters for one cutoff, fitted only on rows strictly before it."""
    w = Window(cutoff, 1, 1)
    return {
        "transactions": fit_cleaning(con, tables.relation("transactions"), f"order_ts < {w.ts()}", settings,
                                     numeric=TRANSACTION_NUMERIC, categorical=TRANSACTION_CATEGORICAL),
        "customers": fit_cleaning(con, tables.relation("customers"), f"signup_date < {w.day()}", settings,
                                  categorical=PROFILE_COLUMNS),
    }


def build_feature_set(clean_dir: Path, cutoffs: Sequence[date | str], horizon_days: int, settings: Settings,
                      progress: Progress | None = None) -> FeatureSet:
    """Features and labels for every cutoff, stacked, with the fitted cleaning parameters per cutoff."""
    import duckdb
    import pandas as pd

    if horizon_days <= 0:
        raise ValueError(f"horizon_days must be a positive number of days, got {horizon_days}.")
    days = normalise_cutoffs(cutoffs)
    started = clock.perf_counter()
    con = duckdb.connect()
    try:
        tables = open_clean_dir(Path(clean_dir), con)
        observed = observed_until(con, tables)
        frames, cleaning, labelled = [], {}, {}
        for cutoff in days:
            _say(progress, f"cutoff {cutoff}: fitting cleaning on rows before it")
            params = fit_cutoff_cleaning(con, tables, cutoff, settings)
            cleaning[cutoff.isoformat()] = {name: p.to_dict() for name, p in params.items()}
            _say(progress, f"cutoff {cutoff}: aggregating features and labels")
            window = Window(cutoff, horizon_days, settings.active_window_days)
            sql = feature_sql(tables, window, params["transactions"], params["customers"])
            frame_c = _one_row_per_customer(con.execute(sql).df(), tables, cutoff)
            labelled[cutoff.isoformat()] = observed is not None and window.end <= observed
            if not labelled[cutoff.isoformat()]:
                frame_c[list(LABEL_NAMES)] = None  # the label window runs past the data: outcome unknown
            frames.append(frame_c)
    finally:
        con.close()
    frame = _typed(pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0])
    meta = {
        "data_dir": str(Path(clean_dir).resolve()),
        "cutoffs": [d.isoformat() for d in days],
        "horizon_days": horizon_days,
        "active_window_days": settings.active_window_days,
        "id_columns": list(ID_NAMES),
        "features": list(FEATURE_NAMES),
        "categorical_features": list(CATEGORICAL_FEATURES),
        "labels": list(LABEL_NAMES),
        "rows": len(frame),
        "labels_observed": labelled,
        "observed_until": observed.isoformat() if observed is not None else None,
        "rows_per_cutoff": {d.isoformat(): int(n) for d, n in zip(days, (len(f) for f in frames), strict=True)},
        "cleaning_settings": {k: getattr(settings, k) for k in
                              ("impute_numeric", "impute_categorical", "outliers", "iqr_k", "zscore_max")},
        "cleaning": cleaning,
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

    row = first_row(con, f"SELECT greatest((SELECT max(order_ts) FROM {tables.relation('transactions')}), "
                         f"(SELECT max(session_ts) FROM {tables.relation('events')}))")
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


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Enforce catalog dtypes, so the schema does not depend on whether a column happens to hold nulls."""
    dtypes = column_dtypes()
    if list(frame.columns) != list(dtypes):
        raise RuntimeError(f"feature query columns differ from the catalog: {sorted(set(frame.columns) ^ set(dtypes))}")
    return frame.astype(dtypes)


def _say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)
