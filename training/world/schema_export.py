"""The schema file of a generated world: its tables, roles, PII and vocabularies (docs/SCHEMA.md).

``crmlab generate`` writes it beside the tables, so a generated world enters crmlab exactly as a
retailer's export does: through one schema file. The vocabularies here are the generator's own
(``training.world.vocab``); they become ``allowed_values`` of the contracts for generated data only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from training.ingest.schema import SCHEMA_FILE, DataSchema, parse_schema, write_schema
from training.world.vocab import CATEGORIES, CHANNELS, DEVICES, PROFILE_VOCAB

ROLES: dict[str, tuple[str, ...]] = {
    "products": ("product_id", "category", "product_name", "description", "unit_price"),
    "customers": ("customer_id", "signup_date", "marketing_consent"),
    "transactions": ("transaction_id", "customer_id", "order_ts", "product_id", "category", "quantity",
                     "amount", "channel"),
    "events": ("session_id", "customer_id", "session_ts", "device", "page_views", "cart_adds"),
}
ORDINAL_ATTRIBUTES = ("plan", "age_band")  # their PROFILE_VOCAB lists are in rank order
VOCABULARIES: dict[str, dict[str, tuple[str, ...]]] = {
    "products": {"category": CATEGORIES},
    "customers": dict(PROFILE_VOCAB),
    "transactions": {"category": CATEGORIES, "channel": CHANNELS},
    "events": {"device": DEVICES},
}


def world_schema_dict(fmt: str = "parquet", name: str = "generated-world") -> dict[str, Any]:
    """The YAML content for a generated world written as ``<table>.<fmt>``."""
    out: dict[str, Any] = {"name": name}
    for table, roles in ROLES.items():
        entry: dict[str, Any] = {"path": f"{table}.{fmt}", "columns": {r: r for r in roles}}
        if table == "customers":
            entry["attributes"] = list(PROFILE_VOCAB)
            entry["ordinal"] = list(ORDINAL_ATTRIBUTES)
            entry["pii"] = {"hash": ["email"], "drop": ["full_name", "phone"]}
        entry["allowed_values"] = {k: list(v) for k, v in VOCABULARIES[table].items()}
        out[table] = entry
    return out


def world_schema(directory: Path, fmt: str = "parquet") -> DataSchema:
    return parse_schema(world_schema_dict(fmt), Path(directory).resolve(), f"{directory}/{SCHEMA_FILE}")


def write_world_schema(directory: Path, fmt: str = "parquet") -> Path:
    """Write ``schema.yaml`` for the generated tables in ``directory``."""
    return write_schema(world_schema(directory, fmt), Path(directory) / SCHEMA_FILE)
