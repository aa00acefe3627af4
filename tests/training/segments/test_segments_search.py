"""Scoring candidates and choosing algorithm + K with the core Optuna loop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from training.segments.inputs import SegmentationInputError, select_features
from training.segments.pipeline import SegmenterConfig
from training.segments.quality import INFEASIBLE_SCORE, simplified_silhouette
from training.segments.search import SearchData, SearchSpace, choose_segmenter, evaluate, k_sweep, pick_best
from training.settings import get_settings
from training.tracking import tracked_run
from training.world.segment_features import synthetic_features

SPACE = SearchSpace(k_min=2, k_max=8, fit_rows=1500, eval_rows=800, resamples=2)


@pytest.fixture(scope="module")
def data_and_truth() -> tuple[SearchData, pd.DataFrame, np.ndarray]:
    frame, truth = synthetic_features(1500, seed=11)
    return SearchData.build(frame, select_features(frame), SPACE, seed=0), frame, truth


def test_true_k_scores_best_and_is_stable(data_and_truth):
    data, _, _ = data_and_truth
    scores = {k: evaluate(data, SegmenterConfig("kmeans", k), seed=0, resamples=2).quality for k in (3, 5, 7)}
    assert scores[5].stability >= 0.9
    best = max(scores, key=lambda k: scores[k].objective(SPACE.min_share))
    assert best == 5
    assert scores[5].silhouette > scores[3].silhouette and scores[5].davies_bouldin < scores[7].davies_bouldin


def test_small_segments_make_a_candidate_infeasible(data_and_truth):
    data, _, _ = data_and_truth
    candidate = evaluate(data, SegmenterConfig("kmeans", 5), seed=0, resamples=1)
    quality = candidate.quality
    assert quality.objective(min_share=quality.min_share + 0.01) == INFEASIBLE_SCORE
    assert quality.objective(min_share=quality.min_share - 0.01) > 0
    with pytest.raises(SegmentationInputError, match="at least 50%"):
        pick_best({candidate.config: candidate}, SearchSpace(min_share=0.5), "s")


def test_k_sweep_elbow_decreases(data_and_truth):
    data, _, _ = data_and_truth
    sweep = k_sweep(data, range(2, 7), seed=0)
    assert list(sweep["k"]) == [2, 3, 4, 5, 6]
    assert (np.diff(sweep["inertia"]) < 0).all()
    assert sweep.loc[sweep["silhouette"].idxmax(), "k"] == 5


def test_study_chooses_true_k_and_recovers_truth(data_and_truth, tmp_path):
    data, frame, truth = data_and_truth
    with tracked_run(get_settings(), "segments-search-test"):
        result = choose_segmenter(data, SPACE, trials=12, timeout=None, seed=0, study_name="seg-test",
                                  storage=f"sqlite:///{tmp_path / 'optuna.db'}", settings=get_settings())
    assert result.best.config.k == 5
    labels, _ = result.best.model.assign(frame)
    assert adjusted_rand_score(truth, labels) >= 0.7
    table = result.table()
    assert set(range(2, 9)) <= set(table[table["algorithm"] == "kmeans"]["k"])  # warm start covers every K


def test_degenerate_search_inputs():
    frame, _ = synthetic_features(50, seed=1)
    spec = select_features(frame)
    identical = pd.concat([frame.head(1)] * 30, ignore_index=True)
    with pytest.raises(SegmentationInputError, match="identical"):
        SearchData.build(identical, spec, SPACE, seed=0)
    with pytest.raises(SegmentationInputError, match="2 customers with 2 distinct"):
        SearchData.build(frame.head(2), spec, SPACE, seed=0)


def test_simplified_silhouette_prefers_true_labels(data_and_truth):
    data, _, truth = data_and_truth
    space = data.quality_space
    good = simplified_silhouette(space, truth).mean()
    shuffled = simplified_silhouette(space, np.random.default_rng(0).permutation(truth)).mean()
    assert good > 0.3 and shuffled < 0.05
    assert np.all(simplified_silhouette(space, np.zeros(len(space), dtype=int)) == 0)
