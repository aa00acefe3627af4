"""The schema file: what a retailer's export holds and which column plays which part (docs/SCHEMA.md).

One YAML file describes the export; everything downstream (ingest, features, the families) works
from the tables and roles it declares. Only ``transactions`` is required. Paths are relative to the
schema file. A wrong key, a missing required role or a malformed value is a ``SchemaError`` whose
message names the key (``transactions.columns.amount``), never a traceback.

Role names are also the clean column names (``customer_id``, ``order_ts``, ``amount`` ...), so a
clean table reads the same whatever the export called its columns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

SCHEMA_FILE = "schema.yaml"
TABLE_ORDER: tuple[str, ...] = ("products", "customers", "transactions", "events")  # referenced tables first


class SchemaError(ValueError):
    """The schema file is wrong; the message names the key and what to write instead."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class CsvOptions(_Strict):
    """How to read a delimited text file."""

    delimiter: str = Field(",", description="one character, or `whitespace` for runs of blanks")
    header: bool = Field(True, description="first line holds the column names")
    names: list[str] | None = Field(None, description="column names when `header: false`, in file order")
    encoding: str = "utf-8"
    quote: str = '"'
    skip_rows: int = Field(0, ge=0, description="lines to skip before the header/data")
    null_values: list[str] = Field(default_factory=lambda: [""], description="cells read as empty")

    @model_validator(mode="after")
    def _names_without_header(self) -> CsvOptions:
        if not self.header and not self.names:
            raise ValueError("header: false needs names: [...] (the column names in file order)")
        if self.delimiter != "whitespace" and len(self.delimiter) != 1:
            raise ValueError(f"delimiter {self.delimiter!r}: give one character, or 'whitespace'")
        return self


class PiiColumns(_Strict):
    """Direct identifiers: ``hash`` ones become ``<name>_hmac`` (keyed HMAC), ``drop`` ones are never read."""

    hash: list[str] = Field(default_factory=list)
    drop: list[str] = Field(default_factory=list)


class _Table(_Strict):
    """Where one table is and how to read it; ``columns`` maps role -> column name in the export."""

    REQUIRED: ClassVar[tuple[str, ...]] = ()
    OPTIONAL: ClassVar[tuple[str, ...]] = ()

    path: str | None = Field(None, description="file or folder, relative to the schema file")
    format: Literal["csv", "parquet"] | None = Field(None, description="default: from the file suffix")
    csv: CsvOptions = Field(default_factory=CsvOptions)
    url: str | None = Field(None, description="SQLAlchemy URL of a database holding the table")
    table: str | None = Field(None, description="table name in the database (with url)")
    db_schema: str | None = Field(None, alias="schema", description="database schema of `table`")
    query: str | None = Field(None, description="SQL query instead of `table` (with url)")
    date_format: str | None = Field(None, description="strftime format of dates/timestamps; default ISO 8601")
    columns: dict[str, str]
    allowed_values: dict[str, list[str]] = Field(
        default_factory=dict, description="role -> the only values accepted (others are quarantined)")

    @model_validator(mode="after")
    def _where(self) -> _Table:
        if (self.path is None) == (self.url is None):
            raise ValueError("give exactly one of path: (a file or folder) or url: (a database)")
        if self.url is not None and (self.table is None) == (self.query is None):
            raise ValueError("a database source needs exactly one of table: or query:")
        if self.url is None and (self.table or self.query or self.db_schema):
            raise ValueError("table:, query: and schema: apply to a database source (url:) only")
        return self

    @field_validator("columns")
    @classmethod
    def _roles(cls, columns: dict[str, str]) -> dict[str, str]:
        known = (*cls.REQUIRED, *cls.OPTIONAL)
        for role in columns:
            if role not in known:
                raise ValueError(f"unknown role {role!r} under columns (known roles: {', '.join(known)})")
        missing = [r for r in cls.REQUIRED if r not in columns]
        if missing:
            raise ValueError(f"required role(s) {', '.join(missing)} missing under columns "
                             f"(e.g. columns: {{{missing[0]}: <column name in your export>}})")
        seen: dict[str, str] = {}
        for role, name in columns.items():
            if not isinstance(name, str) or not name:
                raise ValueError(f"role {role!r}: give the column name as text")
            if name in seen:
                raise ValueError(f"column {name!r} is given for two roles ({seen[name]} and {role}); "
                                 "one column plays one role")
            seen[name] = role
        return columns

    @model_validator(mode="after")
    def _allowed_roles(self) -> _Table:
        for role in self.allowed_values:
            if role not in self.columns and role not in self.extra_columns():
                raise ValueError(f"allowed_values.{role}: no such role/attribute in this table")
        return self

    def extra_columns(self) -> dict[str, str]:
        """Clean name -> raw name of columns read besides the roles (customer attributes)."""
        return {}

    def raw_columns(self) -> dict[str, str]:
        """Clean name -> raw column name, for every column read from the export."""
        return {**self.columns, **self.extra_columns()}


