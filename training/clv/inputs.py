"""The two input shapes turned into one ``ClvProblem``: LightGBM rows, holdout rows and the BTYD population.

- crmlab features (``--features DIR``): LightGBM learns on the crmlab feature columns with the core's
  honest split (time-based over cutoffs, else random); the holdout is the core's test split. The
  BG/NBD inputs (``btyd_*``) are computed as of each row's cutoff from the clean ``transactions`` table
  (history strictly before the cutoff, the features' convention), because the crmlab features do not
  carry day-level repeat counts. Amounts get the same point-in-time cleaning the features and the
  ``future_spend`` label got (median fill and winsorizing bounds fitted before that cutoff, recorded in
  features_meta.json under ``cleaning``), so BG/NBD predicts spend on the label's scale. The clean data
  folder comes from ``--data`` (or ``data_dir`` in features_meta.json when the features record it).
- a transaction log (``--transactions PATH``): see :mod:`training.clv.transaction_features`.

Customers with no purchase before the cutoff have no BG/NBD history: their ``btyd_*`` are null and
the baseline predicts 0 for them (BG/NBD describes repeat buying after a first purchase).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from training.clv.btyd import BTYD_INPUTS, BTYDModel, as_inputs, summary_from_clean
from training.clv.transaction_features import FEATURE_COLUMNS, build_transaction_dataset
from training.clv.transactions import (
    ID,
    QUARANTINE_PROBLEM,
    ClvInputError,
    read_transactions,
    screen_transactions,
    validate_transactions,
)

LABEL = "future_spend"
CUTOFF = "cutoff"
NON_FEATURES = {ID, CUTOFF, LABEL, "churned"}
VALID_FRACTION = 0.25


@dataclass
class ClvProblem:
    """Everything the comparison needs, independent of where the data came from."""

    shape: Literal["features", "transactions"]
    train: pd.DataFrame            # LightGBM fit rows: features + LABEL
    valid: pd.DataFrame            # LightGBM early stopping / tuning rows
    holdout: pd.DataFrame          # final comparison: ID, features, btyd_* inputs, LABEL over the horizon
    btyd_population: pd.DataFrame  # BTYD summary (frequency, recency, T, monetary_value) it is fitted on
    tier_population: pd.DataFrame  # features + btyd_* of the training population (no labels): tier quantiles
    features: list[str]
    categorical: list[str]
    horizon_days: int
    lgbm_scale: float = 1.0        # label window -> horizon factor for LightGBM predictions
    notes: list[str] = field(default_factory=list)
    stack_btyd: BTYDModel | None = None  # BTYD fit of the latest cutoff, when stacked (``training.clv.stacking``)
    stack_horizon_days: float = 0.0      # the label window the stacked expectations cover

    @property
    def label_days(self) -> float:
        """Days the LightGBM training label covers (the horizon, or a shorter window scaled up)."""
        return self.horizon_days / self.lgbm_scale

    @property
    def tail_days(self) -> float:
        """Days of the horizon past the LightGBM label window that BG/NBD + Gamma-Gamma predict (0: none).

        When the log is too short for labels over the whole horizon (CDNOW, 39 weeks in and 39 out: 136-day
        labels), a stacked LightGBM predicts the label window and the stacked BG/NBD fit adds the expected
        spend of the rest (``stacking.btyd_tail``), instead of scaling the window up at a constant rate:
        BG/NBD is built to extrapolate, with each customer's dropout over the longer span; the trees have
        no label there to learn from. Measured (bench/README.md): CDNOW 39 weeks +0.004 normalized Gini on
        3 of 3 splits; generated worlds with a 365-day horizon +0.002 to +0.003 against the generator's expected
        spend on average, not evenly (16 worlds: 8 up by 0.003-0.019, 8 down by 0.002-0.014).
        """
        if self.stack_btyd is None or self.lgbm_scale <= 1.0:
            return 0.0
        return self.horizon_days - self.stack_horizon_days

    @property
    def spend_scale(self) -> float:
        """Factor from LightGBM's label-window spend to what it contributes to the horizon's spend: the
        window scaled up, or 1 when BG/NBD predicts the rest (``tail_days``)."""
        return 1.0 if self.tail_days else self.lgbm_scale


def problem_from_transactions(path: str | Path | pd.DataFrame, *, id_col: str, date_col: str, amount_col: str,
                              calibration_end: str, horizon_days: int, seed: int,
                              date_format: str | None = None, header: bool = True,
                              quarantine_to: Path | None = None, max_quarantine_share: float = 0.5) -> ClvProblem:
    """A user's log: calibration up to ``calibration_end`` (inclusive), holdout the next ``horizon_days``.

    With ``quarantine_to`` (a CSV path), rows that fail a check are written there and left out, unless more
    than ``max_quarantine_share`` of the rows fail (then the log is refused naming the first bad row: the
    columns or the date format are more likely wrong than the rows). The file stays on this machine: its
    rows are as read, customer ids included, and nothing of them is logged. Without it, any bad row is refused.
    """
    raw = path if isinstance(path, pd.DataFrame) else read_transactions(path, header=header)
    notes: list[str] = []
    if quarantine_to is None:
        tx = validate_transactions(raw, id_col, date_col, amount_col, date_format=date_format)
    else:
        tx, bad = screen_transactions(raw, id_col, date_col, amount_col, date_format=date_format)
        if len(bad) > max_quarantine_share * len(raw):
            try:
                validate_transactions(raw, id_col, date_col, amount_col, date_format=date_format)
            except ClvInputError as err:  # always raised here: name the first bad row, and why not quarantined
                raise ClvInputError(f"{err} {len(bad):,} of {len(raw):,} rows fail, more than "
                                    f"{max_quarantine_share:.0%}: the log is refused rather than quarantined."
                                    ) from None
        if len(bad):
            notes.append(_quarantine(bad, len(raw), quarantine_to))
    try:
        end = pd.Timestamp(calibration_end)
    except (ValueError, TypeError):
        raise ClvInputError(f"--calibration-end {calibration_end!r}: not a date; use YYYY-MM-DD.") from None
    data = build_transaction_dataset(tx, end, horizon_days)
    train, valid = _split_by_customer(data.train, seed)
    holdout = data.holdout
    population = holdout[list(BTYD_INPUTS.values())].rename(columns={v: k for k, v in BTYD_INPUTS.items()})
    # Tier population: every customer at the calibration end (the base the model is trained for).
    return ClvProblem("transactions", train, valid, holdout, population, holdout.drop(columns=[LABEL]),
                      list(FEATURE_COLUMNS), [], horizon_days, data.scale, notes + data.notes)


def _quarantine(bad: pd.DataFrame, rows: int, to: Path) -> str:
    """Write the failing rows to ``to``; the note that says how many of ``rows`` and why."""
    to.parent.mkdir(parents=True, exist_ok=True)
    bad.to_csv(to, index=False)
    why = "; ".join(f"{n:,} {problem}" for problem, n in bad[QUARANTINE_PROBLEM].value_counts().items())
    return f"{len(bad):,} of {rows:,} log rows quarantined to {to} and left out ({why})"


def _split_by_customer(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validation customers are disjoint from training customers (rows of one customer stay together)."""
    ids = np.sort(frame[ID].unique())
    rng = np.random.default_rng(seed)
    valid_ids = set(rng.choice(ids, size=max(1, int(len(ids) * VALID_FRACTION)), replace=False))
    in_valid = frame[ID].isin(valid_ids)
    return frame[~in_valid].reset_index(drop=True), frame[in_valid].reset_index(drop=True)


