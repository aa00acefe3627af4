"""Scan a tree for raw direct identifiers: shared by every privacy test."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq


def pii_hits(root: Path, pii: list[str], skip: Path | None = None) -> list[str]:
    """Every (file, value) where a raw identifier appears: in the bytes, and in parquet cell text
    (compression could hide a value from a byte search)."""
    needles = [(v, v.encode()) for v in pii]
    hits = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if skip is not None and skip in path.parents:
            continue
        data = path.read_bytes()
        hits += [f"{path.name}: {v}" for v, b in needles if b in data]
        if path.suffix == ".parquet":
            text = pq.read_table(path).to_pandas().astype(str).to_csv()
            hits += [f"{path.name} (cells): {v}" for v, _ in needles if v in text]
    return hits
