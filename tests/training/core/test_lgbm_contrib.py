"""Path contributions: exact additivity, the same strongest feature as exact tree SHAP for most rows."""

from __future__ import annotations

import lightgbm
import numpy as np
import pandas as pd
import pytest

from training.churn.inputs import synthetic_features
from training.core import lgbm_contrib, lgbm_predict
from training.core.lgbm import as_lgbm_frame

FEATURES = ["recency_days", "frequency", "monetary_total", "tenure_days", "sessions_90d", "plan", "region"]
CATEGORICAL = ["plan", "region"]


@pytest.fixture(scope="module")
def model() -> tuple[lightgbm.Booster, np.ndarray]:
    """A churn-like booster (categories, missing values, 150 trees) and a matrix of unseen rows."""
    frame = synthetic_features(6000, seed=3).dropna(subset=["churned"])
    frame.loc[frame.sample(frac=0.1, random_state=0).index, "frequency"] = np.nan
    train, test = frame.iloc[:4000], frame.iloc[4000:]
    booster = lightgbm.train({"objective": "binary", "num_leaves": 15, "learning_rate": 0.05, "verbose": -1,
                              "min_data_in_leaf": 20, "seed": 0},
                             lightgbm.Dataset(as_lgbm_frame(train[FEATURES], CATEGORICAL),
                                              train["churned"].astype(int)), num_boost_round=150)
    matrix = lgbm_predict.booster_matrix(booster, test, FEATURES, CATEGORICAL)
    return booster, matrix


def top_feature(contributions: np.ndarray) -> np.ndarray:
    return np.abs(contributions[:, :-1]).argmax(axis=1)


def test_path_contributions_add_up_to_the_raw_score_with_shaps_expected_value(model):
    booster, matrix = model
    path = lgbm_contrib.contributions(booster, matrix, lgbm_contrib.PATH)
    shap = lgbm_contrib.contributions(booster, matrix, lgbm_contrib.SHAP)
    raw = booster.predict(matrix, raw_score=True)
    assert path.shape == shap.shape == (len(matrix), len(FEATURES) + 1)
    np.testing.assert_allclose(path.sum(axis=1), raw, atol=1e-9)
    np.testing.assert_allclose(path[:, -1], shap[:, -1], atol=1e-9)  # same base value as tree SHAP
    assert np.abs(path[:, :-1]).max() > 0.1  # not all mass left in the base value


def test_strongest_path_reason_agrees_with_exact_shap_for_most_rows(model):
    booster, matrix = model
    path = lgbm_contrib.path_contributions(booster, matrix)
    shap = booster.predict(matrix, pred_contrib=True)
    rng = np.random.default_rng(0)
    shuffled = path[:, np.r_[rng.permutation(len(FEATURES)), len(FEATURES)]]  # right values, wrong features
    for contributions, broken in ((path, False), (shuffled, True)):
        top = top_feature(contributions)
        top3 = np.argsort(-np.abs(contributions[:, :-1]), axis=1)[:, :3]
        agreement = float((top == top_feature(shap)).mean())
        in_top3 = float((top3 == top_feature(shap)[:, None]).any(axis=1).mean())
        if broken:
            assert agreement < 0.5 and in_top3 < 0.9, (agreement, in_top3)
        else:  # measured on this model: 0.80 and 0.99
            assert agreement >= 0.7 and in_top3 >= 0.95, (agreement, in_top3)
    same = top_feature(path) == top_feature(shap)
    rows = np.flatnonzero(same)
    signs = np.sign(path[rows, top_feature(path)[same]]) == np.sign(shap[rows, top_feature(shap)[same]])
    assert signs.mean() > 0.99  # the shared strongest reason points the same way (raises / lowers risk)


def test_chunks_and_single_rows_give_the_batch_answer(model):
    booster, matrix = model
    whole = lgbm_contrib.path_contributions(booster, matrix)
    np.testing.assert_allclose(lgbm_contrib.path_contributions(booster, matrix, chunk_rows=7), whole, atol=1e-12)
    np.testing.assert_allclose(lgbm_contrib.path_contributions(booster, matrix[5:6]), whole[5:6], atol=1e-12)
    assert lgbm_contrib.path_contributions(booster, matrix[:0]).shape == (0, len(FEATURES) + 1)


def test_a_hand_built_tree_credits_each_split_with_the_change_of_the_mean():
    # root splits on feature 1 (30 rows left, 10 right); left splits on feature 0 (20 / 10 rows)
    leaf = lambda i, v, n: {"leaf_index": i, "leaf_value": v, "leaf_count": n}  # noqa: E731
    tree = {"split_feature": 1, "left_child": {"split_feature": 0, "left_child": leaf(0, 3.0, 20),
                                               "right_child": leaf(1, 0.0, 10)},
            "right_child": leaf(2, -2.0, 10)}
    dump = {"num_tree_per_iteration": 1, "tree_info": [
        {"num_leaves": 3, "tree_structure": tree},
        {"num_leaves": 1, "tree_structure": {"leaf_value": 0.25}},  # a tree that never split
    ]}
    table = lgbm_contrib.build_path_table(dump, n_features=2)
    # node means: left = (20*3 + 10*0)/30 = 2; root = (30*2 + 10*-2)/40 = 1
    np.testing.assert_allclose(table.credits[:3], [[1.0, 1.0], [-2.0, 1.0], [0.0, -3.0]])
    np.testing.assert_allclose(table.credits[3], [0.0, 0.0])
    assert table.expected_value == pytest.approx(1.25)
    assert list(table.leaf_offset) == [0, 3]


def test_unsupported_models_and_methods_are_refused_in_one_line(model):
    booster, matrix = model
    with pytest.raises(ValueError, match="one of path, shap"):
        lgbm_contrib.contributions(booster, matrix, "lime")
    x = pd.DataFrame({"a": np.arange(200.0), "b": np.arange(200.0) % 7})
    multi = lightgbm.train({"objective": "multiclass", "num_class": 3, "verbose": -1},
                           lightgbm.Dataset(x, np.arange(200) % 3), num_boost_round=2)
    with pytest.raises(ValueError, match="single-output"):
        lgbm_contrib.path_table(multi)
    linear = lightgbm.train({"objective": "regression", "linear_tree": True, "verbose": -1},
                            lightgbm.Dataset(x, x["a"] * 2 + x["b"]), num_boost_round=2)
    with pytest.raises(ValueError, match="linear trees"):
        lgbm_contrib.path_table(linear)
