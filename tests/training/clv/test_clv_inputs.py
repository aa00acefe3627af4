"""A user's transaction log: bad inputs are refused naming field and row; odd-but-valid inputs pass."""

from __future__ import annotations

import pandas as pd
import pytest

from training.clv.btyd import rfm_summary
from training.clv.inputs import add_btyd_inputs, problem_from_transactions
from training.clv.transaction_features import FEATURE_COLUMNS, build_transaction_dataset
from training.clv.transactions import ClvInputError, read_transactions, validate_transactions


def _log(**overrides) -> pd.DataFrame:
    base = {"cust": ["a", "a", "b", "c"], "when": ["2021-01-01", "2021-02-01", "2021-01-10", "2021-01-20"],
            "value": ["10.5", "20", "7", "3"]}
    base.update(overrides)
    return pd.DataFrame(base)


@pytest.mark.parametrize(("overrides", "column", "row", "words"), [
    ({"value": ["10.5", "-20", "7", "3"]}, "value", 2, "negative"),
    ({"value": ["10.5", "20", "abc", "3"]}, "value", 3, "not a number"),
    ({"value": ["10.5", "20", "7", None]}, "value", 4, "missing"),
    ({"when": ["2021-01-01", "2021-02-01", "31/31/2021", "2021-01-20"]}, "when", 3, "not a parseable date"),
    ({"cust": ["a", " ", "b", "c"]}, "cust", 2, "empty"),
])
def test_bad_values_are_refused_naming_column_and_row(overrides, column, row, words):
    with pytest.raises(ClvInputError) as err:
        validate_transactions(_log(**overrides), "cust", "when", "value")
    message = str(err.value)
    assert f"column '{column}'" in message and f"row {row}" in message and words in message


def test_missing_columns_are_named_with_the_available_ones():
    with pytest.raises(ClvInputError, match=r"missing column\(s\) \['amount'\].*--amount"):
        validate_transactions(_log(), "cust", "when", "amount")


def test_only_the_first_bad_row_is_named_and_the_others_counted():
    with pytest.raises(ClvInputError, match=r"row 1 \(and 1 more row\(s\)\)"):
        validate_transactions(_log(value=["-1", "-2", "7", "3"]), "cust", "when", "value")


def test_rows_out_of_order_give_the_same_summary_as_sorted_rows():
    log = _log()
    shuffled = log.iloc[[3, 1, 2, 0]].reset_index(drop=True)
    expected = rfm_summary(log, "cust", "when", "value", "2021-03-01")
    pd.testing.assert_frame_equal(rfm_summary(shuffled, "cust", "when", "value", "2021-03-01"), expected)
    assert expected.loc["c", "frequency"] == 0  # one purchase only: valid


def test_yyyymmdd_integers_and_headerless_files_are_read(tmp_path):
    path = tmp_path / "log.txt"
    path.write_text("1 0001 19970101 2 29.33\n2 0001 19970118 1 10.00\n3 0002 19970105 1 5.00\n")
    raw = read_transactions(path, header=False)
    tx = validate_transactions(raw, "2", "3", "5")
    assert tx["date"].min() == pd.Timestamp("1997-01-01") and len(tx) == 3


def _long_log(days: int = 200, customers: int = 30) -> pd.DataFrame:
    rows = [(f"c{i}", pd.Timestamp("2022-01-01") + pd.Timedelta(days=d), 10.0 + i)
            for i in range(customers) for d in range(i % 5, days, 7 + i % 11)]
    return pd.DataFrame(rows, columns=["customer_id", "date", "amount"])


def test_calibration_end_without_holdout_or_history_is_refused():
    tx = validate_transactions(_long_log(), "customer_id", "date", "amount")
    with pytest.raises(ClvInputError, match="no purchase after it"):
        build_transaction_dataset(tx, "2023-01-01", 30)
    with pytest.raises(ClvInputError, match=r"day\(s\) of history"):
        build_transaction_dataset(tx, "2022-01-10", 30)
    with pytest.raises(ClvInputError, match="not a date"):
        problem_from_transactions(_long_log(), id_col="customer_id", date_col="date", amount_col="amount",
                                  calibration_end="soon", horizon_days=30, seed=0)


