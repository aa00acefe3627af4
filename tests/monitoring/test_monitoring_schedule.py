"""The scheduler keeps running after a failed run; ``crmlab schedule`` wires the monitor into it."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from monitoring.schedule import parse_interval, run_every


def test_a_failed_run_is_logged_and_the_next_runs_still_happen(caplog):
    calls = []

    def job():
        calls.append(len(calls))
        if len(calls) == 1:
            raise RuntimeError("tracking server down")

    stats = run_every(job, timedelta(seconds=0.2), max_runs=3)
    assert (stats.runs, stats.failures, len(calls)) == (3, 1, 3)
    assert "tracking server down" in stats.errors[0]
    assert "the next run is still scheduled" in caplog.text


@pytest.mark.parametrize(("text", "expected"), [("24h", timedelta(hours=24)), ("30m", timedelta(minutes=30)),
                                                ("90s", timedelta(seconds=90)), ("1.5d", timedelta(days=1.5))])
def test_interval_parsing(text, expected):
    assert parse_interval(text) == expected


@pytest.mark.parametrize("text", ["24", "0h", "-1h", "daily", "5w"])
def test_bad_intervals_say_the_format(text):
    with pytest.raises(ValueError, match="unit s, m, h or d"):
        parse_interval(text)


def test_schedule_command_runs_the_monitor_each_tick_and_survives_a_failure(monkeypatch, tmp_path):
    import crmlab.commands.monitor as monitor
    from crmlab.commands.schedule import command

    batch = tmp_path / "batch.parquet"
    batch.write_text("placeholder")
    seen = []

    def fake_run(**options):
        seen.append(options)
        if len(seen) == 1:
            raise FileNotFoundError("features not written yet")
        return SimpleNamespace(errors=[], index=tmp_path / "index.html")

    monkeypatch.setattr(monitor, "run_from_options", fake_run)
    monkeypatch.setattr(monitor, "print_result", lambda result: None)
    result = CliRunner().invoke(command, ["--every", "1s", "--max-runs", "2", "--current", str(batch),
                                          "--model", "churn,clv", "--retrain"])
    assert result.exit_code == 0, result.output
    assert "2 run(s), 1 failed" in result.output
    assert seen[1]["models"] == ["churn", "clv"] and seen[1]["retrain"] is True
    bad = CliRunner().invoke(command, ["--every", "often", "--current", str(batch)])
    assert bad.exit_code != 0 and "--every" in bad.output
