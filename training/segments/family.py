"""The segments family object (row ``segments`` of ``training.core.families.FAMILIES``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from training.core.family import Fitted, MonitoringSpec, ProfileSpec, RunContext, SourceOption, SourceUsageError
from training.core.gate_spec import GateSpec
from training.segments import gate, train
from training.segments.inputs import SegmentationInputError
from training.settings import Settings


class SegmentsFamily:
    name = "segments"
    default_model_name = "segments"
    summary = "Customer segments: algorithm and K chosen with Optuna, named personas, stable IDs."
    source_options = (
        SourceOption("--features", "features_dir", "Features folder (features.parquet + features_meta.json) "
                     "from `crmlab features`; the latest cutoff is segmented.", "dir"),
    )
    monitoring = MonitoringSpec(task="segments", numeric_outputs=("distance",),
                                categorical_outputs=("segment_name",), ignored_outputs=("segment_id",),
                                watched=("channel_share_", "cat_share_"))
    profile = ProfileSpec(outputs=("segment_id", "segment_name"))
    input_errors = (SegmentationInputError,)

    def gate(self) -> GateSpec:
        return gate.GATE

    def load(self, source: Mapping[str, Any], settings: Settings) -> train.SegmentsData:
        if not source.get("features_dir"):
            raise SourceUsageError("give the input: --features DIR")
        return train.SegmentsData.build(source["features_dir"], seed=settings.seed)

    def fingerprint(self, data: train.SegmentsData) -> pd.DataFrame:
        return data.fingerprint()

    def fit(self, data: train.SegmentsData, run: RunContext) -> Fitted:
        return train.fit(data, run)


FAMILY = SegmentsFamily()
