"""Recalibration instead of retraining: when only the calibration of a probability model is off.

A churn champion whose ranking still holds (AUC fine) but whose probabilities no longer match the
observed rate (calibration in the large, ECE) does not need new trees: the booster still orders
customers well; the map from its raw score to a probability is what went stale. Retraining would spend
an Optuna search and change the ranking to fix that. So, on the latest labelled window:

1. the window's labelled rows in the model's population (its latest cutoff when it holds several) are
   split in stratified halves: a *calibration* half and a *holdout* half;
2. the champion's own scorer (same booster) scores the calibration half; a calibrator is chosen and
   fitted there exactly as training does (``training.churn.calibration.choose_calibrator``: none,
   isotonic or sigmoid by cross-fitted log loss);
3. a new version - the same scorer with the new calibrator - is logged and registered as
   ``challenger`` (tags ``crmlab.recalibrated_from``), with the holdout half as its ``holdout.parquet``
   and the champion's reference sample rescored, so the promotion gate compares both versions on rows
   neither the new calibrator nor its choice saw.

It runs as a ``monitoring.retrain`` launcher, so the once-per-model-and-window guarantee, the failure
handling (a failure leaves the champion and the window untouched) and the gate are the retrain's.
"""

from __future__ import annotations

import copy
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from training.settings import Settings

# Checks whose crossing alone means "the probabilities are off, the ranking is not".
CALIBRATION_ONLY = frozenset({"calibration"})
MIN_ROWS_PER_HALF = 100


@dataclass
class Recalibrated:
    """A finished (synchronous) recalibration run, shaped like a launched retraining run."""

    run_id: str
    ok: bool

    def wait(self) -> bool:
        return self.ok


def calibration_only(checks: list[str], family: str) -> bool:
    """True when every crossed check is a calibration check and the family's model has a calibrator."""
    return family == "churn" and bool(checks) and set(checks) <= CALIBRATION_ONLY


def recalibration_launcher(features: str | Path, *, label: str = "churned", active_window_days: int = 90,
                           seed: int = 0):
    """A ``monitoring.retrain.Launcher`` that recalibrates the champion on ``features`` (labelled rows)."""
    def launch(request, settings: Settings) -> Recalibrated:
        return recalibrate(request.model_name, features, settings, label=label,
                           active_window_days=active_window_days, seed=seed,
                           run_name=f"recalibrate {request.model_name} ({request.data_window})")

    return launch


