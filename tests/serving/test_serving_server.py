"""The real model server (``mlflow models serve --env-manager local``) on the real customer_profile.

One server process for the module (start-up takes 10-25 s), its process group ended at the end.
Every malformed request must get a 4xx naming the problem, never a 5xx, never the values sent and
never a traceback; the server must keep answering afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
from serving_server_start import SECRET_MAIL, SECRET_NAME

from serving.crm_client import CrmClient, ScoringRefused
from serving.profile_model import OUTPUT_COLUMNS
from serving.server import free_port, serve_command, wait_ready
from training.core.scoring_guard import MAX_BODY_BYTES

pytestmark = pytest.mark.slow

JSON = "application/json"


@pytest.fixture(scope="module")
def server(profile_server):
    return profile_server


@pytest.fixture(scope="module")
def rows(session_registry) -> list[dict]:
    frame = session_registry.features.head(5).drop(columns=["churned", "future_spend", "cutoff"])
    return json.loads(frame.to_json(orient="records"))


def _post(server, body: bytes | str, content_type: str | None = JSON) -> requests.Response:
    headers = {"Content-Type": content_type} if content_type else {}
    data = body.encode() if isinstance(body, str) else body
    return requests.post(f"{server.url}/invocations", data=data, headers=headers, timeout=60)


def _records(rows: list[dict]) -> str:
    return json.dumps({"dataframe_records": rows})


def test_serve_command_is_the_stock_server_on_loopback():
    cmd = serve_command("models:/customer_profile@champion", 5099, workers=3, timeout=12)
    assert Path(cmd[0]).name == "mlflow"
    assert cmd[1:] == ["models", "serve", "-m", "models:/customer_profile@champion", "--env-manager", "local",
                       "-h", "127.0.0.1", "-p", "5099", "--workers", "3", "--timeout", "12"]
    with pytest.raises(ValueError, match="workers"):
        serve_command("models:/x@champion", 5099, workers=0)


def test_wait_ready_fails_fast_when_the_process_dies_and_times_out_on_silence():
    dead = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    dead.wait()
    with pytest.raises(RuntimeError, match="exited with code 3"):
        wait_ready(f"http://127.0.0.1:{free_port()}", 30, process=dead)
    with pytest.raises(TimeoutError, match="did not answer /ping"):
        wait_ready(f"http://127.0.0.1:{free_port()}", 0.5)


def test_profile_scores_over_http_ignoring_unknown_columns(server, rows):
    sent = [dict(r) for r in rows]
    sent[0] |= {"email": SECRET_MAIL, "full_name": SECRET_NAME}  # unknown columns: ignored, never echoed
    sent[1]["plan"] = "diamond"                                  # unseen category: scored
    del sent[2]["sessions_90d"]                                  # optional feature absent: scored
    response = _post(server, _records(sent))
    assert response.status_code == 200, response.text
    assert SECRET_MAIL not in response.text and SECRET_NAME not in response.text
    out = pd.DataFrame(response.json()["predictions"])
    assert list(out.columns) == OUTPUT_COLUMNS
    assert list(out["customer_id"]) == [r["customer_id"] for r in rows]
    assert out["churn_probability"].between(0, 1).all() and out["risk_band"].notna().all()
    assert out["clv_tier"].notna().all() and out["segment_name"].notna().all()
    assert set(out["churn_version"]) == {"1"}

    split = {"dataframe_split": {"columns": list(rows[0]), "data": [list(r.values()) for r in rows]}}
    again = pd.DataFrame(_post(server, json.dumps(split)).json()["predictions"])
    np.testing.assert_allclose(again["churn_probability"].iloc[3:], out["churn_probability"].iloc[3:])


def test_reasons_parameter_skips_explanations_over_http(server, rows):
    full = pd.DataFrame(_post(server, _records(rows)).json()["predictions"])
    body = json.dumps({"dataframe_records": rows, "params": {"reasons": False}})
    response = _post(server, body)
    assert response.status_code == 200, response.text
    fast = pd.DataFrame(response.json()["predictions"])
    assert list(fast.columns) == OUTPUT_COLUMNS and fast["top_reasons"].isna().all()
    via_client = CrmClient(server.url).score(pd.DataFrame(rows), reasons=False)
    assert via_client["top_reasons"].isna().all()
    assert full["top_reasons"].str.contains("risk").all()
    np.testing.assert_allclose(fast["churn_probability"], full["churn_probability"])


def _with(rows: list[dict], **changes) -> list[dict]:
    first = dict(rows[0]) | changes
    return [first, *rows[1:]]


def _without(rows: list[dict], column: str) -> list[dict]:
    return [{k: v for k, v in r.items() if k != column} | {"note": SECRET_NAME} for r in rows]


MALFORMED = {
    # name: (body builder, content type, allowed statuses, words the message must contain)
    "missing column": (lambda rows: _records(_without(rows, "recency_days")), JSON, {400},
                       ["missing required column", "recency_days"]),
    "missing id": (lambda rows: _records(_without(rows, "customer_id")), JSON, {400},
                   ["missing required column", "customer_id"]),
    "wrong type": (lambda rows: _records(_with(rows, frequency=SECRET_MAIL)), JSON, {400},
                   ["'frequency' expects numbers"]),
    "NaN in a required field": (lambda rows: _records(_with(rows, tenure_days=None, email=SECRET_MAIL)), JSON,
                                {400}, ["'tenure_days' is required but null/NaN"]),
    "literal NaN": (lambda rows: _records(_with(rows, email=SECRET_MAIL)).replace(
        '"recency_days": ' + json.dumps(rows[0]["recency_days"]), '"recency_days": NaN', 1), JSON, {400},
        ["'recency_days' is required but null/NaN"]),
    "nested id": (lambda rows: _records(_with(rows, customer_id={"mail": SECRET_MAIL})), JSON, {400},
                  ["customer_id"]),
    "empty records": (lambda rows: _records([]), JSON, {400}, ["empty payload"]),
    "bad parameter": (lambda rows: json.dumps({"dataframe_records": _with(rows, email=SECRET_MAIL),
                                               "params": {"reasons": "maybe"}}), JSON, {400}, ["reasons"]),
    "empty body": (lambda rows: "", JSON, {400}, ["empty request body"]),
    "not JSON": (lambda rows: f"customer_id={SECRET_MAIL}&name={SECRET_NAME}", JSON, {400}, ["not valid JSON"]),
    "JSON list": (lambda rows: json.dumps([{"email": SECRET_MAIL}]), JSON, {400}, ["exactly one of the keys"]),
    "ragged split": (lambda rows: json.dumps({"dataframe_split": {"columns": ["customer_id"],
                                                                  "data": [[SECRET_MAIL, 1]]}}), JSON, {400},
                     ["could not be read as a table"]),
    "CSV": (lambda rows: f"customer_id,email\nC1,{SECRET_MAIL}\n", "text/csv", {400}, ["JSON or Parquet"]),
    "wrong content type": (lambda rows: f"<email>{SECRET_MAIL}</email>", "application/xml", {415},
                           ["content types"]),
    "no content type": (lambda rows: _records(rows), None, {415}, ["Content-Type"]),
    "10 MB body": (lambda rows: _records([dict(rows[0], email=SECRET_MAIL, pad="x" * 500)] * 20_000), JSON,
                   {400, 413}, ["exceeds the limit"]),
    # found by an outside probe (issue 15)
    "JSON nested 1,000 deep": (lambda rows: '{"dataframe_records": ' + "[" * 1000 + json.dumps(SECRET_MAIL)
                               + "]" * 1000 + "}", JSON, {400}, ["nested too deeply"]),
    "number beyond float range": (lambda rows: _records(_with(rows, email=SECRET_MAIL)).replace(
        json.dumps(rows[0]["recency_days"]), "9" * 400, 1), JSON, {400}, ["could not be read as a table"]),
    "number overflowing to inf": (lambda rows: _records(_with(rows, email=SECRET_MAIL)).replace(
        json.dumps(rows[0]["recency_days"]), "1e999", 1), JSON, {400}, ["'recency_days' holds infinite"]),
    "lone surrogate in a number": (lambda rows: _records(_with(rows, frequency="\ud800" + SECRET_MAIL)), JSON,
                                   {400}, ["'frequency' expects numbers"]),
    "list in a category": (lambda rows: _records(_with(rows, region=[SECRET_MAIL])), JSON, {400},
                           ["'region' expects text categories"]),
    "object in a category": (lambda rows: _records(_with(rows, region={"x": SECRET_MAIL})), JSON, {400},
                             ["'region' expects text categories"]),
    "number in a category": (lambda rows: _records(_with(rows, region=12345, email=SECRET_MAIL)), JSON, {400},
                             ["'region' expects text categories"]),
    "unknown content-type parameter": (lambda rows: _records(rows), f"{JSON}; {SECRET_NAME.split()[1]}=1", {415},
                                       ["Content-Type parameter"]),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_request_gets_a_4xx_naming_the_problem_without_echo(server, rows, case):
    build, content_type, statuses, words = MALFORMED[case]
    body = build(rows)
    if case == "10 MB body":
        assert len(body) > 2 * MAX_BODY_BYTES
    response = _post(server, body, content_type)
    assert response.status_code in statuses, (response.status_code, response.text[:500])
    text = response.text
    for word in words:
        assert word in text, text[:500]
    for secret in (SECRET_MAIL, SECRET_NAME, rows[0]["customer_id"]):
        assert secret not in text, f"the answer echoes a value sent: {text[:500]}"
    assert "Traceback" not in text and "stack_trace" not in text
    assert requests.get(f"{server.url}/ping", timeout=10).status_code == 200
    assert _post(server, _records(rows[:1])).status_code == 200  # still answering


def test_refusals_keep_the_connection_open_for_the_next_request(server, rows):
    """A deeply nested body once dropped the kept-alive connection (a 500); the client's next call failed."""
    import http.client

    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        deep = '{"dataframe_records": ' + "[" * 1000 + "]" * 1000 + "}"
        for body in (deep, "{", _records(_with(rows, region=[1]))):
            conn.request("POST", "/invocations", body=body, headers={"Content-Type": JSON})
            refused = conn.getresponse()
            refused.read()
            assert refused.status == 400 and refused.getheader("connection") != "close"
            sock = conn.sock
            conn.request("POST", "/invocations", body=_records(rows[:1]), headers={"Content-Type": JSON})
            answered = conn.getresponse()
            assert answered.status == 200 and json.loads(answered.read())["predictions"]
            assert conn.sock is sock, "the server closed the connection after a refusal"
    finally:
        conn.close()


@pytest.mark.parametrize("content_type", ["APPLICATION/JSON", "Application/Json; charset=UTF-8",
                                          "application/json;charset=utf-8"])
def test_content_type_is_case_insensitive(server, rows, content_type):
    response = _post(server, _records(rows[:2]), content_type)
    assert response.status_code == 200, response.text[:300]
    assert len(response.json()["predictions"]) == 2


def test_crm_client_scores_in_chunks_and_reports_refusals(server, rows):
    client = CrmClient(server.url, chunk_rows=2, attempts=2, backoff_s=0.05)
    assert client.ping()
    frame = pd.DataFrame(rows).set_axis([10, 11, 12, 13, 14])
    out = client.score(frame)
    assert list(out.index) == [10, 11, 12, 13, 14] and list(out.columns) == OUTPUT_COLUMNS
    with pytest.raises(ScoringRefused, match=r"missing required column.*tenure_days") as err:
        client.score(frame.drop(columns="tenure_days").assign(email=SECRET_MAIL))
    assert err.value.status == 400 and SECRET_MAIL not in str(err.value)
