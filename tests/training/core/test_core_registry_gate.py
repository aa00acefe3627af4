"""Registry and promotion gate on a tiny validated pyfunc (no model training: the mechanics only)."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException

from training.core import model_state, promotion
from training.core.evaluation import per_row_log_loss
from training.core.gate_spec import GateSpec
from training.core.pyfunc_base import InputSpec, ValidatedPyfunc
from training.core.registry import data_hash, log_and_register
from training.settings import get_settings
from training.tracking import tracked_run


@pytest.fixture(autouse=True)
def _loggable_test_model(monkeypatch):
    """A test's own pyfunc class, named in the table of classes a model logged from code may hold."""
    monkeypatch.setitem(model_state.CLASSES, "test.ShiftModel", f"{__name__}:ShiftModel")


class ShiftModel(ValidatedPyfunc):
    """p = sigmoid(x - shift): the truth uses shift 1, so other shifts are worse."""

    def __init__(self, shift: float) -> None:
        super().__init__(InputSpec(("x", "z", "c"), categorical=frozenset({"c"}), required=frozenset({"x"})))
        self.shift = shift

    def predict_frame(self, features: pd.DataFrame, params=None) -> pd.DataFrame:
        p = 1.0 / (1.0 + np.exp(-(features["x"].to_numpy() - self.shift)))
        return pd.DataFrame({"p": p}, index=features.index)


def _holdout(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(1, 2, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(x - 1)))).astype(int)
    return pd.DataFrame({"x": x, "z": rng.normal(size=n), "c": rng.choice(["a", "b"], n), "y": y})


@pytest.fixture()
def toy_gate(monkeypatch):
    spec = GateSpec(
        per_row_loss=lambda out, hold: per_row_log_loss(hold["y"].to_numpy(), out["p"].to_numpy()),
        checks=lambda out, hold: {"probabilities_in_range": bool(out["p"].between(0, 1).all())},
        tolerance=0.002,
    )
    return spec


def _register(model: ShiftModel, holdout: pd.DataFrame | None = None):
    settings = get_settings()
    example = _holdout(5).drop(columns="y")
    with tracked_run(settings, "toy"):
        if holdout is not None:
            promotion.log_holdout(holdout)
        return log_and_register(model, model_name="toy", family="toy", artifacts={}, input_example=example,
                                tags={"features": "x,z,c", "data_hash": data_hash(example)},
                                metrics={"roc_auc": 0.75}, settings=settings)


def test_registered_model_has_tags_alias_code_and_validates_without_echoing():
    version = _register(ShiftModel(1.0))
    assert version.tags["crmlab.family"] == "toy"
    assert version.tags["metric.roc_auc"] == "0.75"
    assert version.tags["features"] == "x,z,c"
    assert len(version.tags["git_commit"]) >= 7
    client = mlflow.MlflowClient()
    assert client.get_model_version_by_alias("toy", "challenger").version == version.version
    model = mlflow.pyfunc.load_model("models:/toy@challenger")
    local = Path(mlflow.artifacts.download_artifacts(f"models:/toy/{version.version}"))
    assert (local / "code" / "training" / "core" / "pyfunc_base.py").exists()
    assert model.metadata.metadata["crmlab_input_types"]["x"] == "double"

    # optional z and c absent, unknown extra column ignored
    out = model.predict(pd.DataFrame({"x": [1.0, 3.0], "extra": ["ignored", "too"]}))
    assert list(out.columns) == ["p"] and out["p"].iloc[0] == pytest.approx(0.5)

    secret = "Jane.Doe@example.com"
    bad_inputs = {
        "missing required column": pd.DataFrame({"z": [1.0]}),
        "expects numbers": pd.DataFrame({"x": [secret]}),
        "null/NaN": pd.DataFrame({"x": [1.0, np.nan], "c": [secret, secret]}),
        "empty payload": pd.DataFrame({"x": pd.Series([], dtype=float)}),
    }
    for expected, frame in bad_inputs.items():
        with pytest.raises(MlflowException) as err:
            model.predict(frame)
        assert err.value.error_code == "INVALID_PARAMETER_VALUE"
        assert expected in err.value.message
        assert secret not in err.value.message and "Jane" not in str(err.value)

    # The stock scoring server prepends the payload to an MlflowException's message; ours resists.
    from mlflow.pyfunc.scoring_server import invocations

    payload = json.dumps({"dataframe_split": {"columns": ["x", "c"], "data": [[secret, "a"]]}})
    with pytest.raises(MlflowException) as err:
        invocations(payload, "application/json", model, model.metadata.get_input_schema())
    body = err.value.serialize_as_json()
    assert "column 'x' expects numbers" in body and secret not in body
    assert err.value.get_http_status_code() == 400


