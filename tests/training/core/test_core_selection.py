"""The one-SE rule (``training.core.selection``): a lucky best is not preferred; a real gain is."""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr

from training.core.selection import paired_difference_se, prefer_default


def _corr(y: np.ndarray, p: np.ndarray) -> float:
    return float(spearmanr(y, p).statistic)


def test_default_is_kept_when_the_gain_is_within_noise_and_dropped_when_it_is_real():
    rng = np.random.default_rng(0)
    signal = rng.normal(size=2000)
    y = signal + rng.normal(size=2000)
    default = signal + rng.normal(scale=0.5, size=2000)
    lucky = default + rng.normal(scale=0.05, size=2000)  # the same model, re-noised: no real gain
    better = signal + rng.normal(scale=0.1, size=2000)   # a truly better ranking
    keep, gain, se = prefer_default(_corr, y, lucky, default, seed=0)
    assert keep and gain <= se
    keep, gain, se = prefer_default(_corr, y, better, default, seed=0)
    assert not keep and gain > 3 * se


def test_resampling_whole_groups_widens_the_error_of_repeated_rows():
    rng = np.random.default_rng(1)
    signal = rng.normal(size=500)
    y = np.repeat(signal + rng.normal(size=500), 4)  # each customer 4 identical rows
    a = np.repeat(signal + rng.normal(scale=0.7, size=500), 4)
    b = np.repeat(signal + rng.normal(scale=0.7, size=500), 4)
    by_row = paired_difference_se(_corr, y, a, b, seed=0)
    by_customer = paired_difference_se(_corr, y, a, b, np.repeat(np.arange(500), 4), seed=0)
    assert by_customer > 1.5 * by_row
