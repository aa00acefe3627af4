"""Every feature of the tiny world equals the value computed by hand (see features_tiny_world)."""

from __future__ import annotations

import math
import statistics
from datetime import date, datetime

import pandas as pd
import pytest
from features_tiny_world import CUTOFF, HORIZON, write_tiny_world

from training.features.build import build_feature_set
from training.settings import get_settings

NAN = math.nan


def days(a: str, b: str = "2024-03-01") -> int:
    return (date.fromisoformat(b) - date.fromisoformat(a)).days


def gap(a: str, b: str) -> float:
    return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds() / 86400


# Fitted before the cutoff (settings defaults: median, iqr with k=3):
# amounts [100, 40, 60, 20, 10000, 80] -> median 70, Q1 45, Q3 95, bounds [45 - 150, 95 + 150] = [-105, 245]
# quantities [1, 2, 1, 1, 3, 1] -> observed median 1.
AMOUNT_FILL, AMOUNT_LOW, AMOUNT_HIGH = 70.0, -105.0, 245.0
A_GAPS = [gap("2023-06-01 10:00:00", "2023-11-15 12:00:00"), gap("2023-11-15 12:00:00", "2024-02-10 08:00:00")]

EXPECTED: dict[str, dict[str, object]] = {
    "A": {
        "region": "north", "acquisition_channel": "organic", "age_band": "25-34", "plan": "basic",
        "tenure_days": days("2023-01-01"),
        # orders: 100 (1 unit), 40 (2 units), 60 + 20 at the same timestamp (imputed 1 + 1 units)
        "recency_days": days("2024-02-10"), "frequency": 3, "monetary_total": 220.0,
        "monetary_mean": 220 / 3, "units_per_order": 5 / 3,
        # buyers A, B, C: recency desc C 639, A 20, B 2 -> ranks 1, 2, 3 -> 1 + floor(5 * (rank-1) / 3)
        "r_score": 2, "f_score": 4, "m_score": 2, "rfm_score": 8,
        "days_since_first_order": days("2023-06-01"),
        "ipt_mean_days": statistics.mean(A_GAPS), "ipt_std_days": statistics.stdev(A_GAPS),
        "orders_30d": 1, "spend_30d": 80.0, "orders_90d": 1, "spend_90d": 80.0,
        # span = signup -> cutoff - W: 395 days (W=30), 335 days (W=90); 2 earlier orders worth 140
        "orders_trend_30d": 1 * 395 / (2 * 30), "spend_trend_30d": 80 * 395 / (140 * 30),
        "orders_trend_90d": 1 * 335 / (2 * 90), "spend_trend_90d": 80 * 335 / (140 * 90),
        "cat_share_electronics": 160 / 220, "cat_share_fashion": 40 / 220, "cat_share_home": 20 / 220,
        "n_categories": 3,
        "channel_share_web": 2 / 4, "channel_share_app": 1 / 4, "channel_share_store": 1 / 4,
        "sessions_30d": 1, "page_views_30d": 5, "cart_adds_30d": 1,
        "sessions_90d": 2, "page_views_90d": 8, "cart_adds_90d": 1,
        "days_since_last_session": days("2024-02-25"),
        "sessions_trend_90d": 2 * 335 / (1 * 90),
        "churned": False, "future_spend": 30.0,  # T05 at the cutoff counts, T06 at cutoff + 30 d does not
    },
    "B": {
        "region": "missing", "acquisition_channel": "missing", "age_band": "35-44", "plan": "plus",
        "tenure_days": days("2023-12-01"),
        # amounts: null -> 70, 10 000 -> 245
        "recency_days": days("2024-02-28"), "frequency": 2, "monetary_total": 315.0,
        "monetary_mean": 157.5, "units_per_order": 2.0,
        "r_score": 4, "f_score": 2, "m_score": 4, "rfm_score": 10,
        "days_since_first_order": days("2024-01-05"),
        "ipt_mean_days": gap("2024-01-05 09:00:00", "2024-02-28 23:59:59"), "ipt_std_days": NAN,
        "orders_30d": 1, "spend_30d": 245.0, "orders_90d": 2, "spend_90d": 315.0,
        "orders_trend_30d": 1 * 61 / (1 * 30), "spend_trend_30d": 245 * 61 / (70 * 30),
        "orders_trend_90d": NAN, "spend_trend_90d": NAN,  # signed up 1 day before cutoff - 90 d
        "cat_share_electronics": 245 / 315, "cat_share_fashion": 70 / 315, "cat_share_home": 0.0,
        "n_categories": 2,
        "channel_share_web": 0.5, "channel_share_app": 0.5, "channel_share_store": 0.0,
        "sessions_30d": 0, "page_views_30d": 0, "cart_adds_30d": 0,
        "sessions_90d": 1, "page_views_90d": 4, "cart_adds_90d": 2,
        "days_since_last_session": days("2024-01-10"), "sessions_trend_90d": NAN,
        "churned": True, "future_spend": 0.0,
    },
    "C": {
        "region": "south", "acquisition_channel": "paid_search", "age_band": "missing", "plan": "premium",
        "tenure_days": days("2022-01-01"),
        "recency_days": days("2022-06-01"), "frequency": 1, "monetary_total": 80.0,
        "monetary_mean": 80.0, "units_per_order": 1.0,
        "r_score": 1, "f_score": 1, "m_score": 1, "rfm_score": 3,
        "days_since_first_order": days("2022-06-01"), "ipt_mean_days": NAN, "ipt_std_days": NAN,
        "orders_30d": 0, "spend_30d": 0.0, "orders_90d": 0, "spend_90d": 0.0,
        "orders_trend_30d": 0.0, "spend_trend_30d": 0.0, "orders_trend_90d": 0.0, "spend_trend_90d": 0.0,
        "cat_share_electronics": 0.0, "cat_share_fashion": 0.0, "cat_share_home": 1.0, "n_categories": 1,
        "channel_share_web": 0.0, "channel_share_app": 0.0, "channel_share_store": 1.0,
        "sessions_30d": 0, "page_views_30d": 0, "cart_adds_30d": 0,
        "sessions_90d": 0, "page_views_90d": 0, "cart_adds_90d": 0,
        "days_since_last_session": NAN, "sessions_trend_90d": NAN,
        "churned": None, "future_spend": 0.0,  # last order outside the 365-day active window
    },
    "D": {
        "region": "north", "acquisition_channel": "social", "age_band": "18-24", "plan": "basic",
        "tenure_days": 10,
        "recency_days": NAN, "frequency": 0, "monetary_total": 0.0, "monetary_mean": NAN, "units_per_order": NAN,
        "r_score": 0, "f_score": 0, "m_score": 0, "rfm_score": 0,
        "days_since_first_order": NAN, "ipt_mean_days": NAN, "ipt_std_days": NAN,
        "orders_30d": 0, "spend_30d": 0.0, "orders_90d": 0, "spend_90d": 0.0,
        "orders_trend_30d": NAN, "spend_trend_30d": NAN, "orders_trend_90d": NAN, "spend_trend_90d": NAN,
        "cat_share_electronics": NAN, "cat_share_fashion": NAN, "cat_share_home": NAN, "n_categories": 0,
        "channel_share_web": NAN, "channel_share_app": NAN, "channel_share_store": NAN,
        "sessions_30d": 1, "page_views_30d": 1, "cart_adds_30d": 0,
        "sessions_90d": 1, "page_views_90d": 1, "cart_adds_90d": 0,
        "days_since_last_session": 1, "sessions_trend_90d": NAN,
        "churned": None, "future_spend": 0.0,
    },
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    clean = write_tiny_world(tmp_path_factory.mktemp("tiny") / "clean")
    return build_feature_set(clean, [CUTOFF], HORIZON, get_settings(active_window_days=365))


def test_the_hand_table_covers_every_built_column(built):
    for customer, row in EXPECTED.items():
        missing = set(built.frame.columns) - {"customer_id", "cutoff"} - set(row)
        assert not missing, f"{customer}: no hand value for {sorted(missing)}"
        assert not set(row) - set(built.frame.columns), "a hand value for a column that was not built"


def test_rows_are_the_customers_signed_up_before_the_cutoff(built):
    assert built.frame["customer_id"].tolist() == ["A", "B", "C", "D"]  # E signed up on the cutoff day
    assert (built.frame["cutoff"] == pd.Timestamp(CUTOFF)).all()


@pytest.mark.parametrize("customer", sorted(EXPECTED))
def test_every_feature_equals_the_hand_value(built, customer):
    row = built.frame.set_index("customer_id").loc[customer]
    for column, expected in EXPECTED[customer].items():
        got = row[column]
        if expected is None:
            assert pd.isna(got), f"{customer}.{column}: expected empty, got {got!r}"
        elif isinstance(expected, float) and math.isnan(expected):
            assert pd.isna(got), f"{customer}.{column}: expected NaN, got {got!r}"
        elif isinstance(expected, str | bool):
            assert got == expected, f"{customer}.{column}: expected {expected!r}, got {got!r}"
        else:
            assert got == pytest.approx(expected, rel=1e-12, abs=1e-12), f"{customer}.{column}"


def test_fitted_cleaning_is_recorded_with_the_hand_values(built):
    fitted = built.meta["cleaning"][CUTOFF.isoformat()]["transactions"]
    assert fitted["numeric"]["amount"] == {"fill": AMOUNT_FILL, "lower": AMOUNT_LOW, "upper": AMOUNT_HIGH}
    assert fitted["numeric"]["quantity"]["fill"] == 1.0
    assert fitted["rows_fitted"] == 7  # T01-T04, T07-T09: everything strictly before the cutoff
