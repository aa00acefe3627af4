"""Settings: one typed object, environment and flags override defaults, errors say what to do."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from training.settings import Settings, get_settings


def test_tracking_uri_defaults_to_sqlite_and_honours_mlflow_env(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert Settings().tracking_uri == "sqlite:///mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql://u@h/db")
    assert Settings().tracking_uri == "postgresql://u@h/db"


def test_flags_override_environment(monkeypatch):
    monkeypatch.setenv("CRMLAB_SEED", "7")
    assert get_settings().seed == 7
    assert get_settings(seed=11).seed == 11
    assert get_settings(seed=None).seed == 7  # a flag not given leaves the environment in charge


def test_missing_pii_key_outside_demo_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("CRMLAB_PII_KEY", raising=False)
    monkeypatch.setenv("CRMLAB_DEMO", "0")
    with pytest.raises(RuntimeError, match="CRMLAB_PII_KEY"):
        Settings().resolved_pii_key()
    monkeypatch.setenv("CRMLAB_PII_KEY", "s3cret-key-for-tests")
    assert Settings().resolved_pii_key() == b"s3cret-key-for-tests"


def test_invalid_values_name_the_field(monkeypatch):
    monkeypatch.setenv("CRMLAB_DIRT_RATE", "2")
    with pytest.raises(ValidationError, match="dirt_rate"):
        Settings()


def test_optuna_storage_sits_next_to_sqlite_tracking_store(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    assert Settings().default_optuna_storage() == f"sqlite:///{tmp_path}/optuna.db"
    assert Settings(optuna_storage="postgresql://x/y").default_optuna_storage() == "postgresql://x/y"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql+psycopg://u@h/mlflow")
    assert Settings().default_optuna_storage() == "sqlite:///optuna.db", "never the tracking database itself"
