"""The churn gate's "not worse than a default" check, on probabilities with a known ranking quality."""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.churn.gate import BASELINE_AUC_MARGIN, checks, not_worse_than_baselines


def _holdout(n: int = 4000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-2 * signal))).astype(int)
    return pd.DataFrame({"churned": y}), signal


def test_a_challenger_ranking_worse_than_a_baseline_fails_and_an_equal_one_passes():
    holdout, signal = _holdout()
    noisy = signal + np.random.default_rng(1).normal(scale=2.0, size=len(signal))  # far worse ranking
    p_good, p_noisy = 1 / (1 + np.exp(-2 * signal)), 1 / (1 + np.exp(-noisy))
    with_baseline = holdout.assign(baseline_default_lightgbm=p_good)
    assert not_worse_than_baselines(p_good, with_baseline) == {"auc_not_below_default_lightgbm": True}
    assert not_worse_than_baselines(p_noisy, with_baseline) == {"auc_not_below_default_lightgbm": False}
    # the full check set carries it, next to calibration
    result = checks(pd.DataFrame({"churn_probability": p_noisy}), with_baseline)
    assert result["auc_not_below_default_lightgbm"] is False and "probabilities_valid" in result
    assert BASELINE_AUC_MARGIN == 0.005


def test_a_hand_given_holdout_without_baseline_columns_runs_no_baseline_check():
    holdout, signal = _holdout(500)
    assert not_worse_than_baselines(1 / (1 + np.exp(-signal)), holdout) == {}
