"""``crmlab server``: the stock ``mlflow server`` for a team, backend on PostgreSQL, optional basic auth.

Same as typing (``--dry-run`` prints it)::

    mlflow server --backend-store-uri postgresql+psycopg://crm@db/crmlab_mlflow \\
      --artifacts-destination /srv/crmlab/artifacts --host 0.0.0.0 --port 5000 [--app-name basic-auth]

With ``--auth`` the basic-auth ini is written from the settings (CRMLAB_AUTH_DB_URI,
CRMLAB_AUTH_DEFAULT_PERMISSION, CRMLAB_ADMIN_USER) and the admin password comes from
CRMLAB_ADMIN_PASSWORD (required; never written to disk).
"""

from __future__ import annotations

import click


@click.command("server")
@click.option("--backend-store-uri", default=None,
              help="Tracking + registry store, e.g. postgresql+psycopg://USER@HOST/crmlab_mlflow "
                   "(default: CRMLAB_SERVER_BACKEND_STORE_URI, else MLFLOW_TRACKING_URI when it is a database).")
@click.option("--artifacts-destination", default=None, help="Artifact root the server proxies (default ./mlartifacts).")
@click.option("--host", default=None, help="Interface to bind (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default 5000).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Server processes (default 2).")
@click.option("--auth", is_flag=True, help="MLflow's basic-auth app: users, roles (see `crmlab users`).")
@click.option("--dry-run", is_flag=True, help="Print the equivalent `mlflow server` command and exit.")
def command(backend_store_uri, artifacts_destination, host, port, workers, auth: bool, dry_run: bool) -> None:
    """Run the team tracking server (MLflow, PostgreSQL backend, optional basic auth) in the foreground."""
    from crmlab.commands.options import load_settings
    from training.team.server import ServerConfigError, plain_command, require_admin_password, run_server

    settings = load_settings(server_backend_store_uri=backend_store_uri, artifacts_destination=artifacts_destination,
                             server_host=host, server_port=port, server_workers=workers)
    try:
        if dry_run:
            if auth:
                require_admin_password(settings)
            click.echo(plain_command(settings, auth=auth))
            return
        click.echo(f"$ {plain_command(settings, auth=auth)}", err=True)
        run_server(settings, auth=auth)  # does not return: this process becomes `mlflow server`
    except ServerConfigError as err:
        raise click.ClickException(str(err)) from None
