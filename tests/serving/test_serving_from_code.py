"""Every registered crmlab model is logged from code: no pickle among its files, and it loads and answers
in a fresh process where unpickling is impossible, exactly as the pickled object did before."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import cloudpickle
import mlflow
import pandas as pd
import pytest
from mlflow.models import Model

from training.core import model_state
from training.core.pyfunc_base import python_model_of

MODELS = ("churn", "clv", "segments", "customer_profile")
FRESH_PROCESS = textwrap.dedent("""
    import pickle, sys

    def refuse(*args, **kwargs):
        raise AssertionError("a model load tried to unpickle")

    pickle.load = pickle.loads = refuse  # before mlflow/cloudpickle import them
    import mlflow
    import pandas as pd

    rows = pd.read_parquet(sys.argv[1])
    for name in sys.argv[3:]:
        model = mlflow.pyfunc.load_model(f"models:/{name}@champion")
        model.predict(rows).to_parquet(f"{sys.argv[2]}/{name}.parquet")
""")


@pytest.fixture()
def rows(registry) -> pd.DataFrame:
    return registry.features.head(40).drop(columns=["churned", "future_spend", "cutoff"]).reset_index(drop=True)


@pytest.mark.parametrize("name", MODELS)
def test_model_directory_holds_code_and_state_but_no_pickle(registry, name):
    local = Path(mlflow.artifacts.download_artifacts(f"models:/{name}@champion"))
    pyfunc = Model.load(local).flavors["python_function"]
    assert "python_model" not in pyfunc, "a python_model.pkl is logged"
    assert Path(pyfunc["model_code_path"]).name == "from_code.py"
    assert pyfunc["config"][model_state.CONFIG_KEY] in model_state.CLASSES
    assert not [p.name for p in local.rglob("*.pkl")]  # a composite's components included
    assert (local / "artifacts" / model_state.STATE_ARTIFACT / "state.json").is_file()


def test_models_load_in_a_fresh_process_without_unpickling_and_answer_as_before(registry, rows, tmp_path):
    rows.to_parquet(tmp_path / "rows.parquet")
    env = {"MLFLOW_TRACKING_URI": mlflow.get_tracking_uri(), "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false"}
    done = subprocess.run([sys.executable, "-c", FRESH_PROCESS, str(tmp_path / "rows.parquet"), str(tmp_path),
                           *MODELS], capture_output=True, text=True, timeout=600,
                          env={**__import__("os").environ, **env})
    assert done.returncode == 0, done.stderr[-3000:]
    for name in MODELS:
        model = mlflow.pyfunc.load_model(f"models:/{name}@champion")
        fresh = pd.read_parquet(tmp_path / f"{name}.parquet")
        pd.testing.assert_frame_equal(fresh, model.predict(rows).reset_index(drop=True), check_index_type=False)
        if name != "customer_profile":  # its components travel as artifacts, not in the object
            before = cloudpickle.loads(cloudpickle.dumps(python_model_of(model)))  # what was logged before
            pd.testing.assert_frame_equal(fresh, before.predict(None, rows).reset_index(drop=True),
                                          check_index_type=False)