def problem_from_features(features_dir: str | Path, *, data_dir: str | Path | None, seed: int,
                          horizon_days: int | None = None) -> ClvProblem:
    """crmlab features + the clean transactions (for the BG/NBD inputs) -> a ClvProblem."""
    from training.core.splits import make_splits

    frame, meta = load_features(features_dir)
    horizon = int(meta.get("horizon_days") or horizon_days or 0)
    if horizon <= 0:
        raise ClvInputError(f"{features_dir}: features_meta.json has no horizon_days; pass --horizon-days.")
    clean_dir = Path(data_dir or meta.get("data_dir") or "")
    if not data_dir and not meta.get("data_dir"):
        raise ClvInputError(f"{features_dir}: features_meta.json does not name the clean data directory; "
                            "pass --data CLEAN_DIR (the output of crmlab ingest).")
    notes: list[str] = []
    unlabelled = frame[LABEL].isna()
    if unlabelled.any():
        notes.append(f"{int(unlabelled.sum())} row(s) without a known {LABEL} (label window not over): "
                     "not used for training or evaluation")
        frame = frame[~unlabelled]
    features, categorical = feature_columns(frame, meta)
    splits = make_splits(frame, label=LABEL, seed=seed, time_col=CUTOFF, horizon_days=horizon)
    notes.append(splits.describe())
    tx = load_clean_transactions(clean_dir)
    cleaning = meta.get("cleaning")
    btyd = BtydInputs(tx, cleaning)
    holdout = btyd.add(splits.test)
    population = history_summary(tx, pd.Timestamp(holdout[CUTOFF].max()), cleaning)
    train, valid = btyd.add(splits.train), btyd.add(splits.valid)  # BG/NBD inputs for stacking
    tier_population = train.drop(columns=[LABEL])
    return ClvProblem("features", train, valid, holdout, population, tier_population, features,
                      categorical, horizon, 1.0, notes)


def load_features(features_dir: str | Path) -> tuple[pd.DataFrame, dict]:
    from training.core.feature_meta import read_features_dir

    features_dir = Path(features_dir)
    try:
        frame, meta = read_features_dir(features_dir)
    except FileNotFoundError:
        raise ClvInputError(f"--features {features_dir}: no features.parquet there; "
                            "run crmlab features first.") from None
    missing = [c for c in (ID, CUTOFF, LABEL) if c not in frame.columns]
    if missing:
        raise ClvInputError(f"{features_dir}/features.parquet: missing column(s) {missing}; expected one row per "
                            f"(customer_id, cutoff) with the label {LABEL} (see docs/DATA_MODEL.md).")
    return frame, meta


