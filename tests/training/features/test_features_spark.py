"""One feature definition, two engines: ``--engine spark`` runs the same SQL (transpiled) and gives the
DuckDB table: same customers, columns, dtypes and values (1e-9 relative), labels included, at two cutoffs."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training.features.build import build_feature_set
from training.features.catalog import LABEL_NAMES
from training.features.engine import spark_engine
from training.ingest.pipeline import ingest
from training.settings import get_settings
from training.world import WorldConfig, generate_world, write_world

CUTOFFS = [date(2024, 7, 1), date(2025, 1, 1)]
HORIZON = 90


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("spark-world")
    write_world(generate_world(WorldConfig(n_customers=250, seed=11, dirt_rate=0.02)), home / "raw")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
        mp.chdir(home)
        ingest(home / "raw", home / "clean", get_settings(), progress=False)
    return home / "clean"


@pytest.fixture(scope="module")
def both(clean, spark) -> tuple[pd.DataFrame, pd.DataFrame]:
    settings = get_settings()
    on_duckdb = build_feature_set(clean, CUTOFFS, HORIZON, settings)
    on_spark = build_feature_set(clean, CUTOFFS, HORIZON, settings, engine=spark_engine(spark))
    assert on_spark.meta["cleaning"] == on_duckdb.meta["cleaning"]  # the fitted statistics agree too
    return on_duckdb.frame, on_spark.frame


def test_same_customers_columns_and_types(both):
    duck, spark = both
    assert list(spark.columns) == list(duck.columns)
    assert spark.dtypes.to_dict() == duck.dtypes.to_dict()
    assert spark[["customer_id", "cutoff"]].equals(duck[["customer_id", "cutoff"]])
    assert sorted(duck["cutoff"].dt.date.unique()) == CUTOFFS and len(duck) > 150


def test_same_values_labels_included(both):
    duck, spark = both
    for column in duck.columns:
        a, b = duck[column], spark[column]
        assert (a.isna() == b.isna()).all(), column
        if pd.api.types.is_float_dtype(a):
            np.testing.assert_allclose(b.to_numpy(float), a.to_numpy(float), rtol=1e-9, atol=0, equal_nan=True,
                                       err_msg=column)
        else:
            assert a.equals(b), column
    for label in LABEL_NAMES:  # the comparison covered real labels, not two empty columns
        assert duck[label].notna().sum() > 30


def test_misconfigured_spark_is_one_line_naming_the_setting(clean, tmp_path):
    crmlab = [sys.executable, "-m", "crmlab.cli"]
    args = ["features", "--data", str(clean), "--cutoff", "2024-07-01", "--out", str(tmp_path / "f"),
            "--engine", "spark"]
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    bad_url = subprocess.run([*crmlab, *args], env={**env, "CRMLAB_SPARK_MASTER": "spark:/nohost"},
                             capture_output=True, text=True, timeout=120)
    no_java = subprocess.run([*crmlab, *args], env={**env, "CRMLAB_SPARK_MASTER": "local[1]",
                                                    "JAVA_HOME": str(tmp_path / "no-java")},
                             capture_output=True, text=True, timeout=120)
    for run, setting in ((bad_url, "CRMLAB_SPARK_MASTER='spark:/nohost'"), (no_java, "CRMLAB_SPARK_MASTER=local[1]")):
        assert run.returncode != 0
        errors = [line for line in run.stderr.splitlines() if line.startswith("Error")]
        assert len(errors) == 1 and setting in errors[0], run.stderr
        assert "Traceback" not in run.stderr and "\tat " not in run.stderr
    assert not (tmp_path / "f").exists()
