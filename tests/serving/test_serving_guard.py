"""The scoring guard: crmlab-authored text only, early refusals, fixed parse messages, idempotent install."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import scoring_server

from training.core.pyfunc_base import InputSpec, InvalidModelInput, validate_frame
from training.core.scoring_guard import MAX_BODY_BYTES, install_scoring_guard, raised_by_crmlab, safe_message

SECRET = "jane.doe@example.com"


def test_only_messages_written_by_crmlab_code_are_passed_on():
    with pytest.raises(MlflowException) as core:
        validate_frame(pd.DataFrame({"x": [SECRET]}), InputSpec(("x",), required=frozenset({"x"})))
    assert raised_by_crmlab(core.value) and safe_message(core.value) == core.value.message

    with pytest.raises(MlflowException) as library:
        raise MlflowException(f"Failed to enforce schema of data '{SECRET}'")
    assert not raised_by_crmlab(library.value)
    assert SECRET not in safe_message(library.value) and "model card" in safe_message(library.value)

    with pytest.raises(KeyError) as bug:
        {}[SECRET]
    assert safe_message(bug.value).startswith("the model could not score this payload (KeyError)")
    assert SECRET not in safe_message(bug.value)


@pytest.fixture()
def guarded(monkeypatch):
    monkeypatch.setattr(scoring_server, "invocations", scoring_server.invocations)  # restored afterwards
    assert install_scoring_guard() and install_scoring_guard()  # idempotent
    assert getattr(scoring_server.invocations, "_crmlab_scoring_guard", False)
    return scoring_server.invocations


def test_guard_refuses_oversized_bodies_and_missing_content_types_early(guarded):
    big = guarded(b"x" * (MAX_BODY_BYTES + 1), "application/json", None, None)
    assert big.status == 413 and "exceeds the limit" in big.response
    untyped = guarded(b"{}", None, None, None)
    assert untyped.status == 415 and "Content-Type" in untyped.response


def test_guard_replaces_parse_errors_and_model_failures_with_fixed_text(guarded):
    with pytest.raises(InvalidModelInput) as err:
        guarded(f"name={SECRET}".encode(), "application/json", SimpleNamespace(metadata=None), None)
    assert "not valid JSON" in err.value.message and SECRET not in err.value.serialize_as_json()
    assert err.value.get_http_status_code() == 400

    class Broken:
        metadata = SimpleNamespace(_is_signature_from_type_hint=lambda: False)

        def predict(self, data, params=None):
            raise ValueError(f"cannot handle {SECRET}")

    body = json.dumps({"dataframe_records": [{"email": SECRET}]}).encode()
    with pytest.raises(InvalidModelInput) as err:
        guarded(body, "application/json", Broken(), None)
    assert "could not score this payload (ValueError)" in err.value.message
    assert SECRET not in err.value.serialize_as_json()
