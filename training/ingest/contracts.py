"""Data contracts of the declared tables (docs/SCHEMA.md, docs/DATA_MODEL.md), as pandera schemas.

``ROLE_SPECS`` holds every role crmlab knows with its type and rules; ``table_specs`` keeps the roles a
schema file maps, adds customer attributes and hashed PII, and the vocabularies the schema declares
(``allowed_values``; none are built in). One ``TableSpec`` per table is the single source for how each
column is parsed, which may be null, the allowed values and ranges. Schemas are built from it for two
moments: ``stage="raw"`` checks parsed raw rows (failures become quarantine rows), ``stage="clean"``
guards the output (categoricals filled with ``"missing"``, keys unique, no extra column).

Nullable columns (ingestion keeps the nulls): categoricals (they become ``"missing"``), hashed PII,
``quantity`` and ``amount`` (imputation is a statistic, fitted point-in-time in ``training/cleaning.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

import pandas as pd
import pandera.pandas as pa

from training.ingest.quarantine import combine, findings, no_findings, quote
from training.settings import Settings

if TYPE_CHECKING:
    from training.ingest.schema import DataSchema

Kind = Literal["id", "text", "category", "date", "timestamp", "int", "float", "bool"]
MISSING = "missing"


@dataclass(frozen=True)
class Bound:
    """A value range rule; ``limit`` is a number or the name of a ``Settings`` field."""

    rule: Literal["min_value", "max_value"]
    op: Literal["ge", "gt", "le"]
    limit: float | str
    note: str = ""

    def value(self, settings: Settings) -> float:
        return float(getattr(settings, self.limit)) if isinstance(self.limit, str) else float(self.limit)

    def describe(self, settings: Settings) -> str:
        symbol = {"ge": ">=", "gt": ">", "le": "<="}[self.op]
        source = f" (settings.{self.limit})" if isinstance(self.limit, str) else ""
        return f"must be {symbol} {self.value(settings):g}{source}{self.note}"

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
    """Columns after pseudonymisation, in output order; ``key`` is unique; ``refs`` column -> table.

    ``key`` is None when the export has no key column for the table (e.g. a transaction log without
    transaction ids): then no duplicate check is possible, since two equal lines may be two purchases.
    """

    key: str | None
    columns: dict[str, ColumnSpec]
    refs: dict[str, str] = field(default_factory=dict)
    name: str = ""
    date_format: str | None = None


# Returns: crmlab models purchases, so a negative line amount (a refund) is quarantined, not netted;
# export net sales per line (or leave refunds out). Zero amounts (free items) are kept.
_RETURNS = "; negative amounts (returns/refunds) are not netted: export net sales or leave refunds out"

# Every role crmlab knows, per table, with its type and rules; a schema file picks the ones it has.
ROLE_SPECS: dict[str, dict[str, ColumnSpec]] = {
    "products": {
        "product_id": ColumnSpec("id"),
        "category": ColumnSpec("category", nullable=True),
        "product_name": ColumnSpec("text", nullable=True),
        "description": ColumnSpec("text", nullable=True),
        "unit_price": ColumnSpec("float", nullable=True, bounds=(Bound("min_value", "gt", 0),)),
    },
    "customers": {
        "customer_id": ColumnSpec("id"),
        "signup_date": ColumnSpec("date"),
        "marketing_consent": ColumnSpec("bool"),
    },
    "transactions": {
        "transaction_id": ColumnSpec("id"),
        "customer_id": ColumnSpec("id"),
        "order_ts": ColumnSpec("timestamp"),
        "product_id": ColumnSpec("id"),
        "category": ColumnSpec("category", nullable=True),
        "quantity": ColumnSpec("int", nullable=True, bounds=(Bound("min_value", "ge", 1),)),
        "amount": ColumnSpec(
            "float", nullable=True,
            bounds=(Bound("min_value", "ge", 0, _RETURNS), Bound("max_value", "le", "absurd_amount")),
        ),
        "channel": ColumnSpec("category", nullable=True),
    },
    "events": {
        "session_id": ColumnSpec("id"),
        "customer_id": ColumnSpec("id"),
        "session_ts": ColumnSpec("timestamp"),
        "device": ColumnSpec("category", nullable=True),
        "page_views": ColumnSpec("int", bounds=(Bound("min_value", "ge", 1),)),
        "cart_adds": ColumnSpec("int", bounds=(Bound("min_value", "ge", 0),)),
    },
}
KEYS: dict[str, str] = {"products": "product_id", "customers": "customer_id", "transactions": "transaction_id",
                        "events": "session_id"}
REFS: dict[str, dict[str, str]] = {"transactions": {"customer_id": "customers", "product_id": "products"},
                                   "events": {"customer_id": "customers"}}


def table_specs(schema: DataSchema) -> dict[str, TableSpec]:
    """The contract of every table the schema declares, restricted to the roles it maps.

    Role order follows ``ROLE_SPECS``; customer attributes (categorical, nullable) and hashed PII
    (``<name>_hmac``, text) follow. References are checked only between declared tables.
    """
    specs: dict[str, TableSpec] = {}
    for table, declared in schema.tables().items():
        present = declared.raw_columns()
        columns: dict[str, ColumnSpec] = {}
        for role, spec in ROLE_SPECS[table].items():
            if role in present:
                columns[role] = spec
        for name in declared.extra_columns():
            columns[name] = ColumnSpec("text", nullable=True) if name.endswith("_hmac") and name not in getattr(
                declared, "attributes", ()) else ColumnSpec("category", nullable=True)
        for role, values in declared.allowed_values.items():
            columns[role] = replace(columns[role], categories=tuple(str(v) for v in values))
        key = KEYS[table] if KEYS[table] in columns else None
        refs = {col: target for col, target in REFS.get(table, {}).items()
                if col in columns and schema.has(target)}
        specs[table] = TableSpec(key, columns, refs, name=table, date_format=declared.date_format)
    return specs


PANDAS_DTYPES: dict[Kind, str] = {
    "id": "object", "text": "object", "category": "object", "date": "datetime64[ns]",
    "timestamp": "datetime64[ns]", "int": "Int64", "float": "float64", "bool": "boolean",
}


def contract(spec: TableSpec, settings: Settings, stage: Literal["raw", "clean"] = "raw") -> pa.DataFrameSchema:
    """The pandera schema of ``table`` at a stage (see module docstring).

    Check positions inside a column follow ``rule_of_check``: categories first, then bounds in order.
    """
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


def rule_of_check(spec: TableSpec, column: str, check_number: int, settings: Settings) -> tuple[str, str]:
    """(rule, human description) of the ``check_number``-th check of a column in ``contract``."""
    col = spec.columns[column]
    rules: list[tuple[str, str]] = []
    if col.categories:
        rules.append(("allowed_values", f"must be one of {', '.join(col.categories)}"))
    rules.extend((bound.rule, bound.describe(settings)) for bound in col.bounds)
    return rules[check_number]


def check_contract(spec: TableSpec, typed: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Findings of the raw contract on parsed rows (pandera, lazy: every failure, not the first)."""
    try:
        contract(spec, settings, "raw").validate(typed, lazy=True)
    except pa.errors.SchemaErrors as err:
        return _failure_findings(spec, err.failure_cases, typed, settings)
    return no_findings()


