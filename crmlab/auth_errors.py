"""One line for a request the tracking server refused (HTTP 401/403), instead of a traceback.

MLflow raises ``MlflowException`` with error code ``PERMISSION_DENIED`` (403) or ``UNAUTHENTICATED`` (401)
and a message naming the REST endpoint; the table below turns the endpoint into the permission missing.
"""

from __future__ import annotations

import os
import re

# REST endpoint (after /api/2.0/mlflow/) -> what the refused action needs
NEEDED: dict[str, str] = {
    "runs/create": "EDIT on the experiment (start a training run)",
    "runs/update": "EDIT on the experiment (update a run)",
    "runs/log-batch": "EDIT on the experiment (log to a run)",
    "runs/log-metric": "EDIT on the experiment (log to a run)",
    "runs/log-parameter": "EDIT on the experiment (log to a run)",
    "runs/set-tag": "EDIT on the experiment (tag a run)",
    "runs/delete": "MANAGE on the experiment (delete a run)",
    "runs/get": "READ on the run",
    "runs/search": "READ on the experiment",
    "experiments/create": "permission to create experiments",
    "experiments/delete": "MANAGE on the experiment (delete it)",
    "logged-models": "EDIT on the experiment (log a model)",
    "registered-models/create": "permission to create registered models",
    "registered-models/delete": "MANAGE on the registered model (delete it)",
    "registered-models/alias": "EDIT on the registered model (set or delete an alias)",
    "registered-models/set-tag": "EDIT on the registered model (tag it)",
    "model-versions/create": "EDIT on the registered model (register a version)",
    "model-versions/set-tag": "EDIT on the registered model (tag a version)",
    "model-versions/delete": "MANAGE on the registered model (delete a version)",
    "model-versions/get-download-uri": "READ on the registered model",
    "users/create": "admin rights (create users)",
}
_ENDPOINT = re.compile(r"endpoint (?:\S*?/api/[0-9.]+/mlflow/|\S*?/api/[0-9.]+/)?(\S+?)(?: |$)")


def refused_request_message(error: BaseException) -> str | None:
    """The one-line explanation when ``error`` (or its cause) is a 401/403 from the server, else ``None``."""
    from mlflow.exceptions import MlflowException

    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, MlflowException):
            code = seen.error_code
            user = os.environ.get("MLFLOW_TRACKING_USERNAME") or "anonymous"
            if code == "UNAUTHENTICATED" or " 401 " in seen.message:
                return (f"the tracking server refused the credentials of {user!r}: check "
                        "MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD")
            if code == "PERMISSION_DENIED" or " 403 " in seen.message:
                endpoint = _endpoint(seen.message)
                needed = _needed(endpoint)
                return f"permission denied: user {user!r} lacks {needed} [{endpoint or 'request'}]"
        seen = seen.__cause__ or seen.__context__
    return None


def _endpoint(message: str) -> str | None:
    match = _ENDPOINT.search(message)
    return match.group(1).strip("/") if match else None


def _needed(endpoint: str | None) -> str:
    if endpoint is None:
        return "a permission this action needs"
    for prefix, needed in sorted(NEEDED.items(), key=lambda kv: -len(kv[0])):
        if endpoint.startswith(prefix):
            return needed
    return f"the permission for {endpoint}"
