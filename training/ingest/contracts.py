"""Data contracts of the declared tables (docs/SCHEMA.md, docs/DATA_MODEL.md): one ``TableSpec`` per table.

``ROLE_SPECS`` holds every role crmlab knows with its type and rules; ``table_specs`` keeps the roles a
schema file maps, adds customer attributes and hashed PII, and the vocabularies the schema declares
(``allowed_values``; none are built in). One ``TableSpec`` per table is the single source for how each
column is parsed, which may be null, the allowed values and ranges; ``rules_sql.py`` renders it as the
DuckDB SQL that screens every row (``engine.py``).

Nullable columns (ingestion keeps the nulls): categoricals (they become ``"missing"``), hashed PII,
``quantity`` and ``amount`` (imputation is a statistic, fitted point-in-time in ``training/cleaning.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

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