class TransactionsTable(_Table):
    REQUIRED: ClassVar[tuple[str, ...]] = ("customer_id", "order_ts", "amount")
    OPTIONAL: ClassVar[tuple[str, ...]] = ("transaction_id", "quantity", "product_id", "category", "channel")


class CustomersTable(_Table):
    REQUIRED: ClassVar[tuple[str, ...]] = ("customer_id",)
    OPTIONAL: ClassVar[tuple[str, ...]] = ("signup_date", "marketing_consent")

    attributes: list[str] = Field(default_factory=list, description="profile columns used as features")
    ordinal: list[str] = Field(default_factory=list, description=(
        "attributes whose allowed_values are listed lowest rank first (e.g. plan: basic, plus, premium); "
        "segmentation reads them as ranks"))
    pii: PiiColumns = Field(default_factory=PiiColumns)

    @model_validator(mode="after")
    def _attribute_names(self) -> CustomersTable:
        roles = set(self.REQUIRED + self.OPTIONAL)
        for name in self.attributes:
            if name in roles or name in self.columns.values():
                raise ValueError(f"attributes: {name!r} is already a role column; list it once")
        for name in self.ordinal:
            if name not in self.attributes or name not in self.allowed_values:
                raise ValueError(f"ordinal: {name!r} must be an attribute with allowed_values listing its ranks, "
                                 "lowest first")
        overlap = set(self.pii.hash) & set(self.pii.drop)
        if overlap:
            raise ValueError(f"pii: {sorted(overlap)[0]!r} is under both hash and drop; choose one")
        declared = set(self.attributes) | set(self.columns.values())
        for name in (*self.pii.hash, *self.pii.drop):
            if name in declared:
                raise ValueError(f"pii: {name!r} is also a role or attribute; a PII column is only hashed/dropped")
        return self

    def extra_columns(self) -> dict[str, str]:
        return {**{a: a for a in self.attributes}, **{f"{h}_hmac": h for h in self.pii.hash}}


class EventsTable(_Table):
    REQUIRED: ClassVar[tuple[str, ...]] = ("customer_id", "session_ts")
    OPTIONAL: ClassVar[tuple[str, ...]] = ("session_id", "device", "page_views", "cart_adds")


class ProductsTable(_Table):
    REQUIRED: ClassVar[tuple[str, ...]] = ("product_id",)
    OPTIONAL: ClassVar[tuple[str, ...]] = ("category", "product_name", "description", "unit_price")


class DataSchema(_Strict):
    """The whole export. ``base_dir`` (not in the YAML) is where relative paths start."""

    name: str = Field(..., min_length=1)
    transactions: TransactionsTable
    customers: CustomersTable | None = None
    events: EventsTable | None = None
    products: ProductsTable | None = None
    base_dir: Path = Field(default=Path("."), exclude=True)

    def tables(self) -> dict[str, _Table]:
        """Declared tables, referenced tables first (products, customers, transactions, events)."""
        return {name: getattr(self, name) for name in TABLE_ORDER if getattr(self, name) is not None}

    def has(self, table: str, role: str | None = None) -> bool:
        spec = getattr(self, table, None)
        return spec is not None and (role is None or role in spec.raw_columns())

    def resolve(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    def to_yaml_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc if not str(part).startswith("function-after"))


def _explain(err: ValidationError, origin: str) -> SchemaError:
    lines = []
    for e in err.errors():
        key = _location(e["loc"])
        if e["type"] == "extra_forbidden":
            text = f"unknown key {key!r} (see docs/SCHEMA.md for the keys)"
        elif e["type"] == "missing":
            text = f"required key {key!r} is missing"
        else:
            text = (f"{key}: " if key else "") + str(e["msg"]).removeprefix("Value error, ")
        lines.append(text)
    return SchemaError(f"{origin}: " + "; ".join(lines))


def parse_schema(data: Any, base_dir: Path, origin: str = "schema") -> DataSchema:
    """A ``DataSchema`` from already-loaded YAML; ``SchemaError`` names every wrong key."""
    if not isinstance(data, dict):
        raise SchemaError(f"{origin}: expected a mapping with at least name: and transactions:")
    try:
        return DataSchema.model_validate({**data, "base_dir": base_dir})
    except ValidationError as err:
        raise _explain(err, origin) from None


def load_schema(path: str | Path) -> DataSchema:
    """Read and check a schema file (paths inside are relative to it)."""
    import yaml

    path = Path(path).expanduser()
    if not path.is_file():
        raise SchemaError(f"schema file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SchemaError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return parse_schema(data, path.resolve().parent, str(path))


def write_schema(schema: DataSchema, path: Path) -> Path:
    """Write ``schema`` as YAML (e.g. beside generated tables)."""
    import yaml

    path.write_text(yaml.safe_dump(schema.to_yaml_dict(), sort_keys=False))
    return path
