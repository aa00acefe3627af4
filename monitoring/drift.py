"""Data and prediction drift between a current batch and its reference, as Evidently metrics.

Every column gets its own calibrated threshold (``monitoring.normal``). Numeric columns use Evidently's
``ValueDrift`` (normed Wasserstein); categorical ones crmlab's :class:`CategoryDrift` (Jensen-Shannon,
charted as shares). Input features carry no test of their own: the policy judges them together, as the
importance-weighted share of drifted groups of correlated features (:class:`WeightedDriftShare`, which
reads the per-column results from the report's cache), plus the family's watched inputs. Numeric model
outputs keep Evidently's drift test (each is a policy check); categorical outputs (risk bands, tiers,
segments) are judged by their largest share change (:class:`CategoryShareShift`).
"""

# No ``from __future__ import annotations``: Evidently's pydantic-v1 metric models need real annotations.
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from evidently.core.datasets import Dataset
from evidently.core.metric_types import SingleValueCalculation, SingleValueMetric
from evidently.metrics import ValueDrift

from monitoring.evidently_glue import column_values, table_widget, value_pair
from monitoring.normal import CATEGORICAL_METHOD, NUMERIC_METHOD, drift_score


def value_drift(column: str, threshold: float, method: str = NUMERIC_METHOD, *, judged: bool = False) -> ValueDrift:
    """The one way crmlab builds a ValueDrift, so every reader finds the same cached result.

    ``judged``: the column is itself a policy check (numeric model outputs) and keeps Evidently's drift
    test; input features carry no test of their own (the policy judges them together, by importance).
    """
    return ValueDrift(column=column, method=method, threshold=threshold, tests=None if judged else [])


class CategoryDrift(SingleValueMetric):
    """Jensen-Shannon distance of a categorical column, drawn as *shares* (bars of equal total height)."""

    column: str
    threshold: float


class CategoryDriftCalculation(SingleValueCalculation[CategoryDrift]):
    def calculate(self, context, current_data: Dataset, reference_data: Dataset | None):
        cur, ref = column_values(current_data, self.metric.column), column_values(reference_data, self.metric.column)
        if ref is None or cur is None:
            raise ValueError(f"drift of {self.metric.column!r} needs the column in both samples")
        score = drift_score(ref, cur, categorical=True)
        table = share_table(cur, ref)
        return value_pair(self, score, None, [share_chart(self.metric.column, table)])

    def display_name(self) -> str:
        return (f"Drift of {self.metric.column} (Jensen-Shannon; calibrated threshold "
                f"{self.metric.threshold:.3f})")


def column_score(context, column: str, categorical: bool, threshold: float) -> float:
    """The cached per-column drift score the report already computed for ``column``."""
    metric = (CategoryDrift(column=column, threshold=threshold, tests=[]) if categorical
              else value_drift(column, threshold))
    return float(context.calculate_metric(metric.to_calculation()).value)


class WeightedDriftShare(SingleValueMetric):
    """Importance-weighted share of drifted feature groups (or, with ``count``, how many columns drifted).

    Each column drifts when its score reaches its own calibrated threshold (``monitoring.normal``). A
    group of correlated columns counts once, with the weight of its heaviest member.
    """

    title: str
    columns: list[str]
    categorical: list[str]
    thresholds: list[float]
    weights: list[float]
    groups: list[int]
    count: bool = False


class WeightedDriftShareCalculation(SingleValueCalculation[WeightedDriftShare]):
    def calculate(self, context, current_data: Dataset, reference_data: Dataset | None):
        m = self.metric
        if not m.columns:
            raise ValueError("WeightedDriftShare needs at least one column")
        scores = [column_score(context, c, c in m.categorical, t) for c, t in zip(m.columns, m.thresholds, strict=True)]
        table = drift_table(m.columns, scores, m.thresholds, m.weights, m.groups)
        value = float(table["drifted"].sum()) if m.count else weighted_share(table)
        return value_pair(self, value, None, [table_widget(f"{m.title}: per column (most important first)",
                                                           table)])

    def display_name(self) -> str:
        return self.metric.title


