"""The registered recommender served by the stock ``mlflow models serve``: documented columns, 400s."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import requests

pytestmark = pytest.mark.slow

SECRET = "jane.doe@example.com"


@pytest.fixture(scope="module")
def server(trained, tmp_path_factory):
    from serving.server import start_server

    result, settings = trained
    log = tmp_path_factory.mktemp("recs-server") / "server.log"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", settings.tracking_uri)
        process = start_server(f"models:/{result.model_name}@champion", settings=settings, log_path=log, workers=1)
    yield process
    process.stop()


def _post(server, payload: dict) -> requests.Response:
    return requests.post(f"{server.url}/invocations", data=json.dumps(payload).encode(),
                         headers={"Content-Type": "application/json"}, timeout=60)


def test_served_recommender_answers_the_documented_columns(server, trained):
    ids = [str(c) for c in trained[0].recommender.customers[:2]]
    rows = [{"customer_id": ids[0], "k": 3, "exclude_categories": ["toys"]},
            {"customer_id": ids[1]}, {"customer_id": "NEW-CUSTOMER", "k": 2}]
    response = _post(server, {"dataframe_records": rows})
    assert response.status_code == 200, response.text
    out = pd.DataFrame(response.json()["predictions"])
    assert list(out.columns) == ["customer_id", "rank", "product_id", "score", "reason"]
    assert out.groupby("customer_id", sort=False).size().to_dict() == {ids[0]: 3, ids[1]: 10, "NEW-CUSTOMER": 2}
    assert set(out[out["customer_id"] == "NEW-CUSTOMER"]["reason"]) == {"popular with all customers"}


@pytest.mark.parametrize("row, field", [({"k": 3, "note": SECRET}, "customer_id"),
                                        ({"customer_id": SECRET, "k": 500}, "'k'")])
def test_bad_requests_get_a_400_naming_the_field(server, row, field):
    response = _post(server, {"dataframe_records": [row]})
    assert response.status_code == 400 and field in response.text
    assert SECRET not in response.text and "Traceback" not in response.text


def test_next_best_parameter_answers_one_row_per_customer(server, trained):
    ids = [str(c) for c in trained[0].recommender.customers[:3]]
    response = _post(server, {"dataframe_records": [{"customer_id": c} for c in ids], "params": {"next_best": 3}})
    assert response.status_code == 200, response.text
    out = pd.DataFrame(response.json()["predictions"])
    assert list(out.columns) == ["next_best_products"] and len(out) == 3
    assert out["next_best_products"].str.split(",").tolist() == trained[0].recommender.top_products(ids, 3)
    bad = _post(server, {"dataframe_records": [{"customer_id": ids[0]}], "params": {"next_best": 1000}})
    assert bad.status_code == 400 and "next_best" in bad.text
