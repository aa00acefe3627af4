"""Retrain guarantees: one retrain per model and data window (sequential and concurrent), failures contained."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import mlflow
import pytest

from monitoring.retrain import (
    OUTCOME_TAG,
    TRIGGER_TAG,
    RetrainRequest,
    command_launcher,
    find_trigger,
    retrain,
    trigger_key,
)
from training.settings import get_settings


def _request(window: str = "cutoff=2024-06-30", model: str = "churn") -> RetrainRequest:
    return RetrainRequest(model_name=model, family="churn", trigger_key=trigger_key(model, window),
                          data_window=window, reasons=("feature drift",), parameters={"features": "x"},
                          monitoring_run_id="monitor-run-1")


def _marking(path: Path, exit_code: int = 0):
    """A trivial real command: appends an ``x`` to ``path`` (one per launch), exits with ``exit_code``."""
    code = f"import sys; open({str(path)!r}, 'a').write('x'); sys.exit({exit_code})"
    return command_launcher([sys.executable, "-c", code])


def _launches(path: Path) -> int:
    return path.read_text().count("x") if path.exists() else 0


def test_same_window_retrains_once_and_a_new_window_retrains_again(tmp_path):
    settings = get_settings()
    marker, promoted = tmp_path / "launches.txt", []
    promoter = lambda name, s: promoted.append(name) or "gate: promoted"  # noqa: E731
    first = retrain(_request(), settings, launcher=_marking(marker), promoter=promoter, lock_dir=tmp_path)
    second = retrain(_request(), settings, launcher=_marking(marker), promoter=promoter, lock_dir=tmp_path)
    assert (first.status, second.status) == ("succeeded", "skipped")
    assert second.run_id == first.run_id and "one retrain per model and data window" in second.message
    assert _launches(marker) == 1 and promoted == ["churn"]
    run = mlflow.MlflowClient().get_run(first.run_id)
    assert run.data.tags[TRIGGER_TAG] == trigger_key("churn", "cutoff=2024-06-30")
    assert run.data.tags["crmlab.monitoring_run_id"] == "monitor-run-1"
    assert run.info.status == "FINISHED"
    other = retrain(_request("cutoff=2024-09-30"), settings, launcher=_marking(marker), promoter=promoter,
                    lock_dir=tmp_path)
    assert other.status == "succeeded" and _launches(marker) == 2


def test_a_failed_retrain_is_reported_skips_the_gate_and_leaves_the_window_open(tmp_path):
    settings = get_settings()
    marker, promoted = tmp_path / "launches.txt", []
    promoter = lambda name, s: promoted.append(name) or "promoted"  # noqa: E731
    failed = retrain(_request(), settings, launcher=_marking(marker, exit_code=3), promoter=promoter,
                     lock_dir=tmp_path)
    assert failed.status == "failed" and "champion is unchanged" in failed.message
    assert promoted == []
    assert mlflow.MlflowClient().get_run(failed.run_id).info.status == "FAILED"
    assert mlflow.MlflowClient().get_run(failed.run_id).data.tags[OUTCOME_TAG] == "failed"
    # The failed attempt does not use up the window: the next monitor retries, and that success does.
    again = retrain(_request(), settings, launcher=_marking(marker), promoter=promoter, lock_dir=tmp_path)
    assert again.status == "succeeded" and _launches(marker) == 2
    third = retrain(_request(), settings, launcher=_marking(marker), promoter=promoter, lock_dir=tmp_path)
    assert third.status == "skipped" and _launches(marker) == 2


def test_a_launcher_or_gate_that_raises_becomes_a_failed_outcome(tmp_path):
    settings = get_settings()

    def broken(request, s):
        raise FileNotFoundError("no MLproject here")

    outcome = retrain(_request(), settings, launcher=broken, lock_dir=tmp_path)
    assert outcome.status == "failed" and "no MLproject here" in outcome.message
    assert find_trigger(outcome.trigger_key, settings) is None  # nothing started: the window stays open

    def gate(name, s):
        raise ValueError("model 'churn' has no 'challenger' version")

    gated = retrain(_request(), settings, launcher=_marking(tmp_path / "m.txt"), promoter=gate, lock_dir=tmp_path)
    assert gated.status == "failed" and "promotion gate failed" in gated.message


_CONCURRENT = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    from monitoring.retrain import RetrainRequest, command_launcher, retrain, trigger_key
    from training.settings import get_settings
    marker, folder = Path(sys.argv[1]), Path(sys.argv[2])
    code = "import pathlib; p = pathlib.Path(%r); open(p, 'a').write('x')" % str(marker)
    plain = command_launcher([sys.executable, "-c", code])

    def slow_launcher(request, settings):  # widens the check-to-tag window: without the lock both would launch
        launched = plain(request, settings)
        time.sleep(2)
        return launched

    (folder / f"ready-{os.getpid()}").touch()
    while len(list(folder.glob("ready-*"))) < 2:  # start both checks at the same moment
        time.sleep(0.05)
    window = "cutoff=2024-06-30"
    request = RetrainRequest(model_name="churn", family="churn", trigger_key=trigger_key("churn", window),
                             data_window=window, reasons=("drift",), parameters={})
    outcome = retrain(request, get_settings(), launcher=slow_launcher, promoter=lambda name, s: "promoted",
                      lock_dir=folder)
    print(json.dumps(outcome.to_dict()))
""")


@pytest.mark.slow
def test_two_monitors_at_once_start_at_most_one_retrain(tmp_path):
    mlflow.MlflowClient().search_experiments()  # create the SQLite schema before two processes race for it
    marker = tmp_path / "launches.txt"
    script = tmp_path / "monitor_once.py"
    script.write_text(_CONCURRENT)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    procs = [subprocess.Popen([sys.executable, str(script), str(marker), str(tmp_path)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in outputs]
    statuses = sorted(json.loads(out.strip().splitlines()[-1])["status"] for out, _ in outputs)
    assert statuses == ["skipped", "succeeded"], outputs
    assert _launches(marker) == 1


def test_a_retrain_project_run_keeps_its_name_when_the_entry_point_opens_trial_runs(monkeypatch):
    """`mlflow run` sets MLFLOW_RUN_ID; the entry point's nested trial runs must not take the project run over
    (it used to end up named `trial-0` with trial 0's parameters)."""
    from training.tracking import tracked_run

    settings = get_settings()
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name(settings.experiment)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(settings.experiment)
    project = client.create_run(experiment_id, run_name="retrain churn (cutoff=2024-06-30)")
    monkeypatch.setenv("MLFLOW_RUN_ID", project.info.run_id)
    with tracked_run(settings, "train-churn") as run:
        assert run.info.run_id == project.info.run_id  # the entry point still logs into the project run
        with mlflow.start_run(run_name="trial-0", nested=True) as trial:
            mlflow.log_param("num_leaves", 31)
    after = client.get_run(project.info.run_id)
    assert after.info.run_name == "train-churn"  # the entry point's name, never a trial's
    assert "num_leaves" not in after.data.params
    assert client.get_run(trial.info.run_id).data.tags["mlflow.parentRunId"] == project.info.run_id
