"""``crmlab server``: the ``mlflow server`` command line and environment, built from the typed settings.

crmlab adds no server code of its own: it writes MLflow's basic-auth ini from the settings and runs the
stock server, so the same command can be typed by hand (``plain_command`` prints it).
"""

from __future__ import annotations

import configparser
import os
import secrets
import shlex
import sys
from pathlib import Path

from training.settings import Settings

AUTH_APP = "basic-auth"
MIN_PASSWORD_LENGTH = 12  # MLflow's basic-auth password policy (mlflow.utils.validation._validate_password)


class ServerConfigError(ValueError):
    """A server setting is missing or unusable; the message names it."""


def backend_store_uri(settings: Settings) -> str:
    """The server's backend store: the explicit setting, else the tracking URI when it is a database."""
    uri = settings.server_backend_store_uri or settings.tracking_uri
    if uri.startswith(("http://", "https://")):
        raise ServerConfigError(
            f"MLFLOW_TRACKING_URI is a server ({uri}), not a store: give --backend-store-uri "
            "postgresql+psycopg://USER@HOST/DB (or CRMLAB_SERVER_BACKEND_STORE_URI)"
        )
    return uri


def write_auth_config(settings: Settings) -> Path:
    """MLflow's basic-auth ini from the settings; the admin password is passed by environment, never written."""
    config = configparser.ConfigParser()
    config["mlflow"] = {
        "default_permission": settings.auth_default_permission,
        "database_uri": settings.auth_db_uri,
        "admin_username": settings.admin_user,
        "authorization_function": "mlflow.server.auth:authenticate_request_basic_auth",
        # Without it every request re-hashes the password (PBKDF2): a training run makes hundreds of requests.
        "auth_cache_ttl_seconds": str(settings.auth_cache_s),
    }
    path = settings.auth_config_path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        config.write(handle)
    return path


def server_argv(settings: Settings, *, auth: bool) -> list[str]:
    """The ``mlflow server`` arguments (without the executable)."""
    argv = ["server", "--backend-store-uri", backend_store_uri(settings),
            "--artifacts-destination", settings.artifacts_destination,
            "--host", settings.server_host, "--port", str(settings.server_port),
            "--workers", str(settings.server_workers)]
    return [*argv, "--app-name", AUTH_APP] if auth else argv


def server_env(settings: Settings, *, auth: bool) -> dict[str, str]:
    """Environment for the server process: auth config path, admin account and Flask secret with ``auth``."""
    env = dict(os.environ)
    if not auth:
        return env
    admin_password = require_admin_password(settings)
    secret = settings.server_secret_key.get_secret_value() if settings.server_secret_key else secrets.token_hex(32)
    env.update({
        "MLFLOW_AUTH_CONFIG_PATH": str(write_auth_config(settings)),
        "MLFLOW_AUTH_ADMIN_USERNAME": settings.admin_user,
        "MLFLOW_AUTH_ADMIN_PASSWORD": admin_password,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secret,
    })
    return env


def require_admin_password(settings: Settings) -> str:
    """The admin password from CRMLAB_ADMIN_PASSWORD; crmlab has no default password."""
    if settings.admin_password is None or not settings.admin_password.get_secret_value():
        raise ServerConfigError("CRMLAB_ADMIN_PASSWORD is not set: --auth needs the admin account's password "
                                "(there is no default password)")
    return check_password("CRMLAB_ADMIN_PASSWORD", settings.admin_password.get_secret_value())


def check_password(name: str, password: str) -> str:
    """A password MLflow will accept, else one line naming the variable (checked before the server says so)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ServerConfigError(
            f"{name} is too short: MLflow's basic auth needs at least {MIN_PASSWORD_LENGTH} characters")
    return password


def plain_command(settings: Settings, *, auth: bool) -> str:
    """The equivalent shell command (secrets shown as variables, not values)."""
    prefix = ""
    if auth:
        prefix = (f"MLFLOW_AUTH_CONFIG_PATH={shlex.quote(str(settings.auth_config_path))} "
                  f"MLFLOW_AUTH_ADMIN_USERNAME={shlex.quote(settings.admin_user)} "
                  "MLFLOW_AUTH_ADMIN_PASSWORD=$CRMLAB_ADMIN_PASSWORD "
                  "MLFLOW_FLASK_SERVER_SECRET_KEY=$SECRET ")
    return prefix + shlex.join(["mlflow", *server_argv(settings, auth=auth)])


def run_server(settings: Settings, *, auth: bool) -> None:
    """Replace this process with the stock MLflow server (signals such as Ctrl-C or SIGTERM reach it directly)."""
    env = server_env(settings, auth=auth)
    os.execve(sys.executable, [sys.executable, "-m", "mlflow", *server_argv(settings, auth=auth)], env)
