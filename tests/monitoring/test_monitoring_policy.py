"""The policy file: documented defaults, field-naming errors, and which thresholds a run crossed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitoring.policy import Policy, PolicyCheck, PolicyError, load_policy, parse_policy, verdict

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
    ({"feature_drift": {"max_weight": 1.5}}, "feature_drift.max_weight"),
    ({"calibraton": {"max_ece": 0.1}}, "calibraton: unknown field"),
    ({"normal": {"margin": 0}}, "normal.margin"),
    ({"feature_drift": {"max_share": 0.3}}, "feature_drift.max_share: unknown field"),
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


def test_verdict_names_every_crossed_check_with_value_and_threshold():
    checks = [PolicyCheck("feature_drift", 0.42, 0.3, True, "feature drift 0.42 (threshold 0.3)"),
              PolicyCheck("auc_drop", 0.01, 0.05, False, "ROC AUC drop 0.010 (threshold 0.05)")]
    line = verdict(checks)
    assert line.startswith("ALERT: ") and "0.42" in line and "threshold 0.3" in line and "auc" not in line
    assert verdict(checks[1:]) == "OK: none of 1 checks crossed its threshold"


def test_default_retrain_triggers_are_the_quality_checks_not_watched_inputs():
    triggers = Policy().retrain.triggers
    assert "watched_inputs" not in triggers
    assert {"feature_drift", "prediction_drift", "auc_drop", "calibration", "clv_quality"} <= set(triggers)
