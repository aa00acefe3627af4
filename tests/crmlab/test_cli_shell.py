"""The command line answers at once and lists every command; heavy libraries load lazily."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from crmlab.cli import COMMANDS, cli


def test_help_lists_every_command():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    for name in COMMANDS:
        assert name in result.output, f"`crmlab {name}` is missing from --help"


def test_help_does_not_import_heavy_libraries():
    code = (
        "import sys; from crmlab.cli import cli; "
        "import contextlib, io\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()): cli(['--help'])\n"
        "heavy = [m for m in ('mlflow', 'lightgbm', 'evidently', 'optuna', 'pandas') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "", f"`crmlab --help` imported {out.strip()}"
