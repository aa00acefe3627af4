"""The transaction-log input shape: simple point-in-time RFM features and future-spend labels.

Only a user's log (id, date, amount) is available, so the LightGBM model learns from *earlier* cutoffs
inside the calibration period: features as of cutoff ``c`` (purchases on or before ``c``), label = spend
in ``(c, c + L]`` with ``L = min(horizon, calibration span / 2)``, so that every label window ends by
the calibration end and the holdout is never seen. When ``L`` is shorter than the horizon (CDNOW:
39-week calibration, 39-week horizon), the stacked BG/NBD + Gamma-Gamma fit predicts the spend of the
rest of the horizon (``ClvProblem.tail_days``); without stacking, predictions are scaled by
``horizon / L`` (a spend-rate assumption). The model card says which.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from training.clv.btyd import BTYD_INPUTS, as_inputs, daily_purchases, summary_from_clean
from training.clv.transactions import AMOUNT, DATE, ID, ClvInputError

RECENT_DAYS = 90
FEATURE_COLUMNS = [*BTYD_INPUTS.values(), "days_since_last", "purchase_days", "total_spend", "first_spend",
                   "mean_day_spend", "max_day_spend", f"spend_last_{RECENT_DAYS}d",
                   f"purchase_days_last_{RECENT_DAYS}d", "weekly_rate"]
MIN_HISTORY_DAYS = 14


def rfm_features(tx: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Per-customer features from purchases on or before ``cutoff`` (the BTYD summary among them)."""
    cutoff = pd.Timestamp(cutoff).normalize()
    summary = summary_from_clean(tx, cutoff)
    days = daily_purchases(tx[tx[DATE] <= cutoff])
    grouped = days.groupby(ID, sort=True)[AMOUNT]
    recent = days[days[DATE] > cutoff - pd.Timedelta(days=RECENT_DAYS)].groupby(ID)[AMOUNT]
    out = as_inputs(summary)
    out["days_since_last"] = (summary["T"] - summary["recency"]) * 7
    out["purchase_days"] = summary["frequency"] + 1
    out["total_spend"] = grouped.sum()
    out["first_spend"] = grouped.first()
    out["mean_day_spend"] = out["total_spend"] / out["purchase_days"]
    out["max_day_spend"] = grouped.max()
    out[f"spend_last_{RECENT_DAYS}d"] = recent.sum().reindex(out.index, fill_value=0.0)
    out[f"purchase_days_last_{RECENT_DAYS}d"] = recent.size().reindex(out.index, fill_value=0).astype(float)
    out["weekly_rate"] = summary["frequency"] / summary["T"].where(summary["T"] > 0, np.nan)
    return out[FEATURE_COLUMNS]


def future_spend(tx: pd.DataFrame, cutoff: pd.Timestamp, days: int, customers: pd.Index) -> pd.Series:
    """Spend in ``(cutoff, cutoff + days]`` for each of ``customers`` (0 when they bought nothing)."""
    cutoff = pd.Timestamp(cutoff).normalize()
    window = tx[(tx[DATE] > cutoff) & (tx[DATE] <= cutoff + pd.Timedelta(days=days))]
    return window.groupby(ID)[AMOUNT].sum().reindex(customers, fill_value=0.0).rename("future_spend")


@dataclass
class TransactionDataset:
    """Training rows at earlier cutoffs, holdout rows at the calibration end."""

    train: pd.DataFrame            # FEATURE_COLUMNS + customer_id, cutoff, future_spend (over label_days)
    holdout: pd.DataFrame          # FEATURE_COLUMNS + customer_id, cutoff, future_spend (over horizon_days)
    label_days: int
    horizon_days: int
    notes: list[str] = field(default_factory=list)

    @property
    def scale(self) -> float:
        """Factor from a label-window prediction to a horizon prediction."""
        return self.horizon_days / self.label_days


def build_transaction_dataset(tx: pd.DataFrame, calibration_end: str | pd.Timestamp, horizon_days: int,
                              n_cutoffs: int = 3) -> TransactionDataset:
    """Rows for LightGBM (earlier cutoffs) and the holdout (calibration end, next ``horizon_days``)."""
    if horizon_days < 1:
        raise ClvInputError(f"--horizon-days {horizon_days}: give a positive number of days.")
    end = pd.Timestamp(calibration_end).normalize()
    first, last = tx[DATE].min(), tx[DATE].max()
    span = (end - first).days
    if span < 2 * MIN_HISTORY_DAYS:
        raise ClvInputError(
            f"--calibration-end {end.date()}: only {max(span, 0)} day(s) of history before it (first "
            f"purchase {first.date()}); give a calibration end at least {2 * MIN_HISTORY_DAYS} days "
            "after it.")
    if last <= end:
        raise ClvInputError(
            f"--calibration-end {end.date()}: the log has no purchase after it (last {last.date()}), so "
            "there is no holdout to evaluate on; pick an earlier calibration end.")
    notes: list[str] = []
    holdout_end = end + pd.Timedelta(days=horizon_days)
    if last < holdout_end:
        notes.append(f"log ends {last.date()}, before the holdout end {holdout_end.date()}: "
                     "holdout spend may be under-counted")
    new = tx.loc[(tx[DATE] > end) & ~tx[ID].isin(tx.loc[tx[DATE] <= end, ID]), ID].nunique()
    if new:
        notes.append(f"{new} customer(s) first bought after the calibration end: not scored "
                     "(no history), not in the holdout")
    label_days = min(horizon_days, span // 2)
    if label_days < horizon_days:
        notes.append(f"training labels cover {label_days} days (half the calibration span) of the "
                     f"{horizon_days}-day horizon: BG/NBD + Gamma-Gamma predict the rest for the stacked "
                     f"LightGBM (else it is scaled by {horizon_days / label_days:.2f})")
    step = max(7, label_days // 2)
    cutoffs = [end - pd.Timedelta(days=label_days + k * step) for k in range(n_cutoffs)]
    cutoffs = [c for c in cutoffs if (c - first).days >= MIN_HISTORY_DAYS]
    train = pd.concat([_rows(tx, c, label_days) for c in cutoffs], ignore_index=True)
    notes.append(f"training cutoffs: {', '.join(str(c.date()) for c in cutoffs)}")
    return TransactionDataset(train=train, holdout=_rows(tx, end, horizon_days), label_days=label_days,
                              horizon_days=horizon_days, notes=notes)


def _rows(tx: pd.DataFrame, cutoff: pd.Timestamp, days: int) -> pd.DataFrame:
    feats = rfm_features(tx, cutoff)
    feats["future_spend"] = future_spend(tx, cutoff, days, feats.index)
    feats["cutoff"] = cutoff
    return feats.reset_index()
