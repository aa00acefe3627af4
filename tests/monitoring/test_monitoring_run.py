"""run_monitor end to end on a registered (synthetic) champion: reports, index, MLflow, workspace, retrain."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import mlflow
import pytest

from monitoring.policy import Policy
from monitoring.retrain import TRIGGER_TAG, command_launcher
from monitoring.run import MONITORING_EXPERIMENT, run_monitor
from monitoring.synthetic import churn_batch, register_synthetic_champion
from training.settings import get_settings

DRIFT = {"f00": 1.2, "f01": 1.0, "f03": 1.0}


def _batch(seed: int, shift: dict[str, float] | None = None):
    return churn_batch(1500, seed=seed, shift=shift).drop(columns=["churn_probability", "risk_band"])


def _launcher(marker: Path, exit_code: int = 0):
    return command_launcher([sys.executable, "-c", f"import sys; open({str(marker)!r}, 'a').write('x'); "
                                                   f"sys.exit({exit_code})"])


def _launches(marker: Path) -> int:
    return marker.read_text().count("x") if marker.exists() else 0


@pytest.fixture
def labelled(tmp_path) -> str:
    """A labelled window to retrain on (a features file whose outcome window has elapsed)."""
    path = tmp_path / "train" / "features.parquet"
    path.parent.mkdir()
    churn_batch(800, seed=301).drop(columns=["churn_probability", "risk_band"]).to_parquet(path)
    return str(path.parent)


@pytest.fixture
def champion():
    settings = get_settings()
    register_synthetic_champion(churn_batch(2500, seed=300), settings)
    return settings


def test_no_drift_means_ok_reports_and_no_retrain(champion, labelled, tmp_path):
    marker = tmp_path / "launches.txt"
    result = run_monitor(_batch(1), ["churn"], Policy(), tmp_path / "reports", True, champion,
                         train_features=labelled, launcher=_launcher(marker), lock_dir=tmp_path)
    model = result.model("churn")
    assert (model.status, model.retrain) == ("ok", None)
    assert _launches(marker) == 0
    summary = json.loads(model.files.json.read_text())
    assert summary["verdict"].startswith("OK: none of")
    assert summary["drift"]["columns"] and summary["evidently"]["tests"]
    assert "estimated_roc_auc" in summary["metrics"]
    index = result.index.read_text()
    assert "OK: none of" in index and model.files.html.name in index and "no (estimated)" in index


def test_drift_alarms_names_features_logs_everywhere_and_retrains_once_per_window(champion, labelled, tmp_path):
    marker, reports = tmp_path / "launches.txt", tmp_path / "reports"
    kwargs = dict(train_features=labelled, launcher=_launcher(marker), lock_dir=tmp_path,
                  promoter=lambda name, s: "gate: promoted")
    first = run_monitor(_batch(2, DRIFT), ["churn"], Policy(), reports, True, champion, **kwargs)
    model = first.model("churn")
    assert model.status == "alert"
    assert set(DRIFT) <= set(model.drifted_features)
    assert model.retrain.status == "succeeded" and _launches(marker) == 1
    # The HTML opens on the verdict (every check with value and threshold), Evidently's report follows;
    # the JSON carries the verdict and the retrain outcome.
    page = model.files.html.read_text()
    assert 0 < page.index('id="crmlab-verdict"') - page.index("<body>") < 50  # the first thing on the page
    assert "importance-weighted share of drifted feature groups" in page
    summary = json.loads(model.files.json.read_text())
    assert summary["retrain"]["status"] == "succeeded" and summary["crossings"]
    # The retraining run is linked to the monitoring child run and carries the trigger key.
    retrain_run = mlflow.MlflowClient().get_run(model.retrain.run_id)
    assert retrain_run.data.tags["crmlab.monitoring_run_id"] == model.mlflow_run_id
    assert retrain_run.data.tags[TRIGGER_TAG] == model.retrain.trigger_key
    # Same files in MLflow (experiment "monitoring"), snapshot in the Evidently workspace.
    client = mlflow.MlflowClient()
    assert client.get_run(model.mlflow_run_id).info.experiment_id == \
        client.get_experiment_by_name(MONITORING_EXPERIMENT).experiment_id
    logged = {Path(a.path).name for a in client.list_artifacts(model.mlflow_run_id, "reports/" +
                                                                model.files.json.parent.name)}
    assert {model.files.html.name, model.files.json.name} <= logged
    assert client.get_run(model.mlflow_run_id).data.metrics["weighted_drift_share"] > 0.3
    assert model.workspace_run and any((reports / "workspace").rglob(f"{model.workspace_run}.json"))
    # Same batch again: a new report, no second retrain.
    second = run_monitor(_batch(2, DRIFT), ["churn"], Policy(), reports, True, champion, **kwargs)
    assert second.model("churn").retrain.status == "skipped"
    assert _launches(marker) == 1
    assert second.index.read_text().count("ALERT") == 2


def test_a_failed_retrain_leaves_the_champion_and_shows_in_the_report(champion, labelled, tmp_path):
    client = mlflow.MlflowClient()
    before = client.get_model_version_by_alias("churn", "champion").version
    result = run_monitor(_batch(3, DRIFT), ["churn", "missing_model"], Policy(), tmp_path / "reports", True,
                         champion, train_features=labelled,
                         launcher=_launcher(tmp_path / "m.txt", exit_code=2), lock_dir=tmp_path)
    model = result.model("churn")
    assert model.retrain.status == "failed"
    assert client.get_model_version_by_alias("churn", "champion").version == before
    assert json.loads(model.files.json.read_text())["retrain"]["status"] == "failed"
    assert "failed: " in result.index.read_text() and result.failed_retrains == [model]
    # A model that cannot be monitored gets an error report; the other model still ran.
    missing = result.model("missing_model")
    assert missing.status == "error" and "no 'champion' version" in missing.verdict
    assert [m.model_name for m in result.errors] == ["missing_model"]