def test_gate_first_version_then_refuses_worse_and_force_is_recorded(toy_gate):
    client = mlflow.MlflowClient()
    holdout = _holdout()
    _register(ShiftModel(1.0), holdout=holdout)
    first = promotion.promote("toy", settings=get_settings(), extra_gates={"toy": toy_gate})
    assert first.promoted and "first version" in first.reason and first.checks == {"probabilities_in_range": True}
    assert str(client.get_model_version_by_alias("toy", "champion").version) == "1"

    _register(ShiftModel(-1.5), holdout=holdout)  # worse, with its own logged test split
    refused = promotion.promote("toy", settings=get_settings(), extra_gates={"toy": toy_gate})
    assert not refused.promoted and refused.mean_diff > 0 and refused.ci_high >= toy_gate.tolerance
    assert refused.holdout_source.startswith("the challenger's test split") and refused.rows == len(holdout)
    assert str(client.get_model_version_by_alias("toy", "champion").version) == "1"
    assert client.get_model_version("toy", "2").tags["gate.decision"] == "refused"

    forced = promotion.promote("toy", force=True, settings=get_settings(), extra_gates={"toy": toy_gate})
    assert forced.promoted and forced.forced
    tags = client.get_model_version("toy", "2").tags
    assert tags["gate.forced"] == "true" and tags["gate.decision"] == "promoted"
    assert str(client.get_model_version_by_alias("toy", "champion").version) == "2"
    assert client.get_model_version("toy", "1").tags["gate.superseded_by"] == "2"


def test_a_first_version_must_pass_the_absolute_checks():
    """v1 once became champion as "first version" although later versions failed the same ECE bound."""
    spec = GateSpec(
        per_row_loss=lambda out, hold: per_row_log_loss(hold["y"].to_numpy(), out["p"].to_numpy()),
        checks=lambda out, hold: {"mean_p_near_base_rate": bool(abs(out["p"].mean() - hold["y"].mean()) < 0.05),
                                  "kept_ids": False},
        tolerance=0.002, relative_checks=frozenset({"kept_ids"}))
    gates = {"toy": spec}
    client = mlflow.MlflowClient()
    _register(ShiftModel(-2.0), holdout=_holdout())  # miscalibrated: p far above the base rate
    refused = promotion.promote("toy", settings=get_settings(), extra_gates=gates)
    assert not refused.promoted and "first version, but check(s) failed: mean_p_near_base_rate" in refused.reason
    assert refused.checks == {"mean_p_near_base_rate": False}  # the relative check is not asked of v1
    assert "challenger" in refused.reason and refused.rows == 3000
    tags = client.get_model_version("toy", "1").tags
    assert tags["gate.decision"] == "refused" and tags["gate.check.mean_p_near_base_rate"] == "fail"
    with pytest.raises(MlflowException):
        client.get_model_version_by_alias("toy", "champion")

    _register(ShiftModel(1.0))  # no holdout logged and none given: cannot be checked, so not promoted
    unchecked = promotion.promote("toy", settings=get_settings(), extra_gates=gates)
    assert not unchecked.promoted and "cannot run" in unchecked.reason and "--holdout" in unchecked.reason
    good = promotion.promote("toy", holdout=_holdout(seed=2), settings=get_settings(), extra_gates=gates)
    assert good.promoted and good.checks == {"mean_p_near_base_rate": True}
    assert str(client.get_model_version_by_alias("toy", "champion").version) == "2"


def test_gate_promotes_an_equal_or_better_challenger_on_an_explicit_holdout(toy_gate):
    _register(ShiftModel(0.0), holdout=_holdout(seed=3))
    promotion.promote("toy", settings=get_settings(), extra_gates={"toy": toy_gate})
    _register(ShiftModel(1.0))
    decision = promotion.promote("toy", holdout=_holdout(seed=1), settings=get_settings(),
                                  extra_gates={"toy": toy_gate})
    assert decision.promoted and not decision.forced and decision.mean_diff < 0
    assert decision.checks == {"probabilities_in_range": True}
    assert decision.holdout_source == "the given holdout"


def test_promote_without_challenger_says_what_to_do():
    with pytest.raises(ValueError, match="train one first"):
        promotion.promote("nothing-here", settings=get_settings())


def test_paired_bootstrap_interval_brackets_the_mean():
    diff = np.random.default_rng(0).normal(0.01, 0.1, 4000)
    mean, low, high = promotion.paired_bootstrap(diff)
    assert low < mean < high
    assert high - low == pytest.approx(2 * 1.645 * 0.1 / np.sqrt(4000), rel=0.15)
