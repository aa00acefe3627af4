"""The segments training run leaves monitoring's reference sample and a between-segment importance."""

from __future__ import annotations

import mlflow
import pandas as pd

from monitoring.families import family_spec
from training.segments.inputs import select_features
from training.segments.search import SearchSpace
from training.segments.train import train_segments
from training.settings import get_settings
from training.world.segment_features import synthetic_features

SPACE = SearchSpace(k_min=2, k_max=6, fit_rows=800, eval_rows=400, resamples=2)


def _artifact(run_id: str, name: str) -> pd.DataFrame:
    local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=name)
    return pd.read_parquet(local) if name.endswith(".parquet") else pd.read_csv(local)


def test_training_logs_reference_sample_and_between_segment_importance():
    frame, _ = synthetic_features(900, seed=4)
    result = train_segments(frame, settings=get_settings(), trials=3, seed=4, space=SPACE)
    inputs = list(select_features(frame).inputs)

    reference = _artifact(result.run_id, "reference.parquet")
    assert "customer_id" not in reference.columns
    assert list(reference.columns) == [*inputs, "segment_id", "segment_name", "distance"]
    assert set(family_spec("segments").outputs) <= set(reference.columns)
    assert len(reference) == len(frame) and reference["segment_id"].nunique() == result.config.k
    assert dict(zip(reference["segment_id"], reference["segment_name"], strict=True)) == result.names
    # The outputs are the registered model's own for those inputs.
    served = mlflow.pyfunc.load_model(f"models:/segments/{result.version}").predict(reference[inputs])
    assert (served["segment_id"].to_numpy() == reference["segment_id"].to_numpy()).all()

    importance = _artifact(result.run_id, "feature_importance.csv").set_index("feature")["importance"]
    assert set(importance.index) <= set(inputs) and {"frequency", "monetary_total"} <= set(importance.index)
    assert importance.between(0, 1).all() and importance.is_monotonic_decreasing
    # recency separates the synthetic archetypes; age band is drawn independently of them.
    assert importance["recency_days"] > 10 * importance["age_band"]
    assert importance.index.get_loc("age_band") >= len(importance) // 2
