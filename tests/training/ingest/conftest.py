"""Fixtures of the ingestion tests: the raw export of ``ingest_raw_case`` and one shared ingestion of it."""

from __future__ import annotations

from pathlib import Path

import pytest
from ingest_raw_case import Ingested, RawCase, build_raw_case, ingest_in_own_store


@pytest.fixture
def raw_case() -> RawCase:
    return build_raw_case()


@pytest.fixture
def raw_dir(tmp_path: Path, raw_case: RawCase) -> Path:
    return raw_case.write(tmp_path / "raw")


@pytest.fixture(scope="session")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Ingested:
    """Ingest the raw case once: creating an MLflow store costs ~2 s, so read-only tests share this run."""
    home = tmp_path_factory.mktemp("ingested")
    case = build_raw_case()
    result, uri = ingest_in_own_store(case.write(home / "raw"), home)
    return Ingested(case, result, home, uri)
