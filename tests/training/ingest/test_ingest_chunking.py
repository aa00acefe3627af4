"""Chunked ingestion (bounded memory on large exports) writes exactly what one-chunk ingestion writes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ingest_raw_case import RawCase

from training.ingest import IngestResult, ingest
from training.ingest.sources import open_source
from training.settings import get_settings
from training.world import WorldConfig, generate_world, write_world

OUTPUTS = ("products", "customers", "transactions", "events", "quarantine")


def run(source: Path, out: Path, chunk_rows: int) -> IngestResult:
    return ingest(source, out, get_settings(), progress=False, chunk_rows=chunk_rows)


def assert_same_output(one: IngestResult, chunked: IngestResult) -> None:
    for name in OUTPUTS:
        pd.testing.assert_frame_equal(pd.read_parquet(chunked.paths[name]), pd.read_parquet(one.paths[name]),
                                      check_exact=True, obj=name)
        assert pq.read_schema(chunked.paths[name]) == pq.read_schema(one.paths[name]), name
    assert chunked.counts == one.counts
    assert chunked.quarantine_by_rule == one.quarantine_by_rule
    reports = [json.loads(r.paths["dq_report_json"].read_text()) for r in (one, chunked)]
    for report in reports:
        report.pop("created_at")
    assert reports[0] == reports[1]
    assert chunked.paths["quarantine_summary"].read_text() == one.paths["quarantine_summary"].read_text()


def test_chunked_generated_world_matches_one_chunk(tmp_path: Path):
    world = generate_world(WorldConfig(n_customers=200, seed=5, dirt_rate=0.05))
    write_world(world, tmp_path / "world")

    one = run(tmp_path / "world", tmp_path / "one", chunk_rows=10**9)
    chunked = run(tmp_path / "world", tmp_path / "chunked", chunk_rows=97)

    assert len(world.customers) > 97 * 2  # several chunks per table actually ran
    assert one.quarantine_by_rule["transactions"]["duplicate_key"] > 0
    assert_same_output(one, chunked)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_chunked_raw_case_matches_one_chunk(tmp_path: Path, raw_case: RawCase, fmt: str):
    source = raw_case.write(tmp_path / "raw", fmt)

    one = run(source, tmp_path / "one", chunk_rows=10**9)
    chunked = run(source, tmp_path / "chunked", chunk_rows=3)  # the duplicate session is chunks away

    assert one.quarantine_by_rule["events"]["duplicate_key"] == 1
    assert one.counts["customers"].rows_excluded_no_consent > 0
    assert_same_output(one, chunked)


def test_chunks_keep_the_whole_file_dtypes(tmp_path: Path):
    # plain Arrow (no pandas metadata): a whole read makes an int column with a null float64 and a bool
    # column with a null object; a chunk without nulls must not come back as int64/bool
    path = tmp_path / "products.parquet"
    pq.write_table(pa.table({"n": pa.array([1, 2, 3, None], pa.int64()),
                             "b": pa.array([True, False, True, None], pa.bool_())}), path)
    whole = pd.read_parquet(path)
    (tmp_path / "schema.yaml").write_text("name: t\ntransactions: {path: products.parquet, columns: "
                                          "{customer_id: n, order_ts: b, amount: n2}}\n"
                                          "products: {path: products.parquet, columns: {product_id: n, "
                                          "product_name: b}}\n")
    pq.write_table(pa.table({"n": pa.array([1, 2, 3, None], pa.int64()),
                             "b": pa.array([True, False, True, None], pa.bool_()),
                             "n2": pa.array([1.0] * 4)}), path)
    whole = whole.rename(columns={"n": "product_id", "b": "product_name"})
    source = open_source(tmp_path)
    chunks = list(source.read_chunks("products", 2))

    assert [len(c) for c in chunks] == [2, 2]
    for chunk in chunks:
        assert chunk.dtypes.to_dict() == whole.dtypes.to_dict()
    assert [c.index.tolist() for c in chunks] == [[0, 1], [2, 3]]  # raw row numbers, not chunk positions
    pd.testing.assert_frame_equal(pd.concat(chunks), whole)


def test_repeated_keys_chunks_apart_are_quarantined_against_the_first_row(tmp_path: Path):
    raw = tmp_path / "raw"
    raw.mkdir()
    pd.DataFrame({"tid": ["T1", "T2", "T1", "T3", "T2", "T1", "T4"],
                  "cust": ["C1", "C2", "C1", "C3", "C9", "C1", "C4"],
                  "day": ["2024-01-0" + str(d) for d in (1, 2, 1, 3, 4, 1, 5)],
                  "usd": [10.0, 20.0, 10.0, 30.0, 20.0, 10.0, 40.0]}).to_csv(raw / "tx.csv", index=False)
    (raw / "schema.yaml").write_text(
        "name: dups\ntransactions:\n  path: tx.csv\n  columns:\n    transaction_id: tid\n"
        "    customer_id: cust\n    order_ts: day\n    amount: usd\n")

    result = run(raw / "schema.yaml", tmp_path / "clean", chunk_rows=2)  # every repeat is chunks away

    quarantine = pd.read_parquet(result.paths["quarantine"])
    assert quarantine["row_number"].tolist() == [2, 4, 5]
    assert set(quarantine["rule"]) == {"duplicate_key"}
    assert [reason.split(": ", 1)[1] for reason in quarantine["reason"]] == [
        "transaction_id 'T1' repeats row 0 (exact copy); the first occurrence is kept",
        "transaction_id 'T2' repeats row 1 (different values); the first occurrence is kept",
        "transaction_id 'T1' repeats row 0 (exact copy); the first occurrence is kept",
    ]
    assert pd.read_parquet(result.paths["transactions"])["transaction_id"].tolist() == ["T1", "T2", "T3", "T4"]
