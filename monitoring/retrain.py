"""Retraining a model whose monitoring crossed a threshold: at most once per model and data window.

Guarantee: for a given model and data window (the batch's cutoff dates, or its content hash) at most one
retrain starts, however often monitoring runs on that batch and however many monitors run at once.
How: the *trigger key* ``hash(model, window)`` is written as a tag on the retraining MLflow run; a
monitor checks for a run with that tag and launches only if there is none, and it does check-launch-tag
while holding a file lock per (tracking store, model), so two monitors on one host cannot both pass the
check. (Monitors on different hosts sharing a remote tracking server rely on the tag alone.)

A retrain is the family's MLflow project entry point ``train_<family>`` (which registers a challenger),
then the promotion gate (``training.core.promotion.promote``). Whatever fails - launch, training, gate -
is returned as the outcome, never raised: the champion alias only moves when the gate promotes, so a
failed retrain leaves the champion untouched. A failed attempt does not use up its window: its run is
tagged ``crmlab.retrain_outcome=failed`` (or ended FAILED) and the next monitor may try again; a retrain
that ran (promoted or refused by the gate) or is still running does.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from training.settings import Settings

TRIGGER_TAG = "crmlab.trigger_key"
OUTCOME_TAG = "crmlab.retrain_outcome"
LOCK_TIMEOUT_S = 120.0
PROJECT_ROOT = Path(__file__).resolve().parents[1]


class LaunchedRun(Protocol):
    """A started retraining run (``mlflow.projects.SubmittedRun`` satisfies this)."""

    @property
    def run_id(self) -> str: ...

    def wait(self) -> bool: ...


@dataclass(frozen=True)
class RetrainRequest:
    model_name: str
    family: str
    trigger_key: str
    data_window: str
    reasons: tuple[str, ...]
    parameters: dict[str, str]
    monitoring_run_id: str | None = None
    project_uri: str = str(PROJECT_ROOT)
    action: str = "train"  # or "recalibrate" (monitoring.recalibrate: same booster, new calibrator)

    @property
    def entry_point(self) -> str:
        return f"{self.action}_{self.family}"

    def tags(self) -> dict[str, str]:
        return {
            TRIGGER_TAG: self.trigger_key, "crmlab.retrain_of": self.model_name,
            "crmlab.data_window": self.data_window, "crmlab.retrain_reasons": "; ".join(self.reasons)[:5000],
            "crmlab.retrain_action": self.action,
            **({"crmlab.monitoring_run_id": self.monitoring_run_id} if self.monitoring_run_id else {}),
        }


Launcher = Callable[[RetrainRequest, Settings], LaunchedRun]
Promoter = Callable[[str, Settings], str]


@dataclass
class RetrainOutcome:
    status: str  # "succeeded", "failed", "skipped"
    trigger_key: str
    message: str
    run_id: str | None = None
    promotion: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "trigger_key": self.trigger_key, "message": self.message,
                "run_id": self.run_id, "promotion": self.promotion, **self.details}


def trigger_key(model_name: str, window: str) -> str:
    """The identity of "retrain ``model_name`` for this data window"."""
    return hashlib.sha256(f"{model_name}\n{window}".encode()).hexdigest()[:20]


def retrain(request: RetrainRequest, settings: Settings, *, launcher: Launcher | None = None,
            promoter: Promoter | None = None, lock_dir: Path | None = None) -> RetrainOutcome:
    """Start the retrain unless this trigger key already has one; wait for it; run the gate."""
    from filelock import FileLock, Timeout

    launcher = launcher or mlflow_project_launcher
    key = request.trigger_key
    lock = FileLock(str(lock_path(settings, request.model_name, lock_dir)), timeout=LOCK_TIMEOUT_S)
    try:
        with lock:
            existing = find_trigger(key, settings)
            if existing is not None:
                run_id, status = existing
                return RetrainOutcome("skipped", key, f"already triggered for {request.data_window} by run "
                                      f"{run_id} ({status}): one retrain per model and data window", run_id)
            try:
                launched = launcher(request, settings)
            except Exception as err:  # (any launch failure is reported, never raised)
                return RetrainOutcome("failed", key, f"could not start {request.entry_point}: {_short(err)}")
            _tag(launched.run_id, request.tags(), settings)
    except Timeout:
        return RetrainOutcome("skipped", key, f"another monitor held the retrain lock for {request.model_name} "
                              f"for {LOCK_TIMEOUT_S:.0f} s; it decides about this window")
    ok = _wait(launched, settings)
    if not ok:
        outcome = RetrainOutcome("failed", key, f"{request.entry_point} failed (run {launched.run_id}); the "
                                 "champion is unchanged and the window stays open", launched.run_id)
    else:
        try:
            decision = (promoter or gate_promoter)(request.model_name, settings)
            done = "recalibrated" if request.action == "recalibrate" else "retrained"
            outcome = RetrainOutcome("succeeded", key, f"{done} (run {launched.run_id})", launched.run_id,
                                     decision)
        except Exception as err:
            outcome = RetrainOutcome("failed", key, f"trained (run {launched.run_id}) but the promotion gate "
                                     f"failed: {_short(err)}; the champion is unchanged", launched.run_id)
    _tag(launched.run_id, {OUTCOME_TAG: outcome.status}, settings)
    return outcome


def lock_path(settings: Settings, model_name: str, lock_dir: Path | None = None) -> Path:
    """One lock per (tracking store, model), in the system temp dir unless given."""
    folder = lock_dir or Path(tempfile.gettempdir()) / "crmlab-locks"
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(f"{settings.tracking_uri}\n{model_name}".encode()).hexdigest()[:16]
    return folder / f"retrain-{digest}.lock"


def find_trigger(key: str, settings: Settings) -> tuple[str, str] | None:
    """(run id, status) of a run with this trigger key that used up its window (running, or ran and did
    not fail), in any experiment; failed attempts are ignored so a later monitor may retry."""
    runs = _client(settings).search_runs(
        experiment_ids=_all_experiments(settings), filter_string=f"tags.`{TRIGGER_TAG}` = '{key}'", max_results=50,
    )
    for run in runs:
        if run.info.status != "FAILED" and run.data.tags.get(OUTCOME_TAG) != "failed":
            return run.info.run_id, run.info.status
    return None


def labelled_rows(features: str | Path, label: str | None) -> int:
    """Rows of a features directory / file with a non-null ``label`` (all rows when the family has none);
    0 when it cannot be read."""
    import pandas as pd

    path = Path(features)
    path = path / "features.parquet" if path.is_dir() else path
    try:
        if label is None:
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(path).metadata.num_rows)
        return int(pd.read_parquet(path, columns=[label])[label].notna().sum())
    except Exception:  # (missing file, no such column, not Parquet: nothing to train on)
        return 0


def mlflow_project_launcher(request: RetrainRequest, settings: Settings) -> LaunchedRun:
    """``mlflow run <project> -e train_<family> --env-manager local``, started asynchronously."""
    import os
    import sys

    import mlflow

    from training.tracking import configure_mlflow

    configure_mlflow(settings)
    # Entry points call `crmlab`; the project subprocess inherits PATH, so put this interpreter's bin first.
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    return mlflow.projects.run(
        uri=request.project_uri, entry_point=request.entry_point, parameters=request.parameters,
        env_manager="local", experiment_name=settings.experiment, synchronous=False,
        run_name=f"retrain {request.model_name} ({request.data_window})",
    )


@dataclass
class CommandRun:
    """A plain command as a retraining run (for tests and custom pipelines): its own MLflow run + process."""

    run_id: str
    process: subprocess.Popen

    def wait(self) -> bool:
        return self.process.wait() == 0


def command_launcher(argv: Sequence[str]) -> Launcher:
    """A launcher that runs ``argv`` (MLFLOW_RUN_ID set to a fresh run) instead of the project entry point."""
    def launch(request: RetrainRequest, settings: Settings) -> LaunchedRun:
        import os

        client = _client(settings)
        experiment = client.get_experiment_by_name(settings.experiment)
        experiment_id = experiment.experiment_id if experiment else client.create_experiment(settings.experiment)
        run = client.create_run(experiment_id, run_name=f"retrain {request.model_name}")
        env = {**os.environ, "MLFLOW_RUN_ID": run.info.run_id, "MLFLOW_TRACKING_URI": settings.tracking_uri}
        return CommandRun(run.info.run_id, subprocess.Popen(list(argv), env=env))

    return launch


def gate_promoter(model_name: str, settings: Settings) -> str:
    """The shared promotion gate; returns its one-paragraph decision."""
    from training.core.promotion import promote

    return promote(model_name, settings=settings).summary()


def _wait(launched: LaunchedRun, settings: Settings) -> bool:
    try:
        ok = bool(launched.wait())
    except Exception:
        ok = False
    client = _client(settings)
    if client.get_run(launched.run_id).info.status == "RUNNING":  # the command never closed its run
        client.set_terminated(launched.run_id, "FINISHED" if ok else "FAILED")
    return ok


def _tag(run_id: str, tags: dict[str, str], settings: Settings) -> None:
    from mlflow.entities import RunTag

    _client(settings).log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])


def _client(settings: Settings):
    import mlflow

    return mlflow.MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.registry_uri)


def _all_experiments(settings: Settings) -> list[str]:
    from mlflow.entities import ViewType

    return [e.experiment_id for e in _client(settings).search_experiments(view_type=ViewType.ALL)]


def _short(err: BaseException) -> str:
    text = f"{type(err).__name__}: {err}"
    return text if len(text) < 600 else text[:600] + " ..."
