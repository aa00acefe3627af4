"""`crmlab server` / `crmlab users` / `--workers` refusals that need no server: one line, non-zero, no secret."""

from __future__ import annotations

from click.testing import CliRunner
from mlflow.exceptions import MlflowException

from crmlab.auth_errors import refused_request_message
from crmlab.cli import cli

PG = "postgresql+psycopg://crm@db:5432/crmlab_mlflow"


def _run(args: list[str], **env: str):
    return CliRunner().invoke(cli, args, env=env)


def test_server_dry_run_prints_the_plain_mlflow_command_without_the_password(tmp_path):
    result = _run(["server", "--backend-store-uri", PG, "--port", "5055", "--auth", "--dry-run"],
                  CRMLAB_ADMIN_PASSWORD="a-long-admin-password", CRMLAB_AUTH_CONFIG_PATH=str(tmp_path / "a.ini"))
    assert result.exit_code == 0, result.output
    assert f"mlflow server --backend-store-uri {PG} " in result.output
    assert "--port 5055" in result.output and result.output.strip().endswith("--app-name basic-auth")
    assert "a-long-admin-password" not in result.output
    assert not (tmp_path / "a.ini").exists()  # a dry run writes nothing

    plain = _run(["server", "--backend-store-uri", PG, "--dry-run"])
    assert plain.exit_code == 0 and "--app-name" not in plain.output and "MLFLOW_AUTH" not in plain.output


def test_server_auth_refuses_a_missing_or_short_admin_password():
    missing = _run(["server", "--backend-store-uri", PG, "--auth", "--dry-run"], CRMLAB_ADMIN_PASSWORD="")
    assert missing.exit_code == 1 and "CRMLAB_ADMIN_PASSWORD is not set" in missing.output
    short = _run(["server", "--backend-store-uri", PG, "--auth", "--dry-run"], CRMLAB_ADMIN_PASSWORD="short")
    assert short.exit_code == 1 and "CRMLAB_ADMIN_PASSWORD is too short" in short.output
    assert "Traceback" not in missing.output + short.output


def test_server_needs_a_store_not_a_server_url():
    result = _run(["server", "--dry-run"], MLFLOW_TRACKING_URI="http://mlflow-host:5000")
    assert result.exit_code == 1 and "give --backend-store-uri" in result.output


def test_users_add_needs_the_team_server():
    result = _run(["users", "add", "bob", "--role", "reviewer"], CRMLAB_USER_PASSWORD="a-long-user-password")
    assert result.exit_code == 1 and "point it at the team server" in result.output
    bad_role = _run(["users", "add", "bob", "--role", "owner"])
    assert bad_role.exit_code == 2 and "'owner' is not one of" in bad_role.output


def test_workers_refuse_a_sqlite_storage(tmp_path):
    result = _run(["train", "churn", "--features", str(tmp_path), "--workers", "2",
                   "--storage", f"sqlite:///{tmp_path / 'optuna.db'}"])
    assert result.exit_code == 1, result.output
    assert "distributed tuning needs a PostgreSQL Optuna storage, not sqlite" in result.output


def test_a_403_names_the_missing_permission(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "bob")
    error = MlflowException("API request to endpoint /api/2.0/mlflow/registered-models/alias failed with error "
                            "code 403 != 200. Response body: 'Permission denied'", error_code="PERMISSION_DENIED")
    assert refused_request_message(error) == ("permission denied: user 'bob' lacks EDIT on the registered model "
                                              "(set or delete an alias) [registered-models/alias]")
    wrapped = RuntimeError("training failed")
    wrapped.__cause__ = error
    assert refused_request_message(wrapped).startswith("permission denied: user 'bob'")
    assert refused_request_message(ValueError("something else")) is None
