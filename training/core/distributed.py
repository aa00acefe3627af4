"""One tuning job spread over processes and machines: one Optuna study in an RDB storage, one trial budget.

Every worker (a local process of ``--workers N``, or the same command on another machine with ``--study``)
runs the same loop, and the study is the only shared state:

1. Under a study lock (a PostgreSQL advisory lock), fail trials whose heartbeat stopped (a killed worker),
   count the trials that are not FAIL and, while that count is below the job's budget, ask for one trial
   (``study.optimize(n_trials=1)``). The objective releases the lock as its first step, so counting and
   asking are one atomic step across workers: no trial is created beyond the budget, none is lost (a
   failed trial does not count, so another worker runs a replacement) and trial numbers stay unique.
2. When the budget is used (or this worker's ``timeout`` passed), wait while trials still run elsewhere;
   then the first worker to take the lock with nothing left running claims the finish (a study attribute)
   and returns the study: that process registers the model. The others raise ``StudyFinishedElsewhere``.

The job's budget is stored on the study by its first worker (``crmlab.trials``), so every worker, on every
machine, shares it. Samplers are seeded from the job seed and the process id (TPE with ``constant_liar``):
a distributed job is not reproducible trial for trial, its budget and registration are.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal

import optuna

from training.core.study_direction import check_direction

BUDGET_ATTR = "crmlab.trials"
FINISHER_ATTR = "crmlab.finished_by"
WORKER_ATTR = "crmlab.worker"
RUN_ATTR = "crmlab.worker_run"  # the worker's MLflow run, ended as KILLED when its heartbeat stops


class StudyFinishedElsewhere(Exception):
    """This worker's trials are done and another worker of the job finishes it (registers the model)."""


