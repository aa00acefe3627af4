"""Writing clean tables with the exact types of docs/DATA_MODEL.md section 2.

Explicit Arrow types (not pandas' inference) so every reader sees ``signup_date`` as date32,
timestamps as timestamp[us], counts as int64 even when a column is empty or nullable.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from training.ingest.contracts import MISSING, Kind, TableSpec
from training.ingest.quarantine import QUARANTINE_COLUMNS

ARROW_TYPES: dict[Kind, pa.DataType] = {
    "id": pa.string(), "text": pa.string(), "category": pa.string(), "date": pa.date32(),
    "timestamp": pa.timestamp("us"), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(),
}


def fill_missing_categories(table: TableSpec, frame: pd.DataFrame) -> pd.DataFrame:
    """Row-local cleaning: a null categorical becomes the explicit category ``"missing"``."""
    filled = {column: frame[column].fillna(MISSING) for column, spec in table.columns.items()
              if spec.kind == "category" and spec.nullable}
    return frame.assign(**filled) if filled else frame


def arrow_schema(table: TableSpec) -> pa.Schema:
    return pa.schema([pa.field(c, ARROW_TYPES[s.kind]) for c, s in table.columns.items()])


def write_clean(table: TableSpec, frame: pd.DataFrame, path: Path) -> None:
    """``frame`` (typed as after parsing) as parquet with the contract's Arrow types."""
    pq.write_table(clean_arrow(table, frame), path)


def clean_arrow(table: TableSpec, frame: pd.DataFrame) -> pa.Table:
    """``frame`` (typed as after parsing) with the contract's Arrow types, e.g. for a ``ParquetWriter``."""
    schema = arrow_schema(table)
    arrays = [_to_arrow(frame[f.name], f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def read_clean_column(table: TableSpec, path: Path, column: str) -> pd.Series:
    """One column of a written clean table, with the values and nulls it had before writing.

    Numbers, booleans, dates and categories get their pre-write pandas dtypes (so profiles match);
    ids and free text stay Arrow strings: only their null rate is profiled, and tens of millions of
    Python strings would cost gigabytes.
    """
    kind = table.columns[column].kind
    mapper = {"int": {pa.int64(): pd.Int64Dtype()}, "bool": {pa.bool_(): pd.BooleanDtype()},
              "id": {pa.string(): pd.StringDtype("pyarrow")},
              "text": {pa.string(): pd.StringDtype("pyarrow")}}.get(kind, {})
    values = pq.read_table(path, columns=[column]).column(column).to_pandas(types_mapper=mapper.get)
    return values.astype("datetime64[ns]") if kind in ("date", "timestamp") else values


QUARANTINE_SCHEMA = pa.schema([pa.field(c, pa.int64() if c == "row_number" else pa.string())
                               for c in QUARANTINE_COLUMNS])


def write_quarantine(quarantine: pd.DataFrame, path: Path) -> None:
    pq.write_table(quarantine_arrow(quarantine), path)


def quarantine_arrow(quarantine: pd.DataFrame) -> pa.Table:
    """Quarantine rows with their Arrow types, e.g. for a ``ParquetWriter``."""
    arrays = [pa.array(quarantine[f.name].tolist(), type=f.type) for f in QUARANTINE_SCHEMA]
    return pa.Table.from_arrays(arrays, schema=QUARANTINE_SCHEMA)


def _to_arrow(values: pd.Series, arrow_type: pa.DataType) -> pa.Array:
    if arrow_type == pa.date32():
        return pa.array(values.to_numpy(dtype="datetime64[D]"), type=arrow_type,
                        mask=values.isna().to_numpy())
    if arrow_type == pa.timestamp("us"):
        return pa.array(values.to_numpy(dtype="datetime64[us]"), type=arrow_type,
                        mask=values.isna().to_numpy())
    return pa.array(values, type=arrow_type, from_pandas=True)
