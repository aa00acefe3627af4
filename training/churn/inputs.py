"""The two ways in, turned into one ``ChurnData``: crmlab features, or a user's own table.

- ``--features DIR``: ``features.parquet`` (one row per customer_id x cutoff) + ``features_meta.json``.
  Features are the meta's list when it gives one, else every column except keys and labels. Rows whose
  ``churned`` label is null (no purchase in the active window before the cutoff) are not used.
- ``--table PATH --target COL --id COL``: see ``training.core.tabular`` (types inferred and reported).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from training.core.tabular import TableSchema, load_table

ID = "customer_id"
CUTOFF = "cutoff"
LABEL = "churned"
NON_FEATURES = frozenset({ID, CUTOFF, LABEL, "future_spend"})


class ChurnInputError(ValueError):
    """Input that cannot train a churn model; the message says what to do."""


@dataclass
class ChurnData:
    frame: pd.DataFrame          # model-ready features + LABEL (0/1) + ID (+ CUTOFF), labelled rows only
    raw: pd.DataFrame            # what the served model receives for the same rows (same index)
    features: list[str]
    categorical: list[str]
    source: str
    time_col: str | None = None
    horizon_days: int | None = None
    schema: TableSchema | None = None
    notes: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # feature -> readable name (for reasons)
    # columns never null in the whole input, unlabelled rows included (e.g. customers with no order yet,
    # who are scored in production even though they carry no churn label)
    complete_in_all_rows: frozenset[str] | None = None

    @property
    def window(self) -> str:
        if self.time_col is None:
            return "single snapshot (no cutoff column)"
        cutoffs = pd.to_datetime(self.frame[self.time_col])
        horizon = f", label horizon {self.horizon_days} days" if self.horizon_days else ""
        return (f"cutoffs {cutoffs.min().date()} .. {cutoffs.max().date()} "
                f"({cutoffs.nunique()} cutoff(s)){horizon}")


def from_features_dir(features_dir: str | Path) -> ChurnData:
    """crmlab features -> ChurnData (labels as 0/1; unlabelled rows reported and left out)."""
    from training.core.feature_meta import read_features_dir

    features_dir = Path(features_dir)
    path = features_dir / "features.parquet"
    try:
        frame, meta = read_features_dir(features_dir)
    except FileNotFoundError:
        raise ChurnInputError(f"--features {features_dir}: no features.parquet there; run `crmlab features` "
                              "first (or give --table PATH --target COL --id COL)") from None
    missing = [c for c in (ID, LABEL) if c not in frame.columns]
    if missing:
        raise ChurnInputError(f"{path}: missing column(s) {', '.join(missing)}; expected one row per "
                              f"(customer_id, cutoff) with the label {LABEL} (docs/DATA_MODEL.md)")
    notes = []
    complete = frozenset(c for c in frame.columns if frame[c].notna().all())
    unlabelled = frame[LABEL].isna()
    if unlabelled.any():
        notes.append(f"{int(unlabelled.sum())} row(s) with a null {LABEL!r} (no purchase in the active "
                     "window before the cutoff) are not used")
    frame = frame.loc[~unlabelled].copy()
    frame[LABEL] = frame[LABEL].astype(bool).astype(int)
    features, categorical, dropped = _feature_columns(frame, meta)
    notes += dropped
    for col in features:
        if col not in categorical:
            frame[col] = frame[col].astype(float)
        else:
            frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    time_col = CUTOFF if CUTOFF in frame.columns else None
    horizon = meta.get("horizon_days")
    keep = [ID, *([time_col] if time_col else []), *features, LABEL]
    frame = frame[keep].reset_index(drop=True)
    labels = meta.get("labels") if isinstance(meta.get("labels"), dict) else catalog_labels()
    source = f"crmlab features in {features_dir}"
    return ChurnData(frame, frame[features].copy(), features, categorical, source,
                     time_col=time_col, horizon_days=int(horizon) if horizon else None, notes=notes,
                     labels=labels, complete_in_all_rows=complete)


def from_table(path: str | Path, *, target: str, id_col: str, positive: str | None = None) -> ChurnData:
    """A user table -> ChurnData; the inferred schema goes into the model so scoring parses alike."""
    table = load_table(path, target=target, id_col=id_col, positive=positive)
    if not table.schema.features:
        raise ChurnInputError(f"{path}: no usable feature column left after type inference: "
                              + "; ".join(table.report))
    frame = table.features.copy()
    frame.insert(0, ID, table.ids.astype(str).to_numpy())
    frame[LABEL] = table.label.to_numpy()
    frame = frame.reset_index(drop=True)
    raw = table.raw.reset_index(drop=True)
    return ChurnData(frame, raw, table.schema.features, table.schema.categorical,
                     f"table {Path(path).name} (target {target!r} = {table.positive!r})",
                     schema=table.schema, notes=list(table.report))


def _feature_columns(frame: pd.DataFrame, meta: dict) -> tuple[list[str], list[str], list[str]]:
    """Core rule (``training.core.feature_meta.model_inputs``), then churn's own requirements."""
    from training.core.feature_meta import model_inputs

    columns = model_inputs(frame, meta, NON_FEATURES)
    if not columns.features:
        raise ChurnInputError("the features hold no usable feature column (numeric or text)")
    if frame[LABEL].nunique() < 2:
        raise ChurnInputError(f"{LABEL!r} has one class only among {len(frame)} labelled rows: need both "
                              "churned and retained customers (a longer history or another cutoff)")
    return columns.features, columns.categorical, columns.notes