class DistributedStudyError(ValueError):
    """The storage cannot hold a distributed job (e.g. SQLite); the message says what to use."""


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class StudyLock:
    """A PostgreSQL session advisory lock named after the study (held by one worker at a time)."""

    def __init__(self, storage_url: str, study_name: str) -> None:
        import sqlalchemy as sa

        if not storage_url.startswith("postgresql"):
            raise DistributedStudyError(
                f"distributed tuning needs a PostgreSQL Optuna storage, not {storage_url.split(':')[0]}: "
                "pass --storage postgresql+psycopg://USER@HOST/crmlab_optuna")
        self._key = int.from_bytes(hashlib.sha256(f"crmlab:{study_name}".encode()).digest()[:8], "big") >> 1
        self._engine = sa.create_engine(storage_url, poolclass=sa.pool.NullPool)
        self._connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        self._held = False

    def acquire(self) -> None:
        import sqlalchemy as sa

        self._connection.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": self._key})
        self._held = True

    def release(self) -> None:
        import sqlalchemy as sa

        if self._held:
            self._connection.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            self._held = False

    @contextmanager
    def held(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()

    def close(self) -> None:
        self.release()
        self._connection.close()
        self._engine.dispose()


def prepare_job(tracking_uri: str, storage_url: str) -> None:
    """Before workers start together: check the storage, create Optuna's and MLflow's tables once.

    Two processes migrating an empty store at the same moment race (seen with SQLite tracking stores).
    """
    import mlflow

    StudyLock(storage_url, "prepare").close()  # refuses a storage that is not PostgreSQL
    optuna.storages.RDBStorage(storage_url)
    mlflow.MlflowClient(tracking_uri).search_experiments(max_results=1)


def run_shared_study(
    objective: Callable[[optuna.Trial], float], *, study_name: str,
    direction: Literal["minimize", "maximize"], trials: int, timeout: float | None, seed: int,
    storage_url: str, heartbeat_s: int, pruner: optuna.pruners.BasePruner,
    callbacks: list[Callable[[optuna.Study, optuna.trial.FrozenTrial], None]],
    warm_start: list[dict] | None = None,
) -> optuna.Study:
    """Work on the job ``study_name`` until its budget is used; return the study if this process finishes it.

    Raises ``StudyFinishedElsewhere`` in every other worker. ``trials`` is the job's total (the first
    worker's value is kept); ``timeout`` (seconds, ``None``/0 = none) bounds how long this worker asks for
    new trials.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    me = worker_id()
    lock = StudyLock(storage_url, study_name)
    # Heartbeats are marked experimental in Optuna (since 2.9); one warning per trial is noise.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning,
                            message=".*(fail_stale_trials|heartbeat).*")
    storage = optuna.storages.RDBStorage(
        storage_url, heartbeat_interval=heartbeat_s, grace_period=2 * heartbeat_s,
        heartbeat_stale_trial_callback=_note_stale,
    )
    sampler_seed = (seed * 1_000_003 + os.getpid()) % 2**32
    study = optuna.create_study(
        storage=storage, study_name=study_name, direction=direction, load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=sampler_seed, constant_liar=True), pruner=pruner,
    )
    check_direction(study, direction)
    deadline = time.monotonic() + timeout if timeout else None
    run_id = _active_run_id()

    def locked_objective(trial: optuna.Trial) -> float:
        lock.release()  # the trial exists: other workers may count and ask now
        if run_id:  # first: a trial that names its worker already names the run to end if that worker dies
            trial.set_user_attr(RUN_ATTR, run_id)
        trial.set_user_attr(WORKER_ATTR, me)
        return objective(trial)

    try:
        while True:
            lock.acquire()
            try:
                if study.user_attrs.get(FINISHER_ATTR) not in (None, me):
                    return _claim_finish(study, me)  # the job is over: stand down
                budget = _budget(study, trials)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    optuna.storages.fail_stale_trials(study)
                states = [t.state for t in study.get_trials(deepcopy=False)]
                live = sum(s != optuna.trial.TrialState.FAIL for s in states)
                waiting = optuna.trial.TrialState.WAITING in states
                in_time = deadline is None or time.monotonic() < deadline
                if waiting or (live < budget and in_time):
                    if not states:
                        for start in warm_start or []:
                            study.enqueue_trial(start)
                    study.optimize(locked_objective, n_trials=1, callbacks=callbacks, catch=())
                    continue
                if optuna.trial.TrialState.RUNNING not in states:
                    return _claim_finish(study, me)
            except StudyFinishedElsewhere:
                _close_worker_run(study.study_name)
                raise
            finally:
                lock.release()
            time.sleep(min(1.0, heartbeat_s / 2))
    finally:
        lock.close()


def _budget(study: optuna.Study, trials: int) -> int:
    """The job's trial total: set by its first worker, read by every other one."""
    stored = study.user_attrs.get(BUDGET_ATTR)
    if stored is None:
        study.set_user_attr(BUDGET_ATTR, int(trials))
        return int(trials)
    return int(stored)


def _claim_finish(study: optuna.Study, me: str) -> optuna.Study:
    """Called under the lock with nothing running: the first caller finishes the job, others stand down."""
    finisher = study.user_attrs.get(FINISHER_ATTR)
    if finisher is not None and finisher != me:
        done = sum(t.state.is_finished() and t.state != optuna.trial.TrialState.FAIL for t in study.trials)
        raise StudyFinishedElsewhere(f"study {study.study_name!r}: {done} trials done; worker {finisher} "
                                     "finishes the job (registers the model)")
    if not any(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials):
        raise RuntimeError(f"study {study.study_name!r} finished without one complete trial (all pruned or "
                           "failed): raise --trials or --timeout")
    study.set_user_attr(FINISHER_ATTR, me)
    return study


def _close_worker_run(study_name: str) -> None:
    """End this worker's MLflow run as FINISHED (it holds its trials' runs), tagged as a tuning worker."""
    import mlflow

    if mlflow.active_run() is not None:
        mlflow.set_tags({"crmlab.tuning_worker": "true", "optuna.study": study_name})
        mlflow.end_run("FINISHED")


def _active_run_id() -> str | None:
    import mlflow

    run = mlflow.active_run()
    return run.info.run_id if run is not None else None


def _note_stale(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """A worker stopped beating during this trial: it is FAIL now (a replacement runs); its MLflow run KILLED."""
    import logging

    import mlflow
    from mlflow.exceptions import MlflowException

    log = logging.getLogger(__name__)
    log.warning("trial %d of study %r failed: worker %s stopped sending heartbeats", trial.number,
                study.study_name, trial.user_attrs.get(WORKER_ATTR, "?"))
    run_id = trial.user_attrs.get(RUN_ATTR)
    if run_id:
        try:
            mlflow.MlflowClient().set_terminated(run_id, status="KILLED")
        except MlflowException as err:  # e.g. no permission on that run: the trial is failed all the same
            log.warning("could not mark the lost worker's run %s KILLED: %s", run_id, err.message[:200])
