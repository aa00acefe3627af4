"""The CRM client against a scripted local HTTP server: retries, backoff limits, clear 4xx errors."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest

from serving.crm_client import CrmClient, ScoringRefused, ServerUnavailable
from serving.server import free_port


class _Stub:
    """Answers each POST with the next scripted (status, body); echoes row counts once the script is empty."""

    def __init__(self) -> None:
        self.script: list[tuple[int, str]] = []
        self.requests: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._send(200, "\n")

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append(body)
                if stub.script:
                    self._send(*stub.script.pop(0))
                    return
                rows = body["dataframe_split"]["data"]
                self._send(200, json.dumps({"predictions": [{"n": len(rows), "first": r[0]} for r in rows]}))

            def _send(self, status: int, text: str) -> None:
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()


@pytest.fixture()
def stub():
    server = _Stub()
    yield server
    server.server.shutdown()
    server.server.server_close()


def _client(url: str, **kwargs) -> CrmClient:
    return CrmClient(url, backoff_s=0.01, max_backoff_s=0.05, **kwargs)


def test_scores_in_chunks_keeping_the_callers_index(stub):
    frame = pd.DataFrame({"customer_id": [f"C{i}" for i in range(5)], "x": [1.0, None, 3.0, 4.0, 5.0]},
                         index=[7, 8, 9, 10, 11])
    out = _client(stub.url, chunk_rows=2).score(frame)
    assert list(out.index) == [7, 8, 9, 10, 11] and list(out["first"]) == list(frame["customer_id"])
    assert [len(r["dataframe_split"]["data"]) for r in stub.requests] == [2, 2, 1]
    assert stub.requests[0]["dataframe_split"]["data"][1][1] is None  # NaN travels as JSON null
    records = _client(stub.url).score([{"customer_id": "C9", "x": 1}])
    assert list(records["first"]) == ["C9"]


def test_retries_5xx_and_429_then_succeeds(stub):
    stub.script = [(503, '{"message": "overloaded"}'), (429, "slow down"), (500, "oops")]
    out = _client(stub.url, attempts=4).score(pd.DataFrame({"customer_id": ["C1"]}))
    assert list(out["first"]) == ["C1"] and len(stub.requests) == 4


def test_gives_up_after_the_attempts_with_the_last_reason(stub):
    stub.script = [(503, '{"message": "overloaded"}')] * 3
    with pytest.raises(ServerUnavailable, match=r"after 3 attempt\(s\).*HTTP 503: overloaded"):
        _client(stub.url, attempts=3).score(pd.DataFrame({"customer_id": ["C1"]}))
    assert len(stub.requests) == 3


def test_a_4xx_is_not_retried_and_shows_the_servers_message(stub):
    message = "churn model: missing required column(s): tenure_days"
    stub.script = [(400, json.dumps({"error_code": "INVALID_PARAMETER_VALUE", "message": message}))]
    with pytest.raises(ScoringRefused) as err:
        _client(stub.url).score(pd.DataFrame({"customer_id": ["C1"]}))
    assert err.value.status == 400 and err.value.error_code == "INVALID_PARAMETER_VALUE"
    assert message in str(err.value) and "HTTP 400" in str(err.value)
    assert len(stub.requests) == 1


def test_connection_refused_is_retried_then_reported():
    url = f"http://127.0.0.1:{free_port()}"
    client = _client(url, attempts=2, timeout=(0.5, 1.0))
    assert client.ping() is False
    with pytest.raises(ServerUnavailable, match="did not answer after 2 attempt"):
        client.score(pd.DataFrame({"customer_id": ["C1"]}))


def test_empty_input_is_refused_before_any_request(stub):
    with pytest.raises(ValueError, match="no records"):
        _client(stub.url).score([])
    assert stub.requests == [] and _client(stub.url).ping()
