"""Performance estimated without labels, from calibrated probabilities (confidence-based estimation).

Before the outcome window has elapsed there are no labels, but a calibrated churn probability ``p`` says
how likely each row is to be positive. Treat each row as a positive with weight ``p`` and a negative with
weight ``1 - p``: sweeping the threshold over the sorted scores gives the *expected* true- and
false-positive counts, hence an expected ROC curve and its area (the approach of NannyML's CBPE). The
expected churn rate is the mean probability. Both are only as good as the calibration: the estimate
holds under covariate shift (the inputs change, P(y|x) does not), not under concept drift, which only
labels reveal.
"""

# No ``from __future__ import annotations``: Evidently's pydantic-v1 metric models need real annotations.

import numpy as np
from evidently.core.datasets import Dataset
from evidently.core.metric_types import SingleValueCalculation, SingleValueMetric

from monitoring.evidently_glue import column_values, labelled, value_pair


def expected_roc_auc(p: np.ndarray) -> float:
    """Area under the expected ROC curve when row i is positive with probability ``p[i]``."""
    p = np.asarray(p, dtype=float)
    p = p[~np.isnan(p)]
    if p.size == 0:
        raise ValueError("no probabilities to estimate from: the batch has no scored rows")
    positives, negatives = p.sum(), (1.0 - p).sum()
    if positives <= 0 or negatives <= 0:
        raise ValueError("all probabilities are 0 or all are 1: the expected ROC curve is undefined")
    order = np.argsort(-p, kind="stable")
    ordered = p[order]
    # One ROC point per distinct score (tied rows move together, as for a measured ROC).
    last_of_group = np.r_[np.flatnonzero(np.diff(ordered) != 0), ordered.size - 1]
    tp = np.cumsum(ordered)[last_of_group]
    fp = np.cumsum(1.0 - ordered)[last_of_group]
    tpr = np.r_[0.0, tp / positives]
    fpr = np.r_[0.0, fp / negatives]
    return float(np.trapezoid(tpr, fpr))


def expected_positive_rate(p: np.ndarray) -> float:
    """Expected share of positives (e.g. churners) among the scored rows."""
    p = np.asarray(p, dtype=float)
    p = p[~np.isnan(p)]
    if p.size == 0:
        raise ValueError("no probabilities to estimate from: the batch has no scored rows")
    return float(p.mean())


def measured_roc_auc(y: np.ndarray, p: np.ndarray) -> float | None:
    """ROC AUC on labelled rows, or None when only one class is present."""
    from sklearn.metrics import roc_auc_score

    if len(np.unique(y)) < 2:
        return None
    return float(roc_auc_score(y, p))


class EstimatedRocAuc(SingleValueMetric):
    """Expected ROC AUC from calibrated probabilities (no labels needed)."""

    probas: str


class EstimatedRocAucCalculation(SingleValueCalculation[EstimatedRocAuc]):
    def calculate(self, context, current_data: Dataset, reference_data: Dataset | None):
        current = expected_roc_auc(column_values(current_data, self.metric.probas).to_numpy())
        ref = column_values(reference_data, self.metric.probas)
        return value_pair(self, current, None if ref is None else expected_roc_auc(ref.to_numpy()))

    def display_name(self) -> str:
        return f"Estimated ROC AUC (from calibrated {self.metric.probas}, no labels)"


class ExpectedPositiveRate(SingleValueMetric):
    """Expected share of positives: the mean calibrated probability."""

    probas: str


class ExpectedPositiveRateCalculation(SingleValueCalculation[ExpectedPositiveRate]):
    def calculate(self, context, current_data: Dataset, reference_data: Dataset | None):
        current = expected_positive_rate(column_values(current_data, self.metric.probas).to_numpy())
        ref = column_values(reference_data, self.metric.probas)
        return value_pair(self, current, None if ref is None else expected_positive_rate(ref.to_numpy()))

    def display_name(self) -> str:
        return f"Expected positive rate (mean {self.metric.probas})"


class RocAucDrop(SingleValueMetric):
    """Reference AUC minus current AUC: measured when ``target`` is given, else estimated (CBPE)."""

    probas: str
    reference_auc: float
    reference_source: str = "reference"
    target: str | None = None


class RocAucDropCalculation(SingleValueCalculation[RocAucDrop]):
    def calculate(self, context, current_data: Dataset, reference_data: Dataset | None):
        current = current_auc(current_data, self.metric.probas, self.metric.target)
        return value_pair(self, self.metric.reference_auc - current, None)

    def display_name(self) -> str:
        how = "measured" if self.metric.target else "estimated"
        return f"ROC AUC drop ({self.metric.reference_source} minus current {how})"


def current_auc(data: Dataset, probas: str, target: str | None) -> float:
    """Measured AUC when labels are given (and both classes occur), else the CBPE estimate."""
    if target is not None:
        pair = labelled(data, target, probas)
        if pair is None:
            raise ValueError(f"label column {target!r} is missing from the monitored batch")
        auc = measured_roc_auc(*pair)
        if auc is not None:
            return auc
    return expected_roc_auc(column_values(data, probas).to_numpy())
