"""A module-scoped fixture's own tracking store, working directory and demo key.

The autouse isolation in conftest.py is per test; fixtures shared by a module run before it, so
they open this context themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def module_store(home: Path) -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
        mp.setenv("CRMLAB_DEMO", "1")
        mp.delenv("CRMLAB_PII_KEY", raising=False)
        mp.delenv("MLFLOW_RUN_ID", raising=False)
        mp.chdir(home)
        yield mp
