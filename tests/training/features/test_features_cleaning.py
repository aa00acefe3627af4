"""training.cleaning: statistics fitted on the rows a filter selects, applied as SQL."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from training.cleaning import NumericColumn, apply_cleaning, clean_frame, fit_cleaning
from training.settings import get_settings

ROWS = pd.DataFrame({
    "day": [1, 2, 3, 4, 5, 6, 7, 8],
    "amount": [10.0, 20.0, None, 30.0, 40.0, 1000.0, 5.0, 1e9],   # day 8 is "after the cutoff"
    "quantity": pd.array([1, None, 2, 2, 3, 1, 1, None], dtype="Int64"),
    "channel": ["web", "app", None, "app", "missing", "web", "store", "store"],
})
EARLY = "day < 8"


def _fit(frame: pd.DataFrame, where: str = EARLY, **settings):
    con = duckdb.connect()
    con.register("rows", frame)
    return fit_cleaning(con, "rows", where, get_settings(**settings),
                        numeric=(NumericColumn("amount", winsorize=True), NumericColumn("quantity", integer=True)),
                        categorical=("channel",))


def test_iqr_and_median_are_fitted_on_the_selected_rows_only():
    params = _fit(ROWS, iqr_k=1.0)
    amount = {p.column: p for p in params.numeric}["amount"]
    early = pd.Series([10.0, 20.0, 30.0, 40.0, 1000.0, 5.0])
    q1, q3 = early.quantile(0.25), early.quantile(0.75)   # same linear interpolation as quantile_cont
    assert amount.fill == early.median()
    assert (amount.lower, amount.upper) == (q1 - (q3 - q1), q3 + (q3 - q1))
    assert params.rows_fitted == 7
    assert _fit(ROWS.assign(amount=ROWS["amount"].where(ROWS["day"] < 8, -5e9)), iqr_k=1.0) == params


def test_zscore_bounds_use_the_population_std():
    params = _fit(ROWS, outliers="zscore", zscore_max=2.0)
    amount = params.numeric[0]
    early = np.array([10.0, 20.0, 30.0, 40.0, 1000.0, 5.0])
    assert amount.lower == pytest.approx(early.mean() - 2 * early.std())
    assert amount.upper == pytest.approx(early.mean() + 2 * early.std())


def test_integer_median_is_an_observed_value():
    quantity = _fit(ROWS).numeric[1]
    assert quantity.fill in {1.0, 2.0} and (quantity.lower, quantity.upper) == (None, None)


def test_apply_imputes_and_clips_and_keeps_rows():
    params = _fit(ROWS, iqr_k=1.0)
    cleaned = clean_frame(ROWS, params)
    amount = params.numeric[0]
    assert len(cleaned) == len(ROWS)
    assert cleaned.loc[2, "amount"] == amount.fill
    assert cleaned.loc[5, "amount"] == amount.upper and cleaned.loc[7, "amount"] == amount.upper
    assert cleaned.loc[0, "amount"] == 10.0
    assert cleaned["quantity"].notna().all()
    assert cleaned["channel"].tolist() == ["web", "app", "missing", "app", "missing", "web", "store", "store"]


def test_none_settings_change_nothing_but_categorical_nulls():
    params = _fit(ROWS, outliers="none", impute_numeric="none")
    cleaned = clean_frame(ROWS, params)
    assert cleaned["amount"].isna().sum() == 1 and cleaned["amount"].max() == 1e9
    assert cleaned["quantity"].isna().sum() == 2


def test_mode_imputation_uses_the_most_frequent_earlier_value_ties_alphabetical():
    params = _fit(ROWS, impute_categorical="mode")
    # early channels: web 2, app 2, store 1 (null and "missing" do not count): tie -> "app"
    assert dict(params.categorical) == {"channel": "app"}
    assert clean_frame(ROWS, params)["channel"].tolist()[2] == "app"
    later_stores = ROWS.assign(channel=ROWS["channel"].where(ROWS["day"] < 8, "web"))
    assert dict(_fit(later_stores, impute_categorical="mode").categorical) == {"channel": "app"}


def test_apply_reads_a_mapped_source_expression():
    params = _fit(ROWS)
    exprs = apply_cleaning(params, {"channel": "COALESCE(c2, channel)"})
    assert "COALESCE(c2, channel)" in exprs["channel"]
    assert params.to_dict()["numeric"]["amount"]["fill"] == params.numeric[0].fill