def feature_columns(frame: pd.DataFrame, meta: dict) -> tuple[list[str], list[str]]:
    """Model inputs by the core rule (``training.core.feature_meta.model_inputs``)."""
    from training.core.feature_meta import model_inputs

    columns = model_inputs(frame, meta, NON_FEATURES)
    if not columns.features:
        raise ClvInputError("the features hold no usable feature column (numeric or text)")
    return columns.features, columns.categorical


def load_clean_transactions(data_dir: str | Path) -> pd.DataFrame:
    """Clean ``transactions`` (customer_id, order_ts, amount) as (customer_id, date, amount).

    Null amounts are kept: they are imputed per cutoff like the features' (``history_summary``).
    """
    data_dir = Path(data_dir)
    path = data_dir / "transactions.parquet"
    if not path.exists():
        raise ClvInputError(f"--data {data_dir}: no transactions.parquet; give the output folder of "
                            "crmlab ingest.")
    raw = pd.read_parquet(path)
    return validate_transactions(raw, "customer_id", "order_ts", "amount", keep_missing_amounts=True)


def history_summary(tx: pd.DataFrame, cutoff: pd.Timestamp, cleaning: dict | None = None) -> pd.DataFrame:
    """BTYD summary of purchases strictly before ``cutoff``, amounts cleaned as the features did."""
    history = tx[tx["date"] < cutoff]
    if history.empty:
        return pd.DataFrame(columns=list(BTYD_INPUTS))
    params = _amount_cleaning(cleaning, cutoff)
    if params is not None:
        from training.cleaning import CleaningParams, clean_frame

        cleaned = clean_frame(history[["amount"]].reset_index(drop=True),
                              CleaningParams(f"cutoff {cutoff.date()}", 0, (params,), ()))
        history = history.assign(amount=cleaned["amount"].to_numpy())
    return summary_from_clean(history, cutoff - pd.Timedelta(days=1))


def _amount_cleaning(cleaning: dict | None, cutoff: pd.Timestamp):
    """The features' fitted ``amount`` parameters for this cutoff (None when not recorded)."""
    from training.cleaning import NumericParams

    fitted = ((cleaning or {}).get(str(cutoff.date())) or {}).get("transactions", {}).get("numeric", {})
    amount = fitted.get("amount")
    if not amount:
        return None
    return NumericParams("amount", amount.get("fill"), amount.get("lower"), amount.get("upper"))


def add_btyd_inputs(frame: pd.DataFrame, tx: pd.DataFrame | str | Path,
                    cleaning: dict | None = None) -> pd.DataFrame:
    """``frame`` (with customer_id and cutoff) plus the ``btyd_*`` columns as of each row's cutoff.

    ``tx`` is a frame from ``load_clean_transactions`` or the clean data directory; ``cleaning`` is
    features_meta.json's ``cleaning`` (per-cutoff amount imputation and bounds). Customers without a
    purchase before their cutoff get nulls.
    """
    return BtydInputs(tx, cleaning).add(frame)


class BtydInputs:
    """The ``btyd_*`` columns for rows of (customer_id, cutoff); one summary per cutoff, kept for reuse.

    Training and batch scoring both use it, so a BG/NBD model is scored on exactly the inputs it was
    evaluated on (``serving.batch`` adds them chunk by chunk when the features lack them).
    """

    def __init__(self, tx: pd.DataFrame | str | Path, cleaning: dict | None = None) -> None:
        self.tx = tx if isinstance(tx, pd.DataFrame) else load_clean_transactions(tx)
        self.cleaning = cleaning
        self._summaries: dict[pd.Timestamp, pd.DataFrame] = {}

    def at(self, cutoff: pd.Timestamp) -> pd.DataFrame:
        """``btyd_*`` per customer (index customer_id) from purchases strictly before ``cutoff``."""
        cutoff = pd.Timestamp(cutoff)
        if cutoff not in self._summaries:
            self._summaries[cutoff] = as_inputs(history_summary(self.tx, cutoff, self.cleaning)).astype(float)
        return self._summaries[cutoff]

    def add(self, frame: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in (ID, CUTOFF) if c not in frame.columns]
        if missing:
            raise ClvInputError(f"BG/NBD inputs are computed per customer and cutoff: the rows lack "
                                f"{', '.join(missing)}")
        out = frame.drop(columns=[c for c in BTYD_INPUTS.values() if c in frame.columns])
        parts = [self.at(cutoff).reindex(rows[ID].astype(str).to_numpy()).set_axis(rows.index)
                 for cutoff, rows in out.groupby(pd.to_datetime(out[CUTOFF]), sort=True)]
        if not parts:
            return out.assign(**dict.fromkeys(BTYD_INPUTS.values(), np.nan))
        return out.join(pd.concat(parts).astype(float))
