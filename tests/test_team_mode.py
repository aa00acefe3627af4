"""Team mode against real processes: `crmlab server --auth` (MLflow basic auth, PostgreSQL backend), the
three roles made by `crmlab users add`, and one tuning job spread over worker processes.

One server for the module (fresh PostgreSQL databases for tracking, users and Optuna, dropped at the end);
every crmlab command runs as a user through MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from click.testing import CliRunner
from pg_local import PG_SERVER, connect_local_postgres

from crmlab.cli import cli
from training.world.churn_features import synthetic_features, write_features_dir

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ADMIN_PASSWORD = f"admin-{uuid.uuid4().hex[:12]}"
USERS = {"eng": "engineer", "rev": "reviewer", "svc": "service"}
PASSWORDS = {name: f"{name}-{uuid.uuid4().hex[:12]}" for name in USERS}


@dataclass(frozen=True)
class Team:
    url: str
    optuna: str
    features: Path

    def env(self, user: str) -> dict[str, str]:
        password = ADMIN_PASSWORD if user == "admin" else PASSWORDS[user]
        return {"MLFLOW_TRACKING_URI": self.url, "MLFLOW_TRACKING_USERNAME": user,
                "MLFLOW_TRACKING_PASSWORD": password}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen, log: Path, limit_s: float = 180) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"crmlab server exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if requests.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    pytest.fail(f"crmlab server not healthy after {limit_s}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def team(tmp_path_factory) -> Iterator[Team]:
    """`crmlab server --auth` on fresh PostgreSQL databases, with one user per role made by `crmlab users add`."""
    home = tmp_path_factory.mktemp("team")
    admin, role, _ = connect_local_postgres(isolation_level="AUTOCOMMIT")
    base = f"crmlab_team_{uuid.uuid4().hex[:8]}"
    names = {kind: f"{base}_{kind}" for kind in ("mlflow", "auth", "optuna")}
    urls = {kind: f"postgresql+psycopg://{role}@{PG_SERVER}/{name}" for kind, name in names.items()}
    with admin.connect() as connection:
        for name in names.values():
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    port = _free_port()
    log = home / "server.log"
    env = {**os.environ, "CRMLAB_ADMIN_PASSWORD": ADMIN_PASSWORD, "CRMLAB_AUTH_DB_URI": urls["auth"],
           "CRMLAB_AUTH_CONFIG_PATH": str(home / "auth.ini")}
    with log.open("w") as handle:
        server = subprocess.Popen(
            [sys.executable, "-m", "crmlab.cli", "server", "--backend-store-uri", urls["mlflow"],
             "--artifacts-destination", str(home / "artifacts"), "--port", str(port), "--workers", "1", "--auth"],
            env=env, cwd=home, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, server, log)
        features = write_features_dir(synthetic_features(1500, seed=5), home / "features")
        team = Team(url, urls["optuna"], features)
        for user, user_role in USERS.items():
            result = CliRunner().invoke(cli, ["users", "add", user, "--role", user_role],
                                        env={**team.env("admin"), "CRMLAB_USER_PASSWORD": PASSWORDS[user]})
            assert result.exit_code == 0, result.output
            assert f"user {user} created; role {user_role}" in result.output
        yield team
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        with admin.connect() as connection:
            for name in names.values():
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _client(team: Team, user: str, monkeypatch):
    import mlflow

    for key, value in team.env(user).items():
        monkeypatch.setenv(key, value)
    mlflow.set_tracking_uri(team.url)
    return mlflow.MlflowClient(tracking_uri=team.url)


def _train(team: Team, user: str, *extra: str):
    return CliRunner().invoke(cli, ["train", "churn", "--features", str(team.features), "--trials", "2",
                                    "--timeout", "0", "--seed", "1", "--storage", team.optuna, *extra],
                              env=team.env(user))


def _one_line_refusal(result, needed: str) -> str:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert "permission denied" in lines[0] and needed in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def champion(team):
    """The engineer trains, registers and promotes churn through the auth server (the engineer test's run)."""
    result = _train(team, "eng", "--promote")
    return result


def test_engineer_trains_registers_and_promotes(team, champion, monkeypatch):
    assert champion.exit_code == 0, champion.output
    assert "PROMOTED" in champion.output
    client = _client(team, "eng", monkeypatch)
    version = client.get_model_version_by_alias("churn", "champion")
    assert version.tags["crmlab.family"] == "churn"
    assert client.get_run(version.run_id).data.metrics["test_roc_auc"] > 0.6


def test_reviewer_reads_but_cannot_change(team, champion, monkeypatch):
    from mlflow.exceptions import MlflowException

    assert champion.exit_code == 0, champion.output
    client = _client(team, "rev", monkeypatch)
    version = client.get_model_version_by_alias("churn", "champion")           # 200
    run = client.get_run(version.run_id)                                        # 200
    assert run.info.status == "FINISHED" and client.search_model_versions("name='churn'")
    refused = {
        "register": lambda: client.create_model_version("churn", version.source, run_id=version.run_id),
        "alias": lambda: client.set_registered_model_alias("churn", "champion", version.version),
        "delete version": lambda: client.delete_model_version("churn", version.version),
        "delete run": lambda: client.delete_run(version.run_id),
    }
    for action, call in refused.items():
        with pytest.raises(MlflowException) as err:
            call()
        assert err.value.error_code == "PERMISSION_DENIED" and "403" in str(err.value), action
    assert client.get_model_version_by_alias("churn", "champion").version == version.version  # unchanged

    line = _one_line_refusal(_train(team, "rev"), "EDIT on the experiment")
    assert "'rev'" in line


def test_service_loads_the_champion_and_cannot_train(team, champion, monkeypatch):
    import mlflow
    from mlflow.exceptions import MlflowException

    assert champion.exit_code == 0, champion.output
    run_id = _client(team, "eng", monkeypatch).get_model_version_by_alias("churn", "champion").run_id
    client = _client(team, "svc", monkeypatch)
    # models:/churn@champion stands in for customer_profile@champion (building the composite needs three
    # trained families: minutes, not seconds); the roles are per registered model name, the same for both.
    model = mlflow.pyfunc.load_model("models:/churn@champion")
    rows = synthetic_features(60, seed=9).drop(columns=["customer_id", "cutoff", "churned", "future_spend"],
                                               errors="ignore").head(8)
    out = model.predict(rows)
    assert len(out) == 8 and out["churn_probability"].between(0, 1).all()
    with pytest.raises(MlflowException, match="403"):
        client.get_run(run_id)
    _one_line_refusal(_train(team, "svc"), "EDIT on the experiment")


def test_two_workers_share_one_study_and_survive_a_killed_worker(team, monkeypatch, tmp_path):
    """Workers of one job: unique trial numbers, the asked total, a killed worker's trial FAIL, one version."""
    import optuna

    study, total = f"team-{uuid.uuid4().hex[:6]}", 6
    log = tmp_path / "job.log"
    with log.open("w") as handle:
        job = subprocess.Popen(
            [sys.executable, "-m", "crmlab.cli", "train", "churn", "--features", str(team.features),
             "--trials", str(total), "--timeout", "0", "--seed", "3", "--storage", team.optuna,
             "--model-name", "churn_team", "--workers", "2", "--study", study, "--heartbeat", "1"],
            env={**os.environ, **team.env("eng")}, stdout=handle, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        victim = _kill_a_worker_mid_trial(study, team.optuna, job, log)
        assert job.wait(timeout=400) == 0, log.read_text()[-4000:]
    finally:
        if job.poll() is None:
            job.kill()
    output = log.read_text()
    assert f"worker pid {victim[1]} was killed (SIGKILL)" in output

    done = optuna.load_study(study_name=study, storage=team.optuna)
    numbers = [t.number for t in done.trials]
    assert len(numbers) == len(set(numbers))
    finished = [t for t in done.trials if t.state in (optuna.trial.TrialState.COMPLETE,
                                                       optuna.trial.TrialState.PRUNED)]
    assert len(finished) == total
    killed = [t for t in done.trials if t.number == victim[0]]
    assert killed and killed[0].state == optuna.trial.TrialState.FAIL
    assert {t.state for t in done.trials} <= {optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED,
                                              optuna.trial.TrialState.FAIL}
    assert done.user_attrs["crmlab.finished_by"] != f"{socket.gethostname()}:{victim[1]}"

    client = _client(team, "eng", monkeypatch)
    assert client.get_run(killed[0].user_attrs["crmlab.worker_run"]).info.status == "KILLED"  # no dangling run
    versions = client.search_model_versions("name='churn_team'")
    assert len(versions) == 1 and versions[0].tags["optuna.study"] == study


def _kill_a_worker_mid_trial(study: str, storage: str, job: subprocess.Popen, log: Path) -> tuple[int, int]:
    """kill -9 the worker of a RUNNING trial other than trial 0 (the first warm start); returns (trial number, pid)."""
    import optuna

    # One storage for the whole poll: ``load_study`` with a URL builds a new engine (and connection pool) on
    # every call, and polling every 0.1 s on a slow machine then exhausts PostgreSQL's max_connections.
    rdb = optuna.storages.RDBStorage(storage)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if job.poll() is not None:
            pytest.fail(f"the job ended before a worker could be killed:\n{log.read_text()[-3000:]}")
        try:
            trials = optuna.load_study(study_name=study, storage=rdb).get_trials(deepcopy=False)
        except KeyError:  # the study does not exist yet
            trials = []
        for trial in trials:
            worker = trial.user_attrs.get("crmlab.worker")
            # both attributes set (the run first): killed earlier, the trial could not name its run
            named = worker and "crmlab.worker_run" in trial.user_attrs
            if trial.state == optuna.trial.TrialState.RUNNING and named and trial.number >= 1:
                pid = int(worker.rsplit(":", 1)[1])
                os.kill(pid, signal.SIGKILL)
                return trial.number, pid
        time.sleep(0.1)
    pytest.fail(f"no running trial seen:\n{log.read_text()[-3000:]}")


def test_users_add_again_changes_the_role_and_only_an_admin_may_add(team, monkeypatch):
    from mlflow.server import get_app_client

    env = {**team.env("admin"), "CRMLAB_USER_PASSWORD": "temp-user-password-1"}
    for role in ("reviewer", "engineer"):
        result = CliRunner().invoke(cli, ["users", "add", "temp", "--role", role], env=env)
        assert result.exit_code == 0, result.output
    assert "user temp exists (password unchanged); role engineer" in result.output
    _client(team, "admin", monkeypatch)
    roles = get_app_client("basic-auth", tracking_uri=team.url).list_user_roles("temp")
    assert [r.name for r in roles] == ["crmlab-engineer"]

    refused = CliRunner().invoke(cli, ["users", "add", "mallory", "--role", "engineer"],
                                 env={**team.env("eng"), "CRMLAB_USER_PASSWORD": "mallory-password-1"})
    assert refused.exit_code == 1 and "permission denied: user 'eng' lacks admin rights" in refused.output
