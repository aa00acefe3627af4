"""Point-in-time customer features and labels (see docs/FEATURES.md, generated from ``catalog``)."""

from training.features.build import FeatureSet, build_feature_set, build_features
from training.features.catalog import FEATURES, ID_NAMES, LABEL_NAMES, LABELS, Available, Vocabulary, feature_specs
from training.features.output import read_features, write_features

__all__ = [
    "FEATURES",
    "ID_NAMES",
    "LABELS",
    "LABEL_NAMES",
    "Available",
    "FeatureSet",
    "Vocabulary",
    "build_feature_set",
    "build_features",
    "feature_specs",
    "read_features",
    "write_features",
]
