"""Property-based malformed payloads against the real model server (customer_profile, 2 workers).

For every generated request: no 5xx, no traceback, a refusal never quotes a value that was sent, and a
valid request on the *same* kept-alive connection is answered afterwards. Each text value the
strategies generate carries a marker, so an echo is detectable whatever the text. About 300 requests
per run (two properties); the examples are random each run, and a failure prints the minimal payload.
"""

from __future__ import annotations

import json

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.slow

MARK = "zq"  # every generated string starts with it: an answer holding "zq<...>" echoed a value
EXAMPLES = 150
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

texts = st.text(min_size=3, max_size=40).map(lambda t: MARK + t)
scalars = st.one_of(
    st.none(), st.booleans(), texts,
    st.integers(min_value=-(10 ** 40), max_value=10 ** 40),
    st.floats(allow_nan=True, allow_infinity=True),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(texts, inner, max_size=4)),
                      max_leaves=12)
CONTENT_TYPES = ["application/json", "APPLICATION/JSON", "Application/Json; charset=utf-8",
                 "application/json; charset=latin-1", "application/json; q=1", "text/csv", "text/plain",
                 "application/vnd.apache.parquet", "application/x-www-form-urlencoded", "", "json"]


@pytest.fixture(scope="module")
def conversation(profile_server, session_registry):
    """One kept-alive connection for the whole module, the valid row, and a checker run after each case."""
    session = requests.Session()
    url = f"{profile_server.url}/invocations"
    row = json.loads(session_registry.features.head(1).drop(columns=["churned", "future_spend", "cutoff"])
                     .to_json(orient="records"))[0]
    valid = json.dumps({"dataframe_records": [row]})

    def exchange(body: bytes, content_type: str) -> requests.Response:
        headers = {"Content-Type": content_type} if content_type else {}
        answer = session.post(url, data=body, headers=headers, timeout=60)
        text = answer.text
        assert answer.status_code < 500, (answer.status_code, text[:300], body[:300])
        assert "Traceback" not in text and "stack_trace" not in text, text[:300]
        if answer.status_code != 200:
            assert MARK not in text, f"the refusal echoes a value sent: {text[:300]}"
        after = session.post(url, data=valid, headers={"Content-Type": "application/json"}, timeout=60)
        assert after.status_code == 200, (after.status_code, after.text[:300])
        return answer

    yield row, exchange
    manager = session.get_adapter(url).poolmanager
    opened = sum(manager.pools[key].num_connections for key in manager.pools.keys())  # noqa: SIM118 (no __iter__)
    session.close()
    assert opened == 1, f"the client had to reconnect {opened - 1} time(s): the server dropped the connection"


def _dumps(value) -> bytes:
    return json.dumps(value).encode("utf-8", "surrogatepass")


@SETTINGS
@given(data=st.data())
def test_a_valid_row_with_one_field_broken_is_refused_cleanly(conversation, data):
    row, exchange = conversation
    column = data.draw(st.sampled_from([*row, "extra_column"]))
    broken = dict(row) | {column: data.draw(values)}
    shape = data.draw(st.sampled_from(["records", "split", "instances", "params"]))
    if shape == "records":
        body = {"dataframe_records": [row, broken]}
    elif shape == "split":
        body = {"dataframe_split": {"columns": list(broken), "data": [list(broken.values())]}}
    elif shape == "instances":
        body = {"instances": [broken]}
    else:
        body = {"dataframe_records": [row], "params": {data.draw(st.sampled_from(["reasons", MARK])): broken[column]}}
    answer = exchange(_dumps(body), data.draw(st.sampled_from(CONTENT_TYPES[:3])))
    if answer.status_code == 200:
        assert len(answer.json()["predictions"]) in (1, 2)


@SETTINGS
@given(data=st.data())
def test_any_body_and_content_type_gets_a_clean_answer(conversation, data):
    _, exchange = conversation
    kind = data.draw(st.sampled_from(["json", "bytes", "deep", "keys"]))
    if kind == "json":
        body = _dumps(data.draw(values))
    elif kind == "bytes":
        body = data.draw(st.binary(max_size=200))
    elif kind == "deep":
        depth = data.draw(st.integers(min_value=1, max_value=5000))
        opener = data.draw(st.sampled_from(["[", '{"a":', '{"dataframe_records":[']))
        closer = {"[": "]", '{"a":': "}", '{"dataframe_records":[': "]}"}[opener]
        body = (opener * depth + json.dumps(MARK + "x") + closer * depth).encode()
    else:
        body = _dumps({data.draw(st.sampled_from(["dataframe_records", "dataframe_split", "inputs",
                                                  "instances", MARK])): data.draw(values)})
    exchange(body, data.draw(st.sampled_from(CONTENT_TYPES)))