class WatchedGroups(SingleValueMetric):
    """How many groups of watched inputs drifted: a group drifts when the mean of its members' drift
    scores reaches the group's calibrated threshold, or when one member's score reaches its own
    (``monitoring.watch``): a change spread over the members, or carried by one of them."""

    title: str
    columns: list[str]
    categorical: list[str]
    thresholds: list[float]        # per column (identifies each column's cached drift result)
    names: list[str]               # group names
    members: list[list[int]]       # positions in ``columns``
    group_thresholds: list[float]


class WatchedGroupsCalculation(SingleValueCalculation[WatchedGroups]):
    def calculate(self, context, current_data: Dataset, reference_data: Dataset | None):
        m = self.metric
        scores = [column_score(context, c, c in m.categorical, t) for c, t in zip(m.columns, m.thresholds, strict=True)]
        table = group_table(m.names, [[m.columns[i] for i in g] for g in m.members],
                            [[scores[i] for i in g] for g in m.members], m.group_thresholds,
                            [[m.thresholds[i] for i in g] for g in m.members])
        return value_pair(self, float(table["drifted"].sum()), None,
                          [table_widget(f"{m.title}: per group (mean of its members' scores)", table)])

    def display_name(self) -> str:
        return self.metric.title


def group_table(names: list[str], members: list[list[str]], scores: list[list[float]],
                thresholds: list[float], member_thresholds: list[list[float]]) -> pd.DataFrame:
    """One row per watched group: members, mean score, calibrated threshold, members over their own
    thresholds, drifted (the mean over the group's threshold, or any member over its own)."""
    over = [[c for c, v, t in zip(m, sc, ts, strict=True) if v >= t]
            for m, sc, ts in zip(members, scores, member_thresholds, strict=True)]
    table = pd.DataFrame({"group": names, "members": [", ".join(m) for m in members],
                          "score": [float(np.nanmean(s)) for s in scores], "threshold": thresholds,
                          "members_drifted": [", ".join(o) for o in over]})
    table["drifted"] = (table["score"] >= table["threshold"]) | table["members_drifted"].astype(bool)
    return table


def drift_table(columns: list[str], scores: list[float], thresholds: list[float], weights: list[float],
                groups: list[int]) -> pd.DataFrame:
    table = pd.DataFrame({"column": columns, "group": groups, "weight": weights, "score": scores,
                          "threshold": thresholds})
    table["drifted"] = table["score"] >= table["threshold"]
    return table.sort_values(["weight", "score"], ascending=False).reset_index(drop=True)


def weighted_share(table: pd.DataFrame) -> float:
    """Share of the total group weight carried by drifted groups (group weight = heaviest member)."""
    groups = table.groupby("group").agg(weight=("weight", "max"), drifted=("drifted", "any"))
    total = float(groups["weight"].sum())
    return float(groups.loc[groups["drifted"], "weight"].sum() / total) if total > 0 else 0.0


class CategoryShareShift(SingleValueMetric):
    """Largest absolute change in any category's share (segments, risk bands, CLV tiers)."""

    column: str
    threshold: float


class CategoryShareShiftCalculation(SingleValueCalculation[CategoryShareShift]):
    def calculate(self, context, current_data: Dataset, reference_data: Dataset | None):
        ref = column_values(reference_data, self.metric.column)
        if ref is None:
            raise ValueError(f"share shift of {self.metric.column!r} needs the column in the reference sample")
        table = share_table(column_values(current_data, self.metric.column), ref)
        return value_pair(self, float(table["change"].abs().max()), None,
                          [share_chart(self.metric.column, table), table_widget(f"Shares of {self.metric.column}",
                                                                                table)])

    def display_name(self) -> str:
        return (f"Largest share change of a {self.metric.column} value (threshold "
                f"{self.metric.threshold:.3f})")


def share_table(current: pd.Series, reference: pd.Series) -> pd.DataFrame:
    """Share of each value (missing counted as '(none)') in both samples, and the change."""
    def shares(values: pd.Series) -> pd.Series:
        return values.astype(object).where(values.notna(), "(none)").astype(str).value_counts(normalize=True)

    both = pd.concat([shares(current).rename("current"), shares(reference).rename("reference")], axis=1)
    both = both.fillna(0.0).sort_index()
    both["change"] = both["current"] - both["reference"]
    return both.rename_axis("value").reset_index()


