"""The one reader of a features directory for model families: the table, its ``features_meta.json``, and
which columns are model inputs.

Rule (every family): inputs are the meta's ``features`` (or ``feature_columns``; a list of names, of
``{"name": ...}`` records, or a mapping) present in the table, else every column, minus the family's
keys and labels. A column is categorical when the meta declares it (``categorical_features``) or when it
holds text; numeric and boolean columns are numeric; anything else (dates, nested values) is left out
with a note. Listed columns missing from the table are left out with a note, so a family trains on the
subset of features a user's data supports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd


@dataclass
class FeatureColumns:
    features: list[str]
    categorical: list[str]
    notes: list[str] = field(default_factory=list)


def read_features_dir(features_dir: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``features.parquet`` (catalog dtypes restored) and its metadata; FileNotFoundError when absent."""
    from training.features.output import read_features

    return read_features(Path(features_dir))


def model_inputs(frame: pd.DataFrame, meta: dict[str, Any], exclude: set[str] | frozenset[str]) -> FeatureColumns:
    """The model inputs of ``frame`` by the rule in the module docstring."""
    listed = meta.get("feature_columns") or meta.get("features")
    if isinstance(listed, dict):
        listed = list(listed)
    if isinstance(listed, list) and listed and isinstance(listed[0], dict):
        listed = [item.get("name") for item in listed]
    notes = []
    absent = [c for c in (listed or []) if c not in frame.columns and c not in exclude]
    if absent:
        notes.append(f"feature(s) listed in features_meta.json but not in the table: {', '.join(absent)} "
                     "(not used)")
    declared = set(meta.get("categorical_features") or [])
    features, categorical = [], []
    for col in (c for c in (listed or frame.columns) if c in frame.columns and c not in exclude):
        values = frame[col]
        if col in declared:
            features.append(col)
            categorical.append(col)
        elif pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            features.append(col)
        elif (pd.api.types.is_string_dtype(values) or pd.api.types.is_object_dtype(values)
              or isinstance(values.dtype, pd.CategoricalDtype)):
            features.append(col)
            categorical.append(col)
        else:
            notes.append(f"feature {col!r} ({values.dtype}) is neither numeric nor text: not used")
    return FeatureColumns(features, categorical, notes)
