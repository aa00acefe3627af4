"""``crmlab features`` as a plain function: build, write, and record the build as an MLflow run."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from training.features.build import FeatureSet, Progress, build_feature_set
from training.features.catalog import Vocabulary, render_markdown
from training.features.engine import Engine
from training.features.inputs import CleanDataError, hash_inputs, open_clean_dir
from training.features.output import FeatureFiles, write_features
from training.features.report import feature_metrics, write_summary
from training.settings import Settings


@dataclass
class FeatureRun:
    feature_set: FeatureSet
    files: FeatureFiles
    metrics: dict[str, float]
    run_id: str


def run_features(data_dir: Path, cutoffs: Sequence[date | str], horizon_days: int | None, out_dir: Path,
                 settings: Settings, progress: Progress | None = None,
                 vocabulary_from: Path | None = None, engine: Engine | None = None) -> FeatureRun:
    """Build features for ``cutoffs`` from the clean ``data_dir`` into ``out_dir``; one MLflow run "features".

    ``vocabulary_from``: a features directory whose learned vocabulary to reuse (a scoring batch gets
    the training columns). ``engine``: where the statements run (default DuckDB, see ``training.features.engine``).
    """
    import mlflow

    from training.tracking import tracked_run

    horizon = horizon_days if horizon_days is not None else settings.horizon_days
    tables = open_clean_dir(Path(data_dir))  # bad input fails here, before an MLflow run is opened
    vocabulary = read_vocabulary(vocabulary_from) if vocabulary_from is not None else None
    with tracked_run(settings, run_name="features", tags={"crmlab.step": "features"}) as run:
        feature_set = build_feature_set(Path(data_dir), cutoffs, horizon, settings, progress=progress,
                                        vocabulary=vocabulary, engine=engine)
        if progress is not None:
            progress("hashing inputs and writing features")
        meta = {**feature_set.meta, **hash_inputs(tables), "mlflow_run_id": run.info.run_id}
        files = write_features(feature_set.frame, Path(out_dir), meta)
        summary = write_summary(feature_set.frame, Path(out_dir))
        metrics = feature_metrics(feature_set.frame)
        mlflow.log_params({
            "data": str(data_dir), "out": str(out_dir), "cutoffs": ",".join(meta["cutoffs"]),
            "horizon_days": horizon, "active_window_days": settings.active_window_days,
            "n_features": len(meta["features"]), "data_hash": meta["data_hash"],
            "tables": ",".join(meta["tables"]),
            **{f"cleaning.{k}": v for k, v in meta["cleaning_settings"].items()},
        })
        mlflow.log_metrics(metrics | {"build_seconds": meta["build_seconds"]})
        mlflow.log_artifact(str(files.meta), artifact_path="features")
        for path in summary.values():
            mlflow.log_artifact(str(path), artifact_path="features")
        with tempfile.TemporaryDirectory() as tmp:
            doc = Path(tmp) / "FEATURES.md"
            doc.write_text(render_markdown())
            mlflow.log_artifact(str(doc), artifact_path="features")
        return FeatureRun(feature_set=feature_set, files=files, metrics=metrics, run_id=run.info.run_id)


def read_vocabulary(features_dir: Path) -> Vocabulary:
    """The vocabulary recorded in a features directory's features_meta.json."""
    import json

    meta = Path(features_dir) / "features_meta.json"
    if not meta.exists():
        raise CleanDataError(f"--vocabulary-from {features_dir}: no features_meta.json there; give the "
                             "training features directory.")
    return Vocabulary.from_dict(json.loads(meta.read_text()).get("vocabulary", {}))
