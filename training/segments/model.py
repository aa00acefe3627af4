"""The served segmentation model: features in; ``segment_id``, ``segment_name``, ``distance`` out.

Input rule (see ``training.core.pyfunc_base``): numeric features that were never missing in the
training data are required; the others may be absent or null and are imputed with the training median,
as in training. ``plan``/``age_band`` are categorical; unseen values are scored like missing ones.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.core.pyfunc_base import InputSpec, ValidatedPyfunc
from training.segments.pipeline import FittedSegmenter

OUTPUT_COLUMNS = ("segment_id", "segment_name", "distance")


class SegmentsModel(ValidatedPyfunc):
    """A fitted segmenter plus the stable ID and name of each of its internal clusters."""

    def __init__(self, segmenter: FittedSegmenter, label_to_id: dict[int, int], names: dict[int, str],
                 *, high_water: int, required: frozenset[str]) -> None:
        spec = segmenter.preprocessor.spec
        super().__init__(InputSpec(columns=spec.inputs, categorical=frozenset(spec.ordinal),
                                   required=required))
        self.segmenter = segmenter
        self.label_to_id = np.array([label_to_id[lab] for lab in range(segmenter.config.k)], dtype=np.int64)
        self.names = dict(names)
        self.high_water = high_water

    def predict_frame(self, features: pd.DataFrame, params=None) -> pd.DataFrame:
        labels, distance = self.segmenter.assign(features)
        ids = self.label_to_id[labels]
        return pd.DataFrame({
            "segment_id": ids,
            "segment_name": pd.Series(ids).map(self.names).astype(object).to_numpy(),
            "distance": distance,
        }, index=features.index)


def required_inputs(sample: pd.DataFrame, segmenter: FittedSegmenter) -> frozenset[str]:
    """Numeric features never missing in the training sample (the others are imputed at scoring)."""
    spec = segmenter.preprocessor.spec
    return frozenset(c for c in spec.inputs
                     if c not in spec.ordinal and not pd.to_numeric(sample[c], errors="coerce").isna().any())
