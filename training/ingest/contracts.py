"""Data contracts of the raw tables (docs/DATA_MODEL.md section 1), as pandera schemas.

One ``TableSpec`` per table is the single source for: which raw columns must exist, how each column
is parsed, which may be null, the allowed categories and value ranges. Schemas are built from it for
two moments: ``stage="raw"`` checks parsed raw rows (failures become quarantine rows), ``stage="clean"``
guards the output (categoricals filled with ``"missing"``, keys unique, no extra column).

Nullable columns (the contract allows nulls, ingestion keeps them):
customers ``email_hmac`` and the categoricals ``region, acquisition_channel, age_band, plan``;
transactions ``category, channel`` (categoricals) and ``quantity, amount`` (numeric: imputation is a
statistic, fitted point-in-time in ``training/cleaning.py``, never here); events ``device``.
Categorical nulls become ``"missing"`` in clean data; numeric nulls stay null.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pandas as pd
import pandera.pandas as pa

from training.ingest.quarantine import combine, findings, no_findings, quote
from training.privacy import DROPPED_PII, HASHED_PII
from training.settings import Settings

Kind = Literal["id", "text", "category", "date", "timestamp", "int", "float", "bool"]
MISSING = "missing"

REGIONS = ("north", "south", "east", "west", "central")
CHANNELS = ("organic", "paid_search", "social", "referral", "affiliate", "store")
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
PLANS = ("basic", "plus", "premium")
PRODUCT_CATEGORIES = ("electronics", "fashion", "home", "beauty", "grocery", "sports", "books", "toys")
ORDER_CHANNELS = ("web", "app", "store")
DEVICES = ("web", "app")


@dataclass(frozen=True)
class Bound:
    """A value range rule; ``limit`` is a number or the name of a ``Settings`` field."""

    rule: Literal["min_value", "max_value"]
    op: Literal["ge", "gt", "le"]
    limit: float | str

    def value(self, settings: Settings) -> float:
        return float(getattr(settings, self.limit)) if isinstance(self.limit, str) else float(self.limit)

    def describe(self, settings: Settings) -> str:
        symbol = {"ge": ">=", "gt": ">", "le": "<="}[self.op]
        source = f" (settings.{self.limit})" if isinstance(self.limit, str) else ""
        return f"must be {symbol} {self.value(settings):g}{source}"

    def check(self, settings: Settings) -> pa.Check:
        return {"ge": pa.Check.ge, "gt": pa.Check.gt, "le": pa.Check.le}[self.op](self.value(settings))


@dataclass(frozen=True)
class ColumnSpec:
    kind: Kind
    nullable: bool = False
    categories: tuple[str, ...] = ()
    bounds: tuple[Bound, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    """Columns after pseudonymisation, in output order; ``key`` is unique; ``refs`` column -> table."""

    key: str
    columns: dict[str, ColumnSpec]
    refs: dict[str, str] = field(default_factory=dict)


SPECS: dict[str, TableSpec] = {
    "products": TableSpec(
        key="product_id",
        columns={
            "product_id": ColumnSpec("id"),
            "category": ColumnSpec("category", categories=PRODUCT_CATEGORIES),
            "product_name": ColumnSpec("text"),
            "description": ColumnSpec("text"),
            "unit_price": ColumnSpec("float", bounds=(Bound("min_value", "gt", 0),)),
        },
    ),
    "customers": TableSpec(
        key="customer_id",
        columns={
            "customer_id": ColumnSpec("id"),
            "email_hmac": ColumnSpec("text", nullable=True),
            "signup_date": ColumnSpec("date"),
            "region": ColumnSpec("category", nullable=True, categories=REGIONS),
            "acquisition_channel": ColumnSpec("category", nullable=True, categories=CHANNELS),
            "age_band": ColumnSpec("category", nullable=True, categories=AGE_BANDS),
            "plan": ColumnSpec("category", nullable=True, categories=PLANS),
            "marketing_consent": ColumnSpec("bool"),
        },
    ),
    "transactions": TableSpec(
        key="transaction_id",
        columns={
            "transaction_id": ColumnSpec("id"),
            "customer_id": ColumnSpec("id"),
            "order_ts": ColumnSpec("timestamp"),
            "product_id": ColumnSpec("id"),
            "category": ColumnSpec("category", nullable=True, categories=PRODUCT_CATEGORIES),
            "quantity": ColumnSpec("int", nullable=True, bounds=(Bound("min_value", "ge", 1),)),
            "amount": ColumnSpec(
                "float", nullable=True,
                bounds=(Bound("min_value", "gt", 0), Bound("max_value", "le", "absurd_amount")),
            ),
            "channel": ColumnSpec("category", nullable=True, categories=ORDER_CHANNELS),
        },
        refs={"customer_id": "customers", "product_id": "products"},
    ),
    "events": TableSpec(
        key="session_id",
        columns={
            "session_id": ColumnSpec("id"),
            "customer_id": ColumnSpec("id"),
            "session_ts": ColumnSpec("timestamp"),
            "device": ColumnSpec("category", nullable=True, categories=DEVICES),
            "page_views": ColumnSpec("int", bounds=(Bound("min_value", "ge", 1),)),
            "cart_adds": ColumnSpec("int", bounds=(Bound("min_value", "ge", 0),)),
        },
        refs={"customer_id": "customers"},
    ),
}
# Referenced tables first, so references are checked against their accepted rows.
TABLES: tuple[str, ...] = tuple(SPECS)

PANDAS_DTYPES: dict[Kind, str] = {
    "id": "object", "text": "object", "category": "object", "date": "datetime64[ns]",
    "timestamp": "datetime64[ns]", "int": "Int64", "float": "float64", "bool": "boolean",
}


def raw_columns(table: str) -> tuple[list[str], list[str]]:
    """(required, optional) columns of a raw export table, before pseudonymisation."""
    raw_name = {hashed: raw for raw, hashed in HASHED_PII.items()}
    required = [raw_name.get(column, column) for column in SPECS[table].columns]
    optional = list(DROPPED_PII) if table == "customers" else []
    return required, optional


def contract(table: str, settings: Settings, stage: Literal["raw", "clean"] = "raw") -> pa.DataFrameSchema:
    """The pandera schema of ``table`` at a stage (see module docstring).

    Check positions inside a column follow ``rule_of_check``: categories first, then bounds in order.
    """
    spec = SPECS[table]
    columns = {}
    for name, col in spec.columns.items():
        checks = []
        if col.categories:
            allowed = list(col.categories)
            if stage == "clean" and col.nullable:
                allowed.append(MISSING)
            checks.append(pa.Check.isin(allowed))
        checks.extend(bound.check(settings) for bound in col.bounds)
        nullable = col.nullable and not (stage == "clean" and col.kind == "category")
        unique = stage == "clean" and name == spec.key
        columns[name] = pa.Column(PANDAS_DTYPES[col.kind], checks=checks, nullable=nullable, unique=unique)
    return pa.DataFrameSchema(columns, strict=True, ordered=True)


def rule_of_check(table: str, column: str, check_number: int, settings: Settings) -> tuple[str, str]:
    """(rule, human description) of the ``check_number``-th check of a column in ``contract``."""
    col = SPECS[table].columns[column]
    rules: list[tuple[str, str]] = []
    if col.categories:
        rules.append(("allowed_values", f"must be one of {', '.join(col.categories)}"))
    rules.extend((bound.rule, bound.describe(settings)) for bound in col.bounds)
    return rules[check_number]


def check_contract(table: str, typed: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Findings of the raw contract on parsed rows (pandera, lazy: every failure, not the first)."""
    try:
        contract(table, settings, "raw").validate(typed, lazy=True)
    except pa.errors.SchemaErrors as err:
        return _failure_findings(table, err.failure_cases, typed, settings)
    return no_findings()


