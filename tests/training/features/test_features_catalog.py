"""The catalog is the single source: docs/FEATURES.md and the built columns follow it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from features_tiny_world import write_tiny_world

from training.features.build import build_features
from training.features.catalog import ALL_COLUMNS, FEATURES, column_dtypes, render_markdown
from training.settings import get_settings

DOC = Path(__file__).resolve().parents[3] / "docs" / "FEATURES.md"


def test_docs_features_md_is_up_to_date():
    assert DOC.read_text() == render_markdown(), (
        "docs/FEATURES.md is stale: regenerate it with `python -m training.features.write_docs`"
    )


def test_every_catalog_entry_is_documented_in_plain_words():
    names = [c.name for c in ALL_COLUMNS]
    assert len(names) == len(set(names)), "duplicate column names in the catalog"
    for spec in ALL_COLUMNS:
        assert spec.description and spec.how, spec.name
        assert f"`{spec.name}`" in render_markdown()


def test_built_columns_and_dtypes_equal_the_catalog(tmp_path):
    frame = build_features(write_tiny_world(tmp_path / "clean"), [date(2024, 3, 1)], 30, get_settings())
    assert list(frame.columns) == [c.name for c in ALL_COLUMNS]
    assert {c: str(t) for c, t in frame.dtypes.items()} == column_dtypes()
    assert len(FEATURES) == 45
