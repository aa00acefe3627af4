"""Cutoffs outside the data: before any customer is refused in one line, far past the end is warned about."""

from __future__ import annotations

from click.testing import CliRunner
from features_tiny_world import write_tiny_world

from crmlab.cli import cli


def test_cutoff_before_the_first_customer_is_one_line_and_writes_nothing(tmp_path):
    clean = write_tiny_world(tmp_path / "clean")
    out = tmp_path / "features"
    result = CliRunner().invoke(cli, ["features", "--data", str(clean), "--cutoff", "1999-01-01",
                                      "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "1999-01-01" in lines[0] and "2022-01-01" in lines[0], result.output
    assert not (out / "features.parquet").exists()


def test_cutoff_long_after_the_data_ends_warns_but_builds(tmp_path):
    clean = write_tiny_world(tmp_path / "clean")
    result = CliRunner().invoke(cli, ["features", "--data", str(clean), "--cutoff", "2027-01-01",
                                      "--out", str(tmp_path / "features")])
    assert result.exit_code == 0, result.output
    warning = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "2027-01-01" in warning[0] and "after the data ends (2024-03-31)" in warning[0]
    near = CliRunner().invoke(cli, ["features", "--data", str(clean), "--cutoff", "2024-04-15",
                                    "--out", str(tmp_path / "near")])
    assert near.exit_code == 0 and "warning:" not in near.output


def test_a_transaction_log_only_export_refuses_a_cutoff_before_its_first_purchase(tmp_path):
    """No customers table, no events (e.g. CDNOW): the first purchase bounds the data, not a signup date."""
    from training.ingest import ingest
    from training.settings import get_settings

    (tmp_path / "t.csv").write_text("cust,day,usd\n1,1997-01-01,29.33\n1,1997-03-18,29.73\n2,1997-02-02,5.0\n")
    (tmp_path / "schema.yaml").write_text(
        "name: log\ntransactions:\n  path: t.csv\n  columns: {customer_id: cust, order_ts: day, amount: usd}\n")
    clean = ingest(tmp_path, tmp_path / "clean", get_settings(), progress=False).paths["transactions"].parent
    out = tmp_path / "features"
    result = CliRunner().invoke(cli, ["features", "--data", str(clean), "--cutoff", "1980-01-01",
                                      "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "1980-01-01" in lines[0] and "1997-01-01" in lines[0], result.output
    assert not (out / "features.parquet").exists()
