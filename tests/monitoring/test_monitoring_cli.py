"""``crmlab monitor`` as a user runs it: help is instant, reports are written, bad input is named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from monitoring.synthetic import churn_batch, register_synthetic_champion
from training.settings import get_settings


def test_help_lists_the_options_without_importing_heavy_libraries():
    code = ("import sys; from crmlab.commands.monitor import command; "
            "print(sorted(m for m in ('evidently', 'mlflow', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2]).stdout.strip()
    assert out == "[]"
    from crmlab.commands.monitor import command

    text = CliRunner().invoke(command, ["--help"]).output
    for option in ("--current", "--model", "--policy", "--retrain", "--labels-available", "--reports-dir"):
        assert option in text


def test_monitor_writes_reports_and_names_bad_policy_fields(tmp_path):
    from crmlab.commands.monitor import command

    register_synthetic_champion(churn_batch(2000, seed=400), get_settings())
    batch = tmp_path / "features"
    batch.mkdir()
    churn_batch(800, seed=401).drop(columns=["churn_probability", "risk_band"]).to_parquet(batch / "features.parquet")
    ok = CliRunner().invoke(command, ["--current", str(batch), "--reports-dir", str(tmp_path / "reports")])
    assert ok.exit_code == 0, ok.output
    assert "churn" in ok.output and "index:" in ok.output
    assert (tmp_path / "reports" / "index.html").exists()
    assert len(list((tmp_path / "reports").glob("*/churn-*.json"))) == 1

    policy = tmp_path / "policy.yaml"
    policy.write_text("feature_drift:\n  max_weight: 2\n")
    bad = CliRunner().invoke(command, ["--current", str(batch), "--policy", str(policy)])
    assert bad.exit_code != 0
    assert "feature_drift.max_weight" in bad.output and "Traceback" not in bad.output

    missing = CliRunner().invoke(command, ["--current", str(batch), "--model", "churn,nosuch",
                                           "--reports-dir", str(tmp_path / "reports")])
    assert missing.exit_code == 1
    assert "nosuch" in missing.output and "error" in missing.output


def test_a_retrain_with_no_labelled_window_does_not_run_exits_non_zero_and_keeps_the_window(tmp_path):
    from crmlab.commands.monitor import command
    from monitoring.data import data_window
    from monitoring.retrain import find_trigger, trigger_key

    settings = get_settings()
    register_synthetic_champion(churn_batch(2000, seed=410), settings)
    batch = tmp_path / "features"
    batch.mkdir()
    drifted = churn_batch(800, seed=411, shift={"f00": 1.5, "f01": 1.5}, cutoff="2024-09-30")
    unlabelled = drifted.drop(columns=["churn_probability", "risk_band", "churned"])  # outcome window still open
    unlabelled.to_parquet(batch / "features.parquet")
    out = CliRunner().invoke(command, ["--current", str(batch), "--model", "churn", "--retrain",
                                       "--reports-dir", str(tmp_path / "reports")])
    assert out.exit_code == 1, out.output
    assert "retrain of churn failed" in out.output and "no labelled window" in out.output
    assert "Traceback" not in out.output
    assert find_trigger(trigger_key("churn", data_window(unlabelled)), settings) is None  # window not used up
    assert "not started" in (tmp_path / "reports" / "index.html").read_text()


def _one_report(args) -> str:
    from datetime import datetime

    from monitoring.reports import report_paths, write_index, write_report

    reports, n = args
    files = report_paths(reports, "churn", datetime(2026, 1, 2, 3, 4, 5))  # all in the same second
    write_report(files, {"model": "churn", "verdict": f"OK run {n}", "started_at": "2026-01-02T03:04:05",
                         "status": "ok", "labels": False}, None)
    write_index(reports)
    return files.json.name


def test_concurrent_monitors_never_overwrite_each_others_reports(tmp_path):
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(5) as pool:
        names = list(pool.map(_one_report, [(tmp_path, n) for n in range(5)]))
    assert len(set(names)) == 5
    assert len(list(tmp_path.glob("*/churn-*.json"))) == 5
    index = (tmp_path / "index.html").read_text()
    assert all(f"OK run {n}<" in index for n in range(5)) and index.count("<tr class=") == 5
