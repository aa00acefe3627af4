"""LightGBM prediction on validated feature frames, without pandas' categorical round trip.

``Booster.predict(DataFrame)`` copies the frame, re-categorises every categorical column against the
training categories and only then hands a float matrix to C++; for one customer that costs more than
the trees. Here the matrix is built directly: numeric columns as float64, categorical columns as the
training category codes (``booster.pandas_categorical``; unseen or null -> NaN, which LightGBM scores
as missing, exactly as its own pandas path does).

Small batches predict on one thread: starting OpenMP threads costs more than a few rows of trees, and
a server already runs one request per worker process. Large batches use LightGBM's default threads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

SINGLE_THREAD_ROWS = 2_000  # below this many rows, one thread is faster than an OpenMP team
_SMALL_LOOKUP = 64           # below this many rows, a dict lookup beats building a pandas Categorical


def booster_matrix(booster: Any, frame: pd.DataFrame, features: Sequence[str],
                   categorical: Sequence[str]) -> np.ndarray:
    """The C-contiguous float64 matrix LightGBM would build from ``frame[features]`` itself."""
    categories = _category_codes(booster, features, categorical)
    matrix = np.empty((len(frame), len(features)), dtype=np.float64)
    for j, col in enumerate(features):
        values = frame[col]
        if col in categories:
            matrix[:, j] = _codes(values, categories[col])
        else:
            matrix[:, j] = values.to_numpy(dtype=np.float64, na_value=np.nan)
    return matrix


def predict(booster: Any, matrix: np.ndarray, **kwargs: Any) -> np.ndarray:
    """``booster.predict`` with one thread for small batches (``kwargs`` e.g. ``pred_contrib=True``)."""
    if len(matrix) < SINGLE_THREAD_ROWS:
        kwargs.setdefault("num_threads", 1)
    return np.asarray(booster.predict(matrix, **kwargs))


def _category_codes(booster: Any, features: Sequence[str], categorical: Sequence[str]
                    ) -> dict[str, tuple[list, dict]]:
    """column -> (training categories, value -> code), cached on the booster (it never changes)."""
    cached = getattr(booster, "_crmlab_category_codes", None)
    key = (tuple(features), tuple(categorical))
    if cached is not None and cached[0] == key:
        return cached[1]
    ordered = [c for c in features if c in set(categorical)]  # the order LightGBM stored them in
    stored = booster.pandas_categorical or []
    if len(stored) != len(ordered):
        raise ValueError(f"the booster knows {len(stored)} categorical column(s), the model lists "
                         f"{len(ordered)}: the model's feature list does not match its booster")
    codes = {col: (list(cats), {v: float(i) for i, v in enumerate(cats)})
             for col, cats in zip(ordered, stored, strict=True)}
    booster._crmlab_category_codes = (key, codes)
    return codes


def _codes(values: pd.Series, categories: tuple[list, dict]) -> np.ndarray:
    known, lookup = categories
    if len(values) < _SMALL_LOOKUP:
        return np.array([lookup.get(v, np.nan) for v in values], dtype=np.float64)
    codes = pd.Categorical(values, categories=known).codes.astype(np.float64)
    codes[codes < 0] = np.nan
    return codes