def _failure_findings(table: str, cases: pd.DataFrame, typed: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    structural = cases[cases["index"].isna()]
    if len(structural):
        first = structural.iloc[0]
        raise RuntimeError(  # parse_table guarantees columns and dtypes; reaching this is a bug
            f"{table}: contract failed on the whole column {first['column']!r} ({first['check']}); "
            "the parse step should have produced this type - please report it"
        )
    cases = cases.assign(check_number=pd.to_numeric(cases["check_number"]).fillna(-1).astype("int64"))
    parts = []
    for (column, check, number), group in cases.groupby(["column", "check", "check_number"], sort=False):
        rows = group["index"].astype("int64").to_numpy()
        if check == "not_nullable":
            parts.append(findings(rows, "not_null", column, [f"{column} is empty but required"] * len(rows)))
            continue
        rule, text = rule_of_check(table, column, int(number), settings)
        # values from the typed frame, not pandera's failure_case: that column's dtype depends on which
        # other checks failed in the same call (an int shows as 0.0 when all failures are numbers)
        details = [f"{column} {quote(v)} {text}" for v in typed.loc[rows, column]]
        parts.append(findings(rows, rule, column, details))
    found = combine(parts)
    order = {name: i for i, name in enumerate(SPECS[table].columns)}
    return found.sort_values("column", key=lambda c: c.map(order), kind="stable").reset_index(drop=True)
