"""Segment profiles, the deterministic naming rule and the persona sheet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.segments.inputs import select_features
from training.segments.personas import (
    Z_PREFIX,
    name_segments,
    persona_sheet,
    readable,
    rule_name,
    segment_profiles,
)
from training.segments.pipeline import Preprocessor
from training.world.segment_features import ARCHETYPES, synthetic_features

EXPECTED = {"loyal_high": "High-value loyal", "lapsing_big": "Lapsing big spenders",
            "new_low": "New low-engagement", "bargain": "Bargain hunters", "browsers": "Window shoppers"}


@pytest.fixture(scope="module")
def profiled() -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    frame, truth = synthetic_features(2500, seed=5)
    prep = Preprocessor(select_features(frame)).fit(frame)
    ids = truth + 1
    return frame, ids, segment_profiles(frame, ids, prep)


def test_profile_sizes_revenue_and_z_scores(profiled):
    frame, ids, profiles = profiled
    assert profiles["customers"].sum() == len(frame)
    assert profiles["share"].sum() == pytest.approx(1.0)
    assert profiles["revenue_share"].sum() == pytest.approx(1.0)
    expected_rev = frame["monetary_total"].groupby(ids).sum() / frame["monetary_total"].sum()
    assert np.allclose(profiles.set_index("segment_id")["revenue_share"], expected_rev)
    by_name = dict(zip(ARCHETYPES, profiles["segment_id"], strict=False))
    z = profiles.set_index("segment_id")
    assert z.loc[by_name["lapsing_big"], Z_PREFIX + "recency_days"] > 1.0
    assert z.loc[by_name["new_low"], Z_PREFIX + "tenure_days"] < -1.0
    assert z.loc[by_name["bargain"], Z_PREFIX + "monetary_mean"] < -1.0
    # size-weighted z-scores average to zero: they are relative to the same population
    z_cols = [c for c in profiles.columns if c.startswith(Z_PREFIX)]
    assert np.allclose(np.average(profiles[z_cols], axis=0, weights=profiles["customers"]), 0, atol=1e-9)


def test_archetypes_get_their_readable_names(profiled):
    _, _, profiles = profiled
    names = name_segments(profiles, select_features(synthetic_features(10)[0]))
    assert [names[i + 1] for i in range(len(ARCHETYPES))] == [EXPECTED[a] for a in ARCHETYPES]


def test_duplicate_names_are_disambiguated_deterministically(profiled):
    frame, _, _ = profiled
    spec = select_features(frame)
    prep = Preprocessor(spec).fit(frame)
    bargain = frame.index[frame["monetary_mean"] < 20].to_numpy()
    ids = np.ones(len(frame), dtype=int)
    ids[bargain[: len(bargain) // 2]] = 2  # two halves of the bargain hunters, rest is segment 1
    ids[bargain[len(bargain) // 2:]] = 3
    frame2 = frame.copy()
    frame2.loc[bargain[: len(bargain) // 2], "channel_share_app"] = 0.9  # one half shops in the app
    frame2.loc[bargain[len(bargain) // 2:], "channel_share_app"] = 0.0
    profiles = segment_profiles(frame2, ids, prep)
    names = name_segments(profiles, spec)
    assert len(set(names.values())) == 3
    assert names[2] == "Bargain hunters (high app share)" and names[3] == "Bargain hunters (low app share)"
    assert name_segments(profiles, spec) == names
    kept = name_segments(profiles, spec, fixed={3: "Bargain hunters"})
    assert kept[3] == "Bargain hunters" and kept[2].startswith("Bargain hunters (") and kept[2] != kept[3]


def test_identical_profiles_still_get_unique_names():
    profiles = pd.DataFrame({"segment_id": [4, 9, 7], "z_monetary_total": [0.0, 0.0, 0.0]})
    names = name_segments(profiles, select_features(synthetic_features(10)[0]))
    assert len(set(names.values())) == 3


def test_rule_and_readable_helpers():
    dims = {"value": 1.0, "frequency": 1.0, "recency": -1.0, "tenure": 0.5, "basket": 0.2, "engagement": 0.3}
    assert rule_name(dims) == "High-value loyal"
    assert rule_name(dims | {"recency": 1.0}) == "Lapsing big spenders"
    assert readable("z_channel_share_app") == "app share"
    assert readable("z_category_share_home") == "home share"
    assert readable("z_sessions_90d") == "sessions 90d"


def test_persona_sheet_lists_every_segment(profiled):
    _, _, profiles = profiled
    names = {int(s): f"Name {s}" for s in profiles["segment_id"]}
    sheet = persona_sheet(profiles, names, title="Segments of test")
    assert sheet.startswith("# Segments of test")
    for sid, name in names.items():
        assert f"| {sid} | {name} |" in sheet and f"## {sid}. {name}" in sheet
    assert "recency days (+" in sheet  # the lapsing segment stands out by recency
    assert "region mostly" in sheet
