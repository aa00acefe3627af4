"""``crmlab users``: crmlab's three roles as MLflow basic-auth roles, granted through MLflow's auth client.

Each role is one MLflow role (``crmlab-<role>``) in the default workspace whose permissions use the
wildcard pattern ``*``: they cover every experiment and registered model on the server, the ones that
exist now and the ones created later (a new model name, a new experiment), with no grant step on creation.
The server's ``default_permission`` (NO_PERMISSIONS, see ``crmlab server``) leaves a user without a role
with nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RoleName = Literal["engineer", "reviewer", "service"]
WORKSPACE = "default"  # MLflow's workspace when workspaces are disabled (the server's default)


@dataclass(frozen=True)
class Grant:
    resource_type: str
    pattern: str
    permission: str


# role -> (description, grants); the README's roles table says the same in words.
ROLES: dict[str, tuple[str, tuple[Grant, ...]]] = {
    "engineer": ("train, register, promote, delete", (
        Grant("experiment", "*", "MANAGE"), Grant("registered_model", "*", "MANAGE"))),
    "reviewer": ("read runs, models, drift reports; change nothing", (
        Grant("experiment", "*", "READ"), Grant("registered_model", "*", "READ"))),
    "service": ("load registered models only", (
        Grant("experiment", "*", "READ"), Grant("registered_model", "*", "READ"), Grant("run", "*", "DENY"))),
}


@dataclass(frozen=True)
class UserResult:
    username: str
    role: str
    created: bool


def role_id(client, role: str) -> int:
    """The MLflow role for a crmlab role, created with its grants the first time."""
    name = f"crmlab-{role}"
    for existing in client.list_roles(WORKSPACE):
        if existing.name == name:
            return existing.id
    description, grants = ROLES[role]
    created = client.create_role(WORKSPACE, name, description)
    for grant in grants:
        client.add_role_permission(created.id, grant.resource_type, grant.pattern, grant.permission)
    return created.id


def add_user(tracking_uri: str, username: str, password: str, role: str) -> UserResult:
    """Create ``username`` (or keep an existing one) and give it exactly the crmlab role ``role``.

    Runs as the admin named by MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD. Another crmlab role the
    user held is removed, so re-running with a different ``--role`` changes the role.
    """
    from mlflow.exceptions import MlflowException
    from mlflow.server import get_app_client

    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    client = get_app_client("basic-auth", tracking_uri=tracking_uri)
    created = True
    try:
        client.create_user(username, password)
    except MlflowException as err:
        if err.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        created = False
    wanted = role_id(client, role)
    for held in client.list_user_roles(username):
        if held.name.startswith("crmlab-") and held.id != wanted:
            client.unassign_role(username, held.id)
    if all(held.id != wanted for held in client.list_user_roles(username)):
        client.assign_role(username, wanted)
    return UserResult(username, role, created)
