"""Ingestion end to end on a small raw export with every dirt kind at a known row."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ingest_raw_case import OPTED_OUT, Ingested, RawCase

from training.ingest import IngestResult, TableCounts, ingest
from training.settings import get_settings

TABLES = ("customers", "transactions", "products", "events")


def run_ingest(source: Path | str, tmp_path: Path, name: str = "clean") -> IngestResult:
    return ingest(source, tmp_path / name, get_settings(), progress=False)


def quarantine_of(result: IngestResult) -> pd.DataFrame:
    return pd.read_parquet(result.paths["quarantine"])


def test_every_dirty_row_is_quarantined_once_under_its_rule(ingested: Ingested):
    raw_case, quarantine = ingested.case, quarantine_of(ingested.result)

    assert list(quarantine.columns) == ["table", "row_number", "rule", "column", "reason", "record"]
    assert not quarantine.duplicated(["table", "row_number"]).any()
    got = {(t, r): (rule, col) for t, r, rule, col
           in quarantine[["table", "row_number", "rule", "column"]].itertuples(index=False)}
    assert got == raw_case.expected


def test_reasons_name_the_field_and_the_row(ingested: Ingested):
    quarantine = quarantine_of(ingested.result)

    for row in quarantine.itertuples(index=False):
        assert row.reason.startswith(f"{row.table} row {row.row_number}: {row.column} "), row.reason
    by_rule = dict(zip(quarantine["rule"], quarantine["reason"], strict=False))
    customer_reasons = quarantine.loc[quarantine["table"].eq("customers"), "reason"]
    assert "signup_date '31/12/2024' is not a valid date" in customer_reasons.iloc[0]
    assert "must be <= 50000" in by_rule["max_value"]
    assert "its customer row was quarantined" in " ".join(quarantine["reason"])
    assert "no customer has this id" in " ".join(quarantine["reason"])


def test_row_with_two_faults_is_quarantined_once_with_both_reasons(ingested: Ingested):
    quarantine = quarantine_of(ingested.result)
    raw = ingested.case.tables["transactions"]
    row_number = int(raw.index[raw["order_ts"].eq("2023-13-01 09:00:00")][0])

    rows = quarantine[quarantine["table"].eq("transactions") & quarantine["row_number"].eq(row_number)]
    assert len(rows) == 1
    assert rows["rule"].iloc[0] == "unparseable_date"
    assert "order_ts '2023-13-01 09:00:00'" in rows["reason"].iloc[0]
    assert "amount -1.0 must be >= 0" in rows["reason"].iloc[0]
    assert json.loads(rows["record"].iloc[0])["order_ts"] == "2023-13-01 09:00:00"  # the raw value


def test_counts_add_up_per_table_and_match_the_files(ingested: Ingested):
    raw_case, result = ingested.case, ingested.result
    report = json.loads(result.paths["dq_report_json"].read_text())

    for table in TABLES:
        counts = result.counts[table]
        assert counts.rows_in == raw_case.rows_in(table)
        assert counts.rows_in == counts.rows_kept + counts.rows_quarantined + counts.rows_excluded_no_consent
        assert counts.rows_quarantined == len(raw_case.expected_in(table))
        assert len(pd.read_parquet(result.paths[table])) == counts.rows_kept
        assert report["tables"][table]["rows_kept"] == counts.rows_kept
        assert sum(report["tables"][table]["quarantine_by_rule"].values()) == counts.rows_quarantined
    assert report["tables"]["transactions"]["quarantine_by_rule"]["unknown_customer"] == 2
    assert len(quarantine_of(result)) == report["totals"]["rows_quarantined"]


def test_identity_violation_is_refused():
    with pytest.raises(RuntimeError, match="rows_in 10"):
        TableCounts(rows_in=10, rows_kept=5, rows_quarantined=3,
                    rows_excluded_no_consent=1).check_identity("x")


def test_opted_out_customers_are_excluded_with_their_rows_and_counted(ingested: Ingested):
    result = ingested.result

    assert result.counts["customers"].rows_excluded_no_consent == 2
    assert result.counts["transactions"].rows_excluded_no_consent == 4   # 2 each
    assert result.counts["events"].rows_excluded_no_consent == 2
    assert result.counts["products"].rows_excluded_no_consent == 0
    for table in ("customers", "transactions", "events"):
        clean = pd.read_parquet(result.paths[table])
        assert not clean["customer_id"].isin(OPTED_OUT).any()
    records = [json.loads(r) for r in quarantine_of(result)["record"]]
    assert not any(r.get("customer_id") in OPTED_OUT for r in records)  # excluded, not quarantined
    assert pd.read_parquet(result.paths["customers"])["marketing_consent"].all()


def test_clean_tables_have_the_data_model_types(ingested: Ingested):
    result = ingested.result
    string = pa.string()
    expected = {
        "customers": {"customer_id": string, "email_hmac": string, "signup_date": pa.date32(),
                      "region": string, "acquisition_channel": string, "age_band": string, "plan": string,
                      "marketing_consent": pa.bool_()},
        "transactions": {"transaction_id": string, "customer_id": string, "order_ts": pa.timestamp("us"),
                         "product_id": string, "category": string, "quantity": pa.int64(),
                         "amount": pa.float64(), "channel": string},
        "products": {"product_id": string, "category": string, "product_name": string, "description": string,
                     "unit_price": pa.float64()},
        "events": {"session_id": string, "customer_id": string, "session_ts": pa.timestamp("us"),
                   "device": string, "page_views": pa.int64(), "cart_adds": pa.int64()},
    }
    for table, columns in expected.items():
        schema = pq.read_schema(result.paths[table])
        assert dict(zip(schema.names, schema.types, strict=True)) == columns


def test_categorical_nulls_become_missing_and_numeric_nulls_stay(ingested: Ingested):
    result = ingested.result
    customers = pd.read_parquet(result.paths["customers"])
    transactions = pd.read_parquet(result.paths["transactions"])
    events = pd.read_parquet(result.paths["events"])

    c16 = customers.set_index("customer_id").loc["C0000016"]
    assert (c16["region"], c16["plan"]) == ("missing", "missing")
    assert transactions[["category", "channel"]].eq("missing").all(axis=1).sum() == 1
    assert events["device"].eq("missing").sum() == 1
    # no imputation at the door: statistics are fitted point-in-time in features
    assert transactions["quantity"].isna().sum() == 1
    assert transactions["amount"].isna().sum() == 1
    assert customers["signup_date"].min().isoformat() == "2023-01-01"
    assert str(transactions["order_ts"].iloc[0]) == "2023-03-02 10:01:00"


def test_report_holds_null_rates_ranges_and_rules(ingested: Ingested):
    result = ingested.result
    report = json.loads(result.paths["dq_report_json"].read_text())
    tx = report["tables"]["transactions"]
    kept = tx["rows_kept"]

    assert tx["null_rates"]["quantity"] == pytest.approx(1 / kept, abs=1e-6)
    assert tx["null_rates"]["category"] == pytest.approx(1 / kept, abs=1e-6)
    assert tx["null_rates"]["transaction_id"] == 0
    assert 0 < tx["value_ranges"]["amount"]["min"] <= tx["value_ranges"]["amount"]["max"] <= 50_000
    assert report["tables"]["events"]["value_ranges"]["page_views"]["min"] >= 1
    assert report["contract"]["absurd_amount"] == 50_000
    markdown = result.paths["dq_report_md"].read_text()
    assert "| transactions | max_value | 1 |" in markdown
    assert f"| transactions | {tx['rows_in']} | {kept} |" in markdown


def test_mlflow_run_records_source_counts_and_report(ingested: Ingested):
    result = ingested.result
    client = mlflow.MlflowClient(tracking_uri=ingested.tracking_uri)
    run = client.get_run(result.run_id)

    assert run.info.run_name == "ingest"
    assert run.data.params["source_kind"] == "files"
    assert run.data.metrics["transactions.rows_quarantined"] == result.counts["transactions"].rows_quarantined
    assert run.data.metrics["customers.rows_excluded_no_consent"] == 2
    assert run.data.metrics["transactions.quarantine.max_value"] == 1
    artifacts = {a.path for a in client.list_artifacts(result.run_id, "data_quality")}
    assert {"data_quality/dq_report.json", "data_quality/dq_report.md", "data_quality/quarantine_summary.csv",
            "data_quality/quarantine.parquet"} <= artifacts


def test_csv_export_gives_the_same_clean_data_as_parquet(ingested: Ingested, tmp_path: Path):
    from_parquet = ingested.result
    from_csv = run_ingest(ingested.case.write(tmp_path / "raw_csv", fmt="csv"), tmp_path)

    assert from_csv.counts == from_parquet.counts
    for table in TABLES:
        pd.testing.assert_frame_equal(pd.read_parquet(from_csv.paths[table]),
                                      pd.read_parquet(from_parquet.paths[table]))
    pd.testing.assert_frame_equal(quarantine_of(from_csv).drop(columns="record"),
                                  quarantine_of(from_parquet).drop(columns="record"))


def test_unreadable_numbers_and_booleans_in_csv_are_quarantined(raw_case: RawCase, tmp_path: Path):
    tables = {t: f.astype(object) for t, f in raw_case.tables.items()}
    tables["transactions"].loc[0, "quantity"] = "two"
    tables["transactions"].loc[1, "amount"] = "12,50"
    tables["customers"].loc[0, "marketing_consent"] = "maybe"
    tables["events"].loc[0, "page_views"] = "1.5"
    raw = RawCase(tables).write(tmp_path / "raw_csv", fmt="csv")

    quarantine = quarantine_of(run_ingest(raw, tmp_path)).set_index(["table", "row_number"])

    assert quarantine.loc[("transactions", 0), "rule"] == "unparseable_number"
    assert "quantity 'two' is not a whole number" in quarantine.loc[("transactions", 0), "reason"]
    assert "amount '12,50' is not a number" in quarantine.loc[("transactions", 1), "reason"]
    assert quarantine.loc[("customers", 0), "rule"] == "unparseable_bool"
    assert quarantine.loc[("events", 0), "reason"] == "events row 0: page_views '1.5' is not a whole number"
