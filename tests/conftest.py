"""Shared test setup: every test gets its own SQLite tracking store and demo PII key.

Nothing a test does may write into the repository: a session-wide store and working directory catch
module-scoped fixtures (which run before the per-test isolation), and each test then gets its own.
"""

from __future__ import annotations

import os

import pytest

os.environ["DO_NOT_TRACK"] = "1"
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ["CRMLAB_DEMO"] = "1"
for _var in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
    os.environ.pop(_var, None)


def _reset_mlflow(uri: str) -> None:
    import mlflow
    import mlflow.tracking.fluent as fluent

    while mlflow.active_run() is not None:
        mlflow.end_run()
    fluent._active_experiment_id = None  # MLflow remembers the last experiment across stores
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)  # set_experiment exports it; a new store has no such id
    mlflow.set_tracking_uri(uri)


@pytest.fixture(scope="session", autouse=True)
def session_tracking(tmp_path_factory) -> str:
    """A session store and working directory, in force before any module-scoped fixture runs."""
    home = tmp_path_factory.mktemp("session-home")
    uri = f"sqlite:///{home / 'mlflow.db'}"
    previous = os.getcwd()
    os.environ["MLFLOW_TRACKING_URI"] = uri
    os.chdir(home)
    _reset_mlflow(uri)
    yield uri
    os.chdir(previous)


@pytest.fixture(autouse=True)
def isolated_tracking(tmp_path, monkeypatch, session_tracking) -> str:
    """A fresh tracking store per test, so tests never share runs or registered models."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("CRMLAB_DEMO", "1")
    for var in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    _reset_mlflow(uri)
    yield uri
    _reset_mlflow(session_tracking)


@pytest.fixture(scope="session")
def spark():
    """One Spark session (local[2]) for every Spark test of this process: starting one takes 10-25 s."""
    pytest.importorskip("pyspark")
    from training.settings import Settings
    from training.spark.session import spark_session

    # Test worlds are tiny: few shuffle partitions, no adaptive re-planning and no whole-stage code
    # generation cut a two-cutoff feature build from ~70 s to ~27 s here (compiling costs more than running).
    tiny = {"spark.sql.shuffle.partitions": "2", "spark.sql.adaptive.enabled": "false",
            "spark.sql.codegen.wholeStage": "false"}
    session = spark_session(Settings(spark_master="local[2]", spark_conf=tiny))
    yield session
    session.stop()
