"""Feature selection, the segmentation space and the three algorithms, on synthetic latent segments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from training.segments import pipeline
from training.segments.inputs import (
    SegmentationInputError,
    latest_cutoff,
    numeric_matrix,
    read_features,
    select_features,
)
from training.segments.pipeline import Preprocessor, SegmenterConfig, fit_segmenter, sample_rows
from training.world.segment_features import synthetic_features


@pytest.fixture(scope="module")
def world() -> tuple[pd.DataFrame, np.ndarray]:
    return synthetic_features(3000, seed=3)


def test_selection_groups_and_exclusions(world):
    frame, _ = world
    spec = select_features(frame)
    assert spec.groups["rfm"] == ("recency_days", "orders_per_year", "spend_per_year", "monetary_mean",
                                  "tenure_days")
    assert {"frequency", "monetary_total", "tenure_days", "plan"} <= set(spec.inputs)
    assert "orders_per_year" not in spec.inputs
    assert set(spec.groups["engagement"]) == {f"{m}_{w}d" for m in ("sessions", "page_views", "cart_adds")
                                              for w in (30, 90)}
    assert len(spec.groups["category_mix"]) == 8 and len(spec.groups["channel_mix"]) == 3
    assert spec.groups["profile"] == ("plan", "age_band")
    for excluded in ("churned", "future_spend", "region", "acquisition_channel", "customer_id",
                     "spend_trend_30_90", "ipt_mean_days", "days_since_last_session"):
        assert excluded not in spec.columns
    assert "spend_per_year" in spec.log_columns and "sessions_90d" in spec.log_columns
    assert "tenure_days" not in spec.log_columns and "channel_share_web" not in spec.log_columns


def test_selection_follows_the_feature_catalog():
    from training.features.catalog import Available, Vocabulary, all_columns
    from training.world.vocab import CATEGORIES, CHANNELS, PROFILE_VOCAB

    columns = all_columns(Available.everything(Vocabulary(CATEGORIES, CHANNELS, tuple(PROFILE_VOCAB))))
    frame = pd.DataFrame({s.name: pd.Series([0, 1], dtype="object" if s.dtype == "string" else s.dtype)
                          for s in columns})
    spec = select_features(frame)
    assert spec.groups["category_mix"] == tuple(f"cat_share_{c}" for c in CATEGORIES)
    assert spec.groups["channel_mix"] == tuple(f"channel_share_{c}" for c in CHANNELS)
    assert len(spec.groups["engagement"]) == 6 and "days_since_last_session" not in spec.columns
    for derived in ("r_score", "rfm_score", "units_per_order", "n_categories", "orders_30d", "spend_90d",
                    "sessions_trend_90d", "ipt_std_days", "churned", "future_spend"):
        assert derived not in spec.columns


def test_no_order_gaps_are_filled_by_meaning(world):
    frame, _ = world
    spec = select_features(frame)
    buyers = frame.head(200).copy()
    prep = Preprocessor(spec).fit(buyers)
    never = buyers.head(2).copy()
    never[["recency_days", "monetary_mean", "cat_share_books", "channel_share_web"]] = np.nan
    never[["frequency", "monetary_total"]] = 0
    z = pd.DataFrame(prep.standardised(never), columns=spec.columns)
    col = list(spec.columns)
    raw_recency = np.log1p(never["tenure_days"].to_numpy())  # recency of a never-buyer = tenure
    j = col.index("recency_days")
    assert np.allclose(z["recency_days"], np.clip((raw_recency - prep.means[j]) / prep.stds[j], -5, 5))
    j = col.index("cat_share_books")
    assert np.allclose(z["cat_share_books"], np.clip((0 - prep.means[j]) / prep.stds[j], -5, 5))
    assert prep.missing_counts(never) == {}


def test_lifetime_totals_enter_as_annualised_rates(world):
    frame, _ = world
    spec = select_features(frame)
    tiny = pd.DataFrame({**{c: frame[c].head(2) for c in spec.inputs}})
    tiny["frequency"], tiny["monetary_total"], tiny["tenure_days"] = [6, 6], [600.0, 600.0], [730, 30]
    raw = numeric_matrix(tiny, spec)
    rate = raw[:, list(spec.columns).index("orders_per_year")]
    spend = raw[:, list(spec.columns).index("spend_per_year")]
    assert rate == pytest.approx([3.0, 6.0])  # two years -> 3 a year; a month-old customer is not extrapolated
    assert spend == pytest.approx([300.0, 600.0])
    no_tenure = select_features(frame.drop(columns="tenure_days"))
    assert no_tenure.groups["rfm"] == ("recency_days", "frequency", "monetary_total", "monetary_mean")


def test_missing_rfm_column_is_named(world):
    frame, _ = world
    with pytest.raises(SegmentationInputError, match="recency_days"):
        select_features(frame.drop(columns="recency_days"))


def test_latest_cutoff_only_and_duplicates_refused(world, tmp_path):
    frame, _ = world
    old = frame.head(100).assign(cutoff=pd.Timestamp("2023-12-31"))
    stacked = pd.concat([old, frame], ignore_index=True)
    stacked.to_parquet(tmp_path / "features.parquet")
    read = read_features(tmp_path)
    assert len(read) == len(frame) and (read["cutoff"] == frame["cutoff"].max()).all()
    dup = pd.concat([frame.head(5), frame.head(1)], ignore_index=True)
    with pytest.raises(SegmentationInputError, match="row 5"):
        latest_cutoff(dup)
    with pytest.raises(SegmentationInputError, match="crmlab features"):
        read_features(tmp_path / "nowhere")


def test_negative_money_names_column_and_row(world):
    frame, _ = world
    bad = frame.head(50).copy()
    bad.loc[7, "monetary_total"] = -3.0
    with pytest.raises(SegmentationInputError, match=r"'monetary_total'.*row 7"):
        Preprocessor(select_features(bad)).fit(bad)


def test_space_is_standardised_weighted_and_imputes(world):
    frame, _ = world
    spec = select_features(frame)
    holes = frame.copy()
    holes.loc[[1, 2], "sessions_90d"] = np.nan
    prep = Preprocessor(spec).fit(holes)
    z = prep.standardised(holes)
    assert not np.isnan(z).any() and np.abs(z).max() <= pipeline.CLIP_Z
    assert np.allclose(z.mean(axis=0), 0, atol=0.05)
    assert prep.missing_counts(holes) == {"sessions_90d": 2}
    # eight category shares weigh as much together as the five RFM columns: 1/sqrt(8) vs 1/sqrt(5)
    weights = dict(zip(spec.columns, prep.weights, strict=True))
    assert weights["cat_share_books"] == pytest.approx(1 / np.sqrt(8))
    assert weights["orders_per_year"] == pytest.approx(1 / np.sqrt(5))
    with_pca = Preprocessor(spec, use_pca=True).fit(frame)
    assert with_pca.transform(frame).shape[1] < len(spec.columns)


@pytest.mark.parametrize("algorithm", ["kmeans", "gmm", "ward"])
def test_fit_on_sample_assigns_all_and_recovers_truth(world, algorithm):
    frame, truth = world
    spec = select_features(frame)
    rows = sample_rows(len(frame), 1200, seed=0)
    model = fit_segmenter(frame.iloc[rows], spec, SegmenterConfig(algorithm, 5), seed=0)
    labels, distance = model.assign(frame, chunk=700)
    assert len(labels) == len(frame) and set(labels) == set(range(5))
    assert adjusted_rand_score(truth, labels) >= 0.9
    space = model.preprocessor.transform(frame)
    expected = np.linalg.norm(space - model.centroids[labels], axis=1)
    assert np.allclose(distance, expected)
    if algorithm == "ward":
        assert model.linkage is not None and model.linkage.shape[0] == len(rows) - 1


def test_minibatch_above_threshold(world, monkeypatch):
    frame, truth = world
    monkeypatch.setattr(pipeline, "MINIBATCH_ABOVE", 500)
    model = fit_segmenter(frame, select_features(frame), SegmenterConfig("kmeans", 5), seed=1)
    assert adjusted_rand_score(truth, model.assign(frame)[0]) >= 0.9


def test_degenerate_inputs_give_clear_errors(world):
    frame, _ = world
    spec = select_features(frame)
    identical = pd.concat([frame.head(1)] * 40, ignore_index=True)
    with pytest.raises(SegmentationInputError, match="identical"):
        fit_segmenter(identical, spec, SegmenterConfig("kmeans", 3), seed=0)
    with pytest.raises(SegmentationInputError, match="3 customers cannot form 5 segments"):
        fit_segmenter(frame.head(3), spec, SegmenterConfig("kmeans", 5), seed=0)
    two_profiles = pd.concat([frame.head(1)] * 20 + [frame.iloc[[1]]] * 20, ignore_index=True)
    with pytest.raises(SegmentationInputError, match="2 distinct"):
        fit_segmenter(two_profiles, spec, SegmenterConfig("gmm", 4), seed=0)
