"""Whole chain: raw world -> ingest -> features. Perturbing raw rows at or after the cutoff (values,
deletions, absurd additions, later sign-ups) and re-running both steps leaves every feature identical."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from module_store import module_store

from training.features.build import build_feature_set
from training.features.catalog import ID_NAMES, LABEL_NAMES
from training.ingest.pipeline import ingest
from training.settings import get_settings
from training.world import WorldConfig, generate_world, write_world

CUTOFFS = [date(2024, 7, 1), date(2025, 1, 1)]
LATEST = pd.Timestamp(max(CUTOFFS))
HORIZON = 90
TABLES = ("customers", "transactions", "products", "events")


def _read_raw(folder: Path) -> dict[str, pd.DataFrame]:
    # pyarrow-backed dtypes so strings stay strings and nullable ints stay ints when written back
    return {t: pd.read_parquet(folder / f"{t}.parquet", dtype_backend="pyarrow") for t in TABLES}


def _at_or_after_latest(text: pd.Series) -> pd.Series:
    """Raw timestamps are strings; unparseable (dirty) ones are left alone."""
    parsed = pd.to_datetime(text.astype(object), format="mixed", errors="coerce")
    return (parsed >= LATEST).fillna(False).astype(bool)


def _perturb(raw: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(0)
    tx, ev, cu = raw["transactions"].copy(), raw["events"].copy(), raw["customers"].copy()
    later = _at_or_after_latest(tx["order_ts"])
    assert later.sum() > 50, "the world has too few rows after the cutoff to test anything"
    tx.loc[later, "amount"] = tx.loc[later, "amount"] * 100       # many become absurd (quarantined)
    tx.loc[later & (rng.random(len(tx)) < 0.5), "quantity"] = None
    tx.loc[later, "category"] = None
    tx.loc[later, "channel"] = "store"
    extra = tx[later].head(40).copy()
    extra["transaction_id"] = [f"TX{i:06d}" for i in range(len(extra))]
    extra["amount"] = 49_999.0                                     # just under the absurd limit: kept
    keep = ~(later & (rng.random(len(tx)) < 0.3))                  # drop a third of the future
    tx = pd.concat([tx[keep], extra], ignore_index=True)
    ev_later = _at_or_after_latest(ev["session_ts"])
    ev.loc[ev_later, "page_views"] = ev.loc[ev_later, "page_views"] * 10
    ev = ev[~(ev_later & (rng.random(len(ev)) < 0.5))]
    signed_later = _at_or_after_latest(cu["signup_date"])
    cu.loc[signed_later, "region"] = "west"
    return {"customers": cu, "transactions": tx, "products": raw["products"], "events": ev}


def _features(raw_dir: Path, clean_dir: Path) -> pd.DataFrame:
    settings = get_settings()
    ingest(raw_dir, clean_dir, settings, progress=False)
    return build_feature_set(clean_dir, CUTOFFS, HORIZON, settings).frame


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[pd.DataFrame, pd.DataFrame]:
    home = tmp_path_factory.mktemp("chain")
    write_world(generate_world(WorldConfig(n_customers=250, seed=5, dirt_rate=0.02)), home / "raw")
    perturbed = home / "raw_perturbed"
    perturbed.mkdir()
    for name, frame in _perturb(_read_raw(home / "raw")).items():
        frame.to_parquet(perturbed / f"{name}.parquet", index=False)
    (perturbed / "schema.yaml").write_text((home / "raw" / "schema.yaml").read_text())
    with module_store(home):
        return _features(home / "raw", home / "clean"), _features(perturbed, home / "clean_perturbed")


def test_raw_changes_after_the_cutoff_change_no_feature(runs):
    base, changed = runs
    columns = [c for c in base.columns if c not in LABEL_NAMES]
    assert columns[:2] == list(ID_NAMES) and len(columns) > 40
    assert len(base) > 100
    pd.testing.assert_frame_equal(base[columns], changed[columns])


def test_the_perturbation_reached_the_labels(runs):
    base, changed = runs
    latest = base["cutoff"] == LATEST
    assert not np.allclose(base.loc[latest, "future_spend"], changed.loc[latest, "future_spend"])
