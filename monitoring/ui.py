"""Serving the Evidently workspace (``crmlab reports``): ``evidently ui`` with telemetry off."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def ui_command(workspace: Path, host: str, port: int) -> list[str]:
    """The ``evidently ui`` command line (the console script next to this interpreter when present)."""
    script = Path(sys.executable).with_name("evidently")
    exe = str(script) if script.exists() else (shutil.which("evidently") or "evidently")
    return [exe, "ui", "--workspace", str(workspace), "--host", host, "--port", str(port)]


def serve_workspace(reports_dir: str | Path, workspace: str | Path | None, host: str, port: int) -> int:
    """Run the UI in the foreground until interrupted; returns its exit code."""
    folder = Path(workspace) if workspace else Path(reports_dir) / "workspace"
    if not folder.exists():
        raise SystemExit(f"no Evidently workspace at {folder}: run `crmlab monitor` first (it creates one), or "
                         "point --workspace at an existing one")
    index = Path(reports_dir) / "index.html"
    if index.exists():
        print(f"static reports: {index.resolve()}")
    print(f"Evidently UI on http://{host}:{port} (workspace {folder}); Ctrl-C to stop")
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    try:
        return subprocess.call(ui_command(folder, host, port), env=env)
    except KeyboardInterrupt:
        return 0
