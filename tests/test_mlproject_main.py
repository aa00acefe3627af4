"""The main job, run as a user runs it: `mlflow run . -e main --env-manager local` on a small world.

One real MLflow project run (a subprocess in the active virtualenv), then checks on what it left:
tracked runs with the data-quality report and feature artifacts, a registered champion, and not a
single raw name, email or phone anywhere under the tracking store, artifacts or outputs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from pii_scan import pii_hits

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def main_run(tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("main")
    uri = f"sqlite:///{home / 'mlflow.db'}"
    client = MlflowClient(uri)  # creates the store here, so artifacts land under home/mlruns
    client.search_experiments()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}  # no leaked run/experiment
    env.update({"MLFLOW_TRACKING_URI": uri, "CRMLAB_DEMO": "1", "DO_NOT_TRACK": "1",
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"})
    cmd = [sys.executable, "-m", "mlflow", "run", str(REPO), "-e", "main", "--env-manager", "local",
           "-P", "customers=1500", "-P", "trials=3", "-P", f"workdir={home / 'data'}"]
    proc = subprocess.run(cmd, cwd=home, env=env, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, f"mlflow run failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
    return {"home": home, "uri": uri, "client": client, "log": proc.stdout + proc.stderr}


def _runs(client: MlflowClient) -> pd.DataFrame:
    experiments = [e.experiment_id for e in client.search_experiments()]
    return mlflow.search_runs(experiment_ids=experiments, output_format="pandas")


def test_every_step_is_a_tracked_child_of_the_main_run(main_run):
    mlflow.set_tracking_uri(main_run["uri"])
    runs = _runs(main_run["client"])
    names = set(runs["tags.mlflow.runName"].dropna())
    for step in ("generate", "ingest", "features"):
        assert step in names, f"no `{step}` run among {sorted(names)}"
    parents = runs["tags.mlflow.parentRunId"].dropna()
    assert len(parents) >= 4, "steps must be nested under the project run"
    assert (runs["status"] == "FINISHED").all(), runs[["tags.mlflow.runName", "status"]]


def test_ingest_run_logs_the_data_quality_report_and_counts_add_up(main_run):
    client = main_run["client"]
    mlflow.set_tracking_uri(main_run["uri"])
    runs = _runs(client)
    ingest = runs[runs["tags.mlflow.runName"] == "ingest"].iloc[0]
    files = {f.path for f in client.list_artifacts(ingest.run_id, "data_quality")}
    assert {"data_quality/dq_report.json", "data_quality/dq_report.md"} <= files, files
    for table in ("customers", "transactions", "events"):
        rows_in = ingest[f"metrics.{table}.rows_in"]
        parts = sum(ingest[f"metrics.{table}.{k}"] for k in ("rows_kept", "rows_quarantined",
                                                              "rows_excluded_no_consent"))
        assert rows_in == parts and rows_in > 0, table


def test_features_are_written_with_labels_for_every_training_cutoff(main_run):
    features = pd.read_parquet(main_run["home"] / "data" / "features" / "features.parquet")
    assert features["cutoff"].nunique() == 3
    assert 0.05 < features["churned"].dropna().mean() < 0.95
    assert not features.duplicated(["customer_id", "cutoff"]).any()


def test_churn_champion_is_registered(main_run):
    version = main_run["client"].get_model_version_by_alias("churn", "champion")
    assert version.tags.get("crmlab.family") == "churn"


def test_recommender_is_registered_and_in_the_profile(main_run):
    client = main_run["client"]
    version = client.get_model_version_by_alias("recommender", "champion")
    assert version.tags.get("crmlab.family") == "recs"
    profile = client.get_model_version_by_alias("customer_profile", "champion")
    assert profile.tags.get("profile.recs") == f"recommender/{version.version}"


def test_no_raw_pii_leaves_ingestion(main_run):
    home = main_run["home"]
    raw = pd.read_parquet(home / "data" / "raw" / "customers.parquet")
    pii = [v for col in ("full_name", "email", "phone") for v in raw[col].dropna().astype(str) if len(v) > 5]
    assert pii_hits(home / "data" / "raw", pii[:50]), "control: the raw world must hold identifiers"
    hits = pii_hits(home, pii, skip=home / "data" / "raw")
    assert not hits, f"raw identifiers escaped ingestion: {hits[:10]}"


# --- Your own data: the CDNOW transaction log through `main --source` ------------------------------

CDNOW_CUSTOMERS = 2357  # tests/data/cdnow_sample/README.md


@pytest.fixture(scope="module")
def cdnow_run(tmp_path_factory) -> dict:
    """`mlflow run . -e main -P source=examples/cdnow/schema.yaml` (no generated world, no PII key), then
    the same command again, which must reuse every finished step."""
    home = tmp_path_factory.mktemp("cdnow")
    uri = f"sqlite:///{home / 'mlflow.db'}"
    client = MlflowClient(uri)
    client.search_experiments()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "CRMLAB_"))}
    env.update({"MLFLOW_TRACKING_URI": uri, "DO_NOT_TRACK": "1",
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"})
    cmd = [sys.executable, "-m", "mlflow", "run", str(REPO), "-e", "main", "--env-manager", "local",
           "-P", f"source={REPO / 'examples' / 'cdnow' / 'schema.yaml'}", "-P", "trials=2",
           "-P", f"workdir={home / 'data'}"]
    logs = []
    for _ in range(2):
        proc = subprocess.run(cmd, cwd=home, env=env, capture_output=True, text=True, timeout=1500)
        assert proc.returncode == 0, f"mlflow run failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
        logs.append(proc.stdout + proc.stderr)
    return {"home": home, "uri": uri, "client": client, "logs": logs}


def test_cdnow_chain_registers_every_champion(cdnow_run):
    client = cdnow_run["client"]
    for name in ("churn", "clv", "segments", "customer_profile"):
        assert str(client.get_model_version_by_alias(name, "champion").version) == "1", name
    assert "cutoffs 1997-10-04, 1998-01-02, 1998-04-02; current batch 1998-07-01" in cdnow_run["logs"][0]


def test_cdnow_features_hold_only_what_a_transaction_log_supports(cdnow_run):
    current = pd.read_parquet(cdnow_run["home"] / "data" / "features_current" / "features.parquet")
    assert len(current) == CDNOW_CUSTOMERS and current["customer_id"].is_unique
    assert {"recency_days", "frequency", "monetary_total", "units_per_order"} <= set(current.columns)
    for absent in ("tenure_days", "sessions_30d", "orders_trend_30d", "n_categories"):
        assert absent not in current.columns  # no customers/events/products table: left out, not zero


def test_cdnow_scores_every_customer_and_monitoring_reports(cdnow_run):
    home = cdnow_run["home"]
    scores = pd.read_parquet(home / "data" / "scores" / "customer_scores.parquet")
    assert len(scores) == CDNOW_CUSTOMERS and scores["customer_id"].is_unique
    assert scores["churn_probability"].between(0, 1).all() and scores["segment_id"].notna().all()
    assert (home / "reports" / "index.html").exists()
    assert list((home / "reports").glob("*/*.html")), "no monitoring report"


def test_cdnow_rerun_reuses_every_finished_step(cdnow_run):
    again = cdnow_run["logs"][1]
    for step in ("ingest", "features", "train churn", "train clv", "train segments", "profile", "score"):
        assert f"== crmlab {step}: inputs, parameters and code unchanged; reusing run" in again, step
    assert "Successfully registered model" not in again
