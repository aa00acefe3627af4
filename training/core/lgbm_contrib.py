"""Per-feature contributions of a LightGBM booster's raw score: path-based (fast) or exact tree SHAP.

Exact tree SHAP (``pred_contrib=True``) costs about 15x a prediction; explanations for a million
customers then dominate batch scoring. Path-based contributions (Saabas; XGBoost's
``approx_contribs=True``, the ``treeinterpreter`` package) cost about one ``pred_leaf`` pass plus a
sparse product:

- every tree node's value is the training-count-weighted mean of the leaf values below it (the
  model's expected output given the conditions on the path so far; the root's value summed over the
  trees is the expected value, the same base value tree SHAP reports);
- walking from the root to a leaf, each step's change of value (child minus parent) is credited to the
  feature the parent split on. Per tree, the credits of a leaf telescope to ``leaf - root``, so the
  contributions plus the expected value add up to the raw score exactly, as SHAP's do.

The per-leaf credits are stacked once per booster into a (total leaves x features) matrix (cached on
the booster); a batch is then ``pred_leaf`` -> a CSR indicator of the rows' leaves (one 1 per row and
tree) @ that matrix, in row chunks to bound memory. Unlike SHAP, a feature's credit depends on where it
sits in the tree (features split near the root get less), so rankings differ from SHAP's on some rows;
the agreement of the strongest reason is measured in ``tests/training/core/test_lgbm_contrib.py`` and
``bench/README.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from training.core import lgbm_predict

PATH = "path"
SHAP = "shap"
METHODS = (PATH, SHAP)
CHUNK_ROWS = 50_000  # rows per sparse product: ~n_trees x 12 bytes of indicator per row


@dataclass(frozen=True)
class PathTable:
    """Everything a batch needs: per-leaf credits, where each tree's leaves start, the expected value."""

    credits: np.ndarray      # (total leaves, n_features) float64
    leaf_offset: np.ndarray  # (n_trees,) int64: row of tree t's leaf 0 in ``credits``
    expected_value: float


def contributions(booster: Any, matrix: np.ndarray, method: str = PATH) -> np.ndarray:
    """(rows, n_features + 1) raw-score contributions, the last column the expected value.

    Same layout as ``booster.predict(matrix, pred_contrib=True)``, which ``method="shap"`` returns.
    """
    if method == SHAP:
        return lgbm_predict.predict(booster, matrix, pred_contrib=True)
    if method != PATH:
        raise ValueError(f"contribution method must be one of {', '.join(METHODS)}, not {method!r}")
    return path_contributions(booster, matrix)


def path_contributions(booster: Any, matrix: np.ndarray, chunk_rows: int = CHUNK_ROWS) -> np.ndarray:
    """Path-based contributions (module docstring) of every row of ``matrix``."""
    from scipy import sparse

    table = path_table(booster)
    n_trees = len(table.leaf_offset)
    n_features = table.credits.shape[1]
    out = np.empty((len(matrix), n_features + 1), dtype=np.float64)
    out[:, -1] = table.expected_value
    for start in range(0, len(matrix), chunk_rows):
        part = matrix[start:start + chunk_rows]
        leaves = lgbm_predict.predict(booster, part, pred_leaf=True).reshape(len(part), n_trees)
        indices = (leaves.astype(np.int64, copy=False) + table.leaf_offset).ravel()
        indicator = sparse.csr_matrix(
            (np.ones(indices.size, dtype=np.float64), indices, np.arange(len(part) + 1) * n_trees),
            shape=(len(part), len(table.credits)))
        out[start:start + len(part), :-1] = indicator @ table.credits
    return out


def path_table(booster: Any) -> PathTable:
    """The booster's ``PathTable``, built from ``dump_model()`` once and cached on the booster."""
    cached = getattr(booster, "_crmlab_path_table", None)
    if isinstance(cached, PathTable):
        return cached
    table = build_path_table(booster.dump_model(), booster.num_feature())
    booster._crmlab_path_table = table
    return table


def build_path_table(dump: dict, n_features: int) -> PathTable:
    """``PathTable`` from a ``Booster.dump_model()`` dict (single-output models only)."""
    if dump.get("num_tree_per_iteration", 1) != 1:
        raise ValueError("path contributions support single-output models (binary or regression) only")
    if any("leaf_coeff" in _first_leaf(tree["tree_structure"]) for tree in dump["tree_info"]):
        raise ValueError("path contributions do not support linear trees: use the 'shap' method")
    blocks, offsets, expected, offset = [], [], 0.0, 0
    for tree in dump["tree_info"]:
        credits, root_value = _tree_credits(tree["tree_structure"], tree["num_leaves"], n_features)
        blocks.append(credits)
        offsets.append(offset)
        offset += len(credits)
        expected += root_value
    return PathTable(np.vstack(blocks) if blocks else np.zeros((0, n_features)),
                     np.asarray(offsets, dtype=np.int64), expected)


def _tree_credits(root: dict, n_leaves: int, n_features: int) -> tuple[np.ndarray, float]:
    """(n_leaves x n_features) credits of one tree, indexed by ``leaf_index``; and its root value."""
    credits = np.zeros((max(n_leaves, 1), n_features), dtype=np.float64)
    if "leaf_value" in root and "split_feature" not in root:  # a single-leaf tree: no credits
        return credits, float(root["leaf_value"])
    values = _node_values(root)
    stack = [(root, np.zeros(n_features))]
    while stack:  # depth-first; each leaf receives the credits of its path
        node, path = stack.pop()
        if "leaf_index" in node:
            credits[node["leaf_index"]] = path
            continue
        feature = node["split_feature"]
        for child in (node["left_child"], node["right_child"]):
            step = path.copy()
            step[feature] += values[id(child)] - values[id(node)]
            stack.append((child, step))
    return credits, values[id(root)]


def _node_values(root: dict) -> dict[int, float]:
    """Every node's training-count-weighted mean leaf value (keyed by ``id(node)``), bottom-up."""
    values: dict[int, float] = {}
    counts: dict[int, float] = {}
    order, stack = [], [root]
    while stack:
        node = stack.pop()
        order.append(node)
        if "leaf_index" not in node:
            stack.extend((node["left_child"], node["right_child"]))
    for node in reversed(order):  # children before parents
        if "leaf_index" in node:
            values[id(node)] = float(node["leaf_value"])
            counts[id(node)] = float(node.get("leaf_count", 0))
            continue
        left, right = node["left_child"], node["right_child"]
        n_left, n_right = counts[id(left)], counts[id(right)]
        total = n_left + n_right
        values[id(node)] = ((values[id(left)] * n_left + values[id(right)] * n_right) / total if total > 0
                            else (values[id(left)] + values[id(right)]) / 2.0)
        counts[id(node)] = total
    return values


def _first_leaf(node: dict) -> dict:
    while "left_child" in node:
        node = node["left_child"]
    return node
