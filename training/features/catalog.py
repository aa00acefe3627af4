"""The one list of crmlab's customer features, labels and id columns.

Every column ``build_features`` writes is declared here with its meaning in plain words, so a CRM
engineer can recompute it in their own system. ``render_markdown`` produces docs/FEATURES.md; a test
keeps that file, this list and the built columns in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Dtype = Literal["string", "int64", "float64", "boolean", "datetime64[ns]"]

CATEGORIES: tuple[str, ...] = ("electronics", "fashion", "home", "beauty", "grocery", "sports", "books", "toys")
CHANNELS: tuple[str, ...] = ("web", "app", "store")
PROFILE_COLUMNS: tuple[str, ...] = ("region", "acquisition_channel", "age_band", "plan")
WINDOWS: tuple[int, ...] = (30, 90)


@dataclass(frozen=True)
class FeatureSpec:
    """One output column: its pandas dtype, group, meaning and how to compute it."""

    name: str
    dtype: Dtype
    group: str
    description: str
    how: str


_ORDER = ("An *order* is all transaction lines of a customer with the same `order_ts`; amounts are "
          "cleaned (see Cleaning) before summing.")

ID_COLUMNS: tuple[FeatureSpec, ...] = (
    FeatureSpec("customer_id", "string", "id", "Customer key from the clean customers table.",
                "Copied. Only customers whose `signup_date` is before the cutoff date get a row."),
    FeatureSpec("cutoff", "datetime64[ns]", "id", "Point in time the row describes (a date, at 00:00).",
                "Features use only rows with a timestamp strictly before the cutoff; labels use "
                "[cutoff, cutoff + horizon)."),
)


def _profile() -> tuple[FeatureSpec, ...]:
    specs = tuple(
        FeatureSpec(col, "string", "profile", f"Customer's `{col}` as recorded in the CRM.",
                    f"Copied from customers.{col}. Null or `missing` stays `missing` "
                    "(impute_categorical=missing) or becomes the most frequent value among customers "
                    "signed up before the cutoff (impute_categorical=mode).")
        for col in PROFILE_COLUMNS
    )
    return (*specs, FeatureSpec(
        "tenure_days", "int64", "profile", "Days the customer has been signed up.",
        "cutoff date - signup_date, in whole days (signed up the day before the cutoff = 1)."))


_RFM: tuple[FeatureSpec, ...] = (
    FeatureSpec("recency_days", "float64", "rfm", "Days since the last order.",
                "cutoff date - date of the last order before the cutoff, in whole days (an order the day "
                "before = 1). Empty (NaN) when the customer has no order before the cutoff."),
    FeatureSpec("frequency", "int64", "rfm", "Number of orders before the cutoff.",
                f"Count of orders with order_ts < cutoff. {_ORDER} 0 when none."),
    FeatureSpec("monetary_total", "float64", "rfm", "Total spend before the cutoff.",
                "Sum of cleaned line amounts with order_ts < cutoff. 0 when none."),
    FeatureSpec("monetary_mean", "float64", "rfm", "Average spend per order.",
                "monetary_total / frequency. NaN when frequency = 0."),
    FeatureSpec("units_per_order", "float64", "rfm", "Average units bought per order.",
                "Sum of cleaned line quantities before the cutoff / frequency. NaN when frequency = 0."),
    FeatureSpec("r_score", "int64", "rfm", "Recency quintile among this cutoff's buyers (5 = most recent).",
                "Among customers with frequency > 0 at this cutoff, sort by recency_days descending; with "
                "rank = 1-based position (ties share the lowest) and n = number of such customers, "
                "score = 1 + floor(5 * (rank - 1) / n). 0 when frequency = 0."),
    FeatureSpec("f_score", "int64", "rfm", "Frequency quintile among this cutoff's buyers (5 = most orders).",
                "As r_score, sorting by frequency ascending. 0 when frequency = 0."),
    FeatureSpec("m_score", "int64", "rfm", "Monetary quintile among this cutoff's buyers (5 = highest spend).",
                "As r_score, sorting by monetary_total ascending. 0 when frequency = 0."),
    FeatureSpec("rfm_score", "int64", "rfm", "Combined RFM score (3-15; higher = better customer).",
                "r_score + f_score + m_score. 0 when frequency = 0."),
)

_TIMING: tuple[FeatureSpec, ...] = (
    FeatureSpec("days_since_first_order", "float64", "timing", "Days since the first order.",
                "cutoff date - date of the first order before the cutoff, in whole days. NaN when none."),
    FeatureSpec("ipt_mean_days", "float64", "timing", "Mean time between consecutive orders, in days.",
                "Sort the customer's orders before the cutoff by order_ts; gaps = differences between "
                "consecutive order timestamps in days (fractional); mean of the gaps. NaN with < 2 orders."),
    FeatureSpec("ipt_std_days", "float64", "timing", "Spread of the time between orders, in days.",
                "Sample standard deviation (n - 1) of the same gaps. NaN with < 3 orders."),
)


def _trend_how(value: str, window: int, total: str) -> str:
    return (f"{value} / (earlier {total} scaled to {window} days), where earlier {total} = ({total} before "
            f"cutoff - {window} days) * {window} / (days from signup_date to cutoff - {window} days). NaN "
            f"when that span is shorter than {window} days or the earlier {total} is 0. "
            "1 = steady, < 1 = slowing down, > 1 = speeding up.")


def _trends() -> tuple[FeatureSpec, ...]:
    specs: list[FeatureSpec] = []
    for w in WINDOWS:
        specs += [
            FeatureSpec(f"orders_{w}d", "int64", "trend", f"Orders in the last {w} days.",
                        f"Count of orders with cutoff - {w} days <= order_ts < cutoff."),
            FeatureSpec(f"spend_{w}d", "float64", "trend", f"Spend in the last {w} days.",
                        f"Sum of cleaned amounts with cutoff - {w} days <= order_ts < cutoff; 0 when none."),
        ]
    for w in WINDOWS:
        specs += [
            FeatureSpec(f"orders_trend_{w}d", "float64", "trend",
                        f"Orders in the last {w} days relative to the customer's earlier pace.",
                        _trend_how(f"orders_{w}d", w, "orders")),
            FeatureSpec(f"spend_trend_{w}d", "float64", "trend",
                        f"Spend in the last {w} days relative to the customer's earlier pace.",
                        _trend_how(f"spend_{w}d", w, "spend")),
        ]
    return tuple(specs)


def _category_mix() -> tuple[FeatureSpec, ...]:
    specs = tuple(
        FeatureSpec(f"cat_share_{c}", "float64", "category", f"Share of spend on {c}.",
                    f"Sum of cleaned amounts of lines in category `{c}` before the cutoff / monetary_total. "
                    "A line's category is transactions.category, or the product's category when that is "
                    "null/`missing`. NaN when monetary_total = 0.")
        for c in CATEGORIES
    )
    return (*specs, FeatureSpec(
        "n_categories", "int64", "category", "Number of catalog categories bought.",
        "Count of catalog categories with positive spend before the cutoff (0-8)."))


def _channel_mix() -> tuple[FeatureSpec, ...]:
    return tuple(
        FeatureSpec(f"channel_share_{c}", "float64", "channel", f"Share of order lines bought via {c}.",
                    f"Transaction lines before the cutoff with channel `{c}` / all lines before the cutoff. "
                    "NaN when there are none.")
        for c in CHANNELS
    )


def _engagement() -> tuple[FeatureSpec, ...]:
    specs: list[FeatureSpec] = []
    for w in WINDOWS:
        specs += [
            FeatureSpec(f"sessions_{w}d", "int64", "engagement", f"Web/app sessions in the last {w} days.",
                        f"Count of events rows with cutoff - {w} days <= session_ts < cutoff."),
            FeatureSpec(f"page_views_{w}d", "int64", "engagement", f"Page views in the last {w} days.",
                        "Sum of events.page_views over the same sessions; 0 when none."),
            FeatureSpec(f"cart_adds_{w}d", "int64", "engagement", f"Cart additions in the last {w} days.",
                        "Sum of events.cart_adds over the same sessions; 0 when none."),
        ]
    return (*specs,
            FeatureSpec("days_since_last_session", "float64", "engagement", "Days since the last session.",
                        "cutoff date - date of the last session before the cutoff, in whole days. NaN when "
                        "there is no session before the cutoff."),
            FeatureSpec("sessions_trend_90d", "float64", "engagement",
                        "Sessions in the last 90 days relative to the customer's earlier pace.",
                        _trend_how("sessions_90d", 90, "sessions")))


FEATURES: tuple[FeatureSpec, ...] = (
    *_profile(), *_RFM, *_TIMING, *_trends(), *_category_mix(), *_channel_mix(), *_engagement(),
)

LABELS: tuple[FeatureSpec, ...] = (
    FeatureSpec("churned", "boolean", "label", "No purchase in the horizon after the cutoff.",
                "True when the customer has no transaction line with cutoff <= order_ts < cutoff + horizon, "
                "False when they have one. Defined only for customers with at least one order in the "
                "active window (cutoff - active_window_days <= order_ts < cutoff); empty otherwise."),
    FeatureSpec("future_spend", "float64", "label", "Spend in the horizon after the cutoff.",
                "Sum of amounts with cutoff <= order_ts < cutoff + horizon, cleaned with the parameters "
                "fitted before the cutoff (same scale as monetary_total). 0 when none."),
)

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
LABEL_NAMES: tuple[str, ...] = tuple(f.name for f in LABELS)
ID_NAMES: tuple[str, ...] = tuple(f.name for f in ID_COLUMNS)
ALL_COLUMNS: tuple[FeatureSpec, ...] = (*ID_COLUMNS, *FEATURES, *LABELS)
CATEGORICAL_FEATURES: tuple[str, ...] = tuple(f.name for f in FEATURES if f.dtype == "string")


def column_dtypes() -> dict[str, str]:
    """Column -> pandas dtype for every output column, in output order."""
    return {f.name: ("object" if f.dtype == "string" else f.dtype) for f in ALL_COLUMNS}


_CLEANING_DOC = """\
## Cleaning (fitted per cutoff, on rows before the cutoff only)

