"""The CLV family object (row ``clv`` of ``training.core.families.FAMILIES``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from training.clv import gate, train
from training.clv.inputs import LABEL, ClvProblem, problem_from_features, problem_from_transactions
from training.clv.transactions import ClvInputError
from training.core.family import (
    FEATURES_OPTION,
    Fitted,
    MonitoringSpec,
    ProfileSpec,
    RunContext,
    SourceOption,
    SourceUsageError,
)
from training.core.gate_spec import GateSpec
from training.settings import Settings

_LOG_OPTIONS = (("id_col", "--id"), ("date_col", "--date"), ("amount_col", "--amount"),
                ("calibration_end", "--calibration-end"))


class ClvFamily:
    name = "clv"
    default_model_name = "clv"
    summary = "Customer lifetime value: BG/NBD + Gamma-Gamma vs tuned LightGBM; the winner is registered."
    source_options = (
        FEATURES_OPTION,
        SourceOption("--data", "data_dir", "Clean data folder (`crmlab ingest --out`), for the BG/NBD inputs "
                     "of the features shape.", "dir"),
        SourceOption("--transactions", "transactions", "A transaction log (CSV, TSV, whitespace-separated .txt, "
                     "or Parquet) instead of features.", "file"),
        SourceOption("--id", "id_col", "Customer id column of the transaction log."),
        SourceOption("--date", "date_col", "Purchase date column of the transaction log."),
        SourceOption("--amount", "amount_col", "Purchase amount column of the transaction log."),
        SourceOption("--no-header", "no_header", "The log has no header row: name columns by 1-based position "
                     "(--id 2 --date 3 ...).", "flag"),
        SourceOption("--date-format", "date_format", "strptime format of --date when not ISO (YYYYMMDD is "
                     "detected)."),
        SourceOption("--calibration-end", "calibration_end", "Last day of the calibration period (YYYY-MM-DD)."),
        SourceOption("--horizon-days", "horizon_days", "Prediction horizon in days (default: the features' "
                     "horizon, else CRMLAB_HORIZON_DAYS).", "int"),
    )
    monitoring = MonitoringSpec(
        task="regression", numeric_outputs=("predicted_spend", "p_alive"), categorical_outputs=("clv_tier",),
        label=LABEL, score="predicted_spend", group="clv_tier",
        watched=("spend_30d", "spend_90d", "monetary_mean", "spend_trend_90d", "sessions_30d", "sessions_90d",
                 "page_views_30d", "page_views_90d", "cart_adds_30d", "cart_adds_90d", "channel_share_"))
    profile = ProfileSpec(outputs=("predicted_spend", "clv_tier"))
    input_errors = (ClvInputError,)

    def gate(self) -> GateSpec:
        return gate.GATE

    def load(self, source: Mapping[str, Any], settings: Settings) -> ClvProblem:
        features_dir, transactions = source.get("features_dir"), source.get("transactions")
        horizon = source.get("horizon_days")
        if bool(features_dir) == bool(transactions):
            raise SourceUsageError("give exactly one input: --features DIR or --transactions PATH")
        if transactions:
            missing = [flag for key, flag in _LOG_OPTIONS if not source.get(key)]
            if missing:
                raise SourceUsageError(f"--transactions needs {', '.join(missing)}")
            return problem_from_transactions(
                transactions, id_col=source["id_col"], date_col=source["date_col"],
                amount_col=source["amount_col"], calibration_end=source["calibration_end"],
                horizon_days=horizon or settings.horizon_days, seed=settings.seed,
                date_format=source.get("date_format"), header=not source.get("no_header"),
                quarantine_to=Path.cwd() / f"{Path(transactions).stem}.quarantine.csv",
                max_quarantine_share=settings.clv_log_max_quarantine_share)
        if any(source.get(k) for k in ("id_col", "date_col", "amount_col", "calibration_end", "date_format",
                                       "no_header")):
            raise SourceUsageError("--id/--date/--amount/--calibration-end/--date-format/--no-header go "
                                   "with --transactions")
        return problem_from_features(features_dir, data_dir=source.get("data_dir"), seed=settings.seed,
                                     horizon_days=horizon)

    def fingerprint(self, data: ClvProblem) -> pd.DataFrame:
        return data.train[[*data.features, LABEL]]

    def fit(self, data: ClvProblem, run: RunContext) -> Fitted:
        return train.fit(data, run)


FAMILY = ClvFamily()
