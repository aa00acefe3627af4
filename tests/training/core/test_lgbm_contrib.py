"""Path contributions: exact additivity, the same strongest feature as exact tree SHAP for most rows."""

from __future__ import annotations

import lightgbm
import numpy as np
import pandas as pd
import pytest

from training.core import lgbm_contrib, lgbm_predict
from training.core.lgbm import as_lgbm_frame
from training.world.churn_features import synthetic_features

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
    # node 0 splits on feature 1: left node 1 (30 rows), right leaf 2 (10 rows, -2.0);
    # node 1 splits on feature 0: leaf 0 (20 rows, 3.0), leaf 1 (10 rows, 0.0)
    tree = lgbm_contrib.TreeArrays(split_feature=np.array([1, 0]), left_child=np.array([1, ~0]),
                                   right_child=np.array([~2, ~1]), leaf_value=np.array([3.0, 0.0, -2.0]),
                                   leaf_count=np.array([20.0, 10.0, 10.0]))
    stump = lgbm_contrib.TreeArrays(*(np.array([], dtype=int),) * 3, np.array([0.25]), np.array([40.0]))
    table = lgbm_contrib.build_path_table([tree, stump], n_features=2)
    # node means: node 1 = (20*3 + 10*0)/30 = 2; root = (30*2 + 10*-2)/40 = 1
    np.testing.assert_allclose(table.credits[:3], [[1.0, 1.0], [-2.0, 1.0], [0.0, -3.0]])
    np.testing.assert_allclose(table.credits[3], [0.0, 0.0])
    assert table.expected_value == pytest.approx(1.25)
    assert list(table.leaf_offset) == [0, 3]


def test_the_text_model_holds_the_trees_lightgbm_predicts_with(model):
    booster, matrix = model
    trees = lgbm_contrib.parse_trees(booster.model_to_string())
    assert len(trees) == booster.num_trees()
    leaves = booster.predict(matrix, pred_leaf=True)
    by_leaf = np.stack([tree.leaf_value[leaves[:, t]] for t, tree in enumerate(trees)], axis=1)
    np.testing.assert_allclose(by_leaf.sum(axis=1), booster.predict(matrix, raw_score=True), atol=1e-9)


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
