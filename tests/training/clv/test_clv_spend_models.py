"""Every objective's spend model serves what was evaluated: same predictions, every booster kept as text."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training.clv.inputs import LABEL, problem_from_transactions
from training.clv.metrics import normalized_gini
from training.clv.pyfunc import ClvModel
from training.clv.spend_models import (
    CONSERVATIVE,
    OBJECTIVES,
    REGISTERED,
    TunedSpend,
    _cross_fitted,
    booster_count,
    combine,
    final_model,
    fit_objective,
    fitted_model,
    refit_objective,
    tune_spend_model,
)
from training.clv.stacking import stack_problem
from training.clv.train import lgbm_spec
from training.clv.transactions import ID
from training.core.family import RunContext
from training.core.native_boosters import booster_texts
from training.core.splits import group_folds
from training.settings import get_settings
from training.tracking import tracked_run


@pytest.fixture(scope="module")
def stacked(sim_log, sim_split):
    calibration_end, horizon = sim_split
    return stack_problem(problem_from_transactions(sim_log, id_col="customer_id", date_col="date",
                                                  amount_col="amount", calibration_end=calibration_end,
                                                  horizon_days=horizon, seed=0))


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_served_model_predicts_what_was_evaluated(stacked, objective):
    p = stacked
    train = p.train[p.features], p.train[LABEL].astype(float)
    valid = p.valid[p.features], p.valid[LABEL].astype(float)
    params = {k: v for k, v in CONSERVATIVE.items() if k != "limit_depth"} | {"seed": 0, "max_depth": -1}
    params["alpha"] = float(train[1][train[1] > 0].mean())
    spend = fitted_model(objective, fit_objective(objective, params, train, valid, []), p.features, [], valid,
                         p.lgbm_scale, params)
    assert len(spend.booster_texts) == booster_count(objective)
    # Calibrated on validation: predicted total = actual total there (label window).
    assert spend.raw(valid[0]).sum() * spend.scale / p.lgbm_scale == pytest.approx(valid[1].sum(), rel=1e-6)
    expected = spend.predict(p.holdout)
    assert (expected >= 0).all() and normalized_gini(p.holdout[LABEL], expected) > 0.3  # it ranks
    model = ClvModel(lgbm_spec(p), kind="lightgbm", horizon_days=p.horizon_days, thresholds={},
                     booster_text=spend.booster_texts[0], more_booster_texts=spend.booster_texts[1:],
                     part_scales=spend.part_scales, scale=spend.scale, objective=objective,
                     btyd_params=p.stack_btyd.params(), stack_horizon_days=p.stack_horizon_days)
    restored = pickle.loads(pickle.dumps(model))
    served, p_alive = restored.predict_spend(p.holdout[list(model.spec.columns)])
    np.testing.assert_allclose(served, expected, rtol=1e-9)
    assert np.isfinite(p_alive).all() and ((p_alive > 0) & (p_alive <= 1)).all()
    assert len(booster_texts(model)) == booster_count(objective)  # each written as LightGBM text


def test_a_model_without_all_its_boosters_is_refused(stacked):
    with pytest.raises(ValueError, match="needs 5 booster"):
        ClvModel(lgbm_spec(stacked), kind="lightgbm", horizon_days=90, thresholds={}, booster_text="tree\n",
                 objective="blend")


def _every_row(p, name: str, trials: int, **options) -> TunedSpend:
    """``tune_spend_model`` on every non-test row of ``p`` (K-fold on this small table), ``trials`` trials."""
    train = p.train[p.features], p.train[LABEL].astype(float)
    valid = p.valid[p.features], p.valid[LABEL].astype(float)
    groups = np.r_[p.train[ID].astype(str), p.valid[ID].astype(str)]
    settings = get_settings()
    with tracked_run(settings, f"clv-{name}"):
        run = RunContext(family="clv", model_name="clv", seed=0, trials=trials, timeout=None, storage=None,
                         study_name=name, settings=settings, plots_dir=Path("."), files_dir=Path("."))
        return tune_spend_model(train, valid, run=run, categorical=[], scale=p.lgbm_scale, groups=groups,
                                every_row=True, **options)


def test_every_row_selection_cross_fits_by_customer_and_serves_the_refit(stacked):
    """Small table: K-fold over train + validation (customers kept within a fold), calibrated out of fold,
    refitted on every non-test row with several seeds; the served model predicts what was evaluated."""

    p = stacked
    tuned = _every_row(p, "every-row", 2, seeds=2)
    assert tuned.folds == get_settings().kfold_folds and "refit on all" in tuned.how
    n = booster_count(tuned.model.objective)
    assert tuned.model.members == 2 and len(tuned.model.booster_texts) == 2 * n
    # Refit on every non-test row: the rounds found on 4/5 of the rows, scaled up.
    assert all(b >= r for b, r in zip(tuned.model.best_iterations, tuned.choice.rounds, strict=True))
    x_all, _ = tuned.rows  # every non-test row
    assert len(x_all) == len(p.train) + len(p.valid)
    expected = tuned.model.predict(p.holdout)
    assert normalized_gini(p.holdout[LABEL], expected) > 0.3
    model = ClvModel(lgbm_spec(p), kind="lightgbm", horizon_days=p.horizon_days, thresholds={},
                     booster_text=tuned.model.booster_texts[0], more_booster_texts=tuned.model.booster_texts[1:],
                     part_scales=tuned.model.part_scales, scale=tuned.model.scale, objective=tuned.model.objective,
                     btyd_params=p.stack_btyd.params(), stack_horizon_days=p.stack_horizon_days,
                     members=tuned.model.members)
    served, _ = pickle.loads(pickle.dumps(model)).predict_spend(p.holdout[list(model.spec.columns)])
    np.testing.assert_allclose(served, expected, rtol=1e-9)
    # The fold models averaged: K members, each fold's boosters.
    folds, _ = final_model(tuned.choice, tuned.rows, [], folds=tuned.folds, seeds=1, ensemble="folds", seed=0)
    assert folds.members == tuned.folds and len(folds.booster_texts) == tuned.folds * n


def test_cross_fitted_choice_is_scored_out_of_fold(stacked):
    """The out-of-fold Gini of a configuration that memorises (deep trees, no regularisation, many rounds)
    is below its in-sample Gini: a model never scores the rows it learned."""

    p = stacked
    x = pd.concat([p.train[p.features], p.valid[p.features]])
    y = pd.concat([p.train[LABEL], p.valid[LABEL]]).astype(float)
    folds = group_folds(np.r_[p.train[ID].astype(str), p.valid[ID].astype(str)], 5, seed=0)
    params = {"num_leaves": 128, "min_child_samples": 2, "learning_rate": 0.3, "lambda_l2": 0.0, "seed": 0,
              "tweedie_variance_power": 1.5}
    choice = _cross_fitted("tweedie", params, (x, y), folds, [], 1.0)
    assert choice.tuned_rows[0] == pytest.approx(0.8 * len(x), rel=0.05)
    in_sample = combine("tweedie", [refit_objective(choice, (x, y), [], seed=0)[0].predict(x)])
    assert choice.value < normalized_gini(y, in_sample) - 0.05


def test_the_search_starts_from_each_objective_and_keeps_the_best_start_unless_clearly_beaten(stacked):
    """One regularised start per objective (two-part first), then the search; the one-SE rule measures the
    search's best against the best start, not against whichever objective happens to come first."""
    p = stacked
    tuned = _every_row(p, "starts", len(REGISTERED) + 3, one_se=True, ensemble="folds")
    starts = tuned.study.trials[:len(REGISTERED)]
    assert [t.params["objective"] for t in starts] == list(REGISTERED) and REGISTERED[0] == "two_part"
    for t in starts:
        assert {k: v for k, v in t.params.items() if k != "objective"} == {
            k: CONSERVATIVE[k] for k in t.params if k != "objective"}
    best_start = max(starts, key=lambda t: t.value)
    if tuned.choice.objective == best_start.params["objective"] and tuned.choice.value == best_start.value:
        assert "start kept" in tuned.how or f"regularised {best_start.params['objective']} start" in tuned.how
    else:  # a trial past the starts won, and only by more than the noise
        assert tuned.choice.value > best_start.value and "best kept" in tuned.how
        assert f"best regularised start ({best_start.params['objective']})" in tuned.how


