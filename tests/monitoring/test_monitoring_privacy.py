"""Telemetry stays off: DO_NOT_TRACK is set before Evidently loads, and for the UI it launches."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_importing_monitoring_sets_do_not_track_before_evidently_loads():
    env = {k: v for k, v in os.environ.items() if k != "DO_NOT_TRACK"}
    code = ("import monitoring.drift, os, evidently.telemetry as t; "
            "print(os.environ.get('DO_NOT_TRACK'), t.event_logger.is_enabled())")
    out = subprocess.run([sys.executable, "-c", code], env={**env, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
                         capture_output=True, text=True, timeout=120, check=True).stdout.split()
    assert out[-2:] == ["1", "False"]


def test_crmlab_reports_runs_evidently_ui_with_tracking_off(monkeypatch, tmp_path):
    from click.testing import CliRunner

    import monitoring.ui as ui
    from crmlab.commands.reports import command

    (tmp_path / "reports" / "workspace").mkdir(parents=True)
    calls = []
    monkeypatch.delenv("DO_NOT_TRACK", raising=False)
    monkeypatch.setattr(ui.subprocess, "call", lambda argv, env: calls.append((argv, env)) or 0)
    result = CliRunner().invoke(command, ["--reports-dir", str(tmp_path / "reports"), "--port", "8123"])
    assert result.exit_code == 0, result.output
    argv, env = calls[0]
    assert argv[1:] == ["ui", "--workspace", str(tmp_path / "reports" / "workspace"), "--host", "127.0.0.1",
                        "--port", "8123"]
    assert env["DO_NOT_TRACK"] == "1"
    missing = CliRunner().invoke(command, ["--reports-dir", str(tmp_path / "nothing")])
    assert missing.exit_code != 0 and "run `crmlab monitor` first" in missing.output
