"""Readable explanations from per-feature log-odds contributions (tree SHAP or linear).

A customer's ``top_reasons`` are the 3 features with the largest absolute contribution to *their* score,
written as ``"<feature label>: <value>, raises risk"`` (positive contribution) or ``"lowers risk"``,
joined by ``"; "``. Direction is that of the raw model's log-odds; calibration is monotone, so it holds
for ``churn_probability`` too. Global importance is the mean absolute contribution.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TOP_REASONS = 3
SEPARATOR = "; "
_MIN_EFFECT = 1e-9


def global_importance(contributions: pd.DataFrame) -> pd.Series:
    """Mean |contribution| per feature, largest first."""
    return contributions.abs().mean().sort_values(ascending=False)


def feature_label(name: str, labels: dict[str, str] | None = None) -> str:
    """A person's name for a feature column (``days_since_last_order`` -> ``days since last order``)."""
    if labels and name in labels:
        return labels[name]
    return name.replace("_", " ").strip()


def format_value(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "missing"
    if isinstance(value, float | np.floating):
        return f"{int(value)}" if float(value).is_integer() else f"{value:.2f}"
    return str(value)


def top_reasons(contributions: pd.DataFrame, values: pd.DataFrame, *, labels: dict[str, str] | None = None,
                k: int = TOP_REASONS) -> list[str]:
    """One text per row: the ``k`` strongest contributions with the customer's own values."""
    names = [feature_label(c, labels) for c in contributions.columns]
    matrix = contributions.to_numpy()
    order = np.argsort(-np.abs(matrix), axis=1, kind="stable")[:, :k]
    raw = values[contributions.columns].to_numpy(dtype=object)
    texts = []
    for i, columns in enumerate(order):
        parts = [f"{names[j]}: {format_value(raw[i, j])}, {'raises' if matrix[i, j] > 0 else 'lowers'} risk"
                 for j in columns if abs(matrix[i, j]) > _MIN_EFFECT]
        texts.append(SEPARATOR.join(parts))
    return texts
