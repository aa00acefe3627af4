"""The catalog is the single source: docs/FEATURES.md and the built columns follow it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from features_tiny_world import write_tiny_world

from training.features.build import build_feature_set, build_features
from training.features.catalog import (
    FEATURES,
    ID_COLUMNS,
    LABELS,
    Available,
    Vocabulary,
    all_columns,
    column_dtypes,
    render_markdown,
)
from training.settings import get_settings

DOC = Path(__file__).resolve().parents[3] / "docs" / "FEATURES.md"


def test_docs_features_md_is_up_to_date():
    assert DOC.read_text() == render_markdown(), (
        "docs/FEATURES.md is stale: regenerate it with `python -m training.features.write_docs`"
    )


def test_every_catalog_entry_is_documented_in_plain_words_with_its_inputs():
    catalog = (*ID_COLUMNS, *FEATURES, *LABELS)
    names = [c.name for c in catalog]
    assert len(names) == len(set(names)), "duplicate column names in the catalog"
    for spec in catalog:
        assert spec.description and spec.how and spec.needs, spec.name
        assert f"`{spec.name}`" in render_markdown()
    doc = render_markdown()
    assert "| `tenure_days` | int64 | profile | customers.signup_date |" in doc
    assert "| `sessions_30d` | int64 | engagement | events (customer_id, session_ts) |" in doc


def test_built_columns_and_dtypes_equal_the_catalog_for_the_data(tmp_path):
    built = build_feature_set(write_tiny_world(tmp_path / "clean"), [date(2024, 3, 1)], 30, get_settings())
    vocabulary = Vocabulary.from_dict(built.meta["vocabulary"])
    # learned from the data: the tiny world sells three categories through three channels
    assert vocabulary.categories == ("electronics", "fashion", "home")
    assert vocabulary.channels == ("app", "store", "web")
    assert vocabulary.attributes == ("region", "acquisition_channel", "age_band", "plan")
    expected = all_columns(Available.everything(vocabulary))
    assert list(built.frame.columns) == [c.name for c in expected]
    assert {c: str(t) for c, t in built.frame.dtypes.items()} == column_dtypes(expected)
    assert len(built.meta["features"]) == 45 - 5  # the generated world's 45, minus five unsold categories


def test_features_whose_inputs_are_absent_are_left_out(tmp_path):
    clean = write_tiny_world(tmp_path / "clean")
    for table in ("events", "products", "customers"):
        (clean / f"{table}.parquet").unlink()
    frame = build_features(clean, [date(2024, 3, 1)], 30, get_settings())
    assert "tenure_days" not in frame.columns and "sessions_30d" not in frame.columns
    assert "orders_trend_30d" not in frame.columns and "region" not in frame.columns
    assert {"recency_days", "frequency", "monetary_total", "cat_share_fashion", "channel_share_web"} <= set(frame)
    # without a signup date the customers are those with an order before the cutoff (E buys later)
    assert frame["customer_id"].tolist() == ["A", "B", "C"]
