"""Feature files on disk: ``features.parquet`` plus ``features_meta.json`` describing how it was built."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

FEATURES_FILE = "features.parquet"
META_FILE = "features_meta.json"


@dataclass(frozen=True)
class FeatureFiles:
    parquet: Path
    meta: Path


def write_features(df: pd.DataFrame, out_dir: Path, meta: dict[str, Any]) -> FeatureFiles:
    """Write the table and its metadata (cutoffs, horizon, feature list, cleaning per cutoff, data hash)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = FeatureFiles(parquet=out / FEATURES_FILE, meta=out / META_FILE)
    df.to_parquet(files.parquet, index=False)
    full = {**meta, "rows": len(df), "columns": {c: str(t) for c, t in df.dtypes.items()}}
    files.meta.write_text(json.dumps(full, indent=2, sort_keys=False, default=str) + "\n")
    return files


def read_features(out_dir: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The table (catalog dtypes restored) and its metadata, as written by ``write_features``."""
    import pandas as pd

    out = Path(out_dir)
    parquet = out / FEATURES_FILE if out.is_dir() else out
    if not parquet.exists():
        raise FileNotFoundError(f"{parquet} not found: run `crmlab features --out {out}` first.")
    meta_path = parquet.with_name(META_FILE)
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    frame = pd.read_parquet(parquet)
    for column, dtype in meta.get("columns", {}).items():
        if column in frame.columns:
            # a table not written by crmlab may not fit the catalog dtype: keep what it holds
            with contextlib.suppress(TypeError, ValueError):
                frame[column] = frame[column].astype(dtype)
    return frame, meta