Set by `CRMLAB_IMPUTE_NUMERIC`, `CRMLAB_IMPUTE_CATEGORICAL`, `CRMLAB_OUTLIERS`, `CRMLAB_IQR_K`,
`CRMLAB_ZSCORE_MAX` (see `training/cleaning.py`). For each cutoff, statistics are computed on
transactions with `order_ts < cutoff` (customers: `signup_date < cutoff`) and then applied to every row
used for that cutoff, including the label window. The fitted values are recorded per cutoff in
`features_meta.json` under `cleaning`.

- `amount`: null -> median (impute_numeric=median); then clipped to [Q1 - k*IQR, Q3 + k*IQR]
  (outliers=iqr, k = iqr_k) or [mean - z*std, mean + z*std] (outliers=zscore, z = zscore_max).
- `quantity`: null -> median (an observed value, so it stays whole).
- `category`, `channel`, profile columns: null/`missing` -> `missing` or the most frequent value
  (impute_categorical=mode; ties go to the alphabetically first value).
"""


def render_markdown() -> str:
    """docs/FEATURES.md, generated from this catalog."""
    lines = [
        "# crmlab features",
        "",
        "<!-- Generated by training.features.catalog.render_markdown(); do not edit by hand. -->",
        "",
        "`crmlab features --data CLEAN_DIR --cutoff DATE[,DATE...] --horizon-days H --out DIR` writes",
        "`DIR/features.parquet`: one row per (customer_id, cutoff). Features use only data strictly before",
        "the cutoff; labels use the window [cutoff, cutoff + H).",
        _ORDER,
        "Days are counted between calendar dates unless stated otherwise. RFM quintiles rank the customers",
        "of the same cutoff, so they are comparable within a cutoff, not across cutoffs.",
        "",
    ]
    sections = (("Id columns", ID_COLUMNS), ("Features", FEATURES), ("Labels", LABELS))
    for title, specs in sections:
        lines += [f"## {title}", "", "| column | dtype | group | meaning | how to compute |", "|---|---|---|---|---|"]
        lines += [f"| `{s.name}` | {s.dtype} | {s.group} | {s.description} | {s.how} |" for s in specs]
        lines.append("")
    lines.append(_CLEANING_DOC)
    return "\n".join(lines)

