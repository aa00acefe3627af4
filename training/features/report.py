"""What a feature build reports: per-cutoff label rates, null rates, a describe() summary.

Identifiers are left out of every summary, so nothing customer-level reaches MLflow.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from training.features.catalog import ID_NAMES, LABEL_NAMES

if TYPE_CHECKING:
    import pandas as pd


def feature_metrics(df: pd.DataFrame) -> dict[str, float]:
    """Rows, churn rate, labelled share and mean future spend overall and per cutoff; null rate per feature."""
    metrics = _label_metrics(df, "")
    for cutoff, part in df.groupby("cutoff", sort=True):
        metrics |= _label_metrics(part, f"cutoff_{cutoff:%Y-%m-%d}/")
    nulls = df[[c for c in df.columns if c not in ID_NAMES and c not in LABEL_NAMES]].isna().mean()
    metrics |= {f"null_rate/{name}": float(rate) for name, rate in nulls.items()}
    return {k: v for k, v in metrics.items() if not math.isnan(v)}


def _label_metrics(df: pd.DataFrame, prefix: str) -> dict[str, float]:
    churned = df["churned"]
    return {
        f"{prefix}rows": float(len(df)),
        f"{prefix}churn_labelled_share": float(churned.notna().mean()) if len(df) else math.nan,
        f"{prefix}churn_rate": float(churned.dropna().astype(float).mean()) if churned.notna().any() else math.nan,
        f"{prefix}mean_future_spend": float(df["future_spend"].mean()) if len(df) else math.nan,
    }


def feature_summary(df: pd.DataFrame) -> pd.DataFrame:
    """describe() of every feature and label (ids excluded), with the null rate, one row per column."""
    import pandas as pd

    columns = [c for c in df.columns if c not in ID_NAMES]
    numeric = [c for c in columns if pd.api.types.is_numeric_dtype(df[c]) and df[c].dtype != "boolean"]
    summary = df[numeric].describe().T
    others = [c for c in columns if c not in numeric]
    if others:
        summary = pd.concat([summary, df[others].astype("string").describe().T])
    summary.insert(0, "null_rate", df[columns].isna().mean())
    summary.index.name = "column"
    return summary.loc[columns]


def summary_markdown(summary: pd.DataFrame) -> str:
    """The summary as a Markdown table (no extra dependency)."""
    cols = [str(c) for c in summary.columns]
    lines = ["| column | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, row in summary.iterrows():
        lines.append(f"| {name} | " + " | ".join(_cell(v) for v in row.tolist()) + " |")
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def write_summary(df: pd.DataFrame, out_dir: Path) -> dict[str, Path]:
    """feature_summary.csv and feature_summary.md in ``out_dir``."""
    summary = feature_summary(df)
    paths = {"csv": Path(out_dir) / "feature_summary.csv", "md": Path(out_dir) / "feature_summary.md"}
    summary.to_csv(paths["csv"])
    paths["md"].write_text("# Feature summary\n\n" + summary_markdown(summary))
    return paths

