"""Ranking metrics on a time split: precision, recall, MAP and NDCG at k, and catalogue coverage.

``hits`` is a customers x k boolean matrix: whether the product at each rank was bought in the horizon.
Definitions (binary relevance, ``R`` = distinct products the customer bought in the horizon):
precision@k = hits / k; recall@k = hits / |R|; AP@k = sum over hit ranks i of precision@i, divided by
min(|R|, k); NDCG@k = sum of 1 / log2(i + 1) over hit ranks, divided by the same sum for |R| hits on top.
Means are over customers with at least one purchase in the horizon.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

METRICS: tuple[str, ...] = ("precision", "recall", "map", "ndcg")


def hit_matrix(top: np.ndarray, relevant: sp.csr_matrix) -> np.ndarray:
    """Boolean customers x k: is ``top[i, j]`` among customer i's relevant products."""
    rows = np.repeat(np.arange(top.shape[0]), top.shape[1])
    return np.asarray(relevant[rows, top.ravel()]).reshape(top.shape) > 0


def ranking_metrics(top: np.ndarray, relevant: sp.csr_matrix, k: int) -> dict[str, float]:
    """Mean precision/recall/MAP/NDCG at ``k`` of rankings ``top`` (customers x >=k product indexes)."""
    n_relevant = np.diff(relevant.indptr).astype(np.float64)
    hits = hit_matrix(top[:, :k], relevant).astype(np.float64)
    if len(hits) == 0:
        return dict.fromkeys(METRICS, float("nan"))
    ranks = np.arange(1, hits.shape[1] + 1, dtype=np.float64)
    n_hits = hits.sum(axis=1)
    precision_at = np.cumsum(hits, axis=1) / ranks
    denom = np.maximum(np.minimum(n_relevant, k), 1.0)
    discount = 1.0 / np.log2(ranks + 1.0)
    ideal = np.cumsum(discount)[np.minimum(n_relevant, k).astype(int).clip(1) - 1]
    return {
        "precision": float(np.mean(n_hits / k)),
        "recall": float(np.mean(n_hits / np.maximum(n_relevant, 1.0))),
        "map": float(np.mean((precision_at * hits).sum(axis=1) / denom)),
        "ndcg": float(np.mean((hits * discount).sum(axis=1) / ideal)),
    }


def coverage(top: np.ndarray, n_products: int, k: int) -> float:
    """Share of the catalogue that appears in at least one customer's top ``k``."""
    return float(len(np.unique(top[:, :k])) / max(n_products, 1))
