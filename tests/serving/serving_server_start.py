"""Start the real MLflow model server on a model of the session registry (shared by server tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

# Values tests send in bad payloads: neither answers nor the server log may ever hold them.
SECRET_MAIL = "jane.doe@example.com"
SECRET_NAME = "Jane Secretperson"


def serve_from_registry(registry, model_uri: str, log: Path, **options):
    """Start the real MLflow model server for a model of the session registry (caller stops it)."""
    from serving.server import start_server
    from training.settings import get_settings

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{registry.db}")
        return start_server(model_uri, settings=get_settings(), log_path=log, **options)
