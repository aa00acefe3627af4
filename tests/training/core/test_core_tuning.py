"""The shared tuning loop: nested MLflow runs per trial, reproducible by seed, pruning recorded."""

from __future__ import annotations

import mlflow
import optuna
import pytest

from training.core.tuning import run_study
from training.settings import get_settings
from training.tracking import tracked_run


def _quadratic(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -5, 5)
    y = trial.suggest_int("y", 0, 10)
    return (x - 1.5) ** 2 + (y - 3) ** 2


def _children(parent_id: str) -> list:
    return mlflow.search_runs(filter_string=f"tags.mlflow.parentRunId = '{parent_id}'", output_format="list")


def test_each_trial_is_a_nested_run_with_params_value_and_state():
    settings = get_settings()
    with tracked_run(settings, "tune") as parent:
        study = run_study(_quadratic, study_name="quad", direction="minimize", trials=6, timeout=None,
                          seed=7, storage=None, settings=settings)
    children = _children(parent.info.run_id)
    assert len(children) == 6 == len(study.trials)
    by_number = {int(r.data.tags["optuna.trial_number"]): r for r in children}
    for trial in study.trials:
        run = by_number[trial.number]
        assert run.data.tags["optuna.state"] == "COMPLETE"
        assert float(run.data.params["x"]) == pytest.approx(trial.params["x"])
        assert run.data.metrics["value"] == pytest.approx(trial.value)


def test_same_seed_same_trials_and_study_resumes_from_storage():
    settings = get_settings()

    def params(name: str, seed: int, trials: int = 5) -> list[dict]:
        study = run_study(_quadratic, study_name=name, direction="minimize", trials=trials, timeout=0,
                          seed=seed, storage=None, settings=settings)
        return [t.params for t in study.trials]

    with tracked_run(settings, "tune"):
        first, second, other = params("a", 3), params("b", 3), params("c", 4)
        resumed = params("a", 3, trials=2)
    assert first == second
    assert first != other
    assert resumed[:5] == first and len(resumed) == 7  # load_if_exists: the stored study continues
    assert settings.default_optuna_storage().endswith("optuna.db")


def test_warm_start_is_the_first_trial_of_a_new_study_only():
    settings = get_settings()
    start = {"x": 1.5, "y": 3}
    with tracked_run(settings, "tune"):
        study = run_study(_quadratic, study_name="w", direction="minimize", trials=3, timeout=None, seed=0,
                          storage=None, settings=settings, warm_start=start)
        assert study.trials[0].params == start and study.best_value == 0.0
        resumed = run_study(_quadratic, study_name="w", direction="minimize", trials=2, timeout=None, seed=0,
                            storage=None, settings=settings, warm_start=start)
    assert [t.params for t in resumed.trials].count(start) == 1


def test_several_warm_starts_are_the_first_trials_in_order():
    settings = get_settings()
    starts = [{"x": 1.5, "y": 3}, {"x": -2.0, "y": 1}]
    with tracked_run(settings, "tune"):
        study = run_study(_quadratic, study_name="w2", direction="minimize", trials=4, timeout=None, seed=0,
                          storage=None, settings=settings, warm_start=starts)
    assert [t.params for t in study.trials[:2]] == starts and len(study.trials) == 4


def test_pruned_trials_are_logged_with_their_state():
    def curve(trial: optuna.Trial) -> float:
        level = trial.suggest_float("level", 0, 10)
        for step in range(24):
            trial.report(level + 1.0 / (step + 1), step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return level

    settings = get_settings()
    with tracked_run(settings, "tune") as parent:
        study = run_study(curve, study_name="prune", direction="minimize", trials=10, timeout=None,
                          seed=0, storage=None, settings=settings)
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned, "a median pruner must stop some clearly worse curves"
    states = [r.data.tags["optuna.state"] for r in _children(parent.info.run_id)]
    assert states.count("PRUNED") == len(pruned)


def test_zero_trials_is_refused():
    with pytest.raises(ValueError, match="trials must be at least 1"):
        run_study(_quadratic, study_name="z", direction="minimize", trials=0, timeout=None, seed=0,
                  storage=None, settings=get_settings())


def test_a_resumed_study_optimised_the_other_way_is_refused(tmp_path):
    """Optuna itself would load it with its stored direction and optimise this objective backwards."""
    settings = get_settings()
    storage = f"sqlite:///{tmp_path / 'o.db'}"
    with tracked_run(settings, "tune"):
        run_study(_quadratic, study_name="old", direction="minimize", trials=2, timeout=None, seed=0,
                  storage=storage, settings=settings)
        with pytest.raises(ValueError, match="'old' was created to minimize its objective and this run would "
                                             "maximize it") as err:
            run_study(_quadratic, study_name="old", direction="maximize", trials=2, timeout=None, seed=0,
                      storage=storage, settings=settings)
    assert "\n" not in str(err.value)
    assert len(optuna.load_study(study_name="old", storage=storage).trials) == 2  # nothing was added
