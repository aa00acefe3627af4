"""Log a family's pyfunc inside the active run, register it, and label it as the new challenger.

The model is logged from code: ``python_model`` is the entry file ``training/core/from_code.py``, the
model's state is the ``crmlab_state`` artifact (``training.core.model_state``: JSON, arrays, LightGBM
text, skops) and ``model_config`` names the class. No crmlab object is pickled. The model carries
``training/`` as ``code_paths``, so a served model imports the same crmlab code it was trained with.
Requirements are pinned from the installed versions (no slow inference subprocess).

Input signature: column names come from the input example, but every input is logged as optional
with type ``Any``; the inferred types go to the model metadata (``crmlab_input_types``) instead.
Reason: MLflow's own schema enforcement runs before ``predict`` and, when it fails, copies the payload
(customer rows) into the error message returned to the caller. ``ValidatedPyfunc`` checks the same
things (missing required column, wrong type, null in a required field) and names only the column.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
import warnings
from importlib import metadata
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.models.signature import ModelSignature, infer_signature
from mlflow.types.schema import AnyType, ColSpec, Schema

from training.core import model_state, native_boosters
from training.settings import Settings
from training.tracking import configure_mlflow

CHALLENGER = "challenger"
CHAMPION = "champion"
MODEL_ARTIFACT_NAME = "model"
_TRAINING_DIR = Path(__file__).resolve().parents[1]
_ENTRY_FILE = Path(__file__).resolve().with_name("from_code.py")  # models from code: see that file
_REQUIREMENTS = ("mlflow", "lightgbm", "scikit-learn", "pandas", "numpy", "scipy", "pyarrow",
                 "skops", "optuna", "pydantic-settings")
_TAG_LIMIT = 5000  # MLflow's version-tag value limit


def log_and_register(
    python_model: mlflow.pyfunc.PythonModel, *, model_name: str, family: str,
    artifacts: dict[str, str], input_example: pd.DataFrame, tags: dict[str, str],
    metrics: dict[str, float], settings: Settings, code_paths: tuple[str, ...] = (),
    description: str = "",
) -> ModelVersion:
    """Log, register under ``model_name``, set alias ``challenger`` and the version tags.

    Version tags: ``crmlab.family``, ``git_commit``, ``data_hash`` (from ``tags`` when given, else of the
    input example), ``metric.<k>`` for each metric, plus ``tags``. Requires an active MLflow run.
    ``code_paths`` adds packages beyond ``training/`` to the model (e.g. ``serving/`` for composites).
    ``description`` (the model card summary) becomes the version's and the registered model's
    description, so the registry UI says what each version predicts, on what data, how well.
    """
    run = mlflow.active_run()
    if run is None:
        raise RuntimeError("log_and_register needs an active MLflow run (use training.tracking.tracked_run)")
    configure_mlflow(settings)
    with warnings.catch_warnings():
        # Inputs are logged as optional `Any` (validation happens in the model), so MLflow's hints about
        # integer columns are noise here.
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        signature, input_types = _signature(python_model, input_example)
        with tempfile.TemporaryDirectory() as tmp:
            boosters = native_boosters.write_boosters(python_model, Path(tmp))  # see that module
            state = model_state.save(python_model, Path(tmp) / model_state.STATE_ARTIFACT)
            info = mlflow.pyfunc.log_model(
                name=MODEL_ARTIFACT_NAME,
                python_model=str(_ENTRY_FILE),
                model_config={model_state.CONFIG_KEY: model_state.class_name(python_model)},
                artifacts={**(artifacts or {}), **boosters, model_state.STATE_ARTIFACT: str(state)},
                code_paths=[str(_TRAINING_DIR), *code_paths],
                signature=signature,
                input_example=input_example,
                pip_requirements=_pinned_requirements(),
                metadata={"crmlab_family": family, "crmlab_input_types": input_types,
                          native_boosters.METADATA_KEY: native_boosters.model_paths(boosters)},
            )
    client = mlflow.MlflowClient()
    version = mlflow.register_model(info.model_uri, model_name, tags={"crmlab.family": family})
    all_tags = {
        "crmlab.family": family,
        "git_commit": git_commit(),
        "data_hash": data_hash(input_example),
        "run_id": run.info.run_id,
        **{f"metric.{k}": f"{v:.6g}" for k, v in metrics.items()},
        **tags,
    }
    for key, value in all_tags.items():
        client.set_model_version_tag(model_name, version.version, key, str(value)[:_TAG_LIMIT])
    if description:
        client.update_model_version(model_name, version.version, description=description)
        client.update_registered_model(model_name, description=f"Latest challenger v{version.version}:\n"
                                                               f"{description}")
    client.set_registered_model_alias(model_name, CHALLENGER, version.version)
    mlflow.set_tags({"crmlab.registered_model": model_name, "crmlab.model_version": str(version.version)})
    return client.get_model_version(model_name, version.version)


def _signature(python_model: mlflow.pyfunc.PythonModel, example: pd.DataFrame
               ) -> tuple[ModelSignature, dict[str, str]]:
    """Signature from the example and the model's own output, inputs loosened (see module docstring)."""
    output = python_model.predict(None, example)
    inferred = infer_signature(example, output, params=dict(getattr(python_model, "PARAMS", {})) or None)
    types = {spec.name: getattr(spec.type, "name", str(spec.type)) for spec in inferred.inputs.inputs}
    inputs = Schema([ColSpec(type=AnyType(), name=name, required=False) for name in types])
    return ModelSignature(inputs=inputs, outputs=inferred.outputs, params=inferred.params), types


def _pinned_requirements() -> list[str]:
    pins = []
    for package in _REQUIREMENTS:
        try:
            pins.append(f"{package}=={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    return pins


def data_hash(df: pd.DataFrame) -> str:
    """Content hash of a frame (columns, dtypes and values; row order matters): identifies training data."""
    digest = hashlib.sha256()
    digest.update("|".join(f"{c}:{t}" for c, t in df.dtypes.astype(str).items()).encode())
    digest.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def git_commit() -> str:
    """The crmlab source commit (``-dirty`` with uncommitted changes), or ``unknown`` outside git."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=_TRAINING_DIR, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=_TRAINING_DIR,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{sha}-dirty" if dirty else sha
