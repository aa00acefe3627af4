"""The policy file: documented defaults, field-naming errors, and which thresholds a run crossed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitoring.policy import Observations, Policy, PolicyError, evaluate, load_policy, parse_policy, verdict

DOCS = Path(__file__).resolve().parents[2] / "docs" / "MONITORING.md"


def _fields(model, prefix=""):
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and hasattr(field.annotation, "model_fields"):
            yield from _fields(field.annotation, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", field


def test_no_file_means_the_defaults_and_a_file_overrides_only_what_it_names(tmp_path):
    assert load_policy(None) == Policy()
    path = tmp_path / "policy.yaml"
    path.write_text("calibration:\n  max_ece: 0.08\nretrain:\n  triggers: [calibration]\n")
    policy = load_policy(path)
    assert policy.calibration.max_ece == 0.08
    assert policy.retrain.triggers == ["calibration"]
    assert policy.feature_drift == Policy().feature_drift


def test_every_policy_field_and_default_is_documented():
    text = DOCS.read_text()
    for name, field in _fields(Policy):
        row = re.search(rf"^\| `{re.escape(name)}` \| ([^|]+) \|", text, re.MULTILINE)
        assert row, f"docs/MONITORING.md does not document policy field {name}"
        if field.default_factory is None:
            shown = "null" if field.default is None else str(field.default)
            assert f"`{shown}`" in row.group(1), f"{name}: documented default {row.group(1)!r} != {shown}"


@pytest.mark.parametrize(("data", "named"), [
    ({"feature_drift": {"max_share": 1.5}}, "feature_drift.max_share"),
    ({"calibraton": {"max_ece": 0.1}}, "calibraton: unknown field"),
    ({"prediction_drift": {"method": "ks"}}, "prediction_drift.method"),
    ({"feature_drift": {"method": "not-a-test"}}, "feature_drift.method"),
    ({"retrain": {"triggers": ["everything"]}}, "retrain.triggers.0"),
    ({"calibration": {"max_ece": "high"}}, "calibration.max_ece"),
])
def test_invalid_fields_are_named_in_the_error(data, named):
    with pytest.raises(PolicyError) as err:
        parse_policy(data, source="p.yaml")
    assert named in str(err.value)
    assert str(err.value).startswith("p.yaml")


def test_unreadable_or_missing_files_say_what_to_do(tmp_path):
    with pytest.raises(PolicyError, match="does not exist"):
        load_policy(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("feature_drift: [unclosed")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policy(bad)
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n- 2\n")
    with pytest.raises(PolicyError, match="must be a mapping"):
        load_policy(listed)


def test_evaluation_returns_each_crossed_threshold_with_its_reason():
    obs = Observations(important_share=0.4, drifted_important=("f00", "f03"), important_count=5,
                       prediction_scores={"churn_probability": 0.25, "p_alive": 0.01}, ece=0.09, labelled_rows=1500,
                       auc_drop=0.02, auc_how="measured", share_changes={"segment_name": 0.15, "risk_band": 0.05})
    crossings = {c.check: c for c in evaluate(Policy(), obs)}
    assert set(crossings) == {"feature_drift", "prediction_drift", "calibration", "share_shift"}
    assert "2 of 5 important features drifted (f00, f03)" in crossings["feature_drift"].reason
    assert crossings["prediction_drift"].value == 0.25 and "churn_probability" in crossings["prediction_drift"].reason
    assert "segment_name" in crossings["share_shift"].reason
    assert verdict(list(crossings.values())).startswith("ALERT: ")


def test_nothing_crossed_and_small_labelled_samples_are_not_judged():
    quiet = Observations(important_share=0.1, prediction_scores={"churn_probability": 0.02}, ece=0.2,
                         labelled_rows=50, auc_drop=0.01, share_changes={"risk_band": 0.02})
    assert evaluate(Policy(), quiet) == []
    assert verdict([]) == "OK: no threshold crossed"
