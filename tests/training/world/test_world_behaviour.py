"""Behaviour of the generated customers: lifetimes, acquisition, segments, engagement before churn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

from training.world import WorldConfig, generate_world

END = pd.Timestamp("2025-12-31")
AFTER_END = pd.Timestamp("2026-01-01")


@pytest.fixture(scope="module")
def world():
    return generate_world(WorldConfig(n_customers=3000, seed=21, dirt_rate=0.0))


@pytest.fixture(scope="module")
def frames(world):
    truth = world.truth_customers.set_index("customer_id")
    tx = world.transactions.assign(ts=pd.to_datetime(world.transactions["order_ts"]))
    ev = world.events.assign(ts=pd.to_datetime(world.events["session_ts"]))
    return truth, tx, ev


def test_orders_only_between_signup_and_dropout(frames):
    truth, tx, ev = frames
    day = tx["ts"].dt.normalize()
    assert (day >= truth["signup_date"].reindex(tx["customer_id"]).to_numpy()).all()
    assert (day <= truth["dropout_date"].reindex(tx["customer_id"]).to_numpy()).all()
    assert (ev["ts"].dt.normalize() >= truth["signup_date"].reindex(ev["customer_id"]).to_numpy()).all()


def test_customers_are_acquired_continuously_and_growing(world):
    signup = pd.to_datetime(world.customers["signup_date"])
    per_quarter = signup.dt.to_period("Q").value_counts().sort_index()
    assert len(per_quarter) == 12, "every quarter of the three years should bring new customers"
    assert per_quarter.iloc[-4:].sum() > 1.8 * per_quarter.iloc[:4].sum()


def test_segment_mix_is_constant_over_signup_time(world):
    truth = world.truth_customers
    early = truth[truth["signup_date"] < "2024-07-01"]["segment"].value_counts(normalize=True)
    late = truth[truth["signup_date"] >= "2024-07-01"]["segment"].value_counts(normalize=True)
    assert (early - late).abs().max() < 0.05


def test_segments_behave_differently(frames):
    truth, tx, ev = frames
    per_customer = (
        pd.DataFrame(
            {
                "orders": tx.groupby("customer_id").size(),
                "amount": tx.groupby("customer_id")["amount"].mean(),
                "sessions": ev.groupby("customer_id").size(),
            }
        )
        .reindex(truth.index)
        .fillna({"orders": 0, "sessions": 0})
    )
    per_customer["days"] = (truth["dropout_date"].clip(upper=END) - truth["signup_date"]).dt.days + 1
    per_customer["orders_per_year"] = per_customer["orders"] / per_customer["days"] * 365
    medians = per_customer.groupby(truth["segment"], observed=True).median()
    assert medians["orders_per_year"].idxmax() == "bargain_hunters"
    assert medians["amount"].idxmax() == "occasional_big_spenders"
    assert medians["orders"].idxmin() == "low_engagement_one_timers"
    assert medians["sessions"].idxmin() == "low_engagement_one_timers"
    assert medians.loc["loyal_high_value", "amount"] > 1.5 * medians.loc["regular_mid_value", "amount"]
    assert (
        medians.loc["loyal_high_value", "orders_per_year"]
        > 1.5 * medians.loc["regular_mid_value", "orders_per_year"]
    )
    mix = pd.crosstab(
        truth["segment"].reindex(tx["customer_id"]).to_numpy(), tx["category"], normalize="index"
    )
    assert mix.loc["bargain_hunters"].idxmax() == "grocery"
    assert mix.loc["occasional_big_spenders"].idxmax() == "electronics"


def test_profile_is_correlated_with_segment(world):
    customers = world.customers.set_index("customer_id")
    segment = world.truth_customers.set_index("customer_id")["segment"]
    premium = (customers["plan"] == "premium").groupby(segment, observed=True).mean()
    assert premium["loyal_high_value"] > 3 * premium["low_engagement_one_timers"]
    young = customers["age_band"].isin(["18-24", "25-34"]).groupby(segment, observed=True).mean()
    assert young["bargain_hunters"] > 2 * young["occasional_big_spenders"]
    assert 0.85 <= customers["marketing_consent"].mean() <= 0.95


def test_clustering_recovers_the_latent_segments(frames):
    """What a segmentation model sees (RFM, tenure, sessions, category mix) reveals the segments."""
    truth, tx, ev = frames
    orders = tx.groupby("customer_id")
    features = (
        pd.DataFrame(
            {
                "frequency": np.log1p(orders.size()),
                "monetary": np.log(orders["amount"].mean()),
                "recency": np.log1p((AFTER_END - orders["ts"].max()).dt.days),
                "tenure": np.log1p((AFTER_END - truth["signup_date"]).dt.days),
                "sessions": np.log1p(ev.groupby("customer_id").size()),
            }
        )
        .dropna(subset=["frequency"])
        .fillna({"sessions": 0.0})
    )
    features = features.join(pd.crosstab(tx["customer_id"], tx["category"], normalize="index"))
    labels = KMeans(5, n_init=10, random_state=0).fit_predict(StandardScaler().fit_transform(features))
    ari = adjusted_rand_score(truth["segment"].reindex(features.index), labels)
    assert ari >= 0.7, f"segments should be recoverable by clustering, ARI={ari:.2f}"


def test_sessions_thin_out_before_dropout(frames):
    truth, _, ev = frames
    dropout = truth["dropout_date"].reindex(ev["customer_id"]).to_numpy()
    days_before = (pd.Series(dropout) - ev["ts"].dt.normalize().to_numpy()).dt.days.to_numpy()
    eligible = truth[
        (truth["dropout_date"] < END) & ((truth["dropout_date"] - truth["signup_date"]).dt.days > 200)
    ]
    mine = ev["customer_id"].isin(eligible.index).to_numpy()
    last_month = np.sum(mine & (days_before >= 0) & (days_before < 30)) / 30
    earlier = np.sum(mine & (days_before >= 120) & (days_before < 180)) / 60
    after = np.sum(mine & (days_before < -60) & (days_before >= -120)) / 60
    assert len(eligible) > 100
    assert last_month < 0.65 * earlier, "engagement should fall in the weeks before dropout"
    assert after < 0.3 * earlier, "engagement should fade after dropout"
