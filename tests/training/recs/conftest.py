"""One generated world for the recommender tests: raw -> ingest -> clean folder, built once per session."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from training.settings import get_settings

CUTOFF = date(2025, 10, 2)
HORIZON = 90


@pytest.fixture(scope="session")
def recs_clean(tmp_path_factory) -> Path:
    """A 1,500-customer world without dirt, ingested; the clean folder's path."""
    from training.ingest.pipeline import ingest
    from training.world.config import WorldConfig
    from training.world.generate import generate_world
    from training.world.store import write_world

    home = tmp_path_factory.mktemp("recs_world")
    settings = get_settings(tracking_uri=f"sqlite:///{home / 'mlflow.db'}", demo=True)
    write_world(generate_world(WorldConfig(n_customers=1500, seed=11, dirt_rate=0.0)), home / "raw")
    ingest(home / "raw", home / "clean", settings, progress=False)
    return home / "clean"


@pytest.fixture(scope="session")
def trained(recs_clean, tmp_path_factory):
    """One training (6 trials, promoted) in a store of its own, shared by every recs test: (result, settings)."""
    from training.core.lifecycle import train_family

    home = tmp_path_factory.mktemp("recs_train")
    settings = get_settings(tracking_uri=f"sqlite:///{home / 'mlflow.db'}", demo=True)
    result = train_family("recs", {"data_dir": str(recs_clean), "cutoff": CUTOFF.isoformat(), "horizon_days": HORIZON},
                          trials=6, seed=3, storage=f"sqlite:///{home / 'optuna.db'}", promote=True,
                          settings=settings)
    return result, settings
