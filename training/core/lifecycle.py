"""``train_family``: the one run lifecycle of every model family.

Order: resolve options from the settings -> ``family.load`` -> study name from (family, model name,
data fingerprint, seed) -> one MLflow run tagged ``crmlab.family`` -> ``family.fit`` -> artifacts at
fixed paths -> registration (alias ``challenger``, descriptions from the model card) -> optional
promotion through the family's gate -> one ``TrainResult``.

Fixed artifact paths of every training run (monitoring and the gate read them by these names):

==========================  ====================================================================
``model_card.md``           the model card (its summary is also the registry description)
``reference.parquet``       monitoring reference sample (model inputs and outputs, no customer ids)
``feature_importance.csv``  ``feature,importance`` (when the family has one)
``holdout.parquet``         the untouched test rows the promotion gate scores
``plots/``                  the family's plots
``<family>/``               anything else the family writes (tables, parameters, reports)
==========================  ====================================================================
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from training.core.family import REFERENCE_ROWS, Fitted, ModelFamily, RunContext, TrainResult
from training.settings import Settings, get_settings

MODEL_CARD = "model_card.md"
REFERENCE = "reference.parquet"
IMPORTANCE = "feature_importance.csv"
PLOTS = "plots"


def study_name(family: str, model_name: str, fingerprint: str, seed: int) -> str:
    """The one naming rule: same family, model name, data and seed -> the same (resumed) Optuna study."""
    return f"{family}-{model_name}-{fingerprint[:10]}-s{seed}"


def train_family(family: ModelFamily | str, source: Mapping[str, Any] | None = None, *, data: Any = None,
                 model_name: str | None = None, trials: int | None = None, timeout: float | None = None,
                 seed: int | None = None, storage: str | None = None, promote: bool = False,
                 settings: Settings | None = None) -> TrainResult:
    """Train ``family`` end to end and register it as ``model_name@challenger``.

    Input: ``source`` (the family's CLI source options, see ``ModelFamily.source_options``) or ready
    ``data`` (what ``family.load`` returns). ``trials``/``timeout``/``seed``/``storage`` default to the
    settings; ``timeout`` 0 or None = no limit. With ``promote`` the family's gate runs afterwards.
    """
    import mlflow
    from rich.console import Console

    from training.core.promotion import log_holdout
    from training.core.registry import data_hash, log_and_register
    from training.tracking import tracked_run

    if isinstance(family, str):
        from training.core.families import family as lookup

        family = lookup(family)
    settings = settings or get_settings()
    seed = settings.seed if seed is None else int(seed)
    trials = int(trials or settings.trials)
    timeout = settings.timeout_s if timeout is None else timeout
    storage = storage or settings.optuna_storage
    model_name = model_name or family.default_model_name
    if seed != settings.seed:  # loaders that split (e.g. clv) read the seed from the settings
        settings = settings.model_copy(update={"seed": seed})
    if data is None:
        data = family.load(source or {}, settings)
    fingerprint = data_hash(family.fingerprint(data))
    study = settings.study or study_name(family.name, model_name, fingerprint, seed)  # a distributed job's

    with tempfile.TemporaryDirectory() as tmp, \
            tracked_run(settings, f"train-{model_name}", tags={"crmlab.family": family.name}) as run:
        out = Path(tmp)
        ctx = RunContext(family=family.name, model_name=model_name, seed=seed, trials=trials,
                         timeout=timeout or None, storage=storage, study_name=study, settings=settings,
                         plots_dir=_mkdir(out / PLOTS), files_dir=_mkdir(out / family.name),
                         log=Console(stderr=True).log)
        mlflow.log_params({"family": family.name, "model_name": model_name, "seed": seed, "trials": trials,
                           "timeout_s": timeout or 0, "optuna_study": study})
        fitted = family.fit(data, ctx)
        baselines = {f"baseline.{name}.{k}": float(v) for name, values in fitted.baselines.items()
                     for k, v in values.items() if _finite(v)}
        mlflow.log_metrics({k: float(v) for k, v in fitted.metrics.items() if _finite(v)} | baselines)
        _log_artifacts(out, fitted, family.name)
        log_holdout(fitted.holdout.reset_index(drop=True))
        tags = {"data_hash": fingerprint, "optuna.study": study, "data_window": fitted.card.data_window,
                "features": ",".join(fitted.input_spec.columns),
                "required_features": ",".join(sorted(fitted.input_spec.required)),
                **{k: f"{v:.6g}" for k, v in baselines.items()}, **fitted.tags}
        version = log_and_register(
            fitted.model, model_name=model_name, family=family.name, artifacts=fitted.artifacts,
            input_example=fitted.input_example, tags=tags,
            metrics={k: float(v) for k, v in fitted.version_metrics.items() if _finite(v)},
            settings=settings, code_paths=fitted.code_paths, description=fitted.card.summary())
        result = TrainResult(family.name, model_name, str(version.version), run.info.run_id, study,
                             fitted.trials, dict(fitted.metrics), fitted.card, fitted.table,
                             list(fitted.notes), details=fitted.details)
    if promote:
        from training.core.promotion import promote as run_gate

        result.promotion = run_gate(model_name, settings=settings)
    return result


def _log_artifacts(out: Path, fitted: Fitted, family: str) -> None:
    """The fixed paths (module docstring); every file is written here, never by the family."""
    import mlflow

    if len(fitted.reference) > REFERENCE_ROWS:
        raise ValueError(f"{family}: reference sample has {len(fitted.reference)} rows > {REFERENCE_ROWS}")
    if "customer_id" in fitted.reference.columns:
        raise ValueError(f"{family}: the reference sample must not carry customer_id (it is logged)")
    (out / MODEL_CARD).write_text(fitted.card.markdown())
    fitted.reference.to_parquet(out / REFERENCE, index=False)
    mlflow.log_artifact(str(out / MODEL_CARD))
    mlflow.log_artifact(str(out / REFERENCE))
    if fitted.importance is not None:
        table = fitted.importance.rename_axis("feature").reset_index(name="importance")
        table.to_csv(out / IMPORTANCE, index=False)
        mlflow.log_artifact(str(out / IMPORTANCE))
    for sub in (PLOTS, family):
        if any((out / sub).iterdir()):
            mlflow.log_artifacts(str(out / sub), sub)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
