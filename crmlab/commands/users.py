"""``crmlab users add NAME --role engineer|reviewer|service``: accounts on a ``crmlab server --auth``.

Run as the admin: MLFLOW_TRACKING_URI=http://server:5000, MLFLOW_TRACKING_USERNAME / _PASSWORD of the admin.
The new user's password comes from CRMLAB_USER_PASSWORD, else a prompt (typed twice, not echoed).
"""

from __future__ import annotations

import click

from training.team.users import ROLES


@click.group("users")
def command() -> None:
    """Manage team accounts and their roles on the tracking server (basic auth)."""


@command.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(sorted(ROLES)), required=True,
              help="engineer: train/register/promote; reviewer: read only; service: load models only.")
def add(name: str, role: str) -> None:
    """Create user NAME (or change its role) and grant what ROLE needs on every experiment and model."""
    from crmlab.commands.options import load_settings
    from training.team.server import ServerConfigError, check_password
    from training.team.users import add_user

    settings = load_settings()
    if not settings.tracking_uri.startswith(("http://", "https://")):
        raise click.ClickException(f"MLFLOW_TRACKING_URI is {settings.tracking_uri}: point it at the team server "
                                   "(http://HOST:5000) started with `crmlab server --auth`")
    given = settings.user_password.get_secret_value() if settings.user_password else None
    password = given or click.prompt(f"password for {name}", hide_input=True, confirmation_prompt=True)
    try:
        check_password("CRMLAB_USER_PASSWORD" if given else "the password", password)
    except ServerConfigError as err:
        raise click.ClickException(str(err)) from None
    result = add_user(settings.tracking_uri, name, password, role)
    state = "created" if result.created else "exists (password unchanged)"
    click.echo(f"user {result.username} {state}; role {result.role}: {ROLES[result.role][0]}")
