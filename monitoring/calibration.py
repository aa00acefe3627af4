"""Calibration once labels for a past window exist: ECE and Brier as Evidently metrics, plus crmlab's report.

ECE is ``training.core.evaluation.expected_calibration_error`` (10 fixed equal-width bins), the same
number the training run logged, so monitoring and training compare like with like. The Evidently
metrics put ECE and Brier into the same report as the drift checks, with the policy's threshold as a
test; :func:`calibration_summary` adds the reliability curve (PNG) and the breakdown by risk band.
"""

# No ``from __future__ import annotations``: Evidently's pydantic-v1 metric models need real annotations.
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from evidently.core.datasets import Dataset
from evidently.core.metric_types import SingleValueCalculation, SingleValueMetric
from sklearn.metrics import brier_score_loss

from monitoring.evidently_glue import column_values, labelled, table_widget, value_pair
from training.core.evaluation import ECE_BINS, expected_calibration_error, reliability_table


class ExpectedCalibrationError(SingleValueMetric):
    """ECE with fixed equal-width bins (crmlab's training definition)."""

    target: str
    probas: str
    bins: int = ECE_BINS
    group: str | None = None  # also show calibration per value of this column (e.g. risk_band)


class ExpectedCalibrationErrorCalculation(SingleValueCalculation[ExpectedCalibrationError]):
    def calculate(self, context, current_data: Dataset, reference_data: Dataset | None):
        cur = _pair(current_data, self.metric.target, self.metric.probas)
        ref = labelled(reference_data, self.metric.target, self.metric.probas)
        value = expected_calibration_error(*cur, bins=self.metric.bins)
        table = reliability_table(*cur, bins=self.metric.bins).rename(columns={"bin": "bin (x0.1)"})
        widgets = [table_widget("Reliability (current): observed rate vs mean predicted per bin", table)]
        groups = column_values(current_data, self.metric.group)
        if groups is not None:
            frame = current_data.as_dataframe()
            rows = (frame[self.metric.target].notna() & frame[self.metric.probas].notna()).to_numpy()
            widgets.append(table_widget(f"Calibration by {self.metric.group} (current)",
                                        by_group(*cur, groups[rows])))
        ref_value = None if ref is None else expected_calibration_error(*ref, bins=self.metric.bins)
        return value_pair(self, value, ref_value, widgets)

    def display_name(self) -> str:
        return f"Expected calibration error ({self.metric.bins} fixed bins) of {self.metric.probas}"


class BrierScore(SingleValueMetric):
    """Mean squared error of the probability: calibration and sharpness in one number."""

    target: str
    probas: str


class BrierScoreCalculation(SingleValueCalculation[BrierScore]):
    def calculate(self, context, current_data: Dataset, reference_data: Dataset | None):
        cur = _pair(current_data, self.metric.target, self.metric.probas)
        ref = labelled(reference_data, self.metric.target, self.metric.probas)
        return value_pair(self, _brier(*cur), None if ref is None else _brier(*ref))

    def display_name(self) -> str:
        return f"Brier score of {self.metric.probas}"


def _pair(data: Dataset, target: str, probas: str) -> tuple[np.ndarray, np.ndarray]:
    pair = labelled(data, target, probas)
    if pair is None or pair[0].size == 0:
        raise ValueError(f"calibration needs labels: column {target!r} is missing or empty in the batch "
                         "(run without --labels-available until the outcome window has elapsed)")
    return pair


def _brier(y: np.ndarray, p: np.ndarray) -> float:
    return float(brier_score_loss(y, p))


@dataclass
class CalibrationSummary:
    """crmlab's calibration report for one labelled batch."""

    rows: int
    ece: float
    brier: float
    observed_rate: float
    mean_predicted: float
    reliability: pd.DataFrame
    by_group: pd.DataFrame
    plot: Path | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "rows": self.rows, "ece": self.ece, "brier": self.brier, "observed_rate": self.observed_rate,
            "mean_predicted": self.mean_predicted, "reliability": self.reliability.to_dict("records"),
            "by_group": self.by_group.to_dict("records"), "plot": str(self.plot) if self.plot else None,
            "notes": self.notes,
        }


