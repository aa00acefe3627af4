"""Cross-fitting: every row is predicted by the one member that never saw it."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from training.core.crossfit import cross_fit, log_odds_average, logit


def test_each_row_is_predicted_by_the_member_fitted_without_it():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 3))
    y = (rng.random(600) < 1 / (1 + np.exp(-(1.5 * x[:, 0] - x[:, 1])))).astype(int)
    seen: list[np.ndarray] = []

    def fit_on(idx: np.ndarray) -> LogisticRegression:
        seen.append(idx)
        return LogisticRegression().fit(x[idx], y[idx])

    fit = cross_fit(fit_on, lambda m, idx: m.predict_proba(x[idx])[:, 1], y, 5, seed=3)
    assert len(fit.members) == 5
    outside = np.array([[i not in set(s.tolist()) for s in seen] for i in range(len(y))])
    assert (outside.sum(axis=1) == 1).all()  # each row sits outside exactly one member's rows
    member = outside.argmax(axis=1)
    for k, model in enumerate(fit.members):  # and its out-of-fold prediction is that member's
        rows = member == k
        np.testing.assert_allclose(fit.oof[rows], model.predict_proba(x[rows])[:, 1])
    assert roc_auc_score(y, fit.oof) > 0.75  # the held-out predictions carry the signal


def test_log_odds_average_is_the_mean_of_the_logits():
    p, q = np.array([0.1, 0.5, 0.9]), np.array([0.3, 0.5, 0.99])
    mean = log_odds_average([p, q], [0.25, 0.75])
    np.testing.assert_allclose(logit(mean), 0.25 * logit(p) + 0.75 * logit(q))