def catalog_labels() -> dict[str, str]:
    """Readable feature names from the features catalog ("Days since the last order." -> "days since the
    last order"); names whose description is not a short plain phrase keep their column name."""
    try:
        from training.features.catalog import FEATURES
    except ImportError:
        return {}
    labels = {}
    for spec in FEATURES:
        text = spec.description.rstrip(".").split(" (")[0]
        if "`" not in text and len(text) <= 45:
            labels[spec.name] = text[:1].lower() + text[1:]
    return labels


def synthetic_features(n: int = 4000, *, seed: int = 0, kind: str = "nonlinear", cutoffs: int = 1,
                       horizon_days: int = 90) -> pd.DataFrame:
    """A features frame with a known churn signal, shaped like ``crmlab features`` output.

    ``kind="nonlinear"``: thresholds and interactions (trees should beat a linear baseline);
    ``kind="linear"``: a logistic signal in the features (the linear baseline is the right model).
    Used by tests and by the FLAML benchmark when no features directory is given.
    """
    rng = np.random.default_rng(seed)
    rows = n // cutoffs
    parts = []
    for c in range(cutoffs):
        cutoff = pd.Timestamp("2024-12-31") - pd.Timedelta(days=horizon_days * (cutoffs - 1 - c))
        recency = rng.gamma(2.0, 40.0, rows)
        frequency = rng.poisson(4.0, rows).astype(float)
        sessions = rng.poisson(6.0, rows).astype(float)
        spend = rng.gamma(2.0, 50.0, rows) * (1 + frequency)
        tenure = rng.uniform(30, 1500, rows)
        region = rng.choice(["north", "south", "east", "west", "central"], rows)
        channel = rng.choice(["organic", "paid_search", "social", "referral", "affiliate", "store"], rows)
        age_band = rng.choice(["18-24", "25-34", "35-44", "45-54", "55-64", "65+"], rows)
        plan = rng.choice(["basic", "plus", "premium"], rows, p=[0.5, 0.3, 0.2])
        if kind == "linear":
            logit = (-0.5 + 0.02 * (recency - 80) - 0.4 * (frequency - 4) - 0.2 * (sessions - 6)
                     - 0.8 * (plan == "premium"))
        else:
            dormant = recency > 120
            logit = (-1.2 + 2.4 * dormant - 1.6 * (dormant & (sessions >= 7)) + 1.2 * (frequency <= 1)
                     + 1.0 * ((plan == "basic") & (sessions <= 3)) - 0.8 * (tenure > 900)
                     + 0.8 * np.sin(spend / 150.0))
        churned = rng.random(rows) < 1 / (1 + np.exp(-logit))
        frame = pd.DataFrame({
            ID: [f"C{i:07d}" for i in range(rows)], CUTOFF: cutoff,
            "recency_days": recency.round(0), "frequency": frequency, "monetary_total": spend.round(2),
            "sessions_90d": sessions, "tenure_days": tenure.round(0),
            "region": region, "acquisition_channel": channel, "age_band": age_band, "plan": plan,
            LABEL: pd.array(churned, dtype="boolean"), "future_spend": np.where(churned, 0.0, spend / 4),
        })
        frame.loc[rng.random(rows) < 0.05, "sessions_90d"] = np.nan  # an optional feature
        frame.loc[rng.random(rows) < 0.03, LABEL] = pd.NA            # unlabelled rows exist
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def write_features_dir(frame: pd.DataFrame, out: str | Path, *, horizon_days: int = 90) -> Path:
    """Write a frame as a features directory (features.parquet + features_meta.json)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out / "features.parquet", index=False)
    features = [c for c in frame.columns if c not in NON_FEATURES]
    meta = {"horizon_days": horizon_days, "feature_columns": features, "source": "synthetic"}
    (out / "features_meta.json").write_text(json.dumps(meta, indent=2))
    return out
