"""``crmlab serve``: the stock MLflow model server on a registered model (a thin convenience).

Execs ``mlflow models serve --env-manager local`` with the venv's ``bin`` first on PATH (the server
execs ``uvicorn`` from PATH). Endpoints: ``POST /invocations`` (JSON ``dataframe_records`` or
``dataframe_split``), ``GET /ping``.
"""

from __future__ import annotations

import click


@click.command("serve")
@click.option("--model", default="customer_profile", show_default=True,
              help="Registered model name (resolved with --alias), or a model URI (models:/..., runs:/...).")
@click.option("--alias", default="champion", show_default=True, help="Alias to serve for a registered name.")
@click.option("--port", type=click.IntRange(1, 65535), default=5001, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to bind. Keep loopback unless a proxy with TLS and authentication fronts it.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="uvicorn workers (default: one per CPU core, at most 8; each holds a copy of the model).")
@click.option("--timeout", type=click.IntRange(min=1), default=30, show_default=True,
              help="Seconds a request may take.")
@click.option("--dry-run", is_flag=True, help="Print the server command instead of running it.")
def command(model: str, alias: str, port: int, host: str, workers: int, timeout: int, dry_run: bool) -> None:
    """Serve a registered model over HTTP (default: customer_profile@champion on 127.0.0.1:5001)."""
    import os
    import shlex

    from crmlab.commands.options import load_settings
    from serving.model_ref import model_uri, resolve_version
    from serving.server import serve_command, server_env
    from training.tracking import configure_mlflow

    settings = load_settings()
    uri = model_uri(model, alias)
    cmd = serve_command(uri, port, workers, timeout, host)
    if dry_run:
        click.echo(shlex.join(cmd))
        return
    configure_mlflow(settings)
    try:
        name, version = resolve_version(uri)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    shown = f"{name} v{version}" if version else uri
    click.echo(f"serving {shown} on http://{host}:{port} (POST /invocations, GET /ping); Ctrl-C stops it",
               err=True)
    os.execvpe(cmd[0], cmd, server_env(settings))
