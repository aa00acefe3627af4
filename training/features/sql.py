"""The feature query for one cutoff: one DuckDB statement over the clean parquet files.

Shape, chosen for speed: a few narrow GROUP BY customer_id "blocks", each over only the slice of rows
it needs (history before the cutoff, the last 90 days, the label window [cutoff, cutoff + horizon)),
so wide aggregates never run over rows that cannot contribute; transaction lines are cleaned inline
with the parameters fitted before the cutoff. Orders (distinct customer_id, order_ts) and the gap to
the previous order come from one window over two narrow columns. Everything is LEFT JOINed onto the
customers signed up before the cutoff; RFM quintiles rank this cutoff's buyers. Output expressions
are keyed by catalog name, so the query's columns are the catalog by construction.

The statement follows the data: only the tables and columns present are read (no products join
without a product category, no event blocks without events), and the output holds exactly the
features ``catalog.feature_specs`` allows. ``feature_sql`` is the one function that writes it (the
Spark engine transpiles the same text).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from training.cleaning import CleaningParams, apply_cleaning, quote_ident, sql_literal
from training.features.catalog import WINDOWS, Available, FeatureSpec, all_columns
from training.features.inputs import CleanTables


@dataclass(frozen=True)
class Window:
    """Timestamps bounding one cutoff's feature history and label window."""

    cutoff: date
    horizon_days: int
    active_window_days: int

    @property
    def start(self) -> datetime:
        return datetime.combine(self.cutoff, time())

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.horizon_days)

    def ts(self, days_before: int = 0) -> str:
        return _ts(self.start - timedelta(days=days_before))

    def day(self, days_before: int = 0) -> str:
        return f"DATE '{self.cutoff - timedelta(days=days_before):%Y-%m-%d}'"


def transaction_sources(tables: CleanTables) -> dict[str, str]:
    """Columns read from transactions ``t`` (joined with products ``p`` when that gives the category)."""
    sources = {"amount": "t.amount"}
    for column in ("quantity", "channel"):
        if tables.has("transactions", column):
            sources[column] = f"t.{column}"
    if tables.has("transactions", "category") and _joins_products(tables):
        sources["category"] = "COALESCE(NULLIF(t.category, 'missing'), p.category)"
    elif tables.has("transactions", "category"):
        sources["category"] = "t.category"
    elif _joins_products(tables):
        sources["category"] = "p.category"
    return sources


def _joins_products(tables: CleanTables) -> bool:
    return tables.has("transactions", "product_id") and tables.has("products", "category")


@dataclass(frozen=True)
class Agg:
    """One per-customer aggregate; ``zero`` ones become 0 for customers without rows."""

    alias: str
    sql: str
    zero: bool = True


@dataclass(frozen=True)
class Block:
    """A GROUP BY customer_id over one slice of rows: each slice is scanned only for what it feeds."""

    name: str
    source: str
    where: str
    aggs: tuple[Agg, ...]

    def sql(self) -> str:
        aggs = ", ".join(f"{a.sql} AS {a.alias}" for a in self.aggs)
        return f"SELECT customer_id, {aggs}\n    FROM {self.source}\n    WHERE {self.where}\n    GROUP BY customer_id"


def _blocks(tables: CleanTables, w: Window, available: Available) -> tuple[Block, ...]:
    longest = max(WINDOWS)
    vocab = available.vocabulary
    tx = transaction_sources(tables)
    hist = Block("hist", "lines", f"order_ts < {w.ts()}", (
        Agg("n_lines", "count(*)"),
        Agg("monetary_total", "sum(amount)"),
        *((Agg("units_total", "sum(quantity)", zero=False),) if "quantity" in tx else ()),
        *(Agg(f"spend_before_{d}d", f"sum(amount) FILTER (WHERE order_ts < {w.ts(d)})") for d in WINDOWS),
        *(Agg(f"cat_{c}", f"sum(amount) FILTER (WHERE category_code = {i})")
          for i, c in enumerate(vocab.columns("category"), 1) if "category" in tx),
        *(Agg(f"ch_{c}", f"count(*) FILTER (WHERE channel_code = {i})")
          for i, c in enumerate(vocab.columns("channel"), 1) if "channel" in tx),
    ))
    recent = Block("recent", "lines", f"order_ts >= {w.ts(longest)} AND order_ts < {w.ts()}", tuple(
        Agg(f"spend_{d}d", f"sum(amount) FILTER (WHERE order_ts >= {w.ts(d)})") for d in WINDOWS
    ))
    label = Block("label", "lines", f"order_ts >= {w.ts()}", (
        Agg("label_lines", "count(*)"), Agg("future_spend", "sum(amount)"),
    ))
    timing = Block("timing", "orders", "TRUE", (
        Agg("frequency", "count(*)"),
        Agg("last_ts", "max(order_ts)", zero=False),
        Agg("first_ts", "min(order_ts)", zero=False),
        Agg("ipt_mean_days", "avg(gap) / 86400e6", zero=False),
        Agg("ipt_std_days", "stddev_samp(gap) / 86400e6", zero=False),
        Agg("orders_active", f"count(*) FILTER (WHERE order_ts >= {w.ts(w.active_window_days)})"),
        *(Agg(f"orders_{d}d", f"count(*) FILTER (WHERE order_ts >= {w.ts(d)})") for d in WINDOWS),
    ))
    if not tables.has("events"):
        return hist, recent, label, timing
    events = tables.relation("events")
    web = Block("web", events, f"session_ts < {w.ts()}", (
        Agg("sessions_total", "count(*)"), Agg("last_session_ts", "max(session_ts)", zero=False),
    ))
    counted = [("sessions", "count(*)")] + [(c, f"sum({c})") for c in ("page_views", "cart_adds")
                                              if tables.has("events", c)]
    web_recent = Block("web_recent", events, f"session_ts >= {w.ts(longest)} AND session_ts < {w.ts()}", tuple(
        Agg(f"{name}_{d}d", f"{fn} FILTER (WHERE session_ts >= {w.ts(d)})") for d in WINDOWS for name, fn in counted
    ))
    return hist, recent, label, timing, web, web_recent


