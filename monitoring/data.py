"""Inputs of a monitoring run: the current batch, the champion (version, reference sample) and its outputs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from monitoring.families import FamilySpec, family_spec
from training.settings import Settings

REFERENCE_ARTIFACT = "reference.parquet"
CHAMPION = "champion"


class MonitorInputError(ValueError):
    """Input a monitoring run cannot use; the message says which and what to do."""


def load_current(path: str | Path) -> pd.DataFrame:
    """A feature frame: a Parquet/CSV file, or a directory holding ``features.parquet`` (``crmlab features``)."""
    path = Path(path)
    if path.is_dir():
        named = path / "features.parquet"
        candidates = [named] if named.exists() else sorted(path.glob("*.parquet"))
        if len(candidates) != 1:
            raise MonitorInputError(f"{path} holds {len(candidates)} Parquet files and no features.parquet: "
                                    "give the file itself with --current PATH")
        path = candidates[0]
    if not path.exists():
        raise MonitorInputError(f"current batch {path} does not exist: give the output of `crmlab features` "
                                "(a directory or its features.parquet)")
    if path.suffix.lower() in {".parquet", ".pq"}:
        frame = pd.read_parquet(path)
    elif path.suffix.lower() == ".csv":
        frame = pd.read_csv(path)
    else:
        raise MonitorInputError(f"unsupported batch format {path.suffix!r}: give a .parquet or .csv file")
    if frame.empty:
        raise MonitorInputError(f"current batch {path} has no rows")
    return frame


def data_window(frame: pd.DataFrame) -> str:
    """What data a run judged: the cutoff date(s) when present, else a content hash of the batch."""
    if "cutoff" in frame.columns and frame["cutoff"].notna().any():
        cutoffs = sorted({str(pd.Timestamp(v).date()) for v in frame["cutoff"].dropna().unique()})
        return f"cutoff={cutoffs[0]}" if len(cutoffs) == 1 else f"cutoff={cutoffs[0]}..{cutoffs[-1]}"
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return f"rows={len(frame)};sha256={digest.hexdigest()[:16]}"


@dataclass
class Champion:
    """The registered version being monitored and what its training run left for monitoring."""

    model_name: str
    version: str
    run_id: str
    spec: FamilySpec
    tags: dict[str, str]
    reference: pd.DataFrame
    importance: pd.Series | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def family(self) -> str:
        return self.spec.family

    def feature_list(self) -> list[str] | None:
        """The model's input features from the version tag ``features`` (comma-separated), if recorded."""
        listed = [f for f in self.tags.get("features", "").split(",") if f]
        return listed or None

    def registry_metric(self, *names: str) -> float | None:
        for name in names:
            value = self.tags.get(f"metric.{name}")
            if value is not None:
                try:
                    return float(value)
                except ValueError:
                    continue
        return None


def load_champion(model_name: str, settings: Settings) -> Champion:
    """Resolve ``model_name@champion`` and download its training run's reference sample."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from training.tracking import configure_mlflow

    configure_mlflow(settings)
    client = mlflow.MlflowClient()
    try:
        version = client.get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException:
        raise MonitorInputError(f"model {model_name!r} has no {CHAMPION!r} version in {settings.tracking_uri}: "
                                f"train and promote one first (crmlab train ... then crmlab promote {model_name})"
                                ) from None
    tags = dict(version.tags or {})
    family = tags.get("crmlab.family") or model_name
    spec = family_spec(family)
    reference = _download_frame(version.run_id, REFERENCE_ARTIFACT)
    if reference is None:
        raise MonitorInputError(f"{model_name} v{version.version}: its training run {version.run_id} logged no "
                                f"{REFERENCE_ARTIFACT}; retrain it with this crmlab version so monitoring has a "
                                "reference sample")
    champion = Champion(model_name, str(version.version), version.run_id, spec, tags, reference)
    champion.importance = _importance(version.run_id)
    return champion


def _download_frame(run_id: str, name: str) -> pd.DataFrame | None:
    """The run's artifact called ``name`` (at any depth), read as a frame; None when absent."""
    import mlflow

    path = _find_artifact(run_id, name)
    if path is None:
        return None
    local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path)
    return pd.read_parquet(local) if name.endswith(".parquet") else pd.read_csv(local)


def _find_artifact(run_id: str, name: str, folder: str | None = None, depth: int = 0) -> str | None:
    import mlflow

    client = mlflow.MlflowClient()
    entries = client.list_artifacts(run_id, folder)
    for entry in entries:
        if not entry.is_dir and Path(entry.path).name == name:
            return entry.path
    if depth >= 2:
        return None
    for entry in entries:
        if entry.is_dir and not entry.path.endswith("model"):
            found = _find_artifact(run_id, name, entry.path, depth + 1)
            if found:
                return found
    return None


IMPORTANCE_ARTIFACTS = ("feature_importance.csv", "importance.csv")


def _importance(run_id: str) -> pd.Series | None:
    """Global feature importance logged by the training run (feature, importance), if any."""
    for name in IMPORTANCE_ARTIFACTS:
        frame = _download_frame(run_id, name)
        if frame is not None and frame.shape[1] >= 2:
            return pd.Series(frame.iloc[:, 1].to_numpy(dtype=float), index=frame.iloc[:, 0].astype(str))
    return None


def model_outputs(champion: Champion, current: pd.DataFrame, source: str | Path | None = None) -> pd.DataFrame:
    """The champion's outputs for the batch: taken from the batch when already scored, else predicted.

    Predicted as batch scoring does (``serving.batch``): derived inputs such as a BG/NBD model's come
    from the clean data named in the batch's features_meta.json (``source``: the batch's path), and
    churn's ``top_reasons``, which monitoring ignores, are not computed.
    """
    spec = champion.spec
    monitored = [c for c in spec.numeric_outputs + spec.categorical_outputs]
    if all(c in current.columns for c in monitored):
        return current[monitored]
    import mlflow

    from serving.batch import derived_inputs, features_meta
    from training.core.pyfunc_base import direct_predictor

    model = mlflow.pyfunc.load_model(f"models:/{champion.model_name}/{champion.version}")
    meta = features_meta(Path(source)) if source else {}
    try:
        derive = derived_inputs(model, champion.model_name, list(current.columns), meta)
    except ValueError as err:
        raise MonitorInputError(str(err)) from None
    outputs = direct_predictor(model)(derive(current) if derive else current, {"reasons": False})
    outputs = pd.DataFrame(outputs)
    outputs.index = current.index
    missing = [c for c in monitored if c not in outputs.columns]
    if missing:
        raise MonitorInputError(f"{champion.model_name} v{champion.version} returned no {', '.join(missing)}: "
                                f"the {spec.family} family's outputs changed; update monitoring/families.py")
    return outputs[monitored]


def champion_models(settings: Settings) -> list[str]:
    """Registered models with a champion of a monitored family (the default set ``crmlab monitor`` watches).

    Composites such as ``customer_profile`` are left out: their components are monitored themselves.
    """
    import mlflow

    from monitoring.families import FAMILIES
    from training.tracking import configure_mlflow

    configure_mlflow(settings)
    client = mlflow.MlflowClient()
    names = sorted(m.name for m in client.search_registered_models() if CHAMPION in (m.aliases or {}))
    return [n for n in names
            if client.get_model_version_by_alias(n, CHAMPION).tags.get("crmlab.family") in FAMILIES]