def test_categorical_columns_add_the_categorical_part_to_the_search(stacked):
    """The CLV search shares churn's categorical controls; its starts keep LightGBM's own settings."""
    from training.core.lgbm import CATEGORICAL_DEFAULTS, CATEGORICAL_SPACE

    p = stacked
    rng = np.random.default_rng(0)

    def with_store(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[p.features].assign(store=rng.choice([f"s{i}" for i in range(20)], len(frame)))

    train = with_store(p.train), p.train[LABEL].astype(float)
    valid = with_store(p.valid), p.valid[LABEL].astype(float)
    settings = get_settings()
    with tracked_run(settings, "clv-categorical"):
        run = RunContext(family="clv", model_name="clv", seed=0, trials=len(REGISTERED) + 2, timeout=None,
                         storage=None, study_name="categorical", settings=settings, plots_dir=Path("."),
                         files_dir=Path("."))
        tuned = tune_spend_model(train, valid, run=run, categorical=["store"], scale=p.lgbm_scale)
    starts, rest = tuned.study.trials[:len(REGISTERED)], tuned.study.trials[len(REGISTERED):]
    assert all({k: t.params[k] for k in CATEGORICAL_SPACE} == CATEGORICAL_DEFAULTS for t in starts)
    assert all(set(CATEGORICAL_SPACE) <= set(t.params) for t in rest)
    assert {t.params["max_cat_threshold"] for t in tuned.study.trials} != {CATEGORICAL_DEFAULTS["max_cat_threshold"]}
