"""Ranked profile attributes come from the schema file (via the features' metadata), never from constants."""

from __future__ import annotations

import numpy as np

from training.segments.inputs import numeric_matrix, select_features
from training.world.segment_features import synthetic_features


def test_without_a_declared_ranking_no_attribute_is_read_as_ordinal():
    frame, _ = synthetic_features(300, seed=1)
    frame.attrs["features_meta"] = {}

    spec = select_features(frame)

    assert "profile" not in spec.groups and spec.ordinal == {}
    assert "plan" not in spec.columns and "age_band" not in spec.columns


def test_a_declared_ranking_is_followed_whatever_its_values():
    frame, _ = synthetic_features(300, seed=1)
    frame["tier"] = np.resize(["gold", "bronze", "silver", "platinum"], len(frame))
    frame.attrs["features_meta"] = {"ordinal": {"tier": ["bronze", "silver", "gold"]}}  # platinum: undeclared

    spec = select_features(frame)
    matrix = numeric_matrix(frame, spec)

    assert spec.groups["profile"] == ("tier",)
    ranks = matrix[:4, spec.columns.index("tier")]
    np.testing.assert_array_equal(ranks[:3], [2.0, 0.0, 1.0])
    assert np.isnan(ranks[3])  # a value outside the declared ranking is scored as missing
