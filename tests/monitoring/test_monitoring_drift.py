"""Drift judged on synthetic batches with known truth: no false alarms, drifted features named."""

from __future__ import annotations

import pandas as pd
import pytest

from monitoring.assess import assess
from monitoring.families import family_spec
from monitoring.policy import Policy
from monitoring.synthetic import churn_batch, fake_champion

OUTPUTS = ["churn_probability", "risk_band"]


def _assess(reference: pd.DataFrame, current: pd.DataFrame, policy: Policy | None = None, labels: bool = False):
    return assess(fake_champion(reference), current.drop(columns=OUTPUTS), current[OUTPUTS], policy or Policy(),
                  labels=labels)


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return churn_batch(4000, seed=100)


def test_no_drift_raises_no_alarm_across_seeds(reference):
    results = [_assess(reference, churn_batch(2500, seed=seed)) for seed in range(5)]
    alarms = [r.crossings for r in results if r.crossings]
    assert alarms == [], f"false alarms: {alarms}"
    assert all(r.drift.drifted_features == [] for r in results)


def test_injected_drift_names_exactly_the_drifted_features_and_alarms(reference):
    shift = {"f00": 1.0, "f02": 0.8, "f05": 1.5}
    result = _assess(reference, churn_batch(2500, seed=7, shift=shift))
    assert sorted(result.drift.drifted_features) == sorted(shift)
    checks = {c.check for c in result.crossings}
    assert {"feature_drift", "prediction_drift"} <= checks
    reason = next(c.reason for c in result.crossings if c.check == "feature_drift")
    assert all(name in reason for name in shift)


def test_thresholds_are_calibrated_per_column_and_read_back_from_the_report(reference):
    result = _assess(reference, churn_batch(2500, seed=1))
    by_column = {c.column: c for c in result.drift.columns}
    assert by_column["f00"].method == "wasserstein"
    assert by_column["plan"].method == "jensenshannon"
    # Each threshold is margin x the column's own bootstrap noise (no earlier year here), floored.
    policy = Policy()
    for c in result.drift.columns:
        assert c.threshold == pytest.approx(max(policy.normal.floor, policy.normal.margin * c.noise))
    assert len({round(c.threshold, 4) for c in result.drift.columns}) > 3  # not one fixed effect size


def test_drift_in_an_unimportant_feature_does_not_alarm_but_is_named(reference):
    result = _assess(reference, churn_batch(2500, seed=2, shift={"f07": 2.0}))
    assert result.drift.drifted_features == ["f07"]
    assert result.drift.important[:2] == ["f00", "f01"]
    assert result.drift.weighted_share < Policy().feature_drift.max_weight
    assert "feature_drift" not in {c.check for c in result.crossings}


def test_correlated_features_count_once():
    from monitoring.normal import correlated_groups

    frame = churn_batch(2000, seed=3)
    frame["f00_copy"] = frame["f00"] * 2 + 0.01 * frame["f01"]
    groups = correlated_groups(frame, ["f00", "f00_copy", "f01", "plan"], 0.8)
    assert sorted(map(sorted, groups)) == [["f00", "f00_copy"], ["f01"], ["plan"]]


def test_segment_share_change_is_measured_and_judged():
    rng_ref = churn_batch(3000, seed=5)
    current = churn_batch(3000, seed=6)
    reference = rng_ref.assign(segment_name=["bargain", "loyal", "new"] * 1000, distance=rng_ref["f00"].abs())
    shifted = ["bargain"] * 1800 + ["loyal"] * 600 + ["new"] * 600
    current = current.assign(segment_name=shifted, distance=current["f00"].abs())
    champion = fake_champion(reference.drop(columns=OUTPUTS), model_name="segments", family="segments")
    outputs = ["segment_name", "distance"]
    result = assess(champion, current.drop(columns=outputs + OUTPUTS), current[outputs], Policy(), labels=False)
    assert result.drift.share_shift["segment_name"] == pytest.approx(0.6 - 1 / 3)
    crossing = next(c for c in result.crossings if c.check == "share_shift")
    assert "segment_name" in crossing.reason and "threshold" in crossing.reason
    assert family_spec("segments").task == "segments"
