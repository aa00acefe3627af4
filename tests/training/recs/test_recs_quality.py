"""The recommender on a generated world whose latent segments drive category preferences.

Margin: the hybrid's test precision@10 must be at least ``MARGIN`` (1.2) times the popularity baseline's.
Why 1.2: in this world a customer's segment fixes most of their category mix, so a model that learns a
customer's categories should clearly beat one ranking for everybody; measured about 1.4x here. A broken
model fails it: the same check on the fitted model with its product rows shuffled (ALS factors and TF-IDF
no longer belong to their products) is asserted to fail, and a popularity-only blend scores 1.0x.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from conftest import CUTOFF, HORIZON
from mlflow.exceptions import MlflowException

from training.recs.data import as_timestamp, read_recs_data, time_split
from training.recs.evaluate import evaluate, metric
from training.recs.fit import build_recommender
from training.recs.pyfunc import RecommenderModel

MARGIN = 1.2


@pytest.fixture(scope="module")
def split(recs_clean):
    data = read_recs_data(recs_clean)
    return data, time_split(data.purchases, as_timestamp(CUTOFF), HORIZON)


def _precision_ratio(model, split_) -> float:
    table, _ = evaluate(model, split_, 5000, seed=0)
    return metric(table, "hybrid", "precision") / metric(table, "popularity", "precision")


def test_hybrid_beats_popularity_by_the_margin(trained):
    result, _ = trained
    hybrid, popular = result.value("hybrid", "precision"), result.value("popularity", "precision")
    assert hybrid >= MARGIN * popular, (hybrid, popular)
    assert result.value("hybrid", "ndcg") > result.value("popularity", "ndcg")
    assert result.value("hybrid", "coverage") > result.value("popularity", "coverage")  # not one list for all
    assert result.promotion is not None and result.promotion.promoted  # first version: champion


def test_a_broken_model_fails_the_margin(trained, split):
    result, _ = trained
    model = result.recommender
    perm = np.random.default_rng(0).permutation(model.n_products)
    broken = dataclasses.replace(model, item_factors=model.item_factors[perm], tfidf=model.tfidf[perm])
    assert _precision_ratio(broken, split[1]) < MARGIN
    popularity_only = dataclasses.replace(model, weights={t: {"popularity": 1.0} for t in model.weights})
    assert _precision_ratio(popularity_only, split[1]) < MARGIN


def test_blend_weights_come_from_validation(trained):
    result, _ = trained
    for tier, weights in result.tuned.weights.items():
        assert sum(weights.values()) == pytest.approx(1.0), tier
    assert set(result.tuned.weights["light"]) == {"content", "popularity"}
    assert "blend_ndcg.warm" in result.tuned.validation


def test_cold_start_customers_get_recommendations(trained):
    model = trained[0].recommender
    has_history = np.diff(model.history.indptr) > 0
    profile_only = model.customers[~has_history][0]
    out = model.recommend([profile_only, "NEVER-SEEN"], k=10)
    assert out.groupby("customer_id").size().to_dict() == {profile_only: 10, "NEVER-SEEN": 10}
    reasons = out.set_index("customer_id")["reason"]
    expected = "popular in your segment" if model.segment_column else "popular with all customers"
    assert set(reasons.loc[[profile_only]]) == {expected}
    assert set(reasons.loc[["NEVER-SEEN"]]) == {"popular with all customers"}


def test_the_cold_start_tier_scores_on_held_out_customers(trained):
    result, _ = trained
    assert result.summary["test_customers.cold"] > 0
    assert result.value("hybrid.cold", "precision") > 0


def test_a_new_product_is_recommended_by_content(trained, recs_clean, split, tmp_path):
    result, settings = trained
    model = result.recommender
    data, split_ = split
    light = np.flatnonzero(np.diff(model.history.indptr) == 1)  # one product bought: content + popularity
    customer, product = model.customers[light[0]], model.history[light[0]].indices[0]
    products = pd.read_parquet(recs_clean / "products.parquet")
    twin = products[products["product_id"] == model.catalog.product_ids[product]].assign(product_id="PNEW")
    (tmp_path / "clean").mkdir()
    pd.concat([products, twin]).to_parquet(tmp_path / "clean" / "products.parquet", index=False)
    for table in ("transactions", "customers"):
        (tmp_path / "clean" / f"{table}.parquet").symlink_to(recs_clean / f"{table}.parquet")
    data = read_recs_data(tmp_path / "clean")
    assert "PNEW" in data.catalog.product_ids and "PNEW" not in set(data.purchases["product_id"])
    rebuilt = build_recommender(data, split_.history, split_.cutoff, params=result.tuned.params,
                                weights=result.tuned.weights, segment_column=result.tuned.segment_column,
                                min_history=settings.recs_min_history,
                                popularity_days=settings.recs_popularity_days, seed=3)
    out = rebuilt.recommend([customer], k=10).set_index("product_id")
    assert "PNEW" in out.index
    assert out.loc["PNEW", "reason"].startswith("similar to ")


def test_pyfunc_answers_documented_columns_and_excludes_categories(trained):
    model = trained[0].recommender
    pyfunc = RecommenderModel(model)
    ids = list(model.customers[:3])
    out = pyfunc.predict(None, pd.DataFrame({"customer_id": ids, "k": [3, None, 5],
                                             "exclude_categories": [["grocery", "toys"], "books", None]}))
    assert list(out.columns) == ["customer_id", "rank", "product_id", "score", "reason"]
    assert out.groupby("customer_id", sort=False).size().tolist() == [3, 10, 5]
    assert (out.groupby("customer_id")["rank"].min() == 1).all()
    category = pd.Series(model.catalog.categories, index=model.catalog.product_ids)
    first = out[out["customer_id"] == ids[0]]
    assert not set(category.loc[first["product_id"]]) & {"grocery", "toys"}
    assert "books" not in set(category.loc[out[out["customer_id"] == ids[1]]["product_id"]])
    assert out["reason"].str.match(r"^(bought with |similar to |popular |bought before$)").all()


@pytest.mark.parametrize("frame, field", [
    (pd.DataFrame({"k": [3]}), "customer_id"),
    (pd.DataFrame({"customer_id": ["C1"], "k": [0]}), "'k'"),
    (pd.DataFrame({"customer_id": ["C1"], "k": [2.5]}), "'k'"),
    (pd.DataFrame({"customer_id": ["C1"], "exclude_categories": ["spaceships"]}), "'exclude_categories'"),
    (pd.DataFrame({"customer_id": [None]}), "'customer_id'"),
])
def test_bad_input_names_the_field(trained, frame, field):
    pyfunc = RecommenderModel(trained[0].recommender)
    with pytest.raises(MlflowException) as err:
        pyfunc.predict(None, frame)
    assert field in err.value.message and "spaceships" not in err.value.message


def test_gate_loss_is_one_minus_precision_on_the_logged_holdout(trained):
    from training.recs.gate import GATE

    result, _ = trained
    holdout = result.holdout  # every test customer here (fewer than HOLDOUT_CUSTOMERS)
    out = RecommenderModel(result.recommender).predict(None, holdout)
    loss = GATE.per_row_loss(out, holdout)
    assert len(loss) == len(holdout)
    assert 1 - loss.mean() == pytest.approx(result.value("hybrid", "precision"))
    assert all(GATE.checks(out, holdout).values())
    assert not GATE.checks(out[out["customer_id"] != holdout["customer_id"].iloc[0]], holdout)[
        "every_customer_answered"]
