"""Stacked cutoffs, output files, and clear errors on bad input."""

from __future__ import annotations

import json
import shutil
from datetime import date

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from features_tiny_world import HORIZON, write_tiny_world

from training.features.build import build_feature_set, build_features
from training.features.inputs import CleanDataError
from training.features.output import read_features, write_features
from training.settings import get_settings

CUTOFFS = [date(2024, 3, 1), date(2023, 12, 15), date(2024, 3, 2)]


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    return write_tiny_world(tmp_path_factory.mktemp("stack") / "clean")


@pytest.fixture(scope="module")
def stacked(clean):
    return build_feature_set(clean, CUTOFFS, HORIZON, get_settings())


def test_one_row_per_customer_and_cutoff_only_for_signed_up_customers(stacked):
    frame = stacked.frame
    assert not frame.duplicated(["customer_id", "cutoff"]).any()
    members = {c.date().isoformat(): sorted(g["customer_id"]) for c, g in frame.groupby("cutoff")}
    assert members == {
        "2023-12-15": ["A", "B", "C"],            # D signed up 2024-02-20, E 2024-03-01
        "2024-03-01": ["A", "B", "C", "D"],       # E signs up on the cutoff day: not yet
        "2024-03-02": ["A", "B", "C", "D", "E"],
    }
    assert list(frame["cutoff"]) == sorted(frame["cutoff"])  # cutoffs in order, customers sorted within
    assert stacked.meta["rows_per_cutoff"] == {"2023-12-15": 3, "2024-03-01": 4, "2024-03-02": 5}


def test_each_cutoff_equals_its_own_single_build(clean, stacked):
    for cutoff in CUTOFFS:
        alone = build_features(clean, [cutoff], HORIZON, get_settings())
        part = stacked.frame[stacked.frame["cutoff"] == pd.Timestamp(cutoff)].reset_index(drop=True)
        pd.testing.assert_frame_equal(part, alone)


def test_cleaning_is_fitted_per_cutoff(stacked):
    fitted = stacked.meta["cleaning"]
    assert fitted["2023-12-15"]["transactions"]["rows_fitted"] == 3   # T01, T02, T09
    assert fitted["2024-03-02"]["transactions"]["rows_fitted"] == 8   # + T03, T04, T07, T08 and T05
    assert fitted["2023-12-15"]["transactions"]["numeric"]["amount"]["fill"] == 80.0  # median of 100, 40, 80


def test_written_files_round_trip(tmp_path, stacked):
    files = write_features(stacked.frame, tmp_path / "out", {**stacked.meta, "data_hash": "abc"})
    frame, meta = read_features(tmp_path / "out")
    pd.testing.assert_frame_equal(frame, stacked.frame)
    on_disk = json.loads(files.meta.read_text())
    assert on_disk["cutoffs"] == ["2023-12-15", "2024-03-01", "2024-03-02"]
    assert on_disk["horizon_days"] == HORIZON and on_disk["data_hash"] == "abc"
    assert on_disk["columns"]["churned"] == "boolean" and meta["features"] == stacked.meta["features"]


@pytest.mark.parametrize(("cutoffs", "message"), [
    ([], "at least one date"),
    (["2024-03-01", "2024-03-01"], "given twice"),
    (["01/03/2024"], "YYYY-MM-DD"),
])
def test_bad_cutoffs_are_refused(clean, cutoffs, message):
    with pytest.raises(ValueError, match=message):
        build_features(clean, cutoffs, HORIZON, get_settings())


def test_bad_horizon_is_refused(clean):
    with pytest.raises(ValueError, match="horizon_days"):
        build_features(clean, [date(2024, 3, 1)], 0, get_settings())


def _copy(clean, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(clean, target)
    return target


def test_a_missing_transactions_table_names_the_file(clean, tmp_path):
    target = _copy(clean, tmp_path)
    (target / "transactions.parquet").unlink()
    with pytest.raises(CleanDataError, match=r"transactions\.parquet is missing.*crmlab ingest"):
        build_features(target, [date(2024, 3, 1)], HORIZON, get_settings())


def test_raw_data_is_refused(clean, tmp_path):
    target = _copy(clean, tmp_path)
    table = pq.read_table(target / "customers.parquet")
    pq.write_table(table.append_column("full_name", pa.array(["x"] * table.num_rows)), target / "customers.parquet")
    with pytest.raises(CleanDataError, match="raw data"):
        build_features(target, [date(2024, 3, 1)], HORIZON, get_settings())


def test_an_empty_timestamp_names_the_row(clean, tmp_path):
    target = _copy(clean, tmp_path)
    table = pq.read_table(target / "transactions.parquet")
    ts = table.column("order_ts").to_pylist()
    ts[4] = None
    index = table.schema.get_field_index("order_ts")
    table = table.set_column(index, "order_ts", pa.array(ts, type=pa.timestamp("us")))
    pq.write_table(table, target / "transactions.parquet")
    with pytest.raises(CleanDataError, match=r"transactions\.parquet row 4: order_ts is empty"):
        build_features(target, [date(2024, 3, 1)], HORIZON, get_settings())


def test_a_duplicate_customer_is_refused(clean, tmp_path):
    target = _copy(clean, tmp_path)
    table = pq.read_table(target / "customers.parquet")
    pq.write_table(pa.concat_tables([table, table.slice(0, 1)]), target / "customers.parquet")
    with pytest.raises(CleanDataError, match="customer_id 'A' appears more than once"):
        build_features(target, [date(2024, 3, 1)], HORIZON, get_settings())


def test_a_cutoff_before_any_order_gives_empty_histories(clean):
    built = build_feature_set(clean, [date(2022, 3, 1)], HORIZON, get_settings())
    row = built.frame.set_index("customer_id").loc["C"]  # the only customer signed up by then
    assert len(built.frame) == 1 and row["frequency"] == 0 and row["r_score"] == 0
    assert pd.isna(row["churned"]) and row["future_spend"] == 0.0
    assert built.meta["cleaning"]["2022-03-01"]["transactions"]["numeric"]["amount"] == {
        "fill": None, "lower": None, "upper": None}
