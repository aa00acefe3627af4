"""Ranking metrics against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from training.recs.metrics import coverage, ranking_metrics
from training.recs.model import top_k
from training.recs.tune import simplex_grid


def test_metrics_match_hand_computed_values():
    # customer 0 bought {1, 3}; customer 1 bought {0}
    relevant = sp.csr_matrix(np.array([[0, 1, 0, 1, 0], [1, 0, 0, 0, 0]], dtype=np.float32))
    top = np.array([[1, 2, 3], [4, 2, 3]])
    got = ranking_metrics(top, relevant, 3)
    assert got["precision"] == pytest.approx((2 / 3 + 0) / 2)
    assert got["recall"] == pytest.approx((1.0 + 0) / 2)
    assert got["map"] == pytest.approx(((1 / 1 + 2 / 3) / 2 + 0) / 2)
    ndcg0 = (1 + 1 / np.log2(4)) / (1 + 1 / np.log2(3))
    assert got["ndcg"] == pytest.approx(ndcg0 / 2)
    assert coverage(top, 5, 3) == pytest.approx(4 / 5)


def test_top_k_orders_best_first():
    scores = np.array([[0.1, 0.9, 0.5, -np.inf], [3.0, 1.0, 2.0, 0.0]])
    assert top_k(scores, 2).tolist() == [[1, 2], [0, 2]]


def test_simplex_grid_sums_to_one():
    grid = simplex_grid(("a", "b", "c"), 0.25)
    assert len(grid) == 15 and all(sum(w.values()) == pytest.approx(1.0) for w in grid)
