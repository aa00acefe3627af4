"""A user's transaction log (id, date, amount) checked and normalised before any CLV summary.

Errors name the column and the 1-based data row (header not counted) and say what to do next; they
never echo identifiers or amounts of other rows. Rows need not be sorted: order is irrelevant to
every summary built here, so out-of-order dates are accepted and sorted, not refused.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

ID, DATE, AMOUNT = "customer_id", "date", "amount"
QUARANTINE_ROW, QUARANTINE_PROBLEM = "crmlab_row", "crmlab_problem"  # added to each quarantined row


class ClvInputError(ValueError):
    """Bad CLV input: the message names the field and the row and says how to fix it."""


def read_transactions(path: str | Path, *, sep: str | None = None, header: bool = True) -> pd.DataFrame:
    """Read a CSV/TSV/whitespace-separated (.txt/.dat) or Parquet log; ``sep=None`` sniffs the delimiter.

    Without a header row the columns are named by 1-based position: "1", "2", ...
    """
    path = Path(path)
    if not path.exists():
        raise ClvInputError(f"--transactions {path}: file not found; give the path of a CSV or Parquet log.")
    if path.stat().st_size == 0:
        raise ClvInputError(f"--transactions {path}: the file is empty; give a log with a row per purchase.")
    try:
        if path.suffix.lower() in {".parquet", ".pq"}:
            return pd.read_parquet(path)
        if sep is None and path.suffix.lower() in {".txt", ".dat"}:
            sep = r"\s+"
        frame = pd.read_csv(path, sep=sep, engine="python", header=0 if header else None, dtype=str)
    except (ValueError, OSError, csv.Error) as err:  # pandas' parser/empty-data errors and pyarrow's are ValueErrors
        raise ClvInputError(f"--transactions {path}: not a readable CSV, TSV, whitespace-separated or Parquet "
                            f"log ({type(err).__name__}); check the file and its extension.") from None
    if not header:
        frame.columns = [str(i + 1) for i in range(frame.shape[1])]
    return frame


def validate_transactions(
    df: pd.DataFrame, id_col: str, date_col: str, amount_col: str, *, date_format: str | None = None,
    keep_missing_amounts: bool = False,
) -> pd.DataFrame:
    """Return ``customer_id`` (str), ``date`` (day, datetime64) and ``amount`` (float64), sorted by date.

    Refused: missing columns, empty ids, unparseable dates, missing / non-numeric / negative amounts.
    Zero amounts are valid (free items exist; CDNOW has 8). A customer with a single purchase is valid.
    ``keep_missing_amounts`` is for crmlab's clean data, whose null amounts the features' point-in-time
    cleaning imputes (see ``training.clv.inputs``); a user's log must say what every purchase cost.
    """
    rules, ids, dates, amounts = _row_rules(df, id_col, date_col, amount_col, date_format, keep_missing_amounts)
    for column, problem, fix, bad in rules:
        _refuse(bad, column, problem, fix)
    return _normalised(ids, dates, amounts)


def screen_transactions(
    df: pd.DataFrame, id_col: str, date_col: str, amount_col: str, *, date_format: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the rows ``validate_transactions`` accepts, normalised alike; the others as read, with their 1-based
    data row in ``QUARANTINE_ROW`` and their first problem in ``QUARANTINE_PROBLEM``).

    A real export carries rows no CLV summary can use: guest purchases without a customer id, refunds,
    a mistyped date. They are set aside and counted, as ``crmlab ingest`` quarantines rows, rather than
    refusing the whole log. Missing columns and an empty log are still refused.
    """
    rules, ids, dates, amounts = _row_rules(df, id_col, date_col, amount_col, date_format, False)
    problem = pd.Series(None, index=df.index, dtype=object)
    for column, text, _, bad in rules:
        problem = problem.mask(problem.isna() & np.asarray(bad, dtype=bool), f"column '{column}': value {text}")
    bad = problem.notna().to_numpy()
    quarantined = df[bad].assign(**{QUARANTINE_ROW: np.flatnonzero(bad) + 1, QUARANTINE_PROBLEM: problem[bad]})
    return _normalised(ids[~bad], dates[~bad], amounts[~bad]), quarantined.reset_index(drop=True)


def _row_rules(df: pd.DataFrame, id_col: str, date_col: str, amount_col: str, date_format: str | None,
               keep_missing_amounts: bool) -> tuple[list[tuple[str, str, str, pd.Series]], pd.Series, pd.Series,
                                                    pd.Series]:
    """The per-row checks in the order they are reported: (column, problem, fix, rows failing it), and the
    parsed ids, dates and amounts."""
    missing = [c for c in (id_col, date_col, amount_col) if c not in df.columns]
    if missing:
        raise ClvInputError(
            f"transaction log: missing column(s) {missing}; "
            f"available columns: {[str(c) for c in df.columns]}. "
            "Pass the right names with --id, --date and --amount."
        )
    if df.empty:
        raise ClvInputError("transaction log: no rows; give a log with at least one purchase per customer.")
    ids = df[id_col]
    dates = _parse_dates(df[date_col], date_format)
    amounts = pd.to_numeric(df[amount_col], errors="coerce")
    rules = [
        (id_col, "is empty", "fill in the customer id", ids.isna() | (ids.astype(str).str.strip() == "")),
        (date_col, "is not a parseable date", "fix the date (e.g. YYYY-MM-DD) or pass --date-format",
         dates.isna()),
        (amount_col, "is not a number", "fix the amount", amounts.isna() & df[amount_col].notna()),
    ]
    if not keep_missing_amounts:
        rules.append((amount_col, "is missing", "fill in the amount or remove the row", amounts.isna()))
    rules += [
        (amount_col, "is not finite", "fix the amount", pd.Series(np.isinf(amounts.to_numpy(dtype=float)),
                                                                  index=df.index)),
        (amount_col, "is negative (refunds are not purchases)",
         "remove refunds or net them into their purchase before training", amounts < 0),
    ]
    return rules, ids, dates, amounts


def _normalised(ids: pd.Series, dates: pd.Series, amounts: pd.Series) -> pd.DataFrame:
    out = pd.DataFrame({
        ID: ids.astype(str).str.strip().to_numpy(),
        DATE: dates.dt.normalize().to_numpy(),
        AMOUNT: amounts.astype("float64").to_numpy(),
    })
    return out.sort_values([DATE, ID], kind="stable").reset_index(drop=True)


def _parse_dates(values: pd.Series, date_format: str | None) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.tz_localize(None) if values.dt.tz is not None else values
    text = values.astype("string").str.strip()
    if date_format is None and text.dropna().str.fullmatch(r"\d{8}").all():
        date_format = "%Y%m%d"  # CDNOW-style YYYYMMDD integers
    if date_format is not None:
        return pd.to_datetime(text, format=date_format, errors="coerce")
    return pd.to_datetime(text, format="mixed", errors="coerce")


def _refuse(bad: pd.Series, column: str, problem: str, fix: str) -> None:
    """Raise naming the first offending data row (1-based) and how many rows share the problem."""
    mask = np.asarray(bad, dtype=bool)
    if not mask.any():
        return
    rows = np.flatnonzero(mask) + 1
    more = f" (and {len(rows) - 1} more row(s))" if len(rows) > 1 else ""
    raise ClvInputError(f"transaction log, column '{column}', row {rows[0]}{more}: value {problem}; {fix}.")