def _failure_findings(spec: TableSpec, cases: pd.DataFrame, typed: pd.DataFrame, settings: Settings
                      ) -> pd.DataFrame:
    structural = cases[cases["index"].isna()]
    if len(structural):
        first = structural.iloc[0]
        raise RuntimeError(  # parse_table guarantees columns and dtypes; reaching this is a bug
            f"{spec.name}: contract failed on the whole column {first['column']!r} ({first['check']}); "
            "the parse step should have produced this type - please report it"
        )
    cases = cases.assign(check_number=pd.to_numeric(cases["check_number"]).fillna(-1).astype("int64"))
    parts = []
    for (column, check, number), group in cases.groupby(["column", "check", "check_number"], sort=False):
        rows = group["index"].astype("int64").to_numpy()
        if check == "not_nullable":
            parts.append(findings(rows, "not_null", column, [f"{column} is empty but required"] * len(rows)))
            continue
        rule, text = rule_of_check(spec, column, int(number), settings)
        # values from the typed frame, not pandera's failure_case: that column's dtype depends on which
        # other checks failed in the same call (an int shows as 0.0 when all failures are numbers)
        details = [f"{column} {quote(v)} {text}" for v in typed.loc[rows, column]]
        parts.append(findings(rows, rule, column, details))
    found = combine(parts)
    order = {name: i for i, name in enumerate(spec.columns)}
    return found.sort_values("column", key=lambda c: c.map(order), kind="stable").reset_index(drop=True)
