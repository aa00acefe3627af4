"""Cross-fitting on every non-test row (``training.core.lgbm_cv``, ``splits.group_folds``).

Behaviour: folds keep a customer's rows together; every row gets a prediction from a model that did not
learn it (so a memorised, label-only signal scores as noise out of fold while it ranks perfectly in sample);
a refit on all rows scales the cross-validated rounds by the row ratio.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from training.core.lgbm_cv import lgbm_cross_fit, refit
from training.core.lgbm_search import kfold_count
from training.core.splits import group_folds
from training.settings import Settings


def test_group_folds_keep_each_group_in_one_fold_and_cover_every_row():
    groups = np.repeat([f"c{i}" for i in range(50)], 3)
    folds = group_folds(groups, 5, seed=0)
    assert len(folds) == 5
    scored = np.concatenate([score for _, score in folds])
    assert sorted(scored) == list(range(len(groups)))  # every row scored exactly once
    for fit, score in folds:
        assert not set(groups[fit]) & set(groups[score])
        assert 20 <= len(score) <= 40


def _table(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series, np.ndarray]:
    """A signal column, and a per-customer id code that only memorisation can use (label = customer's)."""
    rng = np.random.default_rng(seed)
    customers = np.repeat(np.arange(n // 2), 2)
    customer_label = rng.random(n // 2) < 0.4
    signal = rng.normal(size=n)
    y = pd.Series((customer_label[customers] | (signal > 1.2)).astype(float))
    x = pd.DataFrame({"signal": signal, "customer_code": customers.astype(float)})
    return x, y, customers


def test_out_of_fold_predictions_come_from_models_that_did_not_see_the_row():
    x, y, customers = _table(1200, seed=3)
    params = {"num_leaves": 64, "min_child_samples": 1, "learning_rate": 0.2, "lambda_l2": 0.0, "seed": 0}
    fit = lgbm_cross_fit(params, x, y, group_folds(customers, 5, seed=0), task="binary")
    assert np.isfinite(fit.oof).all() and fit.rounds >= 1 and len(fit.members) == 5
    assert 900 <= fit.fit_rows <= 1000  # 4 of 5 folds
    memorising = refit(params, x, y, task="binary", rounds=300, tuned_rows=len(x))
    in_sample = roc_auc_score(y, memorising.predict(x))
    out_of_fold = roc_auc_score(y, fit.oof)
    # The customer code memorises labels in sample; out of fold (customers unseen) only the signal remains.
    assert in_sample > 0.97
    assert out_of_fold < in_sample - 0.1


def test_fit_mask_limits_learning_rows_but_every_row_is_predicted():
    x, y, customers = _table(600, seed=4)
    mask = (y > 0).to_numpy()
    fit = lgbm_cross_fit({"seed": 0}, x, y.where(mask, 0.0) + 1.0, group_folds(customers, 4, seed=1),
                    task="regression", fit_mask=mask)
    assert np.isfinite(fit.oof).all()
    assert fit.fit_rows < 0.8 * mask.sum()  # 3 of 4 folds of the masked rows only


def test_refit_scales_rounds_by_row_ratio_and_kfold_rule_follows_settings():
    x, y, _ = _table(400, seed=5)
    booster = refit({"seed": 0}, x, y, task="binary", rounds=40, tuned_rows=200)
    assert booster.current_iteration() == 80
    assert kfold_count(10_000, Settings(kfold_max_rows=10_000, kfold_folds=5)) == 5
    assert kfold_count(10_001, Settings(kfold_max_rows=10_000, kfold_folds=5)) == 0