def _days_since(w: Window, ts_col: str) -> str:
    return f"CAST(date_diff('day', CAST({ts_col} AS DATE), {w.day()}) AS DOUBLE)"


def _trend(w: Window, recent: str, before: str, days: int) -> str:
    """recent / (before scaled to ``days``) = recent * span / (before * days); NaN without enough history."""
    span = f"date_diff('day', signup_date, {w.day(days)})"
    return (f"CASE WHEN {span} >= {days} AND ({before}) > 0 "
            f"THEN CAST({recent} AS DOUBLE) * {span} / (({before}) * {days}) END")


def _ratio(num: str, den: str) -> str:
    return f"CASE WHEN {den} > 0 THEN CAST({num} AS DOUBLE) / {den} END"


def _quintile(order_by: str) -> str:
    """1 + floor(5 * (rank - 1) / n) over this cutoff's buyers; ties share the lowest rank."""
    return f"CAST(1 + floor(5.0 * (rank() OVER (ORDER BY {order_by}) - 1) / count(*) OVER ()) AS BIGINT)"


def output_expressions(w: Window, columns: tuple[FeatureSpec, ...], available: Available) -> dict[str, str]:
    """Catalog column -> SQL expression over ``base`` (customers + aggregates) and ``scores``."""
    vocab = available.vocabulary
    exprs: dict[str, str] = {"customer_id": "base.customer_id", "cutoff": w.day()}
    exprs |= {c: quote_ident(c) for c in vocab.attributes}
    exprs |= {
        "tenure_days": f"date_diff('day', signup_date, {w.day()})",
        "recency_days": "recency_days",
        "frequency": "frequency",
        "monetary_total": "monetary_total",
        "monetary_mean": _ratio("monetary_total", "frequency"),
        "units_per_order": _ratio("units_total", "frequency"),
        **{s: f"coalesce({s}, 0)" for s in ("r_score", "f_score", "m_score")},
        "rfm_score": "coalesce(r_score + f_score + m_score, 0)",
        "days_since_first_order": _days_since(w, "first_ts"),
        "ipt_mean_days": "ipt_mean_days",
        "ipt_std_days": "ipt_std_days",
    }
    for d in WINDOWS:
        exprs |= {f"orders_{d}d": f"orders_{d}d", f"spend_{d}d": f"spend_{d}d"}
    for d in WINDOWS:
        exprs[f"orders_trend_{d}d"] = _trend(w, f"orders_{d}d", f"frequency - orders_{d}d", d)
        exprs[f"spend_trend_{d}d"] = _trend(w, f"spend_{d}d", f"spend_before_{d}d", d)
    categories = vocab.columns("category")
    exprs |= {f"cat_share_{c}": _ratio(f"cat_{c}", "monetary_total") for c in categories}
    exprs["n_categories"] = " + ".join(f"CAST(cat_{c} > 0 AS BIGINT)" for c in categories) or "0"
    exprs |= {f"channel_share_{c}": _ratio(f"ch_{c}", "n_lines") for c in vocab.columns("channel")}
    for d in WINDOWS:
        exprs |= {f"{k}_{d}d": f"{k}_{d}d" for k in ("sessions", "page_views", "cart_adds")}
    exprs["days_since_last_session"] = _days_since(w, "last_session_ts")
    exprs["sessions_trend_90d"] = _trend(w, "sessions_90d", "sessions_total - sessions_90d", 90)
    exprs["churned"] = "CASE WHEN orders_active > 0 THEN label_lines = 0 END"
    exprs["future_spend"] = "future_spend"
    return {c.name: exprs[c.name] for c in columns}


