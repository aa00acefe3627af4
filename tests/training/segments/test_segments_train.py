"""End to end on synthetic latent segments: search, register, serve, retrain with stable IDs, promote."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from sklearn.metrics import adjusted_rand_score

from training.segments.inputs import SegmentationInputError
from training.segments.search import SearchSpace
from training.segments.train import train_segments
from training.settings import get_settings
from training.world.segment_features import synthetic_features

SPACE = SearchSpace(k_min=2, k_max=7, fit_rows=1200, eval_rows=600, resamples=2)
EXPECTED_NAMES = {"High-value loyal", "Lapsing big spenders", "New low-engagement", "Bargain hunters",
                  "Window shoppers"}


def _train(frame: pd.DataFrame, seed: int, promote: bool = True):
    return train_segments(frame, settings=get_settings(), trials=8, seed=seed, space=SPACE, promote=promote)


def test_first_training_registers_named_segments_and_artifacts():
    frame, truth = synthetic_features(1600, seed=1)
    frame.loc[:9, "sessions_90d"] = np.nan  # gaps are imputed and reported, never dropped
    result = _train(frame, seed=1)
    assert result.config.k == 5 and len(result.assignments) == len(frame)
    run_metrics = mlflow.get_run(result.run_id).data.metrics
    assert run_metrics["imputed_rows.sessions_90d"] == 10 and run_metrics["stability"] >= 0.9
    assert adjusted_rand_score(truth, result.assignments["segment_id"]) >= 0.7
    assert set(result.names.values()) == EXPECTED_NAMES
    assert result.promotion.promoted and result.version == "1"

    client = mlflow.MlflowClient()
    version = client.get_model_version_by_alias("segments", "champion")
    assert version.tags["crmlab.family"] == "segments" and version.tags["segments.k"] == "5"
    assert version.tags["segments.matched_to"] == "none"
    artifacts = {a.path for folder in ("segments", "plots") for a in client.list_artifacts(result.run_id, folder)}
    for name in ("segments/personas.md", "segments/personas.csv", "segments/id_match.csv",
                 "segments/candidates.csv", "plots/elbow.png", "plots/silhouette_by_k.png", "plots/map_pca.png",
                 "plots/map_tsne.png"):
        assert name in artifacts
    if result.config.algorithm == "ward":
        assert "plots/dendrogram.png" in artifacts
    holdout = pd.read_parquet(mlflow.artifacts.download_artifacts(run_id=result.run_id,
                                                                  artifact_path="holdout.parquet"))
    assert "customer_id" not in holdout.columns and len(holdout) > 0

    served = mlflow.pyfunc.load_model("models:/segments@champion")
    out = served.predict(frame.head(300))
    assert list(out.columns) == ["segment_id", "segment_name", "distance"]
    assert (out["segment_id"].to_numpy() == result.assignments["segment_id"].head(300).to_numpy()).all()
    assert (out["distance"] >= 0).all()
    with pytest.raises(MlflowException, match="recency_days") as err:
        served.predict(frame.head(5).drop(columns="recency_days"))
    assert "C0000000" not in str(err.value)


def test_retraining_on_a_fresh_sample_keeps_ids_and_names():
    frame, _ = synthetic_features(1600, seed=1)
    first = _train(frame, seed=1)
    fresh, truth = synthetic_features(1600, seed=2)  # new customers from the same latent segments
    second = _train(fresh, seed=9)
    assert second.match.kept_share >= 0.9
    assert second.names == first.names and second.match.new_ids == [] and second.match.vanished_ids == []
    assert adjusted_rand_score(truth, second.assignments["segment_id"]) >= 0.7
    assert second.promotion.promoted, second.promotion.summary()
    tags = mlflow.MlflowClient().get_model_version("segments", second.version).tags
    assert tags["segments.matched_to"] == first.version
    assert float(tags["segments.kept_share"]) >= 0.9
    assert tags["gate.check.ids_kept_ge_90pct"] == "pass"


def test_challenger_that_reshuffles_customers_is_refused():
    frame, _ = synthetic_features(1600, seed=1)
    _train(frame, seed=1)
    coarse = train_segments(frame, settings=get_settings(), trials=1, seed=3, promote=True,
                            space=SearchSpace(k_min=2, k_max=2, fit_rows=1200, eval_rows=600, resamples=1))
    assert coarse.config.k == 2 and coarse.match.kept_share < 0.9
    assert not coarse.promotion.promoted
    assert coarse.promotion.checks["ids_kept_ge_90pct"] is False
    # 5 champion segments cannot all survive in 2: at least 3 vanish, and any new ID is above the old ones
    assert len(coarse.match.vanished_ids) >= 3 and all(i > 5 for i in coarse.match.new_ids)
    assert len(coarse.match.vanished_ids) + len(coarse.match.kept_names) == 5


def test_degenerate_inputs_fail_before_any_run():
    frame, _ = synthetic_features(30, seed=1)
    identical = pd.concat([frame.head(1)] * 50, ignore_index=True)
    identical["customer_id"] = [f"C{i:07d}" for i in range(50)]
    with pytest.raises(SegmentationInputError, match="all 50 customers have identical values"):
        train_segments(identical, settings=get_settings(), space=SPACE)
    with pytest.raises(SegmentationInputError, match="1 customer"):
        train_segments(frame.head(1), settings=get_settings(), space=SPACE)
    assert mlflow.search_runs(search_all_experiments=True).empty
