"""One LightGBM booster holding several boosters' trees, each member's outputs scaled by its weight.

Why: a weighted log-odds average of boosters (the cross-fitted fold models of ``training.core.crossfit``)
is exactly one booster whose raw score is ``sum_i w_i raw_i``: every member's trees, with their leaf values
multiplied by ``w_i``. Served as one booster it costs one prediction and one explanation per request, not
K. LightGBM has no public API that merges trained boosters (``init_model`` continues training; it does not
add another model's trees), so the merge is done on LightGBM's own saved form, ``Booster.model_to_string()``,
and read back with ``lightgbm.Booster(model_str=...)``. This module is the only place that edits that text.

What it relies on (LightGBM 4.x, ``src/boosting/gbdt_model_text.cpp`` ``SaveModelToString`` /
``LoadModelFromString`` and ``src/io/tree.cpp`` ``Tree::ToString`` / ``Tree(const char*)``):

- the text is a header of ``key=value`` lines, then blocks ``Tree=<i>`` of ``key=value`` lines, then
  ``end of trees``, the feature importances, the ``parameters:`` section and (written by the Python package)
  a last ``pandas_categorical:`` line;
- ``tree_sizes`` (each tree block's length in bytes, for parallel loading) is optional: without it the
  loader reads the blocks one after another. It is dropped here; LightGBM writes it again on the next save,
  as it recomputes the feature importances (the loader ignores the stale ones, which are dropped too);
- scaling a tree by ``w`` is what LightGBM's own ``Tree::Shrinkage(w)`` does: ``leaf_value`` and
  ``internal_value`` times ``w``, ``shrinkage`` times ``w``; leaf and internal weights and counts (hessian
  sums and training rows) stay. Prediction sums ``leaf_value``; ``pred_contrib`` (tree SHAP) and its
  expected value use leaf values and counts, as ``training.core.lgbm_contrib.path_table`` does, so both
  explain the merged booster as the same weighted sum of the members' explanations. ``internal_value``
  (read by ``trees_to_dataframe`` and the plots only) is scaled to stay consistent; LightGBM saves it with 6
  significant digits. Linear trees (``leaf_const``, ``leaf_coeff``) are refused, not scaled;
- ``feature_infos`` (each feature's training range or categories) describes the model only (``dump_model``):
  the merged one is the union of the members'.

Members must agree on what decides how a row is read and what the score means: feature names, objective,
a single output (``num_class`` = ``num_tree_per_iteration`` = 1), no ``average_output`` (random forest),
the pandas categories (category codes), each feature being numeric or categorical. Anything else
(parameters, monotone constraints) is taken from the first member.

Each member contributes its trees up to its ``best_iteration`` when one is set (``model_to_string``'s default).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import lightgbm

_AGREE = ("version", "num_class", "num_tree_per_iteration", "max_feature_idx", "objective", "feature_names")
_SCALED = ("leaf_value", "internal_value")  # per-tree values in raw-score units (``Tree::Shrinkage``)
_END = "end of trees"
_PANDAS = "pandas_categorical:"


@dataclass(frozen=True)
class _Model:
    header: dict[str, str | None]           # ordered; None for a bare key (``average_output``)
    trees: list[list[tuple[str, str]]]      # each tree's key=value lines, in order
    tail: str                                # the parameters section (and parser), without importances
    pandas_categorical: list | None


def merge_boosters(boosters: Sequence[lightgbm.Booster], weights: Sequence[float]) -> lightgbm.Booster:
    """One booster whose raw score is ``sum_i weights[i] * boosters[i]``'s raw score (module docstring).

    ``ValueError`` naming the difference when the members do not agree on what must agree, or for linear
    trees, multi-output models, or a weight that is not finite.
    """
    if not boosters or len(boosters) != len(weights):
        raise ValueError(f"{len(boosters)} boosters for {len(weights)} weights")
    if not all(math.isfinite(w) for w in weights):
        raise ValueError(f"weights must be finite, got {list(weights)}")
    models = [_parse(b.model_to_string()) for b in boosters]
    _check(models)
    first = models[0]
    header = {k: v for k, v in first.header.items() if k != "tree_sizes"}
    header["feature_infos"] = _merged_infos([m.header["feature_infos"] or "" for m in models])
    lines = [k if v is None else f"{k}={v}" for k, v in header.items()]
    trees = [_scaled(tree, w) for m, w in zip(models, weights, strict=True) for tree in m.trees]
    blocks = ["\n".join([f"Tree={i}", *(f"{k}={v}" for k, v in tree)]) + "\n\n" for i, tree in enumerate(trees)]
    text = "\n".join(lines) + "\n\n" + "\n".join(blocks) + _END + "\n" + first.tail
    return lightgbm.Booster(model_str=text)


def _parse(text: str) -> _Model:
    trees_part, end, tail = text.partition(f"\n{_END}\n")
    if not end:
        raise ValueError(f"not a LightGBM text model (no '{_END}' line)")
    head, *blocks = trees_part.split("\nTree=")
    header: dict[str, str | None] = {}
    for line in head.splitlines()[1:]:  # the first line names the model type ("tree")
        if line:
            key, eq, value = line.partition("=")
            header[key] = value if eq else None
    trees = [[tuple(line.split("=", 1)) for line in block.splitlines()[1:] if "=" in line] for block in blocks]
    pandas_line = [line for line in tail.splitlines() if line.startswith(_PANDAS)]
    pandas_categorical = json.loads(pandas_line[-1][len(_PANDAS):]) if pandas_line else None
    start = tail.find("parameters:")
    kept = tail[start:] if start >= 0 else "\n".join(pandas_line) + "\n"
    return _Model(header, trees, "\n" + kept, pandas_categorical)


def _check(models: list[_Model]) -> None:
    first = models[0]
    for i, model in enumerate(models):
        for key in _AGREE:
            if model.header.get(key) != first.header.get(key):
                raise ValueError(f"booster {i} has {key}={model.header.get(key)!r}, booster 0 "
                                 f"{first.header.get(key)!r}: only boosters of one model family can be merged")
        if model.pandas_categorical != first.pandas_categorical:
            raise ValueError(f"booster {i} was trained with other pandas categories than booster 0 "
                             f"({model.pandas_categorical!r} vs {first.pandas_categorical!r}): their category "
                             "codes differ; fit every member with the same categories")
        if "average_output" in model.header:
            raise ValueError(f"booster {i} averages its trees (random forest): not supported")
        if "[linear_tree: 1]" in model.tail or any(dict(t).get("is_linear", "0") != "0" for t in model.trees):
            raise ValueError(f"booster {i} has linear trees: not supported")
    if first.header.get("num_tree_per_iteration") != "1" or first.header.get("num_class") != "1":
        raise ValueError("only single-output boosters (binary, regression) can be merged")


def _scaled(tree: list[tuple[str, str]], weight: float) -> list[tuple[str, str]]:
    out = []
    for key, value in tree:
        if key in _SCALED:
            value = " ".join(repr(weight * float(v)) for v in value.split())
        elif key == "shrinkage":
            value = repr(weight * float(value))
        out.append((key, value))
    return out


def _merged_infos(infos: list[str]) -> str:
    """Per feature: the union of the members' ranges ``[min:max]`` or category lists ``a:b:c``."""
    per_feature = zip(*(info.split(" ") for info in infos), strict=True)
    return " ".join(_merged_info(list(values), j) for j, values in enumerate(per_feature))


def _merged_info(values: list[str], feature: int) -> str:
    used = [v for v in values if v != "none"]  # "none": the feature was constant in that member's rows
    if not used:
        return "none"
    numeric = [v.startswith("[") for v in used]
    if any(numeric) != all(numeric):
        raise ValueError(f"feature {feature} is numeric in some boosters and categorical in others: {values}")
    if all(numeric):
        bounds = [v[1:-1].split(":") for v in used]
        return f"[{min(float(lo) for lo, _ in bounds)!r}:{max(float(hi) for _, hi in bounds)!r}]"
    return ":".join(dict.fromkeys(c for v in used for c in v.split(":")))
