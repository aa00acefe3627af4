"""One real retrain: drift -> `mlflow run . -e train_churn` (the project entry point) -> promotion gate."""

from __future__ import annotations

import mlflow
import pytest

from monitoring.policy import Policy
from monitoring.run import run_monitor
from monitoring.synthetic import churn_batch, register_synthetic_champion
from training.settings import get_settings


@pytest.mark.slow
def test_drift_retrains_through_the_churn_project_entry_point_and_the_gate(tmp_path):
    settings = get_settings()
    register_synthetic_champion(churn_batch(2000, seed=500), settings)
    features = tmp_path / "features"
    features.mkdir()
    drifted = churn_batch(1200, seed=501, shift={"f00": 1.0, "f01": 1.0, "f02": 1.0}, cutoff="2024-09-30")
    drifted.drop(columns=["churn_probability", "risk_band"]).to_parquet(features / "features.parquet")
    policy = Policy.model_validate({"retrain": {"trials": 2}})

    result = run_monitor(features, ["churn"], policy, tmp_path / "reports", True, settings,
                         labels_available=True, lock_dir=tmp_path)

    model = result.model("churn")
    assert model.status == "alert"
    assert model.retrain.status == "succeeded", model.retrain.message
    client = mlflow.MlflowClient()
    run = client.get_run(model.retrain.run_id)
    assert run.data.tags["mlflow.project.entryPoint"] == "train_churn"
    assert run.data.tags["crmlab.monitoring_run_id"] == model.mlflow_run_id
    assert run.info.status == "FINISHED"
    # The entry point registered a challenger; the gate's decision is in the outcome and on the version.
    challenger = client.get_model_version_by_alias("churn", "challenger")
    assert str(challenger.version) == "2" and challenger.tags["crmlab.family"] == "churn"
    assert "gate.decision" in client.get_model_version("churn", "2").tags
    assert "v2 vs champion v1" in model.retrain.promotion
