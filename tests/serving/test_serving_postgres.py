"""Batch scores upserted into PostgreSQL: re-runs never duplicate rows; opted-out customers are removed.

Needs the local PostgreSQL (127.0.0.1:5432, database ``test``, trust auth). Each test works in its own
schema, dropped afterwards. An unreachable server fails the test: start PostgreSQL to run it.
"""

from __future__ import annotations

import uuid

import pandas as pd
import pytest
import sqlalchemy as sa
from pg_local import connect_local_postgres

from serving.batch import score_batch
from serving.score_store import ScoreTable
from training.settings import get_settings

pytestmark = pytest.mark.postgres

PROFILE = "models:/customer_profile@champion"


@pytest.fixture()
def pg_schema():
    """(URL, schema): a fresh schema in the test database, dropped at the end."""
    engine, _, url = connect_local_postgres()
    schema = f"crmlab_test_{uuid.uuid4().hex[:10]}"
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    yield url, schema, engine
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


def _rows(engine, schema: str) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(sa.text(f"SELECT * FROM {schema}.customer_scores ORDER BY customer_id"), conn)


def test_upsert_is_idempotent_and_forgets_customers_who_opted_out(registry, pg_schema, tmp_path):
    url, schema, engine = pg_schema
    features = registry.features.head(300)
    first = score_batch(PROFILE, features, settings=get_settings(), to=url.replace("+psycopg", ""),
                        schema=schema, chunk_size=70, progress=False)
    assert first.rows_scored == 300 and first.table == f"{schema}.customer_scores"
    stored = _rows(engine, schema)
    assert len(stored) == 300 and stored["customer_id"].is_unique
    assert set(stored["model_name"]) == {"customer_profile"} and set(stored["model_version"]) == {"1"}
    assert stored["churn_probability"].between(0, 1).all() and stored["churn_version"].eq("1").all()

    consent = pd.DataFrame({"customer_id": features["customer_id"], "marketing_consent": True})
    consent.loc[:9, "marketing_consent"] = False  # ten customers opted out since the first export
    second = score_batch(PROFILE, features, settings=get_settings(), to=url, schema=schema, chunk_size=70,
                         consent=consent, progress=False)
    assert (second.rows_scored, second.rows_no_consent, second.rows_deleted) == (290, 10, 10)
    again = _rows(engine, schema)
    assert len(again) == 290 and again["customer_id"].is_unique
    assert not set(features["customer_id"].head(10)) & set(again["customer_id"])
    assert (again["scored_at"] > stored["scored_at"].max()).all()
    pk = sa.inspect(engine).get_pk_constraint("customer_scores", schema=schema)["constrained_columns"]
    assert set(pk) == {"customer_id", "model_name"}


def test_an_incompatible_existing_table_is_refused_clearly(pg_schema):
    url, schema, engine = pg_schema
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {schema}.customer_scores (customer_id text, model_name text)"))
    store = ScoreTable(url, schema=schema)
    frame = pd.DataFrame({"customer_id": ["C1"], "model_name": ["m"], "score": [0.5]})
    with pytest.raises(ValueError, match=r"exists without column.*score.*drop it"):
        store.upsert(frame)
    store.close()
