"""Team setup: MLflow tracking + registry and Optuna studies on a shared PostgreSQL, through the real CLI.

MLflow and Optuna each keep their schema version in a table named ``alembic_version``; in one database
Optuna finds MLflow's revision and refuses to start ("no longer compatible with the table schema"), so a
team gives each its own database on the same server (checked below).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from pg_local import PG_SERVER, connect_local_postgres

from crmlab.cli import cli
from training.world.churn_features import synthetic_features, write_features_dir


@dataclass(frozen=True)
class TeamStores:
    tracking_uri: str
    optuna_storage: str


def _admin_engine() -> tuple[sa.Engine, str]:
    """An autocommit engine on the existing `test` database (CREATE DATABASE cannot run in a transaction)."""
    engine, role, _ = connect_local_postgres(isolation_level="AUTOCOMMIT")
    return engine, role


@pytest.fixture
def team_stores(isolated_tracking, monkeypatch) -> Iterator[TeamStores]:
    """Fresh MLflow and Optuna databases on the local server, dropped afterwards; MLflow pointed at them."""
    admin, role = _admin_engine()
    base = f"crmlab_team_{uuid.uuid4().hex[:8]}"
    names = (base, f"{base}_optuna")
    try:
        with admin.connect() as connection:
            for name in names:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        stores = TeamStores(*(f"postgresql+psycopg://{role}@{PG_SERVER}/{name}" for name in names))
        monkeypatch.setenv("MLFLOW_TRACKING_URI", stores.tracking_uri)  # after the autouse SQLite store
        yield stores
    finally:
        import mlflow

        mlflow.set_tracking_uri(isolated_tracking)  # let go of the PostgreSQL store before dropping it
        with admin.connect() as connection:
            for name in names:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _rows(url: str, sql: str) -> list[tuple]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(r) for r in connection.execute(sa.text(sql))]
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_train_churn_promotes_into_a_shared_postgres_registry_and_study(team_stores, tmp_path):
    import mlflow
    import optuna

    features = write_features_dir(synthetic_features(1500, seed=5), tmp_path / "features")
    result = CliRunner().invoke(cli, ["train", "churn", "--features", str(features), "--trials", "2",
                                      "--timeout", "0", "--seed", "1", "--storage", team_stores.optuna_storage,
                                      "--promote"])
    assert result.exit_code == 0, result.output
    assert "PROMOTED" in result.output

    # the CLI honoured MLFLOW_TRACKING_URI: run, model version and alias are rows in PostgreSQL
    assert mlflow.get_tracking_uri() == team_stores.tracking_uri
    client = mlflow.MlflowClient()
    champion = client.get_model_version_by_alias("churn", "champion")
    run = client.get_run(champion.run_id)
    assert run.info.status == "FINISHED" and "test_roc_auc" in run.data.metrics
    assert _rows(team_stores.tracking_uri, "SELECT name, alias, version FROM registered_model_aliases "
                                           "WHERE alias = 'champion'") == [("churn", "champion",
                                                                            int(champion.version))]
    assert (champion.run_id,) in _rows(team_stores.tracking_uri, "SELECT run_uuid FROM runs")

    # the Optuna study (named on the model version) lives in the Optuna database with both trials
    study_name = champion.tags["optuna.study"]
    study = optuna.load_study(study_name=study_name, storage=team_stores.optuna_storage)
    assert len(study.trials) == 2
    assert _rows(team_stores.optuna_storage, "SELECT study_name FROM studies") == [(study_name,)]

    # the champion serves from the shared registry (artifacts on local disk in tmp_path)
    model = mlflow.pyfunc.load_model("models:/churn@champion")
    rows = synthetic_features(40, seed=9).drop(columns=["customer_id", "cutoff", "churned", "future_spend"],
                                               errors="ignore").head(5)
    out = model.predict(rows)
    assert list(out.columns) == ["churn_probability", "risk_band", "top_reasons"]
    assert len(out) == 5 and out["churn_probability"].between(0, 1).all()
    assert out["top_reasons"].map(len).gt(0).all()


@pytest.mark.postgres
def test_optuna_cannot_share_the_mlflow_database(team_stores):
    """Why the team setup uses two databases: pointing Optuna at MLflow's database fails loudly."""
    import mlflow
    import optuna

    mlflow.MlflowClient(team_stores.tracking_uri).search_experiments()  # creates MLflow's tables
    with pytest.raises(RuntimeError, match="no longer compatible with the table schema"):
        optuna.create_study(storage=team_stores.tracking_uri, study_name="shared")