def test_transaction_dataset_keeps_labels_inside_calibration():
    tx = validate_transactions(_long_log(), "customer_id", "date", "amount")
    end = pd.Timestamp("2022-05-31")
    data = build_transaction_dataset(tx, end, horizon_days=120)
    assert list(data.holdout.columns[1:1 + len(FEATURE_COLUMNS)]) == FEATURE_COLUMNS
    # Every training label window ends by the calibration end: the holdout is never seen.
    assert (data.train["cutoff"] + pd.Timedelta(days=data.label_days) <= end).all()
    assert data.scale == pytest.approx(120 / data.label_days)
    # Holdout label = spend after the calibration end within the horizon.
    after = tx[(tx["date"] > end) & (tx["date"] <= end + pd.Timedelta(days=120))]
    assert data.holdout["future_spend"].sum() == pytest.approx(after["amount"].sum())
    assert any("ends" in n for n in data.notes)  # log stops before the horizon end: said so


def test_validation_customers_are_disjoint_from_training_customers():
    problem = problem_from_transactions(_long_log(customers=60), id_col="customer_id", date_col="date",
                                        amount_col="amount", calibration_end="2022-05-31", horizon_days=60,
                                        seed=1)
    assert set(problem.train["customer_id"]).isdisjoint(problem.valid["customer_id"])
    assert len(problem.tier_population) == len(problem.holdout)
    assert "future_spend" not in problem.tier_population


def test_btyd_inputs_for_features_use_history_strictly_before_the_cutoff():
    tx = validate_transactions(_long_log(), "customer_id", "date", "amount")
    cutoff = pd.Timestamp("2022-03-01")
    frame = pd.DataFrame({"customer_id": ["c0", "c1", "nobody"], "cutoff": [cutoff] * 3})
    out = add_btyd_inputs(frame, tx)
    c0 = tx[(tx["customer_id"] == "c0") & (tx["date"] < cutoff)]
    assert out.loc[0, "btyd_frequency"] == c0["date"].nunique() - 1
    assert out.loc[0, "btyd_T"] == pytest.approx((cutoff - pd.Timedelta(days=1) - c0["date"].min()).days / 7)
    assert out.loc[2, ["btyd_frequency", "btyd_recency", "btyd_T", "btyd_monetary_value"]].isna().all()


def test_btyd_inputs_clean_amounts_like_the_features_of_that_cutoff():
    raw = pd.DataFrame({"customer_id": ["a", "a", "a", "b"],
                        "order_ts": pd.to_datetime(["2022-01-01 10:00", "2022-01-05 09:00",
                                                    "2022-01-09 12:00", "2022-01-03 08:00"]),
                        "amount": [10.0, None, 1000.0, 5.0]})
    tx = validate_transactions(raw, "customer_id", "order_ts", "amount", keep_missing_amounts=True)
    frame = pd.DataFrame({"customer_id": ["a"], "cutoff": [pd.Timestamp("2022-02-01")]})
    amount = {"fill": 20.0, "lower": 0.0, "upper": 100.0}
    cleaning = {"2022-02-01": {"transactions": {"numeric": {"amount": amount}}}}
    cleaned = add_btyd_inputs(frame, tx, cleaning)
    assert cleaned.loc[0, "btyd_monetary_value"] == pytest.approx((20.0 + 100.0) / 2)  # filled, then clipped
    # Without recorded cleaning the null is skipped (as SQL sum does) and nothing is clipped.
    assert add_btyd_inputs(frame, tx).loc[0, "btyd_monetary_value"] == pytest.approx(1000.0 / 2)
    # A user's log may not leave amounts out.
    with pytest.raises(ClvInputError, match="row 2"):
        validate_transactions(raw, "customer_id", "order_ts", "amount")
