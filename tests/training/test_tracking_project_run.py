"""Under ``mlflow run`` (MLFLOW_RUN_ID set) the project run keeps its step's name; later runs are children."""

from __future__ import annotations

import mlflow

from training.settings import get_settings
from training.tracking import tracked_run


def test_project_run_is_named_for_the_command_and_steps_become_children(monkeypatch):
    settings = get_settings()
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_experiment(settings.experiment)
    with mlflow.start_run(run_name="project-run-by-mlflow-run") as project:
        pass
    monkeypatch.setenv("MLFLOW_RUN_ID", project.info.run_id)
    with tracked_run(settings, "main") as main:
        assert main.info.run_id == project.info.run_id
        with tracked_run(settings, "generate") as step:
            mlflow.log_param("n_customers", 10)
            step_id = step.info.run_id
        with tracked_run(settings, "trial-0", nested=True) as trial:
            trial_id = trial.info.run_id
    client = mlflow.MlflowClient()
    top = client.get_run(project.info.run_id)
    assert top.info.run_name == "main" and "n_customers" not in top.data.params
    for child_id, name in ((step_id, "generate"), (trial_id, "trial-0")):
        child = client.get_run(child_id)
        assert child_id != project.info.run_id and child.info.run_name == name
        assert child.data.tags["mlflow.parentRunId"] == project.info.run_id
