"""Which feature columns define a customer's segment, and how they are read.

Clustering distances are only as meaningful as the columns behind them, so the choice is explicit:

* **RFM** (``recency_days``, ``orders_per_year``, ``spend_per_year``, ``monetary_mean``, ``tenure_days``):
  the backbone of every customer-value segmentation. ``frequency`` and ``monetary_total`` are lifetime
  totals, which mix *how long* someone has been a customer with *how intensely* they buy (three years at
  10 orders a year looks like one year at 30); so they enter as annualised rates over the tenure, with
  tenures under a year counted as a year (``ANNUALISE_MIN_DAYS``: a two-week-old customer's single order
  is not extrapolated to 26 a year). ``recency_days``, ``frequency`` and ``monetary_total`` are required.
* **Engagement** counts (``sessions_<w>d``, ``page_views_<w>d``, ``cart_adds_<w>d``): browsers vs buyers.
* **Category mix** (``cat_share_*``) and **channel mix** (``channel_share_*``), already in [0, 1]: what
  and where people buy.
* **Profile** attributes the schema file declares as ranked (``customers.ordinal``, e.g. ``plan``,
  ``age_band``) as their ranks (0, 1, ...): they have a natural order, which no vocabulary learned from
  the data could tell. The ranks come from ``features_meta.json`` (``ordinal``), never from constants here.

Left out of the distance, on purpose:

* labels (``churned``, ``future_spend``): they look into the future of the cutoff (leakage);
* nominal profile fields (``region``, ``acquisition_channel``): one-hot columns dominate Euclidean
  distance and yield "the north region" as a segment; personas still describe them;
* inter-purchase statistics, 30/90-day trends, ``days_since_last_session``: undefined (NaN) or noisy
  for one-time buyers and largely implied by recency, frequency and the engagement counts;
* derived RFM quintile scores (``r_score`` ...), ``units_per_order``, ``n_categories``, windowed
  ``orders_<w>d``/``spend_<w>d``: re-expressions of the columns above that would double their weight.

Money and count columns are heavy-tailed, so they are ``log1p``-transformed (``FeatureSpec.log_columns``).

Gaps with a meaning are filled by their meaning before anything else (``structural_fill``): a customer
without orders has ``recency_days`` NaN (-> ``tenure_days``: nothing bought since signup), ``monetary_mean``
NaN (-> 0) and spend shares NaN (-> 0). Any other gap is imputed with the training median.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

ID_COLUMNS = ("customer_id", "cutoff")
LABEL_COLUMNS = ("churned", "future_spend")
RFM_COLUMNS = ("recency_days", "frequency", "monetary_total", "monetary_mean", "tenure_days")
REQUIRED_COLUMNS = ("recency_days", "frequency", "monetary_total")
NOMINAL_PROFILE = ("region", "acquisition_channel")
_ENGAGEMENT = re.compile(r"^(sessions|page_views|cart_adds)_\d+d$")
_CATEGORY_SHARE = re.compile(r"^(cat|category)_share_")
_CHANNEL_SHARE = re.compile(r"^channel_share_")
_LOGGED = re.compile(r"^(recency_days|frequency|monetary_total|monetary_mean|orders_per_year|spend_per_year)$"
                     r"|^(sessions|page_views|cart_adds)_")
# model-space column -> lifetime total it annualises over tenure_days
ANNUALISED = {"orders_per_year": "frequency", "spend_per_year": "monetary_total"}
ANNUALISE_MIN_DAYS = 365.0


class SegmentationInputError(ValueError):
    """Input that cannot be segmented; the message names the column/row and what to do next."""


@dataclass(frozen=True)
class FeatureSpec:
    """The model-space columns by group, which ones are log-transformed, and the input columns they need."""

    groups: dict[str, tuple[str, ...]]
    log_columns: tuple[str, ...]
    ordinal: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def columns(self) -> tuple[str, ...]:
        """Model-space columns (annualised rates instead of lifetime totals)."""
        return tuple(c for cols in self.groups.values() for c in cols)

    @property
    def inputs(self) -> tuple[str, ...]:
        """Feature columns a scoring payload must carry to compute ``columns``."""
        needed: list[str] = []
        for col in self.columns:
            for source in ((ANNUALISED[col], "tenure_days") if col in ANNUALISED else (col,)):
                if source not in needed:
                    needed.append(source)
        return tuple(needed)


def read_features(features_dir: str | Path) -> pd.DataFrame:
    """``features.parquet`` of a features dir, keeping the latest cutoff when several are stacked."""
    from training.core.feature_meta import read_features_dir

    try:
        frame, meta = read_features_dir(Path(features_dir))
    except FileNotFoundError:
        raise SegmentationInputError(
            f"{Path(features_dir) / 'features.parquet'} does not exist: "
            f"run `crmlab features --cutoff DATE --out {features_dir}` first."
        ) from None
    if meta:
        frame.attrs["features_meta"] = meta
    return latest_cutoff(frame)


def latest_cutoff(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of the most recent cutoff: segments describe customers *now*, one row per customer."""
    if "cutoff" in frame.columns and frame["cutoff"].nunique(dropna=True) > 1:
        frame = frame.loc[frame["cutoff"] == frame["cutoff"].max()]
    frame = frame.reset_index(drop=True)
    if "customer_id" in frame.columns and frame["customer_id"].duplicated().any():
        row = int(np.flatnonzero(frame["customer_id"].duplicated().to_numpy())[0])
        raise SegmentationInputError(
            f"customer_id is duplicated within one cutoff (first at row {row}): "
            "features must hold one row per (customer_id, cutoff); rebuild them with `crmlab features`."
        )
    return frame


