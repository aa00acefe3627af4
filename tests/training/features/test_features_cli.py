"""``crmlab features``: files written, one MLflow run "features" with params, metrics and artifacts."""

from __future__ import annotations

import json

import mlflow
import pandas as pd
from click.testing import CliRunner
from features_tiny_world import write_tiny_world

from crmlab.cli import cli


def test_features_command_writes_files_and_logs_a_run(tmp_path):
    clean = write_tiny_world(tmp_path / "clean")
    out = tmp_path / "features"

    result = CliRunner().invoke(cli, ["features", "--data", str(clean), "--cutoff", "2023-12-15,2024-03-01",
                                      "--horizon-days", "30.0", "--out", str(out)])

    assert result.exit_code == 0, result.output
    assert "cutoff 2024-03-01: 4 customers" in result.output
    frame = pd.read_parquet(out / "features.parquet")
    assert len(frame) == 3 + 4
    meta = json.loads((out / "features_meta.json").read_text())
    assert meta["horizon_days"] == 30 and meta["cutoffs"] == ["2023-12-15", "2024-03-01"]
    assert len(meta["data_hash"]) == 64 and set(meta["cleaning"]) == {"2023-12-15", "2024-03-01"}

    runs = mlflow.search_runs(experiment_names=["crmlab"], output_format="list")
    assert [r.info.run_name for r in runs] == ["features"]
    run = runs[0]
    assert run.data.params["horizon_days"] == "30" and run.data.params["cleaning.outliers"] == "iqr"
    assert run.data.metrics["cutoff_2024-03-01/rows"] == 4
    assert run.data.metrics["cutoff_2024-03-01/churn_rate"] == 0.5      # A buys again, B does not
    assert run.data.metrics["cutoff_2024-03-01/mean_future_spend"] == 30 / 4
    assert run.data.metrics["null_rate/recency_days"] == 2 / 7  # B (first order later) in Dec, D in Mar
    assert {f"null_rate/{name}" for name in meta["features"]} <= set(run.data.metrics)
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "features")}
    assert artifacts == {"features/features_meta.json", "features/FEATURES.md", "features/feature_summary.csv",
                         "features/feature_summary.md"}
    summary = pd.read_csv(out / "feature_summary.csv", index_col="column")
    assert "customer_id" not in summary.index and summary.loc["frequency", "max"] == 3


def test_features_command_explains_bad_input(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(cli, ["features", "--data", str(tmp_path / "nowhere"), "--cutoff", "2024-03-01"])
    assert missing.exit_code == 1 and "crmlab ingest" in missing.output and "Traceback" not in missing.output
    bad_date = runner.invoke(cli, ["features", "--data", str(tmp_path), "--cutoff", "2024-13-01"])
    assert bad_date.exit_code == 2 and "YYYY-MM-DD" in bad_date.output
    bad_horizon = runner.invoke(cli, ["features", "--data", str(tmp_path), "--cutoff", "2024-03-01",
                                      "--horizon-days", "7.5"])
    assert bad_horizon.exit_code == 2 and "whole number of days" in bad_horizon.output
