"""Privacy at the door: keyed pseudonyms, and no raw name/e-mail/phone in anything ingestion writes."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from ingest_raw_case import Ingested, RawCase
from pii_scan import pii_hits

from crmlab.cli import cli
from training.ingest import IngestError, ingest
from training.privacy import hmac_hex, normalise_email, pseudonymise_customers
from training.settings import DEMO_PII_KEY, get_settings


def test_hmac_is_keyed_stable_and_standard():
    values = pd.Series(["ann@x.org", "bob@y.org", None, "ann@x.org"], index=[10, 11, 12, 13])

    first = hmac_hex(values, b"key-one-0123456789")
    again = hmac_hex(values, b"key-one-0123456789")
    other = hmac_hex(values, b"key-two-0123456789")

    pd.testing.assert_series_equal(first, again)
    assert first[10] != other[10] and first[11] != other[11]
    assert first[10] == first[13] != first[11]
    assert first[12] is None and list(first.index) == [10, 11, 12, 13]
    for key in (b"short", b"k" * 64, b"long-key-" * 20):  # below, at and above the SHA-256 block size
        assert hmac_hex(values, key)[11] == hmac.new(key, b"bob@y.org", hashlib.sha256).hexdigest()


def test_empty_key_is_refused():
    with pytest.raises(ValueError, match="CRMLAB_PII_KEY"):
        hmac_hex(pd.Series(["a"]), b"")


def test_email_is_normalised_before_hashing():
    emails = pd.Series(["  Ann@Example.ORG ", "ann@example.org", "   ", None])

    assert normalise_email(emails).tolist() == ["ann@example.org", "ann@example.org", None, None]
    customers = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "email": emails})
    hashed = pseudonymise_customers(customers, b"k")
    assert hashed["email_hmac"][0] == hashed["email_hmac"][1]
    assert hashed["email_hmac"][2:].isna().all()


def test_pseudonymised_customers_hold_no_direct_identifier(raw_case: RawCase):
    raw = raw_case.tables["customers"]

    out = pseudonymise_customers(raw, b"some-key-0123456789")

    assert {"full_name", "phone", "email"}.isdisjoint(out.columns)
    assert list(out.columns[:2]) == ["customer_id", "email_hmac"]
    assert out["email_hmac"].str.fullmatch(r"[0-9a-f]{64}").all()
    assert not out.astype(str).isin(raw_case.pii).any().any()


def test_no_raw_pii_in_outputs_quarantine_or_mlflow(ingested: Ingested):
    assert pii_hits(ingested.home / "raw", ingested.case.pii), "control: the raw export must contain the PII"

    hits = pii_hits(ingested.home, ingested.case.pii, skip=ingested.home / "raw")

    assert hits == []
    written = {p.name for p in ingested.home.rglob("*") if p.is_file()}
    assert {"mlflow.db", "quarantine.parquet", "dq_report.json", "dq_report.md"} <= written
    assert any(p.parent.name == "data_quality" for p in ingested.home.rglob("dq_report.json")), \
        "the MLflow artifact copy must be among the scanned files"


def test_quarantined_customer_records_are_pseudonymised(ingested: Ingested):
    quarantine = pd.read_parquet(ingested.result.paths["quarantine"])
    records = [json.loads(r) for r in quarantine.loc[quarantine["table"].eq("customers"), "record"]]

    assert records and all("email_hmac" in r for r in records)
    assert not any({"full_name", "email", "phone"} & set(r) for r in records)


def test_pipeline_uses_the_configured_key(ingested: Ingested):
    clean = pd.read_parquet(ingested.result.paths["customers"]).set_index("customer_id")
    raw = ingested.case.tables["customers"].drop_duplicates("customer_id").set_index("customer_id")

    expected = hmac_hex(normalise_email(raw.loc[clean.index, "email"]), DEMO_PII_KEY.encode())
    pd.testing.assert_series_equal(clean["email_hmac"], expected, check_names=False)


def test_own_key_outside_demo_gives_other_pseudonyms(ingested: Ingested, monkeypatch, tmp_path: Path):
    monkeypatch.delenv("CRMLAB_DEMO")
    monkeypatch.setenv("CRMLAB_PII_KEY", "a-real-secret-for-this-test")

    result = ingest(ingested.home / "raw", tmp_path / "clean", get_settings(), progress=False)

    mine = pd.read_parquet(result.paths["customers"]).set_index("customer_id")["email_hmac"]
    demo = pd.read_parquet(ingested.result.paths["customers"]).set_index("customer_id")["email_hmac"]
    assert list(mine.index) == list(demo.index)
    assert not (mine == demo).any()


def test_missing_key_outside_demo_is_a_clear_error(raw_dir: Path, tmp_path: Path, monkeypatch):
    monkeypatch.delenv("CRMLAB_DEMO")
    monkeypatch.delenv("CRMLAB_PII_KEY", raising=False)

    with pytest.raises(IngestError, match="CRMLAB_PII_KEY is not set"):
        ingest(raw_dir, tmp_path / "clean", get_settings(), progress=False)
    assert not (tmp_path / "clean").exists()

    result = CliRunner().invoke(cli, ["ingest", "--source", str(raw_dir), "--out", str(tmp_path / "clean")])
    assert result.exit_code == 1
    assert "CRMLAB_PII_KEY is not set" in result.output and "--demo" in result.output
    assert "Traceback" not in result.output
