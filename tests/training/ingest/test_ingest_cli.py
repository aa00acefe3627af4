"""``crmlab ingest``: summary on success, a clear message and a non-zero exit on bad input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from click.testing import CliRunner
from ingest_raw_case import RawCase

from crmlab.cli import cli


def test_ingest_command_with_demo_flag_prints_the_summary(raw_case: RawCase, raw_dir: Path, tmp_path: Path,
                                                          monkeypatch):
    monkeypatch.delenv("CRMLAB_DEMO")  # --demo alone must enable the demo key
    out = tmp_path / "clean"

    result = CliRunner().invoke(cli, ["ingest", "--source", str(raw_dir), "--out", str(out), "--demo"])

    assert result.exit_code == 0, result.output
    line = next(row for row in result.output.splitlines() if "│ transactions" in row)
    cells = [cell.strip() for cell in line.split("│") if cell.strip()]
    rows_in, excluded = len(raw_case.tables["transactions"]), 4
    quarantined = len(raw_case.expected_in("transactions"))
    kept = rows_in - quarantined - excluded
    assert cells[:5] == ["transactions", str(rows_in), str(kept), str(quarantined), str(excluded)]
    assert "dq_report.md" in result.output.replace("\n", "")  # rich wraps long paths
    assert len(pd.read_parquet(out / "customers.parquet")) == 11
    assert not [v for v in raw_case.pii if v in result.output]


def test_ingest_command_rejects_a_bad_source_with_a_message(raw_dir: Path, tmp_path: Path):
    (raw_dir / "events.parquet").unlink()

    result = CliRunner().invoke(cli, ["ingest", "--source", str(raw_dir), "--out", str(tmp_path / "clean")])

    assert result.exit_code == 1
    assert "events.path:" in result.output and "does not exist" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "clean").exists()


def test_ingest_command_requires_source_and_out():
    result = CliRunner().invoke(cli, ["ingest", "--out", "x"])

    assert result.exit_code == 2
    assert "--source" in result.output
