"""The two ways in, turned into one ``ChurnData``: crmlab features, or a user's own table.

- ``--features DIR``: ``features.parquet`` (one row per customer_id x cutoff) + ``features_meta.json``.
  Features are the meta's list when it gives one, else every column except keys and labels. Rows whose
  ``churned`` label is null (no purchase in the active window before the cutoff) are not used.
- ``--table PATH --target COL --id COL``: see ``training.core.tabular`` (types inferred and reported).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

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
