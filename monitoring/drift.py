"""Data and prediction drift between a current batch and the champion's reference sample (Evidently).

One ``ValueDrift`` per column, each computed once: the share of drifted important features
(:class:`DriftedFeatureShare`) reads those same results from the report's cache instead of running
``DataDriftPreset``, which computes every column twice (its count metric plus one per column) and is
2-3x slower at 100k rows. Feature columns use the method Evidently chooses (by sample size and type,
recorded per column in the snapshot) unless the policy names one; numeric model outputs use the
policy's prediction-drift method (normed Wasserstein by default) so their score has one meaning at any
batch size. Categorical outputs (risk bands, CLV tiers, segments) are compared by share change.
"""

# No ``from __future__ import annotations``: Evidently's pydantic-v1 metric models need real annotations.
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from evidently.core.datasets import Dataset
from evidently.core.metric_types import SingleValueCalculation, SingleValueMetric, TestStatus
from evidently.metrics import ValueDrift

from monitoring.evidently_glue import column_values, table_widget, value_pair


def value_drift(column: str, method: str | None = None, threshold: float | None = None) -> ValueDrift:
    """The one way crmlab builds a ValueDrift, so every reader finds the same cached result."""
    return ValueDrift(column=column, method=method, threshold=threshold)


class DriftedFeatureShare(SingleValueMetric):
    """Share of the listed (important) features whose ValueDrift detected drift."""

    columns: list[str]
    method: str | None = None
    threshold: float | None = None


class DriftedFeatureShareCalculation(SingleValueCalculation[DriftedFeatureShare]):
    def calculate(self, context, current_data: Dataset, reference_data: Dataset | None):
        if not self.metric.columns:
            raise ValueError("DriftedFeatureShare needs at least one column")
        rows = []
        for column in self.metric.columns:
            result = context.calculate_metric(value_drift(column, self.metric.method,
                                                          self.metric.threshold).to_calculation())
            if not result.tests:
                raise ValueError("drift share needs the per-column drift tests: run the Report with "
                                 "include_tests=True")
            params = result.metric_value_location.metric.params
            rows.append({"column": column, "method": params.get("method"), "score": float(result.value),
                         "threshold": params.get("threshold"),
                         "drifted": any(t.status == TestStatus.FAIL for t in result.tests)})
        table = pd.DataFrame(rows)
        share = float(table["drifted"].mean())
        widget = table_widget("Important features: drift per column", table)
        return value_pair(self, share, None, [widget])

    def display_name(self) -> str:
        return f"Share of drifted important features ({len(self.metric.columns)} features)"


class CategoryShareShift(SingleValueMetric):
    """Largest absolute change in any category's share (segments, risk bands, CLV tiers)."""

    column: str


class CategoryShareShiftCalculation(SingleValueCalculation[CategoryShareShift]):
    def calculate(self, context, current_data: Dataset, reference_data: Dataset | None):
        ref = column_values(reference_data, self.metric.column)
        if ref is None:
            raise ValueError(f"share shift of {self.metric.column!r} needs the column in the reference sample")
        table = share_table(column_values(current_data, self.metric.column), ref)
        return value_pair(self, float(table["change"].abs().max()), None,
                          [table_widget(f"Shares of {self.metric.column}", table)])

    def display_name(self) -> str:
        return f"Largest share change of a {self.metric.column} value"


def share_table(current: pd.Series, reference: pd.Series) -> pd.DataFrame:
    """Share of each value (missing counted as '(none)') in both samples, and the change."""
    def shares(values: pd.Series) -> pd.Series:
        return values.astype(object).where(values.notna(), "(none)").astype(str).value_counts(normalize=True)

    both = pd.concat([shares(current).rename("current"), shares(reference).rename("reference")], axis=1)
    both = both.fillna(0.0).sort_index()
    both["change"] = both["current"] - both["reference"]
    return both.rename_axis("value").reset_index()


@dataclass
class ColumnDrift:
    column: str
    role: str  # "feature" or "prediction"
    method: str | None
    score: float
    threshold: float | None
    drifted: bool


@dataclass
class DriftSummary:
    """Per-column drift read back from the snapshot, plus the derived shares."""

    columns: list[ColumnDrift]
    important: list[str]
    important_share: float | None
    share_shift: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def drifted_features(self) -> list[str]:
        return [c.column for c in self.columns if c.role == "feature" and c.drifted]

    @property
    def drifted_important(self) -> list[str]:
        return [c for c in self.drifted_features if c in set(self.important)]

    @property
    def feature_share(self) -> float:
        features = [c for c in self.columns if c.role == "feature"]
        return float(np.mean([c.drifted for c in features])) if features else 0.0

    def prediction(self) -> list[ColumnDrift]:
        return [c for c in self.columns if c.role == "prediction"]

    def to_dict(self) -> dict:
        return {
            "feature_share": self.feature_share, "important_share": self.important_share,
            "important": self.important, "drifted_features": self.drifted_features,
            "drifted_important": self.drifted_important, "share_shift": self.share_shift,
            "skipped": self.skipped, "columns": [c.__dict__ for c in self.columns],
        }


def summarize(snapshot_dict: dict, features: list[str], predictions: list[str], important: list[str],
              skipped: dict[str, str]) -> DriftSummary:
    """Read per-column method, threshold, score and verdict from an Evidently snapshot dict."""
    status = _test_status_by_metric(snapshot_dict)
    roles = {**{c: "feature" for c in features}, **{c: "prediction" for c in predictions}}
    columns: list[ColumnDrift] = []
    important_share = None
    share_shift: dict[str, float] = {}
    for metric in snapshot_dict["metrics"]:
        config = metric.get("config", {})
        kind = config.get("type", "")
        if kind.endswith(":ValueDrift") and config.get("column") in roles:
            columns.append(ColumnDrift(
                column=config["column"], role=roles[config["column"]], method=config.get("method"),
                score=float(metric["value"]), threshold=config.get("threshold"),
                drifted="FAIL" in status.get(metric["id"], ()),
            ))
        elif kind.endswith(":DriftedFeatureShare"):
            important_share = float(metric["value"])
        elif kind.endswith(":CategoryShareShift"):
            share_shift[config["column"]] = float(metric["value"])
    return DriftSummary(columns, important, important_share, share_shift, skipped)


def _test_status_by_metric(snapshot_dict: dict) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for test in snapshot_dict.get("tests", []):
        metric_id = test.get("metric_config", {}).get("metric_id")
        status = test.get("status")
        out.setdefault(metric_id, set()).add(str(getattr(status, "value", status)))
    return out


def split_columns(reference: pd.DataFrame, current: pd.DataFrame,
                  candidates: list[str]) -> tuple[list[str], list[str], dict[str, str]]:
    """(numeric, categorical, skipped-with-reason) among ``candidates`` present in both frames."""
    numeric, categorical, skipped = [], [], {}
    for col in candidates:
        if col not in current.columns or col not in reference.columns:
            skipped[col] = "absent from the current batch" if col not in current.columns else "absent from reference"
            continue
        if reference[col].isna().all() or current[col].isna().all():
            skipped[col] = "entirely null in the current batch or the reference sample"
            continue
        values = reference[col]
        if pd.api.types.is_datetime64_any_dtype(values):
            skipped[col] = "date column (drift is measured on derived numeric features)"
        elif pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
            categorical.append(col)
        else:
            numeric.append(col)
    return numeric, categorical, skipped
