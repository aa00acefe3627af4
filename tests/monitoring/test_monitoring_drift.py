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


def test_method_evidently_chose_is_recorded_per_column(reference):
    large = _assess(reference, churn_batch(2500, seed=1))
    methods = {c.column: c.method for c in large.drift.columns}
    assert methods["f00"] == "Wasserstein distance (normed)"
    assert methods["plan"] == "Jensen-Shannon distance"
    # <= 1000 reference rows: Evidently switches to statistical tests (p-values).
    small = _assess(churn_batch(800, seed=100), churn_batch(600, seed=1))
    small_methods = {c.column: c.method for c in small.drift.columns if c.role == "feature"}
    assert small_methods["f00"] == "K-S p_value"
    assert small_methods["plan"] == "chi-square p_value"
    # Model outputs keep the policy's method at every size, so their score means the same thing.
    assert {(c.method, c.threshold) for c in small.drift.prediction()} == {("wasserstein", 0.1)}


def test_important_features_come_from_the_champions_importance(reference):
    policy = Policy.model_validate({"feature_drift": {"top_k": 2, "max_share": 0.4}})
    # Only an unimportant feature drifts: it is named, but the important-feature share stays 0.
    result = _assess(reference, churn_batch(2500, seed=2, shift={"f07": 2.0}), policy)
    assert result.drift.important == ["f00", "f01"]
    assert result.drift.drifted_features == ["f07"]
    assert result.drift.important_share == 0.0
    assert "feature_drift" not in {c.check for c in result.crossings}


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
    assert "segment_name" in crossing.reason
    assert family_spec("segments").task == "segments"