def recalibrate(model_name: str, features: str | Path, settings: Settings, *, label: str = "churned",
                active_window_days: int = 90, seed: int = 0, run_name: str | None = None) -> Recalibrated:
    """Register ``model_name``'s champion with a calibrator refitted on ``features`` as the challenger.

    Raises ``ValueError`` (naming what is missing) when the window has too few labelled rows or the
    champion has no calibrator; the retrain wrapper reports it as a failed attempt.
    """
    import mlflow

    from training.churn.calibration import choose_calibrator
    from training.core.evaluation import binary_metrics
    from training.core.pyfunc_base import validate_frame
    from training.core.registry import CHAMPION, log_and_register
    from training.core.splits import split_in_two
    from training.tracking import configure_mlflow, tracked_run

    configure_mlflow(settings)
    client = mlflow.MlflowClient()
    champion = client.get_model_version_by_alias(model_name, CHAMPION)
    model = mlflow.pyfunc.load_model(f"models:/{model_name}/{champion.version}").unwrap_python_model()
    if not (hasattr(model, "calibrator") and hasattr(model, "scorer")):
        raise ValueError(f"{model_name} v{champion.version} has no separate calibrator to refit; retrain it")
    rows = latest_labelled(features, label, active_window_days)
    calib, holdout = split_in_two(rows, label=label, seed=seed)
    if min(len(calib), len(holdout)) < MIN_ROWS_PER_HALF:
        raise ValueError(f"{features}: {len(rows)} labelled rows in the latest window; recalibration needs "
                         f"at least {2 * MIN_ROWS_PER_HALF}")
    raw = model.scorer.raw_proba(validate_frame(model.preprocess(calib), model.spec))
    calibrator, losses = choose_calibrator(raw, calib[label].astype(int).to_numpy(), seed=seed)
    new = copy.copy(model)
    new.calibrator = calibrator
    y_hold = holdout[label].astype(int).to_numpy()
    p_hold = new.predict(None, holdout, {"reasons": False})["churn_probability"].to_numpy()
    metrics = {f"test_{k}": float(v) for k, v in binary_metrics(y_hold, p_hold).items()}
    with tracked_run(settings, run_name or f"recalibrate {model_name}", tags={"crmlab.family": "churn"}) as run:
        mlflow.log_params({"family": "churn", "model_name": model_name, "recalibrated_from": champion.version,
                           "features": str(features), "calibration_method": calibrator.method,
                           "calibration_rows": len(calib), "holdout_rows": len(holdout)})
        mlflow.log_metrics(metrics | {f"calibration_log_loss.{m}": v for m, v in losses.items()})
        _log_monitoring_artifacts(champion.run_id, new, holdout, label)
        inputs = list(model.spec.columns)
        tags = {k: champion.tags[k] for k in ("features", "required_features") if k in (champion.tags or {})}
        log_and_register(new, model_name=model_name, family="churn", artifacts={},
                         input_example=holdout[inputs].head(5), settings=settings, metrics=metrics,
                         tags=tags | {"crmlab.recalibrated_from": str(champion.version),
                                      "data_window": f"recalibrated on {features}"},
                         description=f"v{champion.version}'s booster with a {calibrator.method} calibrator "
                                     f"refitted on {len(calib)} labelled rows of {features}.")
    return Recalibrated(run.info.run_id, True)


def latest_labelled(features: str | Path, label: str, active_window_days: int) -> pd.DataFrame:
    """Labelled rows of the features' latest cutoff, in the churn population (an order in the active window)."""
    path = Path(features)
    frame = pd.read_parquet(path / "features.parquet" if path.is_dir() else path)
    if label not in frame.columns:
        raise ValueError(f"{features} has no {label!r} column: recalibration needs labelled rows")
    frame = frame.loc[frame[label].notna()]
    if "cutoff" in frame.columns and frame["cutoff"].nunique() > 1:
        frame = frame.loc[frame["cutoff"] == frame["cutoff"].max()]
    if "recency_days" in frame.columns:
        recency = pd.to_numeric(frame["recency_days"], errors="coerce")
        frame = frame.loc[recency.notna() & (recency <= active_window_days)]
    return frame.reset_index(drop=True)


def _log_monitoring_artifacts(run_id: str, model, holdout: pd.DataFrame, label: str) -> None:
    """The gate's holdout, and the champion's reference sample and importance (rescored) for monitoring."""
    import mlflow

    from monitoring.data import REFERENCE_ARTIFACT, _download_frame
    from training.core.promotion import log_holdout

    log_holdout(holdout.drop(columns=["customer_id"], errors="ignore"))
    reference = _download_frame(run_id, REFERENCE_ARTIFACT)
    importance = _download_frame(run_id, "feature_importance.csv")
    with tempfile.TemporaryDirectory() as tmp:
        if reference is not None:
            outputs = model.predict(None, reference, {"reasons": False})
            for column in ("churn_probability", "risk_band"):
                if column in reference.columns:
                    reference[column] = np.asarray(outputs[column])
            reference.to_parquet(Path(tmp) / REFERENCE_ARTIFACT, index=False)
            mlflow.log_artifact(str(Path(tmp) / REFERENCE_ARTIFACT))
        if importance is not None:
            importance.to_csv(Path(tmp) / "feature_importance.csv", index=False)
            mlflow.log_artifact(str(Path(tmp) / "feature_importance.csv"))
