"""Ranking metrics, winner choice and stable tiers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.clv.metrics import (
    calibration_by_decile,
    comparison_table,
    normalized_gini,
    pick_winner,
    regression_metrics,
    top_decile_capture,
)
from training.clv.tiers import assign_tiers, fit_tier_thresholds, load_thresholds, save_thresholds

RNG = np.random.default_rng(7)
ACTUAL = np.where(RNG.random(500) < 0.6, 0.0, RNG.gamma(2.0, 50.0, 500))


def test_normalized_gini_is_1_for_perfect_order_and_negative_for_reversed():
    assert normalized_gini(ACTUAL, ACTUAL) == pytest.approx(1.0)
    assert normalized_gini(ACTUAL, ACTUAL * 3 + 1) == pytest.approx(1.0)  # only the order matters
    assert normalized_gini(ACTUAL, -ACTUAL) < -0.5
    assert abs(normalized_gini(ACTUAL, RNG.random(500))) < 0.2


def test_ties_do_not_depend_on_row_order():
    constant = np.ones_like(ACTUAL)
    assert normalized_gini(ACTUAL, constant) == pytest.approx(0.0, abs=1e-12)
    assert top_decile_capture(ACTUAL, constant) == pytest.approx(0.1, rel=0.05)  # random pick: ~10%
    order = RNG.permutation(len(ACTUAL))
    coarse = np.round(ACTUAL / 100)
    assert normalized_gini(ACTUAL[order], coarse[order]) == pytest.approx(normalized_gini(ACTUAL, coarse))


def test_top_decile_capture_and_errors():
    metrics = regression_metrics(ACTUAL, ACTUAL)
    top = np.sort(ACTUAL)[::-1][:50].sum() / ACTUAL.sum()
    assert metrics["top_decile_capture"] == pytest.approx(top)
    assert metrics["mae"] == 0 and metrics["rmse"] == 0 and metrics["spearman"] == pytest.approx(1.0)
    shifted = regression_metrics(ACTUAL, ACTUAL + 2.0)
    assert shifted["mae"] == pytest.approx(2.0) and shifted["total_ratio"] > 1


def test_winner_is_best_on_normalized_gini_and_nan_never_wins():
    noisy = ACTUAL + RNG.normal(0, 80, len(ACTUAL))
    table = comparison_table(ACTUAL, {"btyd": noisy, "lightgbm": ACTUAL + 1})
    assert pick_winner(table) == "lightgbm"
    table.loc["lightgbm", "normalized_gini"] = np.nan
    assert pick_winner(table) == "btyd"
    assert pick_winner(table, "mae") == "lightgbm"  # errors: lower wins (MAE 1 vs ~64)


def test_calibration_by_decile_has_ten_equal_bins():
    table = calibration_by_decile(ACTUAL, ACTUAL)
    assert table["decile"].tolist() == list(range(1, 11)) and (table["n"] == 50).all()
    assert table["mean_actual"].is_monotonic_increasing
    np.testing.assert_allclose(table["mean_predicted"], table["mean_actual"])


def test_tier_thresholds_follow_the_shares_and_are_stable_across_batches(tmp_path):
    train_pred = np.arange(1000, dtype=float)
    thresholds = fit_tier_thresholds(train_pred)
    tiers = pd.Series(assign_tiers(train_pred, thresholds)).value_counts(normalize=True)
    assert tiers["platinum"] == pytest.approx(0.10, abs=0.002)
    assert tiers["gold"] == pytest.approx(0.20, abs=0.002)
    assert tiers["silver"] == pytest.approx(0.30, abs=0.002)
    assert tiers["bronze"] == pytest.approx(0.40, abs=0.002)
    # A customer's tier depends only on their prediction, not on the batch it is scored in.
    loaded = load_thresholds(save_thresholds(thresholds, tmp_path / "t.json"))
    alone = assign_tiers(np.array([950.0]), loaded)
    batch = assign_tiers(np.array([950.0, 0.0, 0.0, 0.0]), loaded)
    assert alone[0] == batch[0] == "platinum"
    assert assign_tiers(np.array([np.nan]), loaded)[0] is None
