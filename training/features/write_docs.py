"""``python -m training.features.write_docs``: regenerate docs/FEATURES.md from the catalog."""

from pathlib import Path

from training.features.catalog import render_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "FEATURES.md"

if __name__ == "__main__":
    DOC.write_text(render_markdown())
    print(f"wrote {DOC}")
