"""MLflow wiring shared by every command: one place sets the tracking store and privacy switches."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from training.settings import Settings

# No library phones home: Evidently (and others honouring the convention) read DO_NOT_TRACK.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("MLFLOW_ENABLE_TELEMETRY", "false")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def configure_mlflow(settings: Settings) -> None:
    """Point MLflow at the configured tracking (and registry) store."""
    import mlflow

    mlflow.set_tracking_uri(settings.tracking_uri)
    if settings.registry_uri:
        mlflow.set_registry_uri(settings.registry_uri)


def warm_tracking_store(settings: Settings) -> threading.Thread:
    """Open the tracking store in a background thread, to be joined before the first run.

    Opening a fresh SQL store creates and migrates its tables (about 10 s here); a step that logs
    its run only at the end (``ingest``) does this while its own work runs. Failures are left to the
    step's own ``tracked_run``, which reports them as usual.
    """
    def warm() -> None:
        import mlflow

        with contextlib.suppress(Exception):
            mlflow.MlflowClient(tracking_uri=settings.tracking_uri).search_experiments(max_results=1)

    thread = threading.Thread(target=warm, name="crmlab-warm-tracking", daemon=True)
    thread.start()
    return thread


@contextmanager
def tracked_run(settings: Settings, run_name: str, experiment: str | None = None,
                tags: dict[str, str] | None = None, nested: bool = False) -> Iterator[Any]:
    """Start (or, under ``mlflow run``, reuse) an MLflow run.

    ``mlflow run`` sets MLFLOW_RUN_ID; the first run opened in that process reuses it so the project
    run holds the artifacts, and takes ``run_name``. Later runs in the same process (``main`` chains
    steps, tuning opens one run per trial) become children. The variable is consumed on reuse: MLflow's
    ``start_run`` resumes MLFLOW_RUN_ID whenever it is set, even for a nested run, which once renamed
    the project run of ``mlflow run . -e main`` to its first step, ``generate`` (and a retrain's to
    ``trial-0``, with that trial's parameters).
    """
    import mlflow

    configure_mlflow(settings)
    active = mlflow.active_run()
    if active is not None and not nested:
        nested = True
    if not nested and os.environ.get("MLFLOW_RUN_ID"):
        with mlflow.start_run(run_id=os.environ.pop("MLFLOW_RUN_ID"), run_name=run_name) as run:
            mark_training_experiment(run.info.experiment_id)
            if tags:
                mlflow.set_tags(tags)
            yield run
        return
    if not nested:
        mlflow.set_experiment(experiment or settings.experiment)
    with mlflow.start_run(run_name=run_name, nested=nested, tags=tags) as run:
        mark_training_experiment(run.info.experiment_id)
        yield run


# The MLflow 3 UI opens an experiment on its GenAI overview unless this tag names another kind; the
# UI sets it itself through setExperimentTag, so a tag is the public way to choose the runs view.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"


def mark_training_experiment(experiment_id: str) -> None:
    """Tag an experiment as model training (once), so the MLflow UI opens on its runs."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    experiment = client.get_experiment(experiment_id)
    if experiment.tags.get(EXPERIMENT_KIND_TAG) != EXPERIMENT_KIND:
        client.set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
