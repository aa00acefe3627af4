"""Experiments crmlab creates open on their runs in the MLflow UI, not on the GenAI overview."""

from __future__ import annotations

from mlflow.tracking import MlflowClient

from training.settings import Settings
from training.tracking import EXPERIMENT_KIND, EXPERIMENT_KIND_TAG, tracked_run


def test_new_experiment_is_marked_as_model_training(isolated_tracking: str) -> None:
    settings = Settings(tracking_uri=isolated_tracking, experiment="kind-check")
    with tracked_run(settings, "step") as run:
        experiment_id = run.info.experiment_id
    tags = MlflowClient(isolated_tracking).get_experiment(experiment_id).tags
    assert tags[EXPERIMENT_KIND_TAG] == EXPERIMENT_KIND


def test_project_run_experiment_is_marked_too(isolated_tracking: str, monkeypatch) -> None:
    """Under `mlflow run` the experiment is created by MLflow's CLI; the reused run still marks it."""
    client = MlflowClient(isolated_tracking)
    experiment_id = client.create_experiment("from-mlflow-run")
    run_id = client.create_run(experiment_id).info.run_id
    monkeypatch.setenv("MLFLOW_RUN_ID", run_id)
    settings = Settings(tracking_uri=isolated_tracking)
    with tracked_run(settings, "step") as run:
        assert run.info.run_id == run_id
    assert client.get_experiment(experiment_id).tags[EXPERIMENT_KIND_TAG] == EXPERIMENT_KIND
