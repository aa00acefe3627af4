"""What monitoring needs to know about each model family: its outputs, its label and its task.

The families' pyfuncs define these columns (docs/DATA_MODEL.md, each family's model card); this table
is the one place monitoring names them, so a renamed output breaks here loudly, not in a report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

Task = Literal["binary", "regression", "segments"]


@dataclass(frozen=True)
class FamilySpec:
    family: str
    task: Task
    numeric_outputs: tuple[str, ...]            # prediction-drift columns (numeric outputs)
    categorical_outputs: tuple[str, ...] = ()   # share-shift columns (bands, tiers, segments)
    label: str | None = None                    # ground truth, once the window has elapsed
    score: str | None = None                    # the output compared with the label
    group: str | None = None                    # output to break calibration down by
    ignored_outputs: tuple[str, ...] = field(default=())  # outputs not monitored (free text)
    active_population: bool = False             # only customers with an order in the active window

    @property
    def outputs(self) -> tuple[str, ...]:
        return self.numeric_outputs + self.categorical_outputs + self.ignored_outputs


FAMILIES: dict[str, FamilySpec] = {
    "churn": FamilySpec(
        family="churn", task="binary", numeric_outputs=("churn_probability",),
        categorical_outputs=("risk_band",), label="churned", score="churn_probability", group="risk_band",
        ignored_outputs=("top_reasons",), active_population=True,
    ),
    "clv": FamilySpec(
        family="clv", task="regression", numeric_outputs=("predicted_spend", "p_alive"),
        categorical_outputs=("clv_tier",), label="future_spend", score="predicted_spend", group="clv_tier",
    ),
    "segments": FamilySpec(
        family="segments", task="segments", numeric_outputs=("distance",),
        categorical_outputs=("segment_name",), ignored_outputs=("segment_id",),
    ),
}

# Columns of a feature frame that are never model inputs (keys and labels of every family).
NON_FEATURES = frozenset({"customer_id", "cutoff", *(s.label for s in FAMILIES.values() if s.label)})


def population_mask(spec: FamilySpec, frame: pd.DataFrame, active_window_days: int) -> pd.Series | None:
    """Rows the family models (None = all). Churn is defined for customers with an order in the active
    window (docs/FEATURES.md, label ``churned``): others are neither in its training data nor its reference."""
    if not spec.active_population:
        return None
    if "recency_days" in frame.columns:
        recency = pd.to_numeric(frame["recency_days"], errors="coerce")
        return recency.notna() & (recency <= active_window_days)
    if spec.label in frame.columns and frame[spec.label].notna().any():
        return frame[spec.label].notna()
    return None


def family_spec(family: str) -> FamilySpec:
    """The spec of ``family``; an unknown family is an error that lists the known ones."""
    try:
        return FAMILIES[family]
    except KeyError:
        raise ValueError(f"no monitoring spec for model family {family!r}; known families: "
                         f"{', '.join(sorted(FAMILIES))}") from None
