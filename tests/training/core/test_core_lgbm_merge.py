"""``lgbm_merge.merge_boosters`` against the real LightGBM: one booster that scores, explains and saves as
the weighted sum of its members."""

from __future__ import annotations

import lightgbm
import numpy as np
import pandas as pd
import pytest

from training.core import lgbm_contrib, lgbm_predict
from training.core.lgbm_merge import merge_boosters

FEATURES = ["amount", "visits", "plan"]
CATEGORICAL = ["plan"]
PLANS = ["basic", "plus", "pro", "team"]
WEIGHTS = [0.5, 0.3, 0.2]


def _frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"amount": rng.gamma(2.0, 50.0, n), "visits": rng.poisson(3, n).astype(float),
                      "plan": pd.Categorical(rng.choice(PLANS, n), categories=PLANS)})
    x.loc[rng.random(n) < 0.15, "amount"] = np.nan
    x.loc[rng.random(n) < 0.1, "plan"] = np.nan
    z = 0.01 * x["amount"].fillna(150) - 0.4 * x["visits"] + 1.2 * (x["plan"] == "basic") - 0.3
    return x, (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)


def _booster(x: pd.DataFrame, y: np.ndarray, seed: int, **params) -> lightgbm.Booster:
    full = {"objective": "binary", "verbose": -1, "seed": seed, "num_leaves": 7, "learning_rate": 0.1,
            "bagging_fraction": 0.8, "bagging_freq": 1, "min_data_per_group": 5, "cat_smooth": 1, **params}
    return lightgbm.train(full, lightgbm.Dataset(x, y, categorical_feature=CATEGORICAL), num_boost_round=30)


@pytest.fixture(scope="module")
def members() -> tuple[list[lightgbm.Booster], pd.DataFrame]:
    """Three boosters fitted on different rows (as cross-fitted folds are); one stopped early."""
    x, y = _frame(3000, 0)
    boosters = [_booster(x.iloc[i::3], y[i::3], seed=i) for i in range(2)]
    valid = lightgbm.Dataset(x.iloc[:300], y[:300], categorical_feature=CATEGORICAL)
    early = lightgbm.train({"objective": "binary", "verbose": -1, "num_leaves": 15, "learning_rate": 0.3},
                           lightgbm.Dataset(x.iloc[2::3], y[2::3], categorical_feature=CATEGORICAL),
                           num_boost_round=200, valid_sets=[valid],
                           callbacks=[lightgbm.early_stopping(5, verbose=False)], keep_training_booster=True)
    assert 0 < early.best_iteration < early.num_trees()
    return [*boosters, early], _frame(500, 1)[0]


def test_merged_raw_score_is_the_weighted_sum_of_the_members(members):
    boosters, x = members
    merged = merge_boosters(boosters, WEIGHTS)
    expected = sum(w * b.predict(x, raw_score=True) for w, b in zip(WEIGHTS, boosters, strict=True))
    np.testing.assert_allclose(merged.predict(x, raw_score=True), expected, rtol=0, atol=1e-9)
    assert np.ptp(expected) > 1  # the members score rows differently: the check is not vacuous
    assert merged.num_trees() == sum(b.best_iteration or b.num_trees() for b in boosters)  # early one cut
    assert merged.pandas_categorical == boosters[0].pandas_categorical and merged.feature_name() == FEATURES
    probability = 1 / (1 + np.exp(-expected))
    np.testing.assert_allclose(merged.predict(x), probability, rtol=0, atol=1e-9)


def test_tree_shap_and_path_contributions_are_the_weighted_sums_of_the_members(members):
    boosters, x = members
    merged = merge_boosters(boosters, WEIGHTS)
    shap = merged.predict(x, pred_contrib=True)
    np.testing.assert_allclose(shap.sum(axis=1), merged.predict(x, raw_score=True), rtol=0, atol=1e-9)
    member_shap = sum(w * b.predict(x, pred_contrib=True) for w, b in zip(WEIGHTS, boosters, strict=True))
    np.testing.assert_allclose(shap[:, -1], member_shap[:, -1], rtol=0, atol=1e-9)  # expected value
    np.testing.assert_allclose(shap, member_shap, rtol=0, atol=1e-9)

    def path(booster):
        return lgbm_contrib.contributions(booster, lgbm_predict.booster_matrix(booster, x, FEATURES, CATEGORICAL))

    member_path = sum(w * path(b) for w, b in zip(WEIGHTS, boosters, strict=True))
    np.testing.assert_allclose(path(merged), member_path, rtol=0, atol=1e-9)
    assert np.abs(member_path[:, :-1]).max() > 0.1


def test_merged_booster_survives_a_save_and_load_and_saves_the_same_text(members):
    boosters, x = members
    merged = merge_boosters(boosters, WEIGHTS)
    text = merged.model_to_string()
    assert "tree_sizes=" in text  # LightGBM wrote its own index of the trees again
    loaded = lightgbm.Booster(model_str=text)
    np.testing.assert_array_equal(loaded.predict(x, raw_score=True), merged.predict(x, raw_score=True))
    assert loaded.model_to_string() == text and loaded.pandas_categorical == merged.pandas_categorical
    # every node's value (internal ones too) is the member's times its weight: tree 40 is member 1's tree 10
    merged_tree = loaded.trees_to_dataframe().query("tree_index == 40")
    member_tree = boosters[1].trees_to_dataframe().query("tree_index == 10")
    np.testing.assert_allclose(merged_tree["value"], WEIGHTS[1] * member_tree["value"], rtol=1e-5)
    assert merged_tree["value"].abs().min() > 0


def test_a_single_member_with_weight_one_is_itself(members):
    boosters, x = members
    same = merge_boosters(boosters[:1], [1.0])
    np.testing.assert_array_equal(same.predict(x, raw_score=True), boosters[0].predict(x, raw_score=True))


def test_members_that_disagree_are_refused(members):
    boosters, _ = members
    x, y = _frame(600, 2)
    renamed = _booster(x.rename(columns={"visits": "sessions"}), y, seed=0)
    with pytest.raises(ValueError, match="feature_names"):
        merge_boosters([boosters[0], renamed], [0.5, 0.5])
    fewer_plans = x.assign(plan=pd.Categorical(x["plan"].astype(object), categories=PLANS[:3]))
    with pytest.raises(ValueError, match="pandas categories"):
        merge_boosters([boosters[0], _booster(fewer_plans, y, seed=0)], [0.5, 0.5])
    with pytest.raises(ValueError, match="objective"):
        merge_boosters([boosters[0], _booster(x, x["visits"].to_numpy(), seed=0, objective="regression")],
                       [0.5, 0.5])
    multiclass = _booster(x, y + (x["visits"].to_numpy() > 3), seed=0, objective="multiclass", num_class=3)
    with pytest.raises(ValueError, match="single-output"):
        merge_boosters([multiclass, multiclass], [0.5, 0.5])
    linear = _booster(x, y, seed=0, linear_tree=True)
    with pytest.raises(ValueError, match="linear trees"):
        merge_boosters([linear], [1.0])
    with pytest.raises(ValueError, match="2 boosters for 1 weights"):
        merge_boosters(boosters[:2], [1.0])
    with pytest.raises(ValueError, match="finite"):
        merge_boosters(boosters[:1], [float("nan")])
