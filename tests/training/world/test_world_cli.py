"""``crmlab generate``: writes the world and one MLflow run that holds no customer identifiers."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pandas as pd
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

from crmlab.cli import cli


def _run(args: list[str]):
    return CliRunner().invoke(cli, ["generate", *args], catch_exceptions=False)


def test_generate_writes_world_and_logs_a_run_without_pii(tmp_path):
    out = tmp_path / "raw"
    result = _run(
        [
            "--customers",
            "300.0",
            "--seed",
            "5",
            "--out",
            str(out),
            "--drift",
            "0.3",
            "--drift-start",
            "2025-01-01",
            "--format",
            "csv",
            "--dirt-rate",
            "0.02",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "transactions" in result.output and "customers" in result.output
    meta = json.loads((out / "world.json").read_text())
    customers = pd.read_csv(out / "customers.csv", dtype=str)
    assert len(customers) == 300 and meta["drift"]["start_date"] == "2025-01-01"

    runs = mlflow.search_runs(experiment_names=["crmlab"], output_format="list")
    assert len(runs) == 1
    run = runs[0]
    assert run.info.run_name == "generate"
    assert run.data.params["customers"] == "300" and run.data.params["dirt_rate"] == "0.02"
    assert run.data.metrics["rows.transactions"] == meta["rows"]["transactions"]
    assert run.data.metrics["dirt.transactions.duplicates"] == meta["dirt"]["transactions"]["duplicates"]
    artifacts = [a.path for a in MlflowClient().list_artifacts(run.info.run_id)]
    assert artifacts == ["world.json"]

    logged = json.dumps([run.data.params, run.data.metrics, run.data.tags])
    local = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="world.json", dst_path=str(tmp_path / "dl")
    )
    logged += Path(local).read_text()
    for column in ("full_name", "email", "phone"):
        assert not any(value in logged for value in customers[column]), f"{column} reached MLflow"


def test_generate_rejects_bad_settings_with_a_clear_message(tmp_path):
    result = _run(["--customers", "100", "--out", str(tmp_path), "--dirt-rate", "0.3"])
    assert result.exit_code == 2 and "dirt_rate" in result.output
    result = _run(["--customers", "100", "--out", str(tmp_path), "--dirt-rate", "0.9"])
    assert result.exit_code == 2 and "dirt_rate" in result.output
    result = _run(["--customers", "12.5", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "whole number" in result.output
    assert not (tmp_path / "customers.parquet").exists()