def _joined(block: Block) -> list[str]:
    return [f"coalesce({block.name}.{a.alias}, 0) AS {a.alias}" if a.zero else f"{block.name}.{a.alias}"
            for a in block.aggs]


def _customers_cte(tables: CleanTables, w: Window, customers: CleaningParams | None,
                   attributes: tuple[str, ...]) -> str:
    """The customers a cutoff describes: signed up before it, or (without a signup date) first seen before it."""
    cu = apply_cleaning(customers) if customers is not None else {}
    attrs = "".join(f", {cu.get(a, quote_ident(a))} AS {quote_ident(a)}" for a in attributes)
    if tables.has("customers", "signup_date"):
        return (f"SELECT customer_id, signup_date{attrs}\n    FROM {tables.relation('customers')}\n"
                f"    WHERE signup_date < {w.day()}")
    seen = f"SELECT customer_id FROM {tables.relation('transactions')} WHERE order_ts < {w.ts()}"
    if tables.has("events"):
        seen += f" UNION SELECT customer_id FROM {tables.relation('events')} WHERE session_ts < {w.ts()}"
    if not tables.has("customers"):
        return f"SELECT DISTINCT customer_id FROM ({seen})"
    return (f"SELECT customer_id{attrs}\n    FROM {tables.relation('customers')}\n"
            f"    WHERE customer_id IN ({seen})")


def _codes(values: dict[str, str], expr: str) -> str:
    """1-based position of ``expr`` in the vocabulary (NULL when not in it): integer FILTERs, not strings."""
    if not values:
        return "CAST(NULL AS INTEGER)"
    return f"list_position([{', '.join(sql_literal(v) for v in values.values())}], {expr})"


def feature_sql(tables: CleanTables, w: Window, transactions: CleaningParams, customers: CleaningParams | None,
                available: Available) -> str:
    """The complete statement for one cutoff: the columns ``available`` allows; rows ordered by customer_id."""
    tx = apply_cleaning(transactions, transaction_sources(tables))
    vocab = available.vocabulary
    line_columns = ", ".join([
        *(f"{tx[c]} AS {c}" for c in ("amount", "quantity") if c in tx),
        *([f"{_codes(vocab.columns('category'), tx['category'])} AS category_code"] if "category" in tx else []),
        *([f"{_codes(vocab.columns('channel'), tx['channel'])} AS channel_code"] if "channel" in tx else []),
    ])
    product_join = (f"\n    LEFT JOIN {tables.relation('products')} p ON t.product_id = p.product_id"
                    if "p.category" in transaction_sources(tables).get("category", "") else "")
    blocks = _blocks(tables, w, available)
    output = all_columns(available)
    columns = ",\n    ".join(f"{sql} AS {quote_ident(name)}"
                              for name, sql in output_expressions(w, output, available).items())
    block_ctes = ",\n".join(f"{b.name} AS (\n    {b.sql()}\n)" for b in blocks)
    joined = ",\n           ".join(c for b in blocks for c in _joined(b))
    joins = "\n    ".join(f"LEFT JOIN {b.name} USING (customer_id)" for b in blocks)
    return f"""
WITH cust AS (
    {_customers_cte(tables, w, customers, vocab.attributes)}
),
lines AS NOT MATERIALIZED (
    SELECT t.customer_id, t.order_ts, {line_columns}
    FROM {tables.relation("transactions")} t{product_join}
    WHERE t.order_ts < {_ts(w.end)}
),
orders AS (
    -- one row per order (distinct customer_id, order_ts) with the gap to the previous order, in microseconds
    SELECT customer_id, order_ts, gap FROM (
        SELECT customer_id, order_ts, us - lag(us) OVER (PARTITION BY customer_id ORDER BY us) AS gap
        FROM (SELECT customer_id, order_ts, epoch_us(order_ts) AS us FROM {tables.relation("transactions")}
              WHERE order_ts < {w.ts()})
    ) WHERE gap IS NULL OR gap > 0
),
{block_ctes},
base AS (
    SELECT cust.*, {joined},
           {_days_since(w, "last_ts")} AS recency_days
    FROM cust
    {joins}
),
scores AS (
    SELECT customer_id, {_quintile("recency_days DESC")} AS r_score, {_quintile("frequency")} AS f_score,
           {_quintile("monetary_total")} AS m_score
    FROM base WHERE frequency > 0
)
SELECT {columns}
FROM base LEFT JOIN scores USING (customer_id)
ORDER BY base.customer_id
"""


def _ts(moment: datetime) -> str:
    return f"TIMESTAMP '{moment:%Y-%m-%d %H:%M:%S}'"
