"""Calibration with labels: ECE/Brier inside the Evidently report, reliability curve, by risk band."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from monitoring.assess import assess
from monitoring.calibration import by_group, calibration_summary
from monitoring.policy import Policy
from monitoring.synthetic import churn_batch, fake_champion
from training.core.evaluation import expected_calibration_error

OUTPUTS = ["churn_probability", "risk_band"]


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return churn_batch(3000, seed=200)


def _labelled(reference, current, tmp_path):
    return assess(fake_champion(reference), current.drop(columns=OUTPUTS), current[OUTPUTS], Policy(),
                  labels=True, plot_path=tmp_path / "reliability.png")


def test_a_miscalibrated_model_is_flagged_with_its_ece(reference, tmp_path):
    current = churn_batch(2500, seed=11, miscalibrate=2.5)
    result = _labelled(reference, current, tmp_path)
    crossing = next(c for c in result.crossings if c.check == "calibration" and "ECE" in c.reason)
    expected = expected_calibration_error(current["churned"].to_numpy(), current["churn_probability"].to_numpy())
    assert crossing.value == pytest.approx(expected)  # the training definition, reused
    assert crossing.value > 0.05
    assert "ECE" in crossing.reason
    assert (tmp_path / "reliability.png").stat().st_size > 1000
    # Overconfidence shows per band: the low band under-predicts, the high band over-predicts.
    bands = result.calibration.by_group.set_index("group")
    assert bands.loc["low", "gap"] > 0.05 and bands.loc["high", "gap"] < -0.05
    # The same breakdown is a table in the Evidently report a person reads.
    widgets = json.dumps(result.snapshot.to_snapshot_model().dict(), default=str)
    assert "Calibration by risk_band (current)" in widgets


def test_a_calibrated_model_passes_and_the_report_holds_ece_and_brier_with_tests(reference, tmp_path):
    result = _labelled(reference, churn_batch(2500, seed=12), tmp_path)
    assert "calibration" not in {c.check for c in result.crossings}
    assert result.metrics["expected_calibration_error"] < 0.03
    snap = result.snapshot.dict()
    kinds = {m["config"]["type"].rsplit(":", 1)[-1]: m for m in snap["metrics"]}
    assert {"ExpectedCalibrationError", "BrierScore", "RocAuc"} <= set(kinds)
    ece_tests = [t for t in snap["tests"] if t["metric_config"]["metric_id"] == kinds["ExpectedCalibrationError"]["id"]]
    assert [str(t["status"]).rsplit(".", 1)[-1] for t in ece_tests] == ["SUCCESS"]


def test_calibration_in_the_large_flags_a_higher_churn_rate_with_its_binomial_interval(reference, tmp_path):
    current = churn_batch(2500, seed=15)
    rng = np.random.default_rng(15)
    # Concept drift: 6% of the customers churn on top of what the (unchanged) model predicts.
    current["churned"] = current["churned"] | (rng.random(len(current)) < 0.06)
    result = _labelled(reference, current, tmp_path)
    large = next(c for c in result.checks if c.check == "calibration" and "in the large" in c.reason)
    assert large.crossed and large.value > large.threshold
    assert "binomial" in large.reason and f"{large.threshold:.3f}" in large.reason
    calm = _labelled(reference, churn_batch(2500, seed=16), tmp_path)
    assert not next(c for c in calm.checks if "in the large" in c.reason).crossed


def test_labels_missing_for_some_rows_are_counted_not_silently_dropped(reference, tmp_path):
    current = churn_batch(1500, seed=13)
    current["churned"] = current["churned"].astype(object)
    current.loc[current.index[:100], "churned"] = None
    result = _labelled(reference, current, tmp_path)
    assert result.rows == 1400
    assert any("100 row(s)" in note for note in result.notes)


def test_labels_flag_without_a_label_column_is_a_clear_error(reference, tmp_path):
    current = churn_batch(500, seed=14).drop(columns=["churned"])
    with pytest.raises(ValueError, match="no 'churned' column"):
        _labelled(reference, current, tmp_path)


def test_summary_per_band_matches_a_direct_computation():
    y = np.array([1, 0, 1, 1, 0, 0], dtype=float)
    p = np.array([0.9, 0.8, 0.7, 0.2, 0.1, 0.3])
    bands = pd.Series(["high", "high", "high", "low", "low", "low"])
    table = by_group(y, p, bands).set_index("group")
    assert table.loc["high", "observed_rate"] == pytest.approx(2 / 3)
    assert table.loc["high", "mean_predicted"] == pytest.approx(0.8)
    assert table.loc["low", "gap"] == pytest.approx(1 / 3 - 0.2)
    summary = calibration_summary(y, p, bands)
    assert summary.brier == pytest.approx(np.mean((p - y) ** 2))
    assert summary.ece == pytest.approx(expected_calibration_error(y, p))
