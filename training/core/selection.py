"""Keep the regularised default unless the search's best beats it by more than the noise (one-SE rule).

On a few thousand rows the scores of good configurations differ by less than the sampling noise of the
rows they are scored on, and the best of N trials is mostly the luckiest one (issue 14: "the search chases
noise"). Breiman's one-standard-error rule is the standard guard: prefer the simpler configuration (here the
search's first, regularised trial) unless the best one is better by more than one standard error of the
difference. The difference is paired (both scored on the same rows), and its standard error is bootstrapped
over groups (a customer's rows at several cutoffs are resampled together, as they are not independent).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

BOOTSTRAP_RESAMPLES = 200


def paired_difference_se(metric: Callable[[np.ndarray, np.ndarray], float], y: np.ndarray, best: np.ndarray,
                         default: np.ndarray, groups: np.ndarray | None = None, *,
                         resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> float:
    """Bootstrap standard error of ``metric(y, best) - metric(y, default)``, resampling whole groups."""
    import pandas as pd

    y, best, default = (np.asarray(a, float) for a in (y, best, default))
    codes = pd.factorize(pd.Series(np.arange(len(y)) if groups is None else np.asarray(groups)))[0]
    n_groups = int(codes.max()) + 1
    rng = np.random.default_rng(seed)
    positions = np.arange(len(y))
    diffs = []
    for _ in range(resamples):
        times = np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups)  # draws of each group
        rows = np.repeat(positions, times[codes])
        diffs.append(metric(y[rows], best[rows]) - metric(y[rows], default[rows]))
    return float(np.nanstd(diffs, ddof=1))


def prefer_default(metric: Callable[[np.ndarray, np.ndarray], float], y: np.ndarray, best: np.ndarray,
                   default: np.ndarray, groups: np.ndarray | None = None, *, seed: int = 0
                   ) -> tuple[bool, float, float]:
    """(keep the default?, best - default, its standard error), for a metric where higher is better."""
    gain = metric(y, best) - metric(y, default)
    se = paired_difference_se(metric, y, best, default, groups, seed=seed)
    return bool(gain <= se), float(gain), se
