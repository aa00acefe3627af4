"""Label-free performance estimation (CBPE-style) against measured values on calibrated batches."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from monitoring.estimate import expected_positive_rate, expected_roc_auc
from monitoring.synthetic import churn_batch


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_estimated_auc_is_within_003_of_measured_on_an_undrifted_calibrated_batch(seed):
    batch = churn_batch(5000, seed=seed)
    measured = roc_auc_score(batch["churned"], batch["churn_probability"])
    estimated = expected_roc_auc(batch["churn_probability"].to_numpy())
    assert abs(estimated - measured) < 0.03
    assert abs(expected_positive_rate(batch["churn_probability"].to_numpy()) - batch["churned"].mean()) < 0.02


def test_estimate_follows_covariate_shift_but_not_miscalibration():
    shifted = churn_batch(5000, seed=3, shift={"f00": 1.0, "f01": -1.0})
    measured = roc_auc_score(shifted["churned"], shifted["churn_probability"])
    assert abs(expected_roc_auc(shifted["churn_probability"].to_numpy()) - measured) < 0.03
    # An overconfident model looks better than it is: the estimate is only as good as the calibration.
    over = churn_batch(5000, seed=3, miscalibrate=3.0)
    assert expected_roc_auc(over["churn_probability"].to_numpy()) > roc_auc_score(
        over["churned"], over["churn_probability"]) + 0.05


def test_uninformative_scores_estimate_half_and_ties_move_together():
    assert expected_roc_auc(np.full(100, 0.3)) == pytest.approx(0.5)
    p = np.array([0.9, 0.9, 0.1, 0.1])
    # Top group: expected TPR 1.8/2 = 0.9, FPR 0.2/2 = 0.1; area = 0.1*0.9/2 + 0.9*(0.9+1)/2 = 0.9
    assert expected_roc_auc(p) == pytest.approx(0.9)


def test_degenerate_probabilities_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="undefined"):
        expected_roc_auc(np.zeros(10))
    with pytest.raises(ValueError, match="no scored rows"):
        expected_roc_auc(np.array([np.nan]))
