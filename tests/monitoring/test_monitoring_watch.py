"""Watched inputs judged by group: one change spread over several inputs, or carried by one of them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from monitoring.drift import group_table
from monitoring.normal import calibrate, drift_score
from monitoring.watch import watch_groups

COLUMNS = [f"sessions_{i}" for i in range(6)]


def _sample(rng, n: int, shift: float = 0.0) -> pd.DataFrame:
    common = rng.normal(size=(n, 1))  # correlated, not identical (as activity counts are)
    return pd.DataFrame(0.5 * common + rng.normal(size=(n, len(COLUMNS))) + shift, columns=COLUMNS)


def test_watched_columns_fall_into_the_groups_of_the_change_they_carry():
    groups = watch_groups(["sessions_30d", "page_views_90d", "channel_share_app", "channel_share_web",
                           "cat_share_home", "orders_90d"])
    assert groups == {"activity (2 inputs)": ["sessions_30d", "page_views_90d"],
                      "channel mix (2 inputs)": ["channel_share_app", "channel_share_web"],
                      "category mix": ["cat_share_home"], "orders_90d": ["orders_90d"]}


def test_a_shift_spread_over_a_group_is_judged_against_a_lower_group_threshold():
    rng = np.random.default_rng(3)
    reference, calm = _sample(rng, 5000), _sample(rng, 5000)
    norms = calibrate(reference, None, 5000, COLUMNS, [], margin=1.5, year_weight=0.75, floor=0.0, draws=60,
                      seed=1, groups={"activity": COLUMNS})
    member = [norms[c].threshold for c in COLUMNS]
    # The mean of six scores is less noisy than any one of them: a lower threshold, from the same draws.
    assert norms["activity"].noise < 0.85 * min(norms[c].noise for c in COLUMNS)
    # Every member moves by about the lowest member threshold (in units of its std): on their own, members
    # cross or not by chance; their mean stands clear of the group's lower threshold.
    shifted = _sample(rng, 5000, shift=min(member) * float(np.sqrt(1.25)))

    def judged(current: pd.DataFrame) -> pd.Series:
        scores = [drift_score(reference[c], current[c], False) for c in COLUMNS]
        return group_table(["activity"], [COLUMNS], [scores], [norms["activity"].threshold], [member]).iloc[0]

    calm_row, shifted_row = judged(calm), judged(shifted)
    assert not calm_row["drifted"]
    assert shifted_row["drifted"] and shifted_row["score"] >= norms["activity"].threshold


def test_one_member_over_its_own_threshold_drifts_its_group():
    table = group_table(["channel mix"], [["channel_share_app", "channel_share_web", "channel_share_store"]],
                        [[0.16, 0.05, 0.04]], [0.11], [[0.13, 0.12, 0.12]])
    assert table.loc[0, "drifted"] and table.loc[0, "members_drifted"] == "channel_share_app"
    table = group_table(["channel mix"], [["channel_share_app", "channel_share_web"]], [[0.10, 0.05]], [0.11],
                        [[0.13, 0.12]])
    assert not table.loc[0, "drifted"]