def calibration_summary(y: np.ndarray, p: np.ndarray, groups: pd.Series | None,
                        plot_path: Path | None = None) -> CalibrationSummary:
    """ECE, Brier, reliability table and curve, and the same numbers per group (e.g. risk band)."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    summary = CalibrationSummary(
        rows=int(y.size), ece=expected_calibration_error(y, p), brier=_brier(y, p),
        observed_rate=float(y.mean()), mean_predicted=float(p.mean()), reliability=reliability_table(y, p),
        by_group=by_group(y, p, groups),
    )
    if plot_path is not None:
        from training.core.plots import reliability_plot

        summary.plot = reliability_plot(y, {"current batch": p}, plot_path)
    return summary


def by_group(y: np.ndarray, p: np.ndarray, groups: pd.Series | None) -> pd.DataFrame:
    """Rows, mean predicted, observed rate, gap and ECE per group (a band's ECE uses the same bins)."""
    columns = ["group", "rows", "mean_predicted", "observed_rate", "gap", "ece"]
    if groups is None:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame({"group": np.asarray(groups, dtype=object), "y": y, "p": p})
    frame["group"] = frame["group"].fillna("(none)").astype(str)
    rows = []
    for name, part in frame.groupby("group", sort=True):
        predicted, observed = float(part["p"].mean()), float(part["y"].mean())
        rows.append({"group": name, "rows": len(part), "mean_predicted": predicted,
                     "observed_rate": observed, "gap": observed - predicted,
                     "ece": expected_calibration_error(part["y"].to_numpy(), part["p"].to_numpy())})
    return pd.DataFrame(rows, columns=columns)


class CalibrationInTheLarge(SingleValueMetric):
    """|(observed - expected positive rate) on the batch - the same gap on the reference|.

    The reference's own gap (measured out of sample, same season when available) is what the model
    normally misses by; a change of that gap beyond ``threshold`` (z binomial standard errors of both
    rates) means the relation between inputs and outcome moved: recalibrate or retrain.
    """

    target: str
    probas: str
    reference_gap: float
    threshold: float


class CalibrationInTheLargeCalculation(SingleValueCalculation[CalibrationInTheLarge]):
    def calculate(self, context, current_data: Dataset, reference_data: Dataset | None):
        y, p = _pair(current_data, self.metric.target, self.metric.probas)
        gap = float(y.mean() - p.mean())
        table = pd.DataFrame({"sample": ["current", "reference"], "observed minus expected": [gap,
                              self.metric.reference_gap]})
        return value_pair(self, abs(gap - self.metric.reference_gap), None,
                          [table_widget("Observed minus expected positive rate", table)])

    def display_name(self) -> str:
        return (f"Calibration in the large: change of (observed - expected) {self.metric.target} rate "
                f"(threshold {self.metric.threshold:.3f})")


def spend_bias(y: np.ndarray, pred: np.ndarray) -> float:
    """Total predicted over total actual spend, minus 1."""
    total = float(np.sum(y))
    return float(np.sum(pred) / total - 1.0) if total > 0 else float("nan")


def _mae(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean(np.abs(pred - y)))


def rank_quality(y: np.ndarray, pred: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(y, pred).statistic) if len(y) > 2 else float("nan")


class ClvBias(SingleValueMetric):
    """|spend bias on the batch - spend bias on the reference| (bias = total predicted / total actual - 1)."""

    target: str
    prediction: str
    threshold: float


class ClvBiasCalculation(SingleValueCalculation[ClvBias]):
    def calculate(self, context, current_data: Dataset, reference_data: Dataset | None):
        cur = _pair(current_data, self.metric.target, self.metric.prediction)
        ref = _pair(reference_data, self.metric.target, self.metric.prediction)
        b_cur, b_ref = spend_bias(*cur), spend_bias(*ref)
        table = pd.DataFrame({"sample": ["current", "reference"], "bias": [b_cur, b_ref],
                              "MAE": [_mae(*cur), _mae(*ref)]})
        return value_pair(self, abs(b_cur - b_ref), None, [table_widget("Spend bias and MAE", table)])

    def display_name(self) -> str:
        return f"Change of the spend bias vs the reference (threshold {self.metric.threshold:g})"


class RankDrop(SingleValueMetric):
    """Spearman correlation of prediction and outcome: reference minus batch."""

    target: str
    prediction: str


class RankDropCalculation(SingleValueCalculation[RankDrop]):
    def calculate(self, context, current_data: Dataset, reference_data: Dataset | None):
        cur = rank_quality(*_pair(current_data, self.metric.target, self.metric.prediction))
        ref = rank_quality(*_pair(reference_data, self.metric.target, self.metric.prediction))
        table = pd.DataFrame({"sample": ["current", "reference"], "spearman": [cur, ref]})
        return value_pair(self, ref - cur, None, [table_widget("Rank quality (Spearman)", table)])

    def display_name(self) -> str:
        return "Rank quality drop (Spearman, reference minus current)"
