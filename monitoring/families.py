"""What monitoring needs to know about each model family: its outputs, its label and its task.

Read from the families' own ``monitoring`` specs (``training.core.families.FAMILIES``, one row per
family), so a family added there is monitored without an edit here and a renamed output breaks loudly.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import pandas as pd

from training.core.families import all_families
from training.core.family import MonitoringSpec, MonitoringTask

Task = MonitoringTask


@dataclass(frozen=True)
class FamilySpec(MonitoringSpec):
    """A family's ``MonitoringSpec`` with its name."""

    family: str = ""


def _spec(name: str, spec: MonitoringSpec) -> FamilySpec:
    return FamilySpec(family=name, **{f.name: getattr(spec, f.name) for f in fields(MonitoringSpec)})


FAMILIES: dict[str, FamilySpec] = {f.name: _spec(f.name, f.monitoring) for f in all_families() if f.monitoring}

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
