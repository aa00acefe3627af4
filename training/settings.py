"""One typed settings object for the whole platform.

Values come from (highest first): explicit keyword overrides (CLI flags), environment variables
(``CRMLAB_*``; the tracking URI also honours MLflow's own ``MLFLOW_TRACKING_URI``), then defaults.
Modules take a ``Settings`` argument instead of reading the environment themselves.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEMO_PII_KEY = "crmlab-demo-key-not-secret"
# The master URL forms Spark accepts (checked here, so a typo fails before a JVM starts).
_SPARK_MASTER = re.compile(r"local(\[(\*|\d+)(,\s*\d+)?\])?|local-cluster\[\d+,\s*\d+,\s*\d+\]"
                           r"|spark://[^\s/]+(:\d+)?(,[^\s/]+(:\d+)?)*|yarn|k8s://\S+|mesos://\S+")


class Settings(BaseSettings):
    """Platform configuration; see README "Configuration" for the full table."""

    model_config = SettingsConfigDict(env_prefix="CRMLAB_", extra="ignore", frozen=True, populate_by_name=True)

    # --- tracking -----------------------------------------------------------------------------
    tracking_uri: str = Field(
        default="sqlite:///mlflow.db",
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "CRMLAB_TRACKING_URI"),
        description="MLflow tracking store; SQLite in the working directory by default.",
    )
    registry_uri: str | None = Field(
        default=None, validation_alias=AliasChoices("MLFLOW_REGISTRY_URI", "CRMLAB_REGISTRY_URI")
    )
    experiment: str = Field(default="crmlab", description="Default MLflow experiment name.")

    # --- privacy ------------------------------------------------------------------------------
    pii_key: SecretStr | None = Field(default=None, description="HMAC key for direct identifiers.")
    demo: bool = Field(default=False, description="Demo mode: a fixed, public PII key is allowed.")

    # --- synthetic world ----------------------------------------------------------------------
    seed: int = 42
    dirt_rate: float = Field(default=0.01, ge=0.0, le=0.15, description="Share of rows per dirt kind.")

    # --- cleaning (fitted point-in-time, on rows before the cutoff only) -------------------------
    impute_numeric: Literal["median", "none"] = "median"
    impute_categorical: Literal["missing", "mode"] = "missing"
    outliers: Literal["iqr", "zscore", "none"] = "iqr"
    iqr_k: float = Field(default=3.0, gt=0)
    zscore_max: float = Field(default=4.0, gt=0)
    absurd_amount: float = Field(default=50_000.0, gt=0, description="Order amounts above this are refused.")
    ingest_memory_limit: str = Field(
        default="4GB", pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
        description="DuckDB memory limit while ingesting; above it DuckDB spills to disk beside the output.",
    )

    # --- features -----------------------------------------------------------------------------
    horizon_days: int = Field(default=90, gt=0)
    active_window_days: int = Field(default=365, gt=0)

    # --- modelling ----------------------------------------------------------------------------
    trials: int = Field(default=30, ge=1)
    timeout_s: float | None = None
    optuna_storage: str | None = Field(
        default=None, description="Optuna RDB URL; SQLite beside the tracking store by default."
    )
    kfold_max_rows: int = Field(
        default=10_000, ge=0,
        description="LightGBM tuning uses K-fold cross-validation when train + validation hold at most this many "
                    "rows (0 = never); above it, one validation split. See training/core/lgbm_search.py.",
    )
    churn_served: Literal["cross-fit", "refit"] = Field(
        default="cross-fit",
        description="What churn serves of its LightGBM: the 5 cross-fitted fold models (whose out-of-fold "
                    "predictions fitted the calibration map) merged into one booster, or one refit on all "
                    "non-test rows (about 1/4 of the trees: cheaper batch scoring). The cross-fit scored the "
                    "higher test AUC on every table measured (bench/README.md). See training/churn/train.py.",
    )
    kfold_folds: int = Field(default=5, ge=2, le=20, description="Folds of the K-fold tuning of small tables.")
    clv_log_max_quarantine_share: float = Field(
        default=0.5, gt=0, le=1,
        description="`crmlab train clv --transactions`: rows failing a check (no customer id, a bad date, a "
                    "missing or negative amount) go to ./<log>.quarantine.csv and are left out, unless more than "
                    "this share of the log fails; then the log is refused. See training/clv/inputs.py.",
    )
    clv_refit_seeds: int = Field(
        default=5, ge=1, le=20,
        description="CLV on tables above kfold_max_rows: the chosen LightGBM configuration is refitted on all "
                    "non-test rows this many times with different seeds and the fits averaged (small tables "
                    "serve their K fold models instead). See training/clv/spend_models.py, bench/README.md.",
    )

    # --- team mode (`crmlab server`, `crmlab users`, distributed tuning) --------------------------
    server_backend_store_uri: str | None = Field(
        default=None, description="`crmlab server` backend store; the tracking URI when that is a database.",
    )
    artifacts_destination: str = Field(default="./mlartifacts", description="Where the server keeps artifacts.")
    server_host: str = "127.0.0.1"
    server_port: int = Field(default=5000, gt=0, lt=65536)
    server_workers: int = Field(default=2, ge=1, description="Server worker processes (MLflow's default is 4).")
    auth_db_uri: str = Field(default="sqlite:///basic_auth.db", description="Users and permissions store.")
    auth_config_path: Path = Field(default=Path("mlflow-auth.ini"), description="Auth ini written at start.")
    auth_default_permission: Literal["NO_PERMISSIONS", "READ"] = Field(
        default="NO_PERMISSIONS", description="What a user without a role may do; roles grant the rest.",
    )
    auth_cache_s: int = Field(
        default=60, ge=0, description="Server-side cache of checked passwords (a changed password may work 60 s).",
    )
    admin_user: str = Field(default="admin", description="Auth admin account (CRMLAB_ADMIN_USER).")
    admin_password: SecretStr | None = Field(default=None, description="Admin password; required with --auth.")
    user_password: SecretStr | None = Field(default=None, description="Password for `crmlab users add`.")
    server_secret_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("MLFLOW_FLASK_SERVER_SECRET_KEY", "CRMLAB_SERVER_SECRET_KEY"),
        description="Flask secret of the auth app; a random one per start when unset.",
    )
    study: str | None = Field(default=None, description="Optuna study a tuning job runs in (joined if it exists).")
    heartbeat_s: int = Field(default=30, ge=1, description="Trial heartbeat; a trial silent 2x this is failed.")

    # --- recommendations ------------------------------------------------------------------------
    recs_min_history: int = Field(
        default=3, ge=1, description="Distinct products a customer needs before collaborative filtering is used."
    )
    recs_eval_customers: int = Field(
        default=5000, ge=50, description="Customers sampled to tune and evaluate the recommender (memory bound)."
    )
    recs_popularity_days: int = Field(default=365, gt=0, description="Window of the popularity ranking.")
    recs_blend_step: float = Field(default=0.1, gt=0, le=0.5, description="Grid step of the tuned blend weights.")

    # --- Spark (``--engine spark``; see README "Scale out on Spark") --------------------------
    spark_master: str = Field(
        default="local[*]",
        description="Spark master URL: local[*] (all cores here), local[N], spark://host:7077, yarn, k8s://...",
    )
    spark_remote: str | None = Field(
        default=None, validation_alias=AliasChoices("SPARK_REMOTE", "CRMLAB_SPARK_REMOTE"),
        description="Spark Connect URL (sc://host:15002); when set, used instead of the master URL.",
    )
    spark_conf: dict[str, str] = Field(
        default_factory=dict,
        description='Extra Spark settings as JSON, e.g. {"spark.executor.memory": "8g"}.',
    )

    @field_validator("spark_master")
    @classmethod
    def _spark_master(cls, value: str) -> str:
        if not _SPARK_MASTER.fullmatch(value.strip()):
            raise ValueError(f"CRMLAB_SPARK_MASTER={value!r} is not a Spark master URL: use local[*], local[N], "
                             "spark://HOST:PORT, yarn or k8s://https://HOST:PORT")
        return value.strip()

    @field_validator("spark_remote")
    @classmethod
    def _spark_remote(cls, value: str | None) -> str | None:
        if value is not None and value.strip() and not value.strip().startswith("sc://"):
            raise ValueError(f"SPARK_REMOTE={value!r} is not a Spark Connect URL: use sc://HOST:PORT")
        return value.strip() or None if value is not None else None

    @field_validator("tracking_uri")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("MLFLOW_TRACKING_URI is empty: unset it or give a URI such as sqlite:///mlflow.db")
        return value

    def resolved_pii_key(self) -> bytes:
        """The HMAC key; outside demo mode a missing key is an error that says what to do."""
        if self.pii_key is not None and self.pii_key.get_secret_value():
            return self.pii_key.get_secret_value().encode()
        if self.demo:
            return DEMO_PII_KEY.encode()
        raise RuntimeError(
            "CRMLAB_PII_KEY is not set: direct identifiers (name, email, phone) cannot be pseudonymised. "
            "Set CRMLAB_PII_KEY to a secret of at least 16 characters, or pass --demo (CRMLAB_DEMO=1) "
            "to use the public demo key on generated data."
        )

    def default_optuna_storage(self) -> str:
        """Study storage: explicit setting, else SQLite beside a SQLite tracking store (optuna-dashboard opens it).

        Optuna never shares the tracking database: both keep an ``alembic_version`` table. With a
        PostgreSQL or HTTP tracking store, studies go to ``./optuna.db`` unless CRMLAB_OPTUNA_STORAGE names
        a database of their own (e.g. ``postgresql+psycopg://user@host/crmlab_optuna``, for parallel workers).
        """
        if self.optuna_storage:
            return self.optuna_storage
        if self.tracking_uri.startswith("sqlite:///"):
            db = Path(self.tracking_uri.removeprefix("sqlite:///"))
            return f"sqlite:///{db.with_name('optuna.db')}"
        return "sqlite:///optuna.db"


def get_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with CLI-flag overrides (``None`` means "not given")."""
    given = {k: v for k, v in overrides.items() if v is not None}
    if not given:
        return _cached_settings(_env_fingerprint())
    return Settings(**given)


def _env_fingerprint() -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(("CRMLAB_", "MLFLOW_"))))


@lru_cache(maxsize=8)
def _cached_settings(_fingerprint: tuple[tuple[str, str], ...]) -> Settings:
    return Settings()