def ordinal_ranks(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Attribute -> value -> rank, as declared in the schema file and recorded in the features' metadata
    (``frame.attrs["features_meta"]["ordinal"]``); empty when none is declared."""
    declared = frame.attrs.get("features_meta", {}).get("ordinal", {}) or {}
    return {column: {str(v): float(rank) for rank, v in enumerate(values)} for column, values in declared.items()}


def select_features(frame: pd.DataFrame) -> FeatureSpec:
    """The segmentation columns present in ``frame`` (see the module docstring for the rule)."""
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise SegmentationInputError(
            f"features lack required column(s) {missing}: segmentation needs RFM features; "
            "build them with `crmlab features`."
        )
    ranked = ordinal_ranks(frame)
    numeric = [c for c in frame.columns if c not in LABEL_COLUMNS and pd.api.types.is_numeric_dtype(frame[c])
               and not pd.api.types.is_bool_dtype(frame[c])]
    rfm = tuple(c for c in RFM_COLUMNS if c in numeric)
    if "tenure_days" in rfm:
        rfm = tuple(next((rate for rate, total in ANNUALISED.items() if total == c), c) for c in rfm)
    groups = {
        "rfm": rfm,
        "engagement": tuple(c for c in numeric if _ENGAGEMENT.search(c)),
        "category_mix": tuple(c for c in numeric if _CATEGORY_SHARE.search(c)),
        "channel_mix": tuple(c for c in numeric if _CHANNEL_SHARE.search(c)),
        "profile": tuple(c for c in ranked if c in frame.columns),
    }
    groups = {name: cols for name, cols in groups.items() if cols}
    selected = [c for cols in groups.values() for c in cols]
    log_columns = tuple(c for c in selected if _LOGGED.search(c))
    return FeatureSpec(groups=groups, log_columns=log_columns,
                       ordinal={c: ranked[c] for c in groups.get("profile", ())})


def structural_fill(raw: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Fill the gaps that mean "no orders yet" (see the module docstring); other NaN stay for the median."""
    cols = {c: j for j, c in enumerate(spec.columns)}
    if "recency_days" in cols and "tenure_days" in cols:
        r, t = cols["recency_days"], cols["tenure_days"]
        raw[:, r] = np.where(np.isnan(raw[:, r]), raw[:, t], raw[:, r])
    zero_when_missing = ["monetary_mean", *spec.groups.get("category_mix", ()), *spec.groups.get("channel_mix", ())]
    for col in zero_when_missing:
        if col in cols:
            raw[:, cols[col]] = np.nan_to_num(raw[:, cols[col]], nan=0.0)
    return raw


def numeric_matrix(frame: pd.DataFrame, spec: FeatureSpec) -> np.ndarray:
    """The model-space columns as float64: ordinal profile fields mapped to numbers (unknown -> NaN),
    lifetime totals annualised. Raises on negative money/count inputs, naming the column and first row.
    """
    missing = [c for c in spec.inputs if c not in frame.columns]
    if missing:
        raise SegmentationInputError(
            f"input lacks column(s) {missing} that the segmentation model was trained on; "
            "score with features built by the same `crmlab features` version."
        )
    out = np.empty((len(frame), len(spec.columns)), dtype=np.float64)
    for j, col in enumerate(spec.columns):
        if col in spec.ordinal:
            out[:, j] = _ordinal(frame[col], col, spec.ordinal[col])
        elif col in ANNUALISED:
            total = _numbers(frame, ANNUALISED[col], logged=True)
            tenure = np.maximum(_numbers(frame, "tenure_days", logged=False), ANNUALISE_MIN_DAYS)
            out[:, j] = total / tenure * 365.0
        else:
            out[:, j] = _numbers(frame, col, logged=col in spec.log_columns)
    return out


def _ordinal(values: pd.Series, col: str, mapping: dict[str, float]) -> np.ndarray:
    """Profile text -> its rank (unknown or null -> NaN); a value that is not text names the column."""
    try:
        if values.dtype == object:
            return values.map(mapping).to_numpy(dtype="float64", na_value=np.nan)
        return values.astype("string").map(mapping).astype("float64").to_numpy()
    except (TypeError, ValueError):
        raise SegmentationInputError(f"column {col!r} holds values that are not text categories; fix the "
                                     "features input.") from None


def _numbers(frame: pd.DataFrame, col: str, *, logged: bool) -> np.ndarray:
    try:
        values = frame[col]
        if pd.api.types.is_float_dtype(values):
            values = values.to_numpy(dtype="float64")
        else:
            values = pd.to_numeric(values, errors="raise").astype("float64").to_numpy()
    except (ValueError, TypeError, OverflowError):  # the library's text would quote the value
        raise SegmentationInputError(f"column {col!r} is not numeric; fix the features input.") from None
    if logged:
        negative = np.flatnonzero(values < 0)
        if negative.size:
            raise SegmentationInputError(
                f"column {col!r} has a negative value at row {int(negative[0])} "
                f"({negative.size} rows in total): money/count features must be >= 0; "
                "check the features build (refunds should be netted before features)."
            )
    return values
