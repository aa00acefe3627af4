"""``crmlab reports``: open the monitoring dashboards (``evidently ui`` on crmlab's workspace)."""

from __future__ import annotations

import click


@click.command()
@click.option("--reports-dir", type=click.Path(), default="reports", show_default=True,
              help="The monitor's --reports-dir (its index.html lists every report).")
@click.option("--workspace", type=click.Path(), default=None,
              help="Evidently workspace (default: <reports-dir>/workspace).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=int, default=8000, show_default=True)
def command(reports_dir: str, workspace: str | None, host: str, port: int) -> None:
    """Serve the Evidently UI: one project per model, dashboards of drift share, ECE and AUC over time.

    Runs `evidently ui --workspace DIR` with telemetry off (DO_NOT_TRACK=1). Static reports need no
    server: open <reports-dir>/index.html.
    """
    from monitoring.ui import serve_workspace

    raise SystemExit(serve_workspace(reports_dir, workspace, host, port))
