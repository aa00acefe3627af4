"""The real churn champion served on its own (``crmlab serve --model churn``) by the stock server."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import requests
from serving_server_start import serve_from_registry

pytestmark = pytest.mark.slow

SECRET = "jane.doe@example.com"


@pytest.fixture(scope="module")
def churn_server(session_registry, tmp_path_factory):
    log = tmp_path_factory.mktemp("churn-server") / "server.log"
    process = serve_from_registry(session_registry, "models:/churn@champion", log, workers=1)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def rows(session_registry) -> list[dict]:
    frame = session_registry.features.head(4).drop(columns=["churned", "future_spend", "cutoff"])
    return json.loads(frame.to_json(orient="records"))


def _post(server, payload: dict | str) -> requests.Response:
    body = payload if isinstance(payload, str) else json.dumps(payload)
    return requests.post(f"{server.url}/invocations", data=body.encode(),
                         headers={"Content-Type": "application/json"}, timeout=60)


def test_churn_scores_the_documented_columns(churn_server, rows):
    response = _post(churn_server, {"dataframe_records": [r | {"email": SECRET} for r in rows]})
    assert response.status_code == 200, response.text
    out = pd.DataFrame(response.json()["predictions"])
    assert list(out.columns) == ["churn_probability", "risk_band", "top_reasons"] and len(out) == 4
    assert set(out["risk_band"]) <= {"low", "medium", "high"} and SECRET not in response.text


BAD_ROWS = [({"recency_days": SECRET}, "'recency_days' expects numbers"),
            ({"tenure_days": None}, "'tenure_days' is required but null/NaN")]


@pytest.mark.parametrize("change, expected", BAD_ROWS)
def test_churn_refuses_bad_rows_with_a_400_and_keeps_answering(churn_server, rows, change, expected):
    response = _post(churn_server, {"dataframe_records": [rows[0] | change, *rows[1:]]})
    assert response.status_code == 400 and expected in response.text
    assert "Traceback" not in response.text
    assert _post(churn_server, {"dataframe_records": rows}).status_code == 200


@pytest.mark.parametrize("change, expected", BAD_ROWS)
def test_churn_error_bodies_do_not_echo_the_payload(churn_server, rows, change, expected):
    sent = [rows[0] | change | {"note": SECRET}, *rows[1:]]
    response = _post(churn_server, {"dataframe_records": sent})
    assert response.status_code == 400 and expected in response.text
    assert SECRET not in response.text and rows[1]["customer_id"] not in response.text


def test_churn_unparseable_body_is_not_echoed(churn_server):
    response = _post(churn_server, f"email={SECRET}")
    assert response.status_code == 400
    assert SECRET not in response.text
