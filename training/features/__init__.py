"""Point-in-time customer features and labels (see docs/FEATURES.md, generated from ``catalog``)."""

from training.features.build import FeatureSet, build_feature_set, build_features
from training.features.catalog import CATEGORICAL_FEATURES, FEATURE_NAMES, FEATURES, ID_NAMES, LABEL_NAMES, LABELS
from training.features.output import read_features, write_features

__all__ = [
    "CATEGORICAL_FEATURES",
    "FEATURES",
    "FEATURE_NAMES",
    "ID_NAMES",
    "LABELS",
    "LABEL_NAMES",
    "FeatureSet",
    "build_feature_set",
    "build_features",
    "read_features",
    "write_features",
]
