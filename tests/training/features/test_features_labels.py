"""Labels at the window boundaries: [cutoff, cutoff + H) and the active window for churn."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from features_tiny_world import tables, write_clean

from training.features.build import build_feature_set
from training.settings import get_settings

CUTOFF = date(2024, 3, 1)
H = 10


def _world(orders: list[tuple[str, str, float]]) -> dict[str, pd.DataFrame]:
    """One customer per order list entry's id, each signed up long ago; ``orders``: (customer, ts, amount)."""
    frames = tables()
    ids = sorted({c for c, _, _ in orders})
    customers = frames["customers"].iloc[[0] * len(ids)].assign(customer_id=ids, signup_date=pd.Timestamp("2022-01-01"))
    tx = pd.DataFrame({
        "transaction_id": [f"T{i}" for i in range(len(orders))],
        "customer_id": [c for c, _, _ in orders],
        "order_ts": pd.to_datetime([t for _, t, _ in orders]),
        "product_id": "P1", "category": "electronics", "quantity": pd.array([1] * len(orders), dtype="Int64"),
        "amount": [a for _, _, a in orders], "channel": "web",
    })
    return {"customers": customers.reset_index(drop=True), "transactions": tx, "products": frames["products"],
            "events": frames["events"].iloc[:0]}


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    orders = [
        # history for everyone inside the active window, then the boundary cases
        *((c, "2024-02-01 12:00:00", 10.0) for c in ("at_cutoff", "at_end", "before_end", "before_cutoff")),
        ("at_cutoff", "2024-03-01 00:00:00", 7.0),        # first instant of the window: label, not feature
        ("at_end", "2024-03-11 00:00:00", 9.0),           # cutoff + H: outside the window
        ("before_end", "2024-03-10 23:59:59", 11.0),      # last second of the window: inside
        ("before_cutoff", "2024-02-29 23:59:59", 13.0),   # last second before the cutoff: feature only
        ("inactive", "2023-02-01 00:00:00", 10.0),        # 394 days before the cutoff
        ("inactive", "2024-03-05 00:00:00", 5.0),
        ("edge_active", "2023-03-02 00:00:00", 10.0),     # exactly cutoff - 365 days: inside the active window
    ]
    clean = write_clean(_world(orders), tmp_path_factory.mktemp("labels") / "clean")
    # No winsorizing here: these tests are about the windows (cleaning of labels is tested below).
    frame = build_feature_set(clean, [CUTOFF], H, get_settings(active_window_days=365, outliers="none")).frame
    return frame.set_index("customer_id"), clean


@pytest.fixture(scope="module")
def rows(labelled):
    return labelled[0]


def test_an_order_exactly_at_the_cutoff_is_a_label_not_a_feature(rows):
    row = rows.loc["at_cutoff"]
    assert row["frequency"] == 1 and row["monetary_total"] == 10.0
    assert row["future_spend"] == 7.0 and not row["churned"]


def test_an_order_at_cutoff_plus_horizon_is_outside_the_window(rows):
    row = rows.loc["at_end"]
    assert row["future_spend"] == 0.0 and row["churned"]


def test_the_last_second_of_the_window_is_inside(rows):
    row = rows.loc["before_end"]
    assert row["future_spend"] == 11.0 and not row["churned"]


def test_the_last_second_before_the_cutoff_is_a_feature_not_a_label(rows):
    row = rows.loc["before_cutoff"]
    assert row["frequency"] == 2 and row["recency_days"] == 1.0
    assert row["future_spend"] == 0.0 and row["churned"]


def test_churn_is_undefined_without_a_purchase_in_the_active_window(rows):
    row = rows.loc["inactive"]
    assert pd.isna(row["churned"])
    assert row["future_spend"] == 5.0  # future spend is defined for everyone
    assert rows.loc["edge_active", "churned"]  # cutoff - 365 days is inside the active window


def test_a_shorter_active_window_leaves_more_churn_labels_empty(labelled):
    frame = build_feature_set(labelled[1], [CUTOFF], H, get_settings(active_window_days=20, outliers="none")).frame
    churned = frame.set_index("customer_id")["churned"]
    assert churned.isna().to_dict() == {"at_cutoff": True, "at_end": True, "before_cutoff": False,
                                        "before_end": True, "edge_active": True, "inactive": True}


def test_future_amounts_are_cleaned_with_bounds_fitted_before_the_cutoff(labelled):
    built = build_feature_set(labelled[1], [CUTOFF], H, get_settings(outliers="iqr", iqr_k=0.5))
    amount = built.meta["cleaning"][CUTOFF.isoformat()]["transactions"]["numeric"]["amount"]
    # history amounts 10 (x6) and 13: Q1 = Q3 = 10, so the window's 7, 11 and 5 are clipped to [10, 10]
    assert (amount["lower"], amount["upper"]) == (10.0, 10.0)
    spend = built.frame.set_index("customer_id")["future_spend"]
    assert spend[["at_cutoff", "before_end", "inactive"]].tolist() == [10.0, 10.0, 10.0]


def test_label_dtypes(rows):
    assert str(rows["churned"].dtype) == "boolean"
    assert str(rows["future_spend"].dtype) == "float64"


def test_labels_are_unknown_when_the_window_runs_past_the_data(labelled):
    """Scoring "now": no activity is recorded after the data's last day, so no one is labelled churned."""
    _, clean = labelled
    late = date(2024, 3, 8)  # the data ends 2024-03-11; a 10-day window from here is not yet observed
    feature_set = build_feature_set(clean, [CUTOFF, late], H, get_settings(active_window_days=365, outliers="none"))
    frame = feature_set.frame
    latest = frame[frame["cutoff"] == pd.Timestamp(late)]
    assert latest["churned"].isna().all() and latest["future_spend"].isna().all()
    assert latest["frequency"].notna().all(), "features are still built for an unlabelled cutoff"
    earlier = frame[frame["cutoff"] == pd.Timestamp(CUTOFF)]
    assert earlier["churned"].notna().any()
    assert feature_set.meta["labels_observed"] == {CUTOFF.isoformat(): True, late.isoformat(): False}
