"""One tuning loop for every model family: seeded TPE, median pruning, one nested MLflow run per trial.

Objectives stay pure (no MLflow calls): the loop logs each finished trial from an Optuna callback, so
a family's objective can be tested without a tracking store and every family gets the same records.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from typing import Literal

import optuna

from training.core.study_direction import check_direction
from training.settings import Settings

# Pruning only compares trials once a few have finished and after the first boosting rounds, where
# every learning curve is still steep (pruning there would only reward high learning rates).
PRUNER_STARTUP_TRIALS = 5
PRUNER_WARMUP_STEPS = 20


def run_study(
    objective: Callable[[optuna.Trial], float], *, study_name: str,
    direction: Literal["minimize", "maximize"], trials: int, timeout: float | None,
    seed: int, storage: str | None, settings: Settings, warm_start: dict | Sequence[dict] | None = None,
) -> optuna.Study:
    """Run (or resume: ``load_if_exists``) a study and log every trial as a nested MLflow run.

    ``timeout`` of ``None`` or ``0`` means no time limit; ``trials`` counts new trials for this call.
    With ``settings.study`` set, the call is one worker of a distributed job on that study (``trials`` is
    the job's total; ``training.core.distributed``).
    ``warm_start`` (optional): parameters of a known-good configuration (or several, in order) evaluated
    as the first trials of a new study (e.g. ``lgbm.default_trial_params``), so a tiny budget still yields
    a sane model.
    """
    starts = warm_starts(warm_start)
    if trials < 1:
        raise ValueError(f"trials must be at least 1 (got {trials}); pass --trials 1 or more")
    pruner = optuna.pruners.MedianPruner(n_startup_trials=PRUNER_STARTUP_TRIALS, n_warmup_steps=PRUNER_WARMUP_STEPS)
    if settings.study:  # one job shared by workers: see training/core/distributed.py
        from training.core.distributed import run_shared_study

        return run_shared_study(
            objective, study_name=settings.study, direction=direction, trials=trials, timeout=timeout, seed=seed,
            storage_url=storage or settings.default_optuna_storage(), heartbeat_s=settings.heartbeat_s,
            pruner=pruner, callbacks=[_log_trial_run(settings.study)], warm_start=starts,
        )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        storage=storage or settings.default_optuna_storage(),
        study_name=study_name,
        direction=direction,
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=pruner,
    )
    check_direction(study, direction)
    if not study.trials:
        for start in starts:
            study.enqueue_trial(start)
    study.optimize(
        objective,
        n_trials=trials,
        timeout=timeout or None,
        callbacks=[_log_trial_run(study_name)],
        show_progress_bar=sys.stderr.isatty(),  # a bar on a terminal; in logs, one line per trial run
    )
    if not any(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials):
        raise RuntimeError(
            f"study {study_name!r} finished without one complete trial (all pruned or failed): "
            "raise --trials or --timeout"
        )
    return study


def warm_starts(warm_start: dict | Sequence[dict] | None) -> list[dict]:
    """One warm start or several -> the list to enqueue, in order."""
    if not warm_start:
        return []
    return [warm_start] if isinstance(warm_start, dict) else [dict(s) for s in warm_start]


def is_warm_start(params: dict, starts: Sequence[dict]) -> bool:
    """Whether a trial's searched ``params`` are one of ``starts`` (the one-SE rules' reference trials)."""
    return any(all(start.get(k) == v for k, v in params.items()) for start in starts)


def _log_trial_run(study_name: str) -> Callable[[optuna.Study, optuna.trial.FrozenTrial], None]:
    """Optuna callback writing one nested MLflow run per finished trial (complete, pruned or failed)."""

    def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        import mlflow

        with mlflow.start_run(run_name=f"trial-{trial.number}", nested=True):
            mlflow.set_tags({
                "optuna.study": study_name,
                "optuna.trial_number": str(trial.number),
                "optuna.state": trial.state.name,
            })
            if trial.params:
                mlflow.log_params(trial.params)
            if trial.value is not None and math.isfinite(trial.value):
                mlflow.log_metric("value", trial.value)
            if trial.intermediate_values:
                mlflow.log_metric("last_step", max(trial.intermediate_values))
            if trial.duration is not None:
                mlflow.log_metric("duration_s", trial.duration.total_seconds())
            for key, value in trial.user_attrs.items():
                if isinstance(value, int | float) and math.isfinite(value):
                    mlflow.log_metric(f"attr.{key}", float(value))

    return callback
