"""User tables: type inference on a messy CSV and one clear error per kind of bad table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.core.tabular import TableError, infer_schema, load_table

MESSY_CSV = """cust,spend,visits,vip,signup,region,email,notes,status
A1,"1,234.5", 42 ,yes,2024-01-10,north,a@x.io,first,churned
A2,$12,7,no,2024-03-01,south,b@x.io,second,active
A3,,3,YES,,north,c@x.io,third,active
A4,n/a,11,no,2024-02-15,,d@x.io,fourth,churned
A5,88.25,0,No,2023-12-31,east,e@x.io,fifth,
A6,"2,000",5,yes,2024-01-31,west,f@x.io,sixth,active
"""


def _write(tmp_path, text: str, name: str = "table.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_messy_csv_types_are_inferred_and_reported(tmp_path):
    table = load_table(_write(tmp_path, MESSY_CSV), target="status", id_col="cust", positive="churned")
    kinds = {r.name: r.kind for r in table.schema.rules}
    assert kinds == {"spend": "numeric_text", "visits": "numeric_text", "vip": "boolean", "signup": "date",
                     "region": "categorical", "notes": "categorical"}
    # A5 has no target: not used, and reported
    assert list(table.ids) == ["A1", "A2", "A3", "A4", "A6"]
    assert list(table.label) == [1, 0, 0, 1, 0]
    f = table.features.set_index(table.ids)
    assert f.loc["A1", "spend"] == 1234.5 and f.loc["A2", "spend"] == 12.0 and f.loc["A6", "spend"] == 2000.0
    assert np.isnan(f.loc["A3", "spend"]) and np.isnan(f.loc["A4", "spend"])
    assert f.loc["A1", "visits"] == 42.0
    assert f.loc["A3", "vip"] == 1.0 and f.loc["A2", "vip"] == 0.0
    assert table.schema.reference_date == "2024-03-01"  # latest date among the labelled rows
    assert f.loc["A1", "signup"] == 51.0 and np.isnan(f.loc["A3", "signup"])
    assert f.loc["A4", "region"] is None
    report = "\n".join(table.report)
    assert "email: dropped (looks like a direct identifier" in report
    assert "notes: dropped (mostly unique text" not in report  # 5 rows: below the id-like threshold
    assert "1 row(s) without a 'status' value are not used" in report


def test_schema_applies_to_new_raw_rows_and_refuses_garbage_without_echoing():
    raw = pd.DataFrame({"amount": ["1,000", "2", "3.5"] * 10, "plan": ["a", "b", "c"] * 10})
    schema, _ = infer_schema(raw)
    new = schema.apply(pd.DataFrame({"amount": [" 7 ", None], "plan": ["zzz", "a"]}))
    assert new["amount"].iloc[0] == 7.0 and np.isnan(new["amount"].iloc[1])
    with pytest.raises(TableError, match="column 'amount' expects numeric") as err:
        schema.apply(pd.DataFrame({"amount": ["SECRET-VALUE"], "plan": ["a"]}))
    assert "SECRET" not in str(err.value)


def test_high_cardinality_text_is_dropped_and_reported():
    raw = pd.DataFrame({"code": [f"X{i:04d}" for i in range(200)], "level": ["a", "b"] * 100})
    schema, report = infer_schema(raw)
    assert schema.features == ["level"]
    assert any(line.startswith("code: dropped (mostly unique text") for line in report)


@pytest.mark.parametrize(("text", "kwargs", "message"), [
    ("id,y\n1,0\n2,1\n", {"target": "churn", "id_col": "id"}, "no target column 'churn'"),
    ("id,y\n1,0\n2,1\n", {"target": "y", "id_col": "cid"}, "no id column 'cid'"),
    ("id,x,y\n1,3,0\n1,4,1\n2,5,1\n", {"target": "y", "id_col": "id"}, "is not unique: 1 repeated id"),
    ("id,x,y\n1,3,0\n,4,1\n", {"target": "y", "id_col": "id"}, "is empty in 1 row"),
    ("id,x,y\n1,3,0\n2,4,0\n", {"target": "y", "id_col": "id"}, "only one class"),
    ("id,x,y\n1,3,a\n2,4,b\n", {"target": "y", "id_col": "id", "positive": "c"}, "positive value 'c' is not"),
    ("id,x,y\n1,3,gold\n2,4,silver\n", {"target": "y", "id_col": "id"}, "say which one is positive"),
    ("id,x,y\n1,3,a\n2,4,b\n3,1,c\n", {"target": "y", "id_col": "id"}, "is not binary"),
])
def test_bad_tables_get_clear_errors(tmp_path, text, kwargs, message):
    with pytest.raises(TableError, match=message):
        load_table(_write(tmp_path, text), **kwargs)


def test_unsupported_format_and_missing_file(tmp_path):
    with pytest.raises(TableError, match="no such table"):
        load_table(tmp_path / "absent.csv", target="y", id_col="id")
    with pytest.raises(TableError, match="unsupported table format"):
        load_table(_write(tmp_path, "{}", "t.json"), target="y", id_col="id")


def test_parquet_with_numeric_target_and_numeric_positive(tmp_path):
    frame = pd.DataFrame({"id": [10, 11, 12, 13], "x": [1.0, 2.0, 3.0, 4.0], "plan": ["a", "b", "a", "b"],
                          "y": [2, 5, 2, 5]})
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    table = load_table(path, target="y", id_col="id", positive="5")
    assert list(table.label) == [0, 1, 0, 1]
    assert {r.name: r.kind for r in table.schema.rules} == {"x": "numeric", "plan": "categorical"}
