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
    policy.write_text("feature_drift:\n  max_share: 2\n")
    bad = CliRunner().invoke(command, ["--current", str(batch), "--policy", str(policy)])
    assert bad.exit_code != 0
    assert "feature_drift.max_share" in bad.output and "Traceback" not in bad.output

    missing = CliRunner().invoke(command, ["--current", str(batch), "--model", "churn,nosuch",
                                           "--reports-dir", str(tmp_path / "reports")])
    assert missing.exit_code == 1
    assert "nosuch" in missing.output and "error" in missing.output
