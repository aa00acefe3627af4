"""The schema file: the issue's minimal example is accepted as written; every mistake names its key/column."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from training.ingest import IngestError, ingest
from training.ingest.schema import SchemaError, load_schema, parse_schema
from training.ingest.sources import open_source
from training.settings import get_settings

MINIMAL = """\
name: cdnow
transactions:
  path: transactions.csv          # relative to this file; Parquet files or a folder also work
  columns:
    customer_id: cust
    order_ts: purchase_date
    amount: usd
    quantity: cds                 # optional
"""


def write(tmp_path: Path, text: str, rows: str | None = None) -> Path:
    (tmp_path / "schema.yaml").write_text(text)
    if rows is not None:
        (tmp_path / "transactions.csv").write_text(rows)
    return tmp_path / "schema.yaml"


ROWS = "cust,purchase_date,usd,cds\n1,1997-01-01,29.33,2\n1,1997-01-18,29.73,2\n2,1997-01-02,-5.0,1\n"


def test_the_minimal_example_is_accepted_as_written(tmp_path: Path):
    schema = load_schema(write(tmp_path, MINIMAL, ROWS))
    assert schema.name == "cdnow" and list(schema.tables()) == ["transactions"]
    assert schema.transactions.columns["amount"] == "usd"
    source = open_source(tmp_path / "schema.yaml")
    assert list(source.specs["transactions"].columns) == ["customer_id", "order_ts", "quantity", "amount"]
    assert source.specs["transactions"].key is None and source.specs["transactions"].refs == {}


@pytest.mark.parametrize(("change", "named"), [
    (("    quantity: cds", "    quantity: cds\n    colour: paint"), "unknown role 'colour'"),
    (("    amount: usd\n", ""), "required role(s) amount missing"),
    (("  path:", "  pathh:"), "unknown key 'transactions.pathh'"),
    (("name: cdnow\n", ""), "required key 'name' is missing"),
    (("name: cdnow\n", "name: cdnow\nproducts:\n  path: p.csv\n  columns: {category: c}\n"),
     "products.columns: Value error, required role(s) product_id missing"),
    (("  columns:", "  csv: {header: false}\n  columns:"), "transactions.csv: header: false needs names"),
    (("  columns:", "  url: postgresql+psycopg://u@h/db\n  columns:"), "give exactly one of path:"),
    (("name: cdnow\n", "name: cdnow\ncustomers:\n  path: c.csv\n  columns: {customer_id: id}\n"
                       "  attributes: [tier]\n  pii: {hash: [mail], drop: [mail]}\n"),
     "'mail' is under both hash and drop"),
    (("    amount: usd", "    amount: cust"), "column 'cust' is given for two roles"),
    (("name: cdnow\n", "name: cdnow\ncustomers:\n  path: c.csv\n  columns: {customer_id: id}\n"
                       "  attributes: [tier]\n  ordinal: [tier]\n"),
     "ordinal: 'tier' must be an attribute with allowed_values"),
])
def test_schema_mistakes_name_the_key(tmp_path: Path, change: tuple[str, str], named: str):
    with pytest.raises(SchemaError) as err:
        load_schema(write(tmp_path, MINIMAL.replace(*change)))
    assert named.replace("Value error, ", "") in str(err.value)


def test_a_column_absent_from_the_data_is_named_with_its_role(tmp_path: Path):
    write(tmp_path, MINIMAL.replace("usd", "dollars"), ROWS)
    with pytest.raises(IngestError) as err:
        open_source(tmp_path)
    assert "transactions.columns.amount: column 'dollars' is not in" in str(err.value)
    assert "cust, purchase_date, usd, cds" in str(err.value)  # what the file does hold


def test_not_a_mapping_and_not_yaml_are_clear(tmp_path: Path):
    with pytest.raises(SchemaError, match="expected a mapping"):
        parse_schema(["x"], tmp_path)
    with pytest.raises(SchemaError, match="not valid YAML"):
        load_schema(write(tmp_path, "name: [unclosed"))


def test_transaction_log_only_ingests_with_returns_quarantined_and_consent_assumed(tmp_path: Path):
    write(tmp_path, MINIMAL, ROWS)
    result = ingest(tmp_path, tmp_path / "clean", get_settings(), progress=False)

    counts = result.counts["transactions"]
    assert (counts.rows_in, counts.rows_kept, counts.rows_quarantined) == (3, 2, 1)
    quarantine = pd.read_parquet(result.paths["quarantine"])
    assert quarantine["rule"].tolist() == ["min_value"]
    assert "(returns/refunds) are not netted" in quarantine["reason"].iloc[0]
    assert sorted(p.name for p in (tmp_path / "clean").glob("*.parquet")) == ["quarantine.parquet",
                                                                              "transactions.parquet"]
    report = json.loads(result.paths["dq_report_json"].read_text())
    assert report["source"]["consent"].startswith("assumed: the export has no consent column")


def test_a_header_without_rows_is_refused_naming_the_table(tmp_path: Path):
    write(tmp_path, MINIMAL, "cust,purchase_date,usd,cds\n")
    with pytest.raises(IngestError, match="table 'transactions' holds no rows"):
        ingest(tmp_path, tmp_path / "clean", get_settings(), progress=False)
    assert not list((tmp_path / "clean").glob("*.parquet"))  # nothing that looks like a finished output


def test_every_row_refused_still_reports_and_profiles_the_empty_clean_table(tmp_path: Path):
    write(tmp_path, MINIMAL, "cust,purchase_date,usd,cds\n1,1997-01-01,-3.0,1\n2,1997-01-02,-5.0,1\n")
    result = ingest(tmp_path, tmp_path / "clean", get_settings(), progress=False)

    counts = result.counts["transactions"]
    assert (counts.rows_in, counts.rows_kept, counts.rows_quarantined) == (2, 0, 2)
    profile = json.loads(result.paths["dq_report_json"].read_text())["tables"]["transactions"]
    assert profile["value_ranges"] == {}  # no kept rows: no ranges, and nothing shifted between columns


def test_a_declared_column_holding_emails_is_refused_unless_declared_pii(tmp_path: Path):
    rows = "cust,purchase_date,usd\nann@example.org,1997-01-01,3.5\nbob@example.com,1997-01-02,4.0\n"
    write(tmp_path, MINIMAL.replace("    quantity: cds                 # optional\n", ""), rows)
    with pytest.raises(IngestError) as err:
        ingest(tmp_path, tmp_path / "clean", get_settings(), progress=False)
    assert "column 'cust' looks like e-mail addresses but is not declared as PII" in str(err.value)
    assert "ann@example.org" not in str(err.value)
    assert not (tmp_path / "clean" / "transactions.parquet").exists()


def test_phone_numbers_in_an_attribute_are_refused(tmp_path: Path):
    (tmp_path / "customers.csv").write_text("id,joined,tel\nA,2020-01-01,+44 20 7946 0958\n"
                                            "B,2020-02-01,(555) 123-4567\n")
    write(tmp_path, MINIMAL.replace("    quantity: cds                 # optional\n", "") +
          "customers:\n  path: customers.csv\n  columns: {customer_id: id, signup_date: joined}\n"
          "  attributes: [tel]\n", "cust,purchase_date,usd\nA,1997-01-01,3.5\n")
    with pytest.raises(IngestError, match="column 'tel' looks like phone numbers"):
        ingest(tmp_path, tmp_path / "clean", get_settings(), progress=False)


def test_other_date_format_and_csv_options(tmp_path: Path):
    (tmp_path / "log.txt").write_text("# export\n7 01/02/1997 10.5\n7 15/02/1997 1.0\n8 31/02/1997 2.0\n")
    write(tmp_path, "name: t\ntransactions:\n  path: log.txt\n  format: csv\n"
                    "  csv: {delimiter: whitespace, header: false, names: [c, d, a], skip_rows: 1}\n"
                    "  date_format: '%d/%m/%Y'\n  columns: {customer_id: c, order_ts: d, amount: a}\n")
    result = ingest(tmp_path, tmp_path / "clean", get_settings(), progress=False)
    clean = pd.read_parquet(result.paths["transactions"])
    assert clean["order_ts"].dt.strftime("%Y-%m-%d").tolist() == ["1997-02-01", "1997-02-15"]
    reason = pd.read_parquet(result.paths["quarantine"])["reason"].iloc[0]
    assert "order_ts '31/02/1997' is not a valid timestamp (expected the format %d/%m/%Y)" in reason
