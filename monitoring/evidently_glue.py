"""Small helpers crmlab's custom Evidently metrics share (Evidently 0.7 ``core`` API).

A custom metric is a ``SingleValueMetric`` subclass (its alias becomes ``evidently:metric_v2:<Class>``,
which dashboards refer to) plus a ``SingleValueCalculation`` subclass bound to it by its generic
parameter. Results carry the current value and, when the reference sample has the needed columns, the
reference value, so reports show both side by side. (The ``monitoring`` package, imported first as
every submodule's parent, sets ``DO_NOT_TRACK`` before Evidently loads.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from evidently.core.datasets import Dataset
from evidently.core.metric_types import SingleValueCalculation
from evidently.legacy.model.widget import BaseWidgetInfo
from evidently.legacy.renderers.html_widgets import CounterData, WidgetSize, counter, table_data


def column_values(dataset: Dataset | None, name: str | None) -> pd.Series | None:
    """The column as a Series, or None when the dataset or the column is absent."""
    if dataset is None or name is None:
        return None
    frame = dataset.as_dataframe()
    return frame[name] if name in frame.columns else None


def labelled(dataset: Dataset | None, target: str | None, probas: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(labels, probabilities) of the rows that have both, or None when a column is missing."""
    y, p = column_values(dataset, target), column_values(dataset, probas)
    if y is None or p is None:
        return None
    keep = y.notna().to_numpy() & p.notna().to_numpy()
    return y.to_numpy()[keep].astype(float), p.to_numpy()[keep].astype(float)


def value_pair(calc: SingleValueCalculation, current: float, reference: float | None,
               extra: list[BaseWidgetInfo] | None = None):
    """A (current, reference) result with counters for both and optional extra widgets."""
    title = calc.display_name()
    counters = [CounterData(label="current", value=_fmt(current))]
    if reference is not None:
        counters.append(CounterData(label="reference", value=_fmt(reference)))
    result = calc.result(float(current))
    result.widget = [counter(title=title, size=WidgetSize.FULL, counters=counters), *(extra or [])]
    if reference is None:
        return result
    return result, calc.result(float(reference))


def table_widget(title: str, frame: pd.DataFrame) -> BaseWidgetInfo:
    """A plain table (numbers rounded) for small breakdowns such as calibration by risk band."""
    rows = [[_fmt(v) if isinstance(v, float) else v for v in row] for row in frame.itertuples(index=False)]
    return table_data(title=title, column_names=[str(c) for c in frame.columns], data=rows)


def _fmt(value: float) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:0.4f}"

