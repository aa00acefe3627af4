"""The churn family object (row ``churn`` of ``training.core.families.FAMILIES``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from training.churn import gate, train
from training.churn.inputs import ChurnData, ChurnInputError
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
from training.core.tabular import TableError
from training.settings import Settings


class ChurnFamily:
    name = "churn"
    default_model_name = "churn"
    summary = "Churn probability: tuned LightGBM vs logistic baseline, calibrated, with reasons."
    source_options = (
        FEATURES_OPTION,
        SourceOption("--table", "table", "A customer table (CSV or Parquet) instead of crmlab features.", "file"),
        SourceOption("--target", "target", "Target column of --table (binary, or see --positive)."),
        SourceOption("--id", "id_col", "Customer id column of --table (unique per row)."),
        SourceOption("--positive", "positive", "Target value meaning 'churned' (needed when the target is "
                     "not yes/no, true/false, 1/0)."),
    )
    monitoring = MonitoringSpec(
        task="binary", numeric_outputs=("churn_probability",), categorical_outputs=("risk_band",),
        label="churned", score="churn_probability", group="risk_band", ignored_outputs=("top_reasons",),
        active_population=True,
        watched=("sessions_30d", "sessions_90d", "page_views_30d", "page_views_90d", "cart_adds_30d", "cart_adds_90d",
                 "orders_90d", "days_since_last_session", "channel_share_"))
    profile = ProfileSpec(outputs=("churn_probability", "risk_band", "top_reasons"), required=True)
    input_errors = (ChurnInputError, TableError)

    def gate(self) -> GateSpec:
        return gate.GATE

    def load(self, source: Mapping[str, Any], settings: Settings) -> ChurnData:
        features_dir, table = source.get("features_dir"), source.get("table")
        if bool(features_dir) == bool(table):
            raise SourceUsageError("give exactly one input: --features DIR or --table PATH")
        if table and not (source.get("target") and source.get("id_col")):
            raise SourceUsageError("--table needs --target COL and --id COL")
        if features_dir and any(source.get(k) for k in ("target", "id_col", "positive")):
            raise SourceUsageError("--target/--id/--positive go with --table")
        data = train.load_churn_data(features_dir, table=table, target=source.get("target"),
                                     id_col=source.get("id_col"), positive=source.get("positive"))
        train.prepare(data, settings.seed)  # a table too small to split is refused before a run starts
        return data

    def fingerprint(self, data: ChurnData) -> pd.DataFrame:
        return data.frame

    def fit(self, data: ChurnData, run: RunContext) -> Fitted:
        return train.fit(data, run)


FAMILY = ChurnFamily()
