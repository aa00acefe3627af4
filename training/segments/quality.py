"""How good and how reproducible a segmentation is.

All scores are computed in one shared *quality space* (the group-weighted z-scores, before any PCA),
so that candidates with and without PCA are compared on the same distances.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# objective = W_SILHOUETTE * silhouette + W_STABILITY * stability + W_DB * 1 / (1 + Davies-Bouldin).
# Calinski-Harabasz is reported, not optimised: it is unbounded and drifts with K and n, so it cannot be
# summed with the bounded scores without an arbitrary normalisation. Davies-Bouldin carries the same
# "compact and separated" idea and maps to (0, 1].
W_SILHOUETTE, W_STABILITY, W_DB = 0.4, 0.4, 0.2
INFEASIBLE_SCORE = -1.0


@dataclass(frozen=True)
class Quality:
    """Scores of one fitted candidate (silhouette/DB/CH on an evaluation sample)."""

    silhouette: float
    davies_bouldin: float
    calinski_harabasz: float
    stability: float
    min_share: float
    inertia: float

    def objective(self, min_share: float) -> float:
        """Combined score to maximise; candidates with a too-small segment score ``INFEASIBLE_SCORE``."""
        if self.min_share < min_share:
            return INFEASIBLE_SCORE
        return (W_SILHOUETTE * self.silhouette + W_STABILITY * self.stability
                + W_DB / (1.0 + self.davies_bouldin))


def cluster_scores(space: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    """(silhouette, Davies-Bouldin, Calinski-Harabasz); a single cluster scores the worst values."""
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

    if len(np.unique(labels)) < 2:
        return -1.0, float("inf"), 0.0
    return (float(silhouette_score(space, labels)), float(davies_bouldin_score(space, labels)),
            float(calinski_harabasz_score(space, labels)))


def inertia(space: np.ndarray, labels: np.ndarray) -> float:
    """Within-segment sum of squared distances to the segment means (the elbow curve's y)."""
    total = 0.0
    for c in np.unique(labels):
        members = space[labels == c]
        total += float(((members - members.mean(axis=0)) ** 2).sum())
    return total


def bootstrap_stability(fit_and_label: Callable[[np.ndarray, int], np.ndarray], reference: np.ndarray,
                        n_rows: int, *, resamples: int, seed: int) -> float:
    """Mean ARI between the reference labels and refits on bootstrap resamples of the fitting rows.

    ``fit_and_label(rows, seed)`` fits on the given row positions (with a fresh algorithm seed, so
    initialisation luck counts against stability too) and labels the evaluation rows. NaN when
    ``resamples`` is 0.
    """
    from sklearn.metrics import adjusted_rand_score

    if resamples <= 0:
        return float("nan")
    rng = np.random.default_rng(seed)
    scores = [adjusted_rand_score(reference, fit_and_label(rng.integers(0, n_rows, n_rows), seed + 1 + i))
              for i in range(resamples)]
    return float(np.mean(scores))


def shares(labels: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(labels, minlength=k) / max(len(labels), 1)


def simplified_silhouette(space: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-row (b - a) / max(a, b) with a/b the distances to own / nearest other segment mean.

    O(n k) instead of silhouette's O(n^2), so promotion gates can score every holdout row.
    Rows of a lone segment score 0.
    """
    ids = np.unique(labels)
    if len(ids) < 2:
        return np.zeros(len(labels))
    centres = np.vstack([space[labels == c].mean(axis=0) for c in ids])
    sq = (space**2).sum(axis=1)[:, None] - 2 * space @ centres.T + (centres**2).sum(axis=1)
    dist = np.sqrt(np.maximum(sq, 0.0))
    own = np.searchsorted(ids, labels)
    a = dist[np.arange(len(labels)), own]
    dist[np.arange(len(labels)), own] = np.inf
    b = dist.min(axis=1)
    denom = np.maximum(np.maximum(a, b), 1e-12)
    return (b - a) / denom
