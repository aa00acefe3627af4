"""Vectorised draws shared by the generators (no per-row Python)."""

from __future__ import annotations

import numpy as np


def choose(u: np.ndarray, group: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Categorical draw per row: index into ``weights[group[i]]`` picked by uniform ``u[i]``.

    One ``searchsorted`` over the stacked cumulative rows (each shifted by its group number) replaces a
    loop over groups; rows with zero weight are never picked.
    """
    weights = np.asarray(weights, dtype=np.float64)
    n_groups, k = weights.shape
    totals = weights.sum(axis=1, keepdims=True)
    if np.any(totals <= 0):
        raise ValueError("every group needs a positive total weight")
    cum = np.cumsum(weights / totals, axis=1)
    cum[:, -1] = 1.0
    flat = (cum + np.arange(n_groups)[:, None]).reshape(-1)
    group = np.asarray(group, dtype=np.int64)
    picked = np.searchsorted(flat, group + u, side="right") - group * k
    return np.minimum(picked, k - 1)


def categorical(rng: np.random.Generator, n: int, probs: np.ndarray) -> np.ndarray:
    """``n`` draws from one categorical distribution."""
    return choose(rng.random(n), np.zeros(n, dtype=np.int64), np.asarray(probs)[None, :])


def gamma_around(rng: np.random.Generator, mean: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """Gamma draws with the given mean and shape (coefficient of variation 1/sqrt(shape))."""
    return rng.gamma(shape, np.asarray(mean) / np.asarray(shape))


def expand(counts: np.ndarray) -> np.ndarray:
    """Owner index of each generated row: ``[0]*counts[0] + [1]*counts[1] + ...``."""
    return np.repeat(np.arange(len(counts)), counts)