def share_chart(column: str, table: pd.DataFrame):
    """Grouped bars of each value's share in the reference and the batch (shares, not counts)."""
    import plotly.graph_objects as go
    from evidently.legacy.renderers.html_widgets import plotly_figure

    figure = go.Figure([go.Bar(name="reference", x=table["value"], y=table["reference"], marker_color="#888"),
                        go.Bar(name="current", x=table["value"], y=table["current"], marker_color="#d62728")])
    figure.update_layout(barmode="group", yaxis_title="share of rows", yaxis_tickformat=".0%",
                         legend_orientation="h")
    return plotly_figure(title=f"{column}: share of rows per value", figure=figure)


def share_threshold(current: pd.Series, reference: pd.Series, earlier: pd.Series | None, *, margin: float,
                    floor: float) -> float:
    """Calibrated threshold of the largest share change: margin x max(3 binomial standard errors, the
    year-over-year change of any value's share), never below ``floor``."""
    table = share_table(current, reference)
    n_cur, n_ref = max(current.notna().sum(), 1), max(len(reference), 1)
    p = table["reference"].to_numpy(float)
    noise = float(np.max(3 * np.sqrt(p * (1 - p) * (1 / n_cur + 1 / n_ref)))) if len(p) else 0.0
    normal = 0.0
    if earlier is not None:
        normal = float(share_table(reference, earlier)["change"].abs().max())
    return max(floor, margin * max(noise, normal))


@dataclass
class ColumnDrift:
    column: str
    role: str  # "feature", "watched" (watched, not a model input), "watched group" or "prediction"
    method: str | None
    score: float
    threshold: float | None
    drifted: bool
    weight: float = 0.0
    noise: float | None = None
    normal: float | None = None
    members: tuple[str, ...] = ()  # a watched group's inputs
    members_drifted: tuple[str, ...] = ()  # ... those over their own thresholds


@dataclass
class DriftSummary:
    """Per-column drift read back from the snapshot (scores against calibrated thresholds)."""

    columns: list[ColumnDrift]
    important: list[str]
    weighted_share: float | None
    watched: list[str] = field(default_factory=list)
    share_shift: dict[str, float] = field(default_factory=dict)
    share_thresholds: dict[str, float] = field(default_factory=dict)
    groups: list[list[str]] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def drifted_features(self) -> list[str]:
        return [c.column for c in self.features() if c.drifted]

    @property
    def drifted_important(self) -> list[str]:
        return [c for c in self.drifted_features if c in set(self.important)]

    @property
    def drifted_watched(self) -> list[str]:
        """Drifted groups of watched inputs (a watched input in no group is a group of its own)."""
        return [c.column for c in self.columns if c.role == "watched group" and c.drifted]

    @property
    def feature_share(self) -> float:
        features = self.features()
        return float(np.mean([c.drifted for c in features])) if features else 0.0

    def features(self) -> list[ColumnDrift]:
        """Feature columns, most important first."""
        return sorted((c for c in self.columns if c.role == "feature"), key=lambda c: -c.weight)

    def prediction(self) -> list[ColumnDrift]:
        return [c for c in self.columns if c.role == "prediction"]

    def to_dict(self) -> dict:
        return {
            "feature_share": self.feature_share, "weighted_share": self.weighted_share,
            "important": self.important, "drifted_features": self.drifted_features,
            "drifted_important": self.drifted_important, "watched": self.watched,
            "drifted_watched": self.drifted_watched, "share_shift": self.share_shift,
            "share_thresholds": self.share_thresholds, "groups": [g for g in self.groups if len(g) > 1],
            "skipped": self.skipped,
            "columns": [c.__dict__ for c in self.features() + self.prediction()
                        + [c for c in self.columns if c.role == "watched"]],
            "watched_groups": [c.__dict__ for c in self.columns if c.role == "watched group"],
        }


def read_scores(snapshot_dict: dict) -> dict[str, tuple[str, float, float]]:
    """column -> (method, score, threshold) of every per-column drift metric in the snapshot."""
    out: dict[str, tuple[str, float, float]] = {}
    for metric in snapshot_dict["metrics"]:
        config = metric.get("config", {})
        kind = config.get("type", "")
        if kind.endswith(":ValueDrift"):
            out[config["column"]] = (config.get("method"), float(metric["value"]), float(config["threshold"]))
        elif kind.endswith(":CategoryDrift"):
            out[config["column"]] = (CATEGORICAL_METHOD, float(metric["value"]), float(config["threshold"]))
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
