"""Every objective's spend model serves what was evaluated: same predictions, every booster kept as text."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from training.clv.inputs import LABEL, problem_from_transactions
from training.clv.metrics import normalized_gini
from training.clv.pyfunc import ClvModel
from training.clv.spend_models import CONSERVATIVE, OBJECTIVES, booster_count, fit_objective, fitted_model
from training.clv.stacking import stack_problem
from training.clv.train import lgbm_spec
from training.core.native_boosters import booster_texts


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
