"""Cross-fitting on every non-test row (``training.core.lgbm_cv``, ``splits.group_folds``,
``splits.stratified_folds``, ``lgbm_search.cv_lgbm``).

Behaviour: folds keep a customer's rows together (stratified too, when ids repeat); every row gets a
prediction from a model that did not learn it (so a memorised, label-only signal scores as noise out of
fold while it ranks perfectly in sample); a refit on all rows scales the cross-validated rounds by the row
ratio.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from training.core.lgbm_cv import lgbm_cross_fit, refit
from training.core.lgbm_search import cv_lgbm, kfold_count
from training.core.splits import group_folds, stratified_folds
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


def test_stratified_folds_keep_a_repeated_customer_in_one_fold_and_stay_stratified():
    _, y, customers = _table(1200, seed=6)
    folds = stratified_folds(y, 5, seed=0, groups=customers)
    scored = np.concatenate([score for _, score in folds])
    assert sorted(scored) == list(range(len(y)))
    for fit, score in folds:
        assert not set(customers[fit]) & set(customers[score])
        assert abs(y.iloc[score].mean() - y.mean()) < 0.05
    # every customer mostly retained (one churned row in three): still k folds, churned rows in each
    repeated = np.repeat(np.arange(100), 3)
    churned_once = np.tile([1, 0, 0], 100)
    folds = stratified_folds(churned_once, 5, seed=0, groups=repeated)
    assert len(folds) == 5 and all(churned_once[score].sum() > 0 for _, score in folds)
    # one row per customer: the plain stratified folds, unchanged by passing the ids
    unique = np.arange(len(y))
    for (a, b), (c, d) in zip(stratified_folds(y, 5, 0, unique), stratified_folds(y, 5, 0), strict=True):
        assert (a == c).all() and (b == d).all()


def test_kfold_tuning_score_does_not_count_a_memorised_customer_as_skill():
    """Each customer has a row at three cutoffs and one label; the only feature identifies the customer. Folds
    that split a customer's rows score a memorising model on customers it learned: it looks skilled."""
    rng = np.random.default_rng(7)
    customers = np.repeat(np.arange(400), 3)
    y = pd.Series((rng.random(400) < 0.4)[customers].astype(float))
    x = pd.DataFrame({"customer_code": customers + rng.normal(scale=0.01, size=len(customers))})
    params = {"num_leaves": 64, "min_child_samples": 1, "learning_rate": 0.2, "lambda_l2": 0.0, "seed": 0}
    train, valid = (x.iloc[:900], y.iloc[:900]), (x.iloc[900:], y.iloc[900:])

    def cv_auc(groups: np.ndarray | None) -> float:
        return cv_lgbm(params, train, valid, task="binary", folds=5, metric="auc", seed=0, groups=groups,
                       max_rounds=100).value

    assert cv_auc(None) > 0.7   # the leak: memorised customers look like skill
    assert cv_auc(customers) < 0.6  # grouped: nothing generalises, and the score says so
