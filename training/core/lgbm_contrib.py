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

The per-leaf credits are stacked once per booster into a (total leaves x features) matrix (read from
the booster's text model, cached on the booster); a batch is then ``pred_leaf`` -> a CSR indicator of
the rows' leaves (one 1 per row and tree) @ that matrix, in row chunks to bound memory. Unlike SHAP, a
feature's credit depends on the order of the splits in each tree (Saabas is not consistent), so
rankings differ from SHAP's on some rows; the agreement of the strongest reason is measured in
``tests/training/core/test_lgbm_contrib.py`` and ``bench/README.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from training.core import lgbm_predict

PATH = "path"
SHAP = "shap"
METHODS = (PATH, SHAP)
CHUNK_ROWS = 20_000  # rows per sparse product: n_trees x 16 bytes (leaf, index, 1.0) per row


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
        indices = (leaves + table.leaf_offset.astype(leaves.dtype)).ravel()  # int32 from LightGBM
        indptr = np.arange(len(part) + 1, dtype=indices.dtype) * n_trees
        indicator = sparse.csr_matrix((np.ones(indices.size), indices, indptr),
                                      shape=(len(part), len(table.credits)))
        out[start:start + len(part), :-1] = indicator @ table.credits
    return out


def path_table(booster: Any) -> PathTable:
    """The booster's ``PathTable``, built once from its text model and cached on the booster."""
    cached = getattr(booster, "_crmlab_path_table", None)
    if isinstance(cached, PathTable):
        return cached
    table = build_path_table(parse_trees(booster.model_to_string()), booster.num_feature())
    booster._crmlab_path_table = table
    return table


@dataclass(frozen=True)
class TreeArrays:
    """One tree as LightGBM's text model stores it: node i splits on ``split_feature[i]``; a child
    ``c >= 0`` is node c, ``c < 0`` is leaf ``~c``. A child node always has a larger index than its parent."""

    split_feature: np.ndarray  # (n_leaves - 1,) int
    left_child: np.ndarray
    right_child: np.ndarray
    leaf_value: np.ndarray     # (n_leaves,) float
    leaf_count: np.ndarray     # (n_leaves,) training rows per leaf


def parse_trees(model_text: str) -> list[TreeArrays]:
    """The trees of ``Booster.model_to_string()`` (single-output, no linear trees; else ``ValueError``).

    The text model, not ``dump_model()``: its JSON takes seconds for a few hundred trees.
    """
    header, _, body = model_text.partition("\nTree=")
    fields = dict(line.split("=", 1) for line in header.splitlines() if "=" in line)
    if fields.get("num_tree_per_iteration", "1") != "1":
        raise ValueError("path contributions support single-output models (binary or regression) only")
    trees = []
    for block in ("Tree=" + body).split("end of trees", 1)[0].split("\nTree=") if body else []:
        values = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if values.get("is_linear", "0") != "0":
            raise ValueError("path contributions do not support linear trees: use the 'shap' method")
        trees.append(TreeArrays(_ints(values["split_feature"]), _ints(values["left_child"]),
                                _ints(values["right_child"]), _floats(values["leaf_value"]),
                                _floats(values.get("leaf_count", ""))))
    return trees


def build_path_table(trees: list[TreeArrays], n_features: int) -> PathTable:
    """Stack every tree's per-leaf credits; the expected value is the sum of the root means."""
    blocks, offsets, expected, offset = [], [], 0.0, 0
    for tree in trees:
        credits, root_value = _tree_credits(tree, n_features)
        blocks.append(credits)
        offsets.append(offset)
        offset += len(credits)
        expected += root_value
    return PathTable(np.vstack(blocks) if blocks else np.zeros((0, n_features)),
                     np.asarray(offsets, dtype=np.int64), expected)


def _tree_credits(tree: TreeArrays, n_features: int) -> tuple[np.ndarray, float]:
    """(n_leaves x n_features) credits of one tree (row = leaf index) and the root's mean value."""
    n_leaves = len(tree.leaf_value)
    credits = np.zeros((n_leaves, n_features), dtype=np.float64)
    if n_leaves == 1:  # a tree that never split: no credits
        return credits, float(tree.leaf_value[0])
    leaf_value = tree.leaf_value.tolist()  # Python floats: this loop runs once per node, not per row
    counts = tree.leaf_count.tolist() if len(tree.leaf_count) == n_leaves else [1.0] * n_leaves
    features, lefts, rights = tree.split_feature.tolist(), tree.left_child.tolist(), tree.right_child.tolist()
    n_nodes = len(features)
    value, weight = [0.0] * n_nodes, [0.0] * n_nodes

    def child(c: int) -> tuple[float, float]:
        return (value[c], weight[c]) if c >= 0 else (leaf_value[~c], counts[~c])

    for node in range(n_nodes - 1, -1, -1):  # children before parents
        (v_left, n_left), (v_right, n_right) = child(lefts[node]), child(rights[node])
        total = n_left + n_right
        weight[node] = total
        value[node] = (v_left * n_left + v_right * n_right) / total if total > 0 else (v_left + v_right) / 2
    path = np.zeros((n_nodes, n_features))  # credits gathered from the root down to each node
    for node in range(n_nodes):  # parents before children
        for c in (lefts[node], rights[node]):
            step = path[node].copy()
            step[features[node]] += child(c)[0] - value[node]
            if c >= 0:
                path[c] = step
            else:
                credits[~c] = step
    return credits, value[0]


def _ints(text: str) -> np.ndarray:
    return np.array(text.split(), dtype=np.int64)


def _floats(text: str) -> np.ndarray:
    return np.array(text.split(), dtype=np.float64)
