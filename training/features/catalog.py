"""The one list of crmlab's customer features, labels and id columns, and the inputs each needs.

Every column ``build_features`` writes is declared here with its meaning in plain words, so a CRM
engineer can recompute it in their own system, and with ``needs``: the tables and roles (schema file,
docs/SCHEMA.md) it is computed from. A feature whose inputs the data lacks is left out, never filled
with zeros. Columns named after values (``cat_share_{category}``, ``channel_share_{channel}``, customer
attributes) are expanded with the vocabulary learned from the data (``Vocabulary``), not a fixed list.
``render_markdown`` produces docs/FEATURES.md; a test keeps that file, this list and the built columns
in step.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

Dtype = Literal["string", "int64", "float64", "boolean", "datetime64[ns]"]

WINDOWS: tuple[int, ...] = (30, 90)
MAX_VOCABULARY = 20  # most frequent values kept per vocabulary (by spend / lines before the cutoff)

# Inputs, as "table.role". ``category`` is a line's category: transactions.category, or the category
# of its product (transactions.product_id + products.category).
TX = ("transactions.customer_id", "transactions.order_ts", "transactions.amount")
SIGNUP = "customers.signup_date"
QUANTITY = "transactions.quantity"
CATEGORY = "category"
CHANNEL = "transactions.channel"
EVENTS = ("events.customer_id", "events.session_ts")
PAGE_VIEWS = "events.page_views"
CART_ADDS = "events.cart_adds"
ATTRIBUTE = "customers.attributes"


@dataclass(frozen=True)
class FeatureSpec:
    """One output column: its pandas dtype, group, meaning, how to compute it and the inputs it needs.

    A ``name`` with ``{category}``, ``{channel}`` or ``{attribute}`` stands for one column per learned value.
    """

    name: str
    dtype: Dtype
    group: str
    description: str
    how: str
    needs: tuple[str, ...] = TX


_ORDER = ("An *order* is all transaction lines of a customer with the same `order_ts`; amounts are "
          "cleaned (see Cleaning) before summing.")

ID_COLUMNS: tuple[FeatureSpec, ...] = (
    FeatureSpec("customer_id", "string", "id", "Customer key.",
                "Copied. Customers get a row at a cutoff when they signed up before it (customers.signup_date), "
                "or, without a signup date, when their first order (or session) is before it."),
    FeatureSpec("cutoff", "datetime64[ns]", "id", "Point in time the row describes (a date, at 00:00).",
                "Features use only rows with a timestamp strictly before the cutoff; labels use "
                "[cutoff, cutoff + horizon)."),
)


def _profile() -> tuple[FeatureSpec, ...]:
    return (
        FeatureSpec("{attribute}", "string", "profile",
                    "A customer attribute the schema lists under customers.attributes, as recorded.",
                    "Copied from customers. Null or `missing` stays `missing` (impute_categorical=missing) or "
                    "becomes the most frequent value among customers signed up before the cutoff "
                    "(impute_categorical=mode). A value first seen after training is scored as missing.",
                    (ATTRIBUTE,)),
        FeatureSpec("tenure_days", "int64", "profile", "Days the customer has been signed up.",
                    "cutoff date - signup_date, in whole days (signed up the day before the cutoff = 1).",
                    (SIGNUP,)),
    )


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
                "Sum of cleaned line quantities before the cutoff / frequency. NaN when frequency = 0.",
                (*TX, QUANTITY)),
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
                        _trend_how(f"orders_{w}d", w, "orders"), (*TX, SIGNUP)),
            FeatureSpec(f"spend_trend_{w}d", "float64", "trend",
                        f"Spend in the last {w} days relative to the customer's earlier pace.",
                        _trend_how(f"spend_{w}d", w, "spend"), (*TX, SIGNUP)),
        ]
    return tuple(specs)


def _category_mix() -> tuple[FeatureSpec, ...]:
    return (
        FeatureSpec("cat_share_{category}", "float64", "category", "Share of spend on one category.",
                    "Sum of cleaned amounts of lines in the category before the cutoff / monetary_total. A line's "
                    "category is transactions.category, or the product's category when that is null/`missing`. "
                    "NaN when monetary_total = 0. One column per category learned before the cutoff.",
                    (*TX, CATEGORY)),
        FeatureSpec("n_categories", "int64", "category", "Number of learned categories bought.",
                    "Count of learned categories with positive spend before the cutoff.", (*TX, CATEGORY)),
    )


def _channel_mix() -> tuple[FeatureSpec, ...]:
    return (
        FeatureSpec("channel_share_{channel}", "float64", "channel", "Share of order lines bought via one channel.",
                    "Transaction lines before the cutoff with that channel / all lines before the cutoff. "
                    "NaN when there are none. One column per channel learned before the cutoff.",
                    (*TX, CHANNEL)),
    )


def _engagement() -> tuple[FeatureSpec, ...]:
    specs: list[FeatureSpec] = []
    for w in WINDOWS:
        specs += [
            FeatureSpec(f"sessions_{w}d", "int64", "engagement", f"Web/app sessions in the last {w} days.",
                        f"Count of events rows with cutoff - {w} days <= session_ts < cutoff.", EVENTS),
            FeatureSpec(f"page_views_{w}d", "int64", "engagement", f"Page views in the last {w} days.",
                        "Sum of events.page_views over the same sessions; 0 when none.", (*EVENTS, PAGE_VIEWS)),
            FeatureSpec(f"cart_adds_{w}d", "int64", "engagement", f"Cart additions in the last {w} days.",
                        "Sum of events.cart_adds over the same sessions; 0 when none.", (*EVENTS, CART_ADDS)),
        ]
    return (*specs,
            FeatureSpec("days_since_last_session", "float64", "engagement", "Days since the last session.",
                        "cutoff date - date of the last session before the cutoff, in whole days. NaN when "
                        "there is no session before the cutoff.", EVENTS),
            FeatureSpec("sessions_trend_90d", "float64", "engagement",
                        "Sessions in the last 90 days relative to the customer's earlier pace.",
                        _trend_how("sessions_90d", 90, "sessions"), (*EVENTS, SIGNUP)))


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

LABEL_NAMES: tuple[str, ...] = tuple(f.name for f in LABELS)
ID_NAMES: tuple[str, ...] = tuple(f.name for f in ID_COLUMNS)
_PLACEHOLDER = re.compile(r"\{(category|channel|attribute)\}")


def slug(value: str) -> str:
    """A column-name-safe form of a data value ("Home & Garden" -> "home_garden")."""
    return re.sub(r"[^a-z0-9]+", "_", str(value).lower()).strip("_") or "blank"


@dataclass(frozen=True)
class Vocabulary:
    """Values learned from the data before the (earliest) cutoff; fixed for every later batch scored by
    the same models, so a value first seen later falls in no column (scored as missing)."""

    categories: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    attributes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, list[str]]:
        return {"categories": list(self.categories), "channels": list(self.channels),
                "attributes": list(self.attributes)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Vocabulary:
        return cls(tuple(data.get("categories", ())), tuple(data.get("channels", ())),
                   tuple(data.get("attributes", ())))

    def columns(self, kind: str) -> dict[str, str]:
        """Column suffix -> value for ``kind`` (category/channel), slugs made unique."""
        values = {"category": self.categories, "channel": self.channels}[kind]
        out: dict[str, str] = {}
        for value in values:
            name = slug(value)
            while name in out:
                name += "_"
            out[name] = value
        return out


@dataclass(frozen=True)
class Available:
    """Which tables and roles the clean data holds, as "table.role" (plus ``category`` and attributes)."""

    inputs: frozenset[str]
    vocabulary: Vocabulary = field(default_factory=Vocabulary)

    def has(self, needs: Iterable[str]) -> bool:
        return all(n in self.inputs for n in needs)

    @classmethod
    def everything(cls, vocabulary: Vocabulary) -> Available:
        """Every input the catalog knows (all four tables with every role), e.g. for a full column list."""
        return cls(frozenset(n for spec in FEATURES for n in spec.needs), vocabulary)


def concrete(spec: FeatureSpec, available: Available) -> tuple[FeatureSpec, ...]:
    """The columns one catalog entry gives on this data: none when an input is absent."""
    if not available.has(spec.needs):
        return ()
    match = _PLACEHOLDER.search(spec.name)
    if match is None:
        return (spec,)
    kind = match.group(1)
    if kind == "attribute":
        values = {a: a for a in available.vocabulary.attributes}
    else:
        values = available.vocabulary.columns(kind)
    return tuple(replace(spec, name=spec.name.replace(match.group(0), suffix),
                         description=spec.description.replace("one category", f"`{v}`").replace(
                             "one channel", f"`{v}`").replace("A customer attribute", f"Customer attribute `{v}`"))
                 for suffix, v in values.items())


def feature_specs(available: Available) -> tuple[FeatureSpec, ...]:
    """The features this data supports, in catalog order."""
    return tuple(c for spec in FEATURES for c in concrete(spec, available))


def all_columns(available: Available) -> tuple[FeatureSpec, ...]:
    return (*ID_COLUMNS, *feature_specs(available), *LABELS)


def column_dtypes(specs: Iterable[FeatureSpec]) -> dict[str, str]:
    """Column -> pandas dtype for the given output columns, in order."""
    return {f.name: ("object" if f.dtype == "string" else f.dtype) for f in specs}


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
- `category`, `channel`, customer attributes: null/`missing` -> `missing` or the most frequent value
  (impute_categorical=mode; ties go to the alphabetically first value).

## Vocabularies

Categories, channels and customer attributes are not fixed lists: categories are the values of the
cleaned line category with spend before the earliest cutoff of a build (at most 20, by spend), channels
the values with lines before it (at most 20, by lines), attributes the columns the schema lists under
`customers.attributes`. The vocabulary is recorded in `features_meta.json`; `crmlab features
--vocabulary-from TRAINING_FEATURES_DIR` (as `crmlab main` does for the current batch) reuses the
training vocabulary, so a value first seen later counts in no share column (scored as missing).
Column names are the values in lower case with other characters as `_`.
"""


