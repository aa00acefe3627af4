"""``ChurnModel``: the served churn pyfunc (``models:/churn@champion``).

Input: one row per customer with the model's feature columns (the model card lists them; extra columns
such as ``customer_id`` are ignored). Required: numeric features that were never missing in training.
Optional: every other feature (absent or null is scored as missing); unseen categories are scored as
missing. Bad input raises ``MlflowException(INVALID_PARAMETER_VALUE)`` naming the column, never values.

Output (same index and order as the input rows):

- ``churn_probability``: calibrated probability of churning within the label horizon;
- ``risk_band``: ``low`` (p < 0.2), ``medium`` (0.2 <= p < 0.5), ``high`` (p >= 0.5). The bands are
  fixed on calibrated probabilities so that they mean the same thing across retrained versions:
  "high" = more likely than not to churn; "low" = below about the base rate of a healthy base;
- ``top_reasons``: the 3 strongest per-customer reasons as text (see ``training.churn.explain``); null
  when the inference parameter ``reasons`` is false. Inference parameter ``reasons_method``: ``path``
  (default; path-based contributions from the leaves each customer reaches, about 2x a plain
  prediction, see ``training.core.lgbm_contrib``) or ``shap`` (exact tree SHAP, ``pred_contrib``, about
  15x). Both rank the raw model's log-odds contributions; calibration is monotone, so the direction and
  order hold for ``churn_probability`` too. Batch jobs that do not need reasons pass ``reasons=false``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from training.churn.calibration import Calibrator
from training.churn.explain import top_reasons
from training.core.lgbm_contrib import METHODS, PATH
from training.core.pyfunc_base import InputSpec, ValidatedPyfunc, param_choice, param_flag
from training.core.tabular import TableSchema

RISK_BANDS: tuple[tuple[str, float], ...] = (("low", 0.2), ("medium", 0.5))  # upper bounds; else "high"
HIGH = "high"
OUTPUT_COLUMNS = ("churn_probability", "risk_band", "top_reasons")


def risk_band(p: np.ndarray) -> np.ndarray:
    """Band names for calibrated probabilities (thresholds in ``RISK_BANDS``)."""
    p = np.asarray(p, dtype=float)
    return np.select([p < bound for _, bound in RISK_BANDS], [name for name, _ in RISK_BANDS], HIGH)


class ChurnModel(ValidatedPyfunc):
    """Scorer (LightGBM, logistic or their blend) + calibrator + explanations behind crmlab's input validation."""

    PARAMS: ClassVar[dict[str, Any]] = {"reasons": True, "reasons_method": PATH}

    def __init__(self, spec: InputSpec, scorer, calibrator: Calibrator, *,
                 table_schema: TableSchema | None = None, labels: dict[str, str] | None = None) -> None:
        super().__init__(spec)
        self.scorer = scorer
        self.calibrator = calibrator
        self.table_schema = table_schema
        self.labels = labels or {}

    def load_context(self, context) -> None:
        super().load_context(context)
        self.scorer.prepare_explainer()  # the first request does not pay for building the explainer

    def preprocess(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A model trained from a user table parses raw columns exactly as training did."""
        if self.table_schema is None:
            return frame
        return self.table_schema.apply(frame, strict=True)

    def probabilities(self, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(raw, calibrated) probabilities for validated features."""
        raw = self.scorer.raw_proba(features)
        return raw, self.calibrator.apply(raw)

    def predict_frame(self, features: pd.DataFrame, params=None) -> pd.DataFrame:
        _, p = self.probabilities(features)
        reasons = [None] * len(features)
        if param_flag(params, "reasons", True):
            method = param_choice(params, "reasons_method", PATH, METHODS)
            reasons = top_reasons(self.scorer.contributions(features, method), features, labels=self.labels)
        return pd.DataFrame({"churn_probability": p, "risk_band": risk_band(p), "top_reasons": reasons},
                            index=features.index)
