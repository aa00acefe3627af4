"""The segments promotion gate: silhouette loss in a holdout-only space, ID-stability and size checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import training.segments  # noqa: F401  (registers the gate)
from training.core.families import gate_for
from training.segments.gate import CHAMPION_COLUMN, checks, per_row_loss
from training.world.segment_features import synthetic_features


@pytest.fixture(scope="module")
def holdout() -> tuple[pd.DataFrame, np.ndarray]:
    return synthetic_features(1200, seed=21)


def _out(ids: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"segment_id": ids, "segment_name": [f"s{i}" for i in ids], "distance": 0.0})


def test_gate_is_registered_on_import():
    assert gate_for("segments").per_row_loss is per_row_loss and gate_for("segments").tolerance > 0


def test_true_segments_have_lower_loss_than_shuffled(holdout):
    frame, truth = holdout
    good = per_row_loss(_out(truth), frame)
    bad = per_row_loss(_out(np.random.default_rng(1).permutation(truth)), frame)
    assert len(good) == len(frame)
    assert good.mean() < bad.mean() - 0.2


def test_id_stability_check_uses_champion_ids(holdout):
    frame, truth = holdout
    with_champion = frame.assign(**{CHAMPION_COLUMN: truth})
    assert checks(_out(truth), with_champion)["ids_kept_ge_90pct"]
    moved = truth.copy()
    moved[: len(moved) // 5] = (moved[: len(moved) // 5] + 1) % 5  # 20% change segment
    assert not checks(_out(moved), with_champion)["ids_kept_ge_90pct"]
    assert not checks(_out(truth), frame)["ids_kept_ge_90pct"]  # no champion IDs: cannot vouch


def test_tiny_segment_fails_size_check(holdout):
    frame, truth = holdout
    ids = truth.copy()
    ids[:3] = 99
    result = checks(_out(ids), frame.assign(**{CHAMPION_COLUMN: ids}))
    assert result == {"ids_kept_ge_90pct": True, "min_segment_share_ok": False}
