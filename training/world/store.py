"""Write a generated world to disk: raw tables, the truth and world.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pyarrow as pa

if TYPE_CHECKING:
    from training.world.generate import World

RAW_TABLES = ("customers", "transactions", "products", "events")


def _plain_strings(table: pa.Table, rows_per_chunk: int = 4_000_000) -> pa.Table:
    """pandas hands Arrow-backed strings over as ``large_string``; the contract's raw type is ``string``.

    Re-chunking first keeps every chunk's text far below the 2 GiB limit of 32-bit string offsets.
    """
    schema = pa.schema(
        [f.with_type(pa.string()) if pa.types.is_large_string(f.type) else f for f in table.schema],
        metadata=table.schema.metadata,
    )
    if schema.equals(table.schema, check_metadata=True):
        return table
    return pa.Table.from_batches(table.to_batches(max_chunksize=rows_per_chunk), table.schema).cast(schema)


def write_world(
    world: World, out_dir: str | Path, fmt: Literal["parquet", "csv"] = "parquet"
) -> dict[str, Path]:
    """Write the raw tables (``<table>.<fmt>``), ``schema.yaml``, ``truth_customers.parquet`` and ``world.json``."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if fmt not in ("parquet", "csv"):
        raise ValueError(f"fmt must be 'parquet' or 'csv', got {fmt!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, df in world.raw_tables().items():
        table = _plain_strings(pa.Table.from_pandas(df, preserve_index=False))
        paths[name] = out / f"{name}.{fmt}"
        if fmt == "parquet":
            pq.write_table(table, paths[name])
        else:
            pacsv.write_csv(table, paths[name])
    paths["truth_customers"] = out / "truth_customers.parquet"
    pq.write_table(
        _plain_strings(pa.Table.from_pandas(world.truth_customers, preserve_index=False)),
        paths["truth_customers"],
    )
    from training.world.schema_export import write_world_schema

    paths["schema"] = write_world_schema(out, fmt)
    paths["world"] = out / "world.json"
    meta = {**world.meta, "format": fmt, "files": {k: p.name for k, p in paths.items()}}
    paths["world"].write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return paths
