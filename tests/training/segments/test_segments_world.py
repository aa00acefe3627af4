"""Segmentation on the generated world: raw tables -> ingest -> features -> segments vs the known truth."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from training.segments.inputs import select_features
from training.segments.search import SearchData, SearchSpace, choose_segmenter
from training.segments.train import train_segments
from training.settings import get_settings
from training.tracking import tracked_run

CUTOFF = date(2025, 10, 1)
SPACE = SearchSpace(k_min=3, k_max=7, fit_rows=2000, eval_rows=800, resamples=2)


@pytest.fixture(scope="module")
def world_features(tmp_path_factory) -> tuple[pd.DataFrame, np.ndarray]:
    """A 1,500-customer world (no dirt) built once; its own tracking store so no test's store is touched."""
    from training.features.build import build_features
    from training.ingest.pipeline import ingest
    from training.world.config import WorldConfig
    from training.world.generate import generate_world
    from training.world.store import write_world

    home = tmp_path_factory.mktemp("segments_world")
    settings = get_settings(tracking_uri=f"sqlite:///{home / 'mlflow.db'}", demo=True)
    world = generate_world(WorldConfig(n_customers=1500, seed=5, dirt_rate=0.0))
    write_world(world, home / "raw")
    ingest(home / "raw", Path(home / "clean"), settings, progress=False)
    features = build_features(home / "clean", [CUTOFF], 90, settings)
    truth = world.truth_customers.set_index("customer_id")["segment"].reindex(features["customer_id"])
    return features, truth.to_numpy()


def test_world_features_segment_end_to_end(world_features):
    features, _ = world_features
    assert features["recency_days"].isna().any()  # never-buyers: structural gaps the space must fill
    result = train_segments(features, settings=get_settings(), trials=6, seed=0, space=SPACE)
    assert len(set(result.names.values())) == result.config.k
    assert result.quality.min_share >= SPACE.min_share
    served = mlflow.pyfunc.load_model(f"models:/segments/{result.version}")
    out = served.predict(features.head(200))
    assert (out["segment_id"].to_numpy() == result.assignments["segment_id"].head(200).to_numpy()).all()


def test_world_segments_match_truth_at_chosen_k(world_features, tmp_path):
    features, truth = world_features
    data = SearchData.build(features, select_features(features), SPACE, seed=0)
    with tracked_run(get_settings(), "segments-search-test"):
        result = choose_segmenter(data, SPACE, trials=10, timeout=None, seed=0, study_name="world",
                                  storage=f"sqlite:///{tmp_path / 'optuna.db'}", settings=get_settings())
    labels, _ = result.best.model.assign(features)
    ari = adjusted_rand_score(truth, labels)
    assert ari >= 0.7, f"{result.best.config.label()}: ARI with the truth {ari:.2f}"
    assert result.best.quality.stability >= 0.9, f"{result.best.config.label()}: {result.best.quality}"