def _needs_text(needs: tuple[str, ...]) -> str:
    shown = ["transactions (customer_id, order_ts, amount)" if n == TX[0] else
             "category (transactions.category, or transactions.product_id + products.category)" if n == CATEGORY else
             "customers.attributes" if n == ATTRIBUTE else n
             for n in needs if n not in TX[1:] and n not in EVENTS[1:]]
    return ", ".join("events (customer_id, session_ts)" if n == EVENTS[0] else n for n in shown)


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
        "**Features follow the data.** The column *needs* lists the tables and roles (docs/SCHEMA.md) a",
        "feature is computed from; when the schema does not declare one of them the feature is left out of",
        "the table (never filled with zeros), and the models train on the features that exist. With a",
        "transaction log only (customer, date, amount), the RFM, timing and recent-window features remain.",
        "",
    ]
    sections = (("Id columns", ID_COLUMNS), ("Features", FEATURES), ("Labels", LABELS))
    for title, specs in sections:
        lines += [f"## {title}", "", "| column | dtype | group | needs | meaning | how to compute |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| `{s.name}` | {s.dtype} | {s.group} | {_needs_text(s.needs)} | {s.description} | {s.how} |"
                  for s in specs]
        lines.append("")
    lines.append(_CLEANING_DOC)
    return "\n".join(lines)

