"""Stable segment IDs: Hungarian matching on co-assignment, new and vanished segments, fresh IDs."""

from __future__ import annotations

import numpy as np
import pytest

from training.segments.stable_ids import initial_ids, match_to_champion, unmatched

NAMES = {1: "High-value loyal", 2: "Bargain hunters", 3: "Lapsing big spenders"}


def _champion(n_per: int = 100) -> np.ndarray:
    return np.repeat([1, 2, 3], n_per)


def test_relabelled_segments_keep_ids_and_names():
    champion = _champion()
    labels = np.array([2, 0, 1])[champion - 1]  # same segments, arbitrary new label order
    labels[:5] = 0  # 5 customers moved
    result = match_to_champion(champion, NAMES, labels, 3, high_water=3)
    assert result.label_to_id == {2: 1, 0: 2, 1: 3}
    assert result.kept_names == NAMES
    assert result.kept_share == pytest.approx(295 / 300)
    assert result.new_ids == [] and result.vanished_ids == []
    assert set(result.table["status"]) == {"matched"}


def test_split_segment_gets_a_fresh_id_above_high_water():
    champion = _champion()
    labels = champion.copy() - 1
    labels[200:240] = 3  # 40 of segment 3 split off into a new group
    result = match_to_champion(champion, NAMES, labels, 4, high_water=7)
    assert result.label_to_id[2] == 3 and result.label_to_id[3] == 8
    assert result.new_ids == [8] and result.high_water == 8
    assert result.kept_share == pytest.approx(260 / 300)
    new_row = result.table[result.table["status"] == "new"].iloc[0]
    assert new_row["champion_id"] == 3 and new_row["overlap"] == 40


def test_merged_segments_leave_a_vanished_id():
    champion = _champion()
    labels = np.where(champion == 3, 1, champion - 1)  # segment 3 merged into segment 2
    result = match_to_champion(champion, NAMES, labels, 2, high_water=3)
    assert sorted(result.label_to_id.values()) == [1, 2]
    assert result.vanished_ids == [3]
    assert "vanished" in set(result.table["status"])
    assert result.kept_share == pytest.approx(200 / 300)


def test_weak_overlap_is_not_a_match():
    champion = _champion()
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=len(champion))  # unrelated to the champion
    result = match_to_champion(champion, NAMES, labels, 3, high_water=3)
    assert result.new_ids == [4, 5, 6] and result.vanished_ids == [1, 2, 3]
    assert result.kept_share == 0.0


def test_first_model_ids_follow_revenue():
    labels = np.array([0, 0, 1, 1, 2, 2])
    revenue = np.array([1.0, 1.0, 50.0, 50.0, 10.0, 10.0])
    result = initial_ids(labels, revenue, 3)
    assert result.label_to_id == {1: 1, 2: 2, 0: 3}
    assert result.high_water == 3 and np.isnan(result.kept_share)


def test_unscorable_champion_gives_all_new_ids_and_tags():
    result = unmatched(np.array([0, 1, 1]), 2, high_water=5, vanished=[1, 2, 3])
    assert result.label_to_id == {1: 6, 0: 7} and result.vanished_ids == [1, 2, 3]
    tags = result.tags("4")
    assert tags["segments.matched_to"] == "4" and tags["segments.new_ids"] == "6,7"
    with pytest.raises(ValueError, match="same customers"):
        match_to_champion(np.array([1, 2]), NAMES, np.array([0]), 1, high_water=3)
