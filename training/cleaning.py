"""Point-in-time cleaning: statistics fitted on rows before a cutoff, applied as SQL expressions.

Ingestion only validates; anything that is *fitted* on data (a median, winsorizing bounds, a mode) is
fitted here, per cutoff, on rows strictly before it, so no statistic ever sees the future. Fitting runs
in DuckDB over any relation (a parquet file or a registered DataFrame); applying turns the fitted
values into SQL literals (COALESCE / CASE), so the feature query cleans while it aggregates.

Steps, driven by ``Settings``:
- ``impute_numeric``: ``median`` fills nulls with the median of the fitted rows; ``none`` keeps nulls.
- ``outliers``: ``iqr`` clips to [Q1 - iqr_k*IQR, Q3 + iqr_k*IQR]; ``zscore`` clips to
  [mean - zscore_max*std, mean + zscore_max*std]; ``none`` does not clip. Only for columns marked
  ``winsorize``.
- ``impute_categorical``: ``missing`` maps null to the explicit category ``missing``; ``mode`` maps
  null and ``missing`` to the most frequent other value (ties: alphabetically first).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from training.settings import Settings

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

MISSING = "missing"


@dataclass(frozen=True)
class NumericColumn:
    """A numeric column to clean; ``integer`` columns are imputed with an observed (whole) median."""

    name: str
    winsorize: bool = False
    integer: bool = False


@dataclass(frozen=True)
class NumericParams:
    column: str
    fill: float | None
    lower: float | None
    upper: float | None


@dataclass(frozen=True)
class CleaningParams:
    """Everything fitted for one relation at one point in time (recorded in features_meta.json)."""

    fitted_on: str
    rows_fitted: int
    numeric: tuple[NumericParams, ...]
    categorical: tuple[tuple[str, str], ...]  # (column, fill value)

    def to_dict(self) -> dict[str, Any]:
        return {
            "fitted_on": self.fitted_on,
            "rows_fitted": self.rows_fitted,
            "numeric": {p.column: {"fill": p.fill, "lower": p.lower, "upper": p.upper} for p in self.numeric},
            "categorical": {col: {"fill": fill} for col, fill in self.categorical},
        }


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def first_row(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...] | None:
    """First result row; reads the whole (small) result, as DuckDB 2 requires before the next statement."""
    rows = con.execute(sql).fetchall()
    return rows[0] if rows else None


def sql_literal(value: float | str | None) -> str:
    """A SQL literal that round-trips the Python value exactly."""
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return f"CAST({float(value)!r} AS DOUBLE)"


def fit_cleaning(con: duckdb.DuckDBPyConnection, relation: str, where: str, settings: Settings, *,
                 numeric: Sequence[NumericColumn] = (), categorical: Sequence[str] = ()) -> CleaningParams:
    """Fit imputation and outlier parameters on ``SELECT ... FROM relation WHERE where``.

    ``where`` must select only rows before the cutoff (e.g. ``order_ts < TIMESTAMP '2024-01-01'``):
    that filter is what keeps the statistics point-in-time.
    """
    per_column = [(col, _numeric_stats_sql(col, settings)) for col in numeric]
    selects = ["count(*)", *(sql for _, stats in per_column for sql in stats.values())]
    values = iter(first_row(con, f"SELECT {', '.join(selects)} FROM {relation} WHERE {where}"))
    rows_fitted = next(values)
    numeric_params = tuple(
        _numeric_params(col, {name: next(values) for name in stats}, settings) for col, stats in per_column
    )
    categorical_params = tuple((col, _fit_categorical(con, relation, where, col, settings)) for col in categorical)
    return CleaningParams(fitted_on=where, rows_fitted=int(rows_fitted), numeric=numeric_params,
                          categorical=categorical_params)


def _quantile_probs(col: NumericColumn, settings: Settings) -> list[float]:
    """Quantiles of a non-integer column the settings need, computed in one exact, sorted pass."""
    probs = {0.25, 0.75} if col.winsorize and settings.outliers == "iqr" else set()
    if settings.impute_numeric == "median" and not col.integer:
        probs.add(0.5)
    return sorted(probs)


def _numeric_stats_sql(col: NumericColumn, settings: Settings) -> dict[str, str]:
    """Only the statistics the settings use (aggregates skip nulls)."""
    c = quote_ident(col.name)
    stats: dict[str, str] = {}
    if probs := _quantile_probs(col, settings):
        stats["quantiles"] = f"quantile_cont({c}, {probs})"
    if settings.impute_numeric == "median" and col.integer:
        stats["median"] = f"quantile_disc({c}, 0.5)"  # an observed value, so counts stay whole
    if col.winsorize and settings.outliers == "zscore":
        stats |= {"mean": f"avg({c})", "std": f"stddev_pop({c})"}
    return stats


def _numeric_params(col: NumericColumn, stats: dict[str, Any], settings: Settings) -> NumericParams:
    values = stats.get("quantiles")
    q = dict(zip(_quantile_probs(col, settings), values, strict=True)) if values is not None else {}
    fill = _float(q.get(0.5, stats.get("median")))
    lower = upper = None
    if 0.25 in q:
        spread = settings.iqr_k * (float(q[0.75]) - float(q[0.25]))
        lower, upper = float(q[0.25]) - spread, float(q[0.75]) + spread
    elif stats.get("mean") is not None:
        spread = settings.zscore_max * float(stats.get("std") or 0.0)
        lower, upper = float(stats["mean"]) - spread, float(stats["mean"]) + spread
    return NumericParams(column=col.name, fill=fill, lower=lower, upper=upper)


def _fit_categorical(con: duckdb.DuckDBPyConnection, relation: str, where: str, col: str,
                     settings: Settings) -> str:
    if settings.impute_categorical == "missing":
        return MISSING
    c = quote_ident(col)
    row = first_row(
        con, f"SELECT {c} FROM {relation} WHERE ({where}) AND {c} IS NOT NULL AND {c} <> '{MISSING}' "
        f"GROUP BY {c} ORDER BY count(*) DESC, {c} LIMIT 1"
    )
    return MISSING if row is None else str(row[0])


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def apply_cleaning(params: CleaningParams, source: Mapping[str, str] | None = None) -> dict[str, str]:
    """Column -> SQL expression producing the cleaned value.

    ``source`` maps a column to the SQL expression to clean instead of the bare column (e.g. a
    COALESCE with a lookup); unmapped columns read the column of the same name.
    """
    source = dict(source or {})
    exprs: dict[str, str] = {}
    for p in params.numeric:
        expr = source.get(p.column, quote_ident(p.column))
        if p.fill is not None:
            expr = f"COALESCE({expr}, {sql_literal(p.fill)})"
        if p.lower is not None and p.upper is not None:
            lo, hi = sql_literal(p.lower), sql_literal(p.upper)
            expr = f"(CASE WHEN {expr} < {lo} THEN {lo} WHEN {expr} > {hi} THEN {hi} ELSE {expr} END)"
        exprs[p.column] = expr
    for col, fill in params.categorical:
        expr = source.get(col, quote_ident(col))
        exprs[col] = f"(CASE WHEN {expr} IS NULL OR {expr} = '{MISSING}' THEN {sql_literal(fill)} ELSE {expr} END)"
    return exprs


def clean_frame(frame: pd.DataFrame, params: CleaningParams) -> pd.DataFrame:
    """Apply fitted parameters to a DataFrame (same SQL as the feature build, so one implementation)."""
    import duckdb

    exprs = apply_cleaning(params)
    select = ", ".join(
        f"{exprs[c]} AS {quote_ident(c)}" if c in exprs else quote_ident(c) for c in frame.columns
    )
    con = duckdb.connect()
    try:
        con.register("frame_to_clean", frame)
        return con.execute(f"SELECT {select} FROM frame_to_clean").df()
    finally:
        con.close()


def params_as_dict(params: Mapping[str, CleaningParams]) -> dict[str, dict[str, Any]]:
    """Named fitted parameters (e.g. per table) as plain JSON-ready dicts."""
    return {name: p.to_dict() for name, p in params.items()}


__all__ = ["MISSING", "CleaningParams", "NumericColumn", "NumericParams", "apply_cleaning",
           "clean_frame", "first_row", "fit_cleaning", "params_as_dict", "quote_ident", "sql_literal"]
