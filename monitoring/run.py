"""``run_monitor``: judge each champion on a batch, write and log the reports, retrain where allowed.

Per model: resolve ``<name>@champion`` and its reference sample, score the batch (unless already
scored), build one Evidently report (drift, and calibration with labels or the label-free estimate
without), judge it with the policy, optionally retrain, then write ``reports/<date>/<model>-<time>.html``
and ``.json``, log the same files to the MLflow experiment ``monitoring`` (one parent run per call, one
child run per model) and add the snapshot to the local Evidently workspace. A model that cannot be
monitored (no champion, bad batch) gets an error report and the others still run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from monitoring.data import Champion, data_window, load_champion, load_current, model_outputs
from monitoring.families import population_mask
from monitoring.policy import Crossing, Policy, verdict
from monitoring.reports import ReportFiles, report_paths, write_index, write_report
from monitoring.retrain import Launcher, Promoter, RetrainOutcome, RetrainRequest, retrain, trigger_key
from training.settings import Settings

MONITORING_EXPERIMENT = "monitoring"
log = logging.getLogger(__name__)


@dataclass
class ModelResult:
    model_name: str
    status: str  # "ok", "alert" or "error"
    verdict: str
    version: str | None = None
    crossings: list[Crossing] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    drifted_features: list[str] = field(default_factory=list)
    files: ReportFiles | None = None
    retrain: RetrainOutcome | None = None
    workspace_run: str | None = None
    mlflow_run_id: str | None = None


@dataclass
class MonitorResult:
    started_at: str
    data_window: str
    models: list[ModelResult]
    index: Path
    mlflow_run_id: str | None

    @property
    def alerts(self) -> list[ModelResult]:
        return [m for m in self.models if m.status == "alert"]

    @property
    def errors(self) -> list[ModelResult]:
        return [m for m in self.models if m.status == "error"]

    @property
    def failed_retrains(self) -> list[ModelResult]:
        return [m for m in self.models if m.retrain is not None and m.retrain.status == "failed"]

    def model(self, name: str) -> ModelResult:
        return next(m for m in self.models if m.model_name == name)


def run_monitor(current: pd.DataFrame | str | Path, model_names: list[str], policy: Policy, reports_dir: Path,
                retrain: bool, settings: Settings, *, labels_available: bool = False,
                workspace_dir: Path | None = None, train_features: str | None = None,
                launcher: Launcher | None = None, promoter: Promoter | None = None,
                lock_dir: Path | None = None) -> MonitorResult:
    """Monitor ``model_names`` on the ``current`` batch (a frame or a path); see the module docstring.

    ``retrain``: allow retraining when a check listed in ``policy.retrain.triggers`` is crossed.
    """
    from training.tracking import tracked_run

    source = None if isinstance(current, pd.DataFrame) else str(Path(current).resolve())
    batch = current if isinstance(current, pd.DataFrame) else load_current(current)
    window = data_window(batch)
    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    workspace_dir = Path(workspace_dir) if workspace_dir else reports_dir / "workspace"
    started = datetime.now(UTC)
    from monitoring.reference import LOGGED, seasonal_baseline

    baseline = seasonal_baseline(batch, source, settings) if source else LOGGED
    context = _Context(batch, window, policy, reports_dir, workspace_dir, retrain, labels_available,
                       started, source, train_features, launcher, promoter, lock_dir, settings, baseline)
    results = []
    tags = {"crmlab.data_window": window, "crmlab.models": ",".join(model_names),
            "crmlab.labels_available": str(labels_available).lower()}
    with tracked_run(settings, run_name=f"monitor {started:%Y-%m-%d %H:%M}", experiment=MONITORING_EXPERIMENT,
                     tags=tags) as parent:
        for name in model_names:
            results.append(_monitor_model(name, context))
        index = write_index(reports_dir)
        import mlflow

        mlflow.log_artifact(str(index))
        mlflow.log_metrics({"models_alerting": sum(r.status == "alert" for r in results),
                            "models_failed": sum(r.status == "error" for r in results)})
    return MonitorResult(started.isoformat(timespec="seconds"), window, results, index, parent.info.run_id)


@dataclass
class _Context:
    batch: pd.DataFrame
    window: str
    policy: Policy
    reports_dir: Path
    workspace_dir: Path
    retrain_enabled: bool
    labels: bool
    started: datetime
    source: str | None
    train_features: str | None
    launcher: Launcher | None
    promoter: Promoter | None
    lock_dir: Path | None
    settings: Settings
    baseline: Any = None  # monitoring.reference.Baseline


def _monitor_model(name: str, ctx: _Context) -> ModelResult:
    import mlflow

    from training.tracking import tracked_run

    files = report_paths(ctx.reports_dir, name, ctx.started)
    with tracked_run(ctx.settings, run_name=f"monitor {name}", nested=True, tags={"crmlab.model": name}) as run:
        result = ModelResult(name, "error", "", mlflow_run_id=run.info.run_id, files=files)
        summary: dict[str, Any] = {"model": name, "started_at": ctx.started.isoformat(timespec="seconds"),
                                   "data_window": ctx.window, "batch": ctx.source, "labels": ctx.labels}
        snapshot = None
        try:
            champion = load_champion(name, ctx.settings)
            result.version = champion.version
            assessment = _assess(champion, ctx, files)
            snapshot = assessment.snapshot
            result.crossings, result.metrics = assessment.crossings, assessment.metrics
            result.drifted_features = assessment.drift.drifted_features
            result.status = "alert" if assessment.crossings else "ok"
            result.verdict = verdict(assessment.checks)
            result.retrain = _maybe_retrain(champion, assessment.crossings, ctx, run.info.run_id)
            summary |= _summary(champion, assessment)
        except Exception as err:  # (one model's failure must not stop the others)
            log.error("monitoring %s failed: %s", name, err)
            log.debug("monitoring %s failed", name, exc_info=True)
            result.status = "error"
            result.verdict = f"ERROR: {type(err).__name__}: {err}"
        summary |= {"status": result.status, "verdict": result.verdict, "version": result.version,
                    "retrain": result.retrain.to_dict() if result.retrain else None}
        write_report(files, summary, snapshot)
        mlflow.set_tags({"crmlab.verdict": result.verdict[:5000], "crmlab.status": result.status,
                         "crmlab.model_version": str(result.version)})
        mlflow.log_params(_policy_params(ctx.policy))
        if result.metrics:
            mlflow.log_metrics({k: v for k, v in result.metrics.items() if v == v})
        for path in files.all():
            mlflow.log_artifact(str(path), artifact_path=f"reports/{ctx.started:%Y-%m-%d}")
        if snapshot is not None:
            result.workspace_run = _add_to_workspace(ctx.workspace_dir, name, snapshot)
    return result


def _assess(champion: Champion, ctx: _Context, files: ReportFiles):
    from monitoring.assess import assess

    days = ctx.settings.active_window_days
    batch = _in_population(champion, ctx.batch, days, "batch")
    outputs = model_outputs(champion, batch, ctx.source)
    features = batch.drop(columns=[c for c in outputs.columns if c in batch.columns])
    plot = files.plot if champion.spec.task == "binary" and ctx.labels else None
    return assess(champion, features, outputs, ctx.policy, labels=ctx.labels, plot_path=plot,
                  active_window_days=days, comparison=_comparison(champion, ctx), seed=ctx.settings.seed)


def _in_population(champion: Champion, frame: pd.DataFrame, days: int, what: str | None) -> pd.DataFrame:
    """Only the rows the model is defined for (churn: an order in the active window), as in training."""
    population = population_mask(champion.spec, frame, days)
    if population is None or population.all():
        return frame
    if what:
        champion.notes.append(f"{int((~population).sum())} row(s) of the {what} outside the {champion.family} "
                              f"population (no order in the last {days} days) are left out, as in training")
    return frame.loc[population]


def _comparison(champion: Champion, ctx: _Context):
    """The run's same-season reference scored by this champion; None = the champion's logged sample."""
    from monitoring.assess import Comparison

    baseline = ctx.baseline
    if baseline is None or baseline.frame is None:
        if baseline is not None:
            return Comparison(baseline.name, baseline.why, champion.reference)
        return None
    days = ctx.settings.active_window_days
    try:
        scored = []
        for frame in (baseline.frame, baseline.earlier):
            if frame is None:
                scored.append(None)
                continue
            rows = _in_population(champion, frame, days, None)
            outputs = model_outputs(champion, rows, ctx.source)
            scored.append(pd.concat([rows.drop(columns=[c for c in outputs.columns if c in rows.columns]), outputs],
                                    axis=1))
    except Exception as err:  # (the champion cannot score the older rows: say so, use its own sample)
        champion.notes.append(f"could not score the same-season reference ({type(err).__name__}: {err}); "
                              "compared with the champion's held-out sample instead")
        return None
    return Comparison(baseline.name, baseline.why, scored[0], scored[1])


def _maybe_retrain(champion: Champion, crossings: list[Crossing], ctx: _Context,
                   monitoring_run_id: str) -> RetrainOutcome | None:
    """Retrain when allowed and a crossed check is one the policy retrains on; no crossing, no retrain.

    The retrain trains on the latest *labelled* window: ``--train-features``, else the batch when it
    carries labels, else the features the champion was trained on. Without enough labelled rows it does
    not start (and does not use up the window): failed, with the reason.
    """
    triggering = [c for c in crossings if c.check in ctx.policy.retrain.triggers]
    if not triggering or not ctx.retrain_enabled:
        return None
    key = trigger_key(champion.model_name, ctx.window)
    features, why = _training_window(champion, ctx)
    if features is None:
        return RetrainOutcome("failed", key, f"not started: {why}; the window stays open for a later retrain")
    from monitoring.recalibrate import calibration_only, recalibration_launcher

    # Only the calibration is off (the ranking checks hold): refit the calibrator, keep the booster.
    recalibrating = calibration_only([c.check for c in crossings], champion.family)
    launcher = (recalibration_launcher(features, label=champion.spec.label or "churned",
                                       active_window_days=ctx.settings.active_window_days, seed=ctx.settings.seed)
                if recalibrating else ctx.launcher)
    request = RetrainRequest(
        model_name=champion.model_name, family=champion.family,
        trigger_key=key, data_window=ctx.window,
        reasons=tuple(c.reason for c in triggering),
        parameters={"features": str(features), "model_name": champion.model_name,
                    "trials": str(ctx.policy.retrain.trials)},
        monitoring_run_id=monitoring_run_id, action="recalibrate" if recalibrating else "train",
    )
    outcome = retrain(request, ctx.settings, launcher=launcher, promoter=ctx.promoter, lock_dir=ctx.lock_dir)
    outcome.details["training_features"] = f"{features} ({why})"
    outcome.details["action"] = request.action
    return outcome


def _training_window(champion: Champion, ctx: _Context) -> tuple[str | None, str]:
    """(features directory to retrain on, why), or (None, why not)."""
    from monitoring.retrain import labelled_rows

    label, need = champion.spec.label, ctx.policy.retrain.min_labelled_rows
    candidates = [(ctx.train_features, "--train-features"), (_features_dir(ctx.source), "the monitored batch"),
                  (_champion_param(champion, "features"), "the champion's training features")]
    tried = []
    for path, what in candidates:
        if not path:
            continue
        rows = labelled_rows(path, label)
        if rows >= need:
            return path, f"{what}, {rows} labelled rows"
        tried.append(f"{what} ({path}): {rows} labelled rows")
        if what == "--train-features":
            break  # an explicit choice is not second-guessed
    detail = "; ".join(tried) or "no features path known (the batch was given as a frame)"
    return None, (f"no labelled window with at least {need} rows to retrain {champion.model_name} on ({detail}); "
                  "pass --train-features DIR with features whose outcome window has elapsed")


def _policy_params(policy: Policy) -> dict[str, str]:
    """The policy as flat MLflow params (``policy.feature_drift.max_weight`` ...), so runs say what judged them."""
    flat: dict[str, str] = {}
    for section, values in policy.model_dump().items():
        if isinstance(values, dict):
            flat |= {f"policy.{section}.{k}": str(v)[:500] for k, v in values.items()}
        else:
            flat[f"policy.{section}"] = str(values)
    return flat


def _features_dir(source: str | None) -> str | None:
    """Training entry points take the features *directory* (features.parquet + features_meta.json)."""
    if source is None:
        return None
    path = Path(source)
    return str(path.parent) if path.is_file() and path.name == "features.parquet" else source


def _champion_param(champion: Champion, name: str) -> str | None:
    import mlflow

    try:
        return mlflow.MlflowClient().get_run(champion.run_id).data.params.get(name)
    except Exception:  # (a synthetic or deleted run has no params)
        return None


def _summary(champion: Champion, assessment) -> dict[str, Any]:
    return {
        "family": champion.family, "version": champion.version, "champion_run_id": champion.run_id,
        "rows": assessment.rows, "metrics": assessment.metrics,
        "reference": assessment.reference, "checks": [c.to_dict() for c in assessment.checks],
        "crossings": [c.to_dict() for c in assessment.crossings], "drift": assessment.drift.to_dict(),
        "calibration": assessment.calibration.to_dict() if assessment.calibration else None,
        "notes": assessment.notes,
    }


def _add_to_workspace(workspace_dir: Path, name: str, snapshot) -> str | None:
    from monitoring.workspace import add_snapshot

    try:
        return add_snapshot(workspace_dir, name, snapshot)
    except Exception:  # (the dashboard is a convenience; the reports are already written)
        log.exception("could not add the %s snapshot to the Evidently workspace %s", name, workspace_dir)
        return None
