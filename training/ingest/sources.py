"""Where raw tables come from, as a schema file says: files, folders of files, or database tables/queries.

``open_source`` resolves the schema (a schema file, or a directory holding ``schema.yaml``) and checks
every declared table and column up front (cheap: file footers, CSV headers, the database catalogue), so
a wrong export fails in seconds with one message listing everything missing, before any data is read
or any run is logged. Only declared columns are read: extra columns (which may hold personal data
crmlab does not need) never enter memory; their names are reported. Chunks come out with the clean
(role) column names; PII columns to hash keep their export name until pseudonymisation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from training.ingest.contracts import TableSpec, table_specs
from training.ingest.schema import SCHEMA_FILE, DataSchema, SchemaError, load_schema


class IngestError(ValueError):
    """Bad input for ingestion; the message names the table/column/setting and what to do."""


@dataclass
class TableSource:
    """One declared table, checked: where it is and which export columns are read under which name."""

    table: str
    kind: Literal["files", "database"]
    location: str                     # safe to print and log (no password)
    rename: dict[str, str]            # export column -> name in the chunks
    ignored: list[str]
    files: list[Path] = field(default_factory=list)
    fmt: Literal["csv", "parquet"] | None = None
    csv: object | None = None
    statement: object | None = None   # SQLAlchemy selectable (database)
    engine: object | None = field(default=None, repr=False)


@dataclass
class RawSource:
    """A checked source. ``location`` is safe to print and log (no password)."""

    schema: DataSchema
    location: str
    tables: dict[str, TableSource]
    specs: dict[str, TableSpec]

    @property
    def kind(self) -> str:
        kinds = {t.kind for t in self.tables.values()}
        return kinds.pop() if len(kinds) == 1 else "mixed"

    @property
    def ignored_columns(self) -> dict[str, list[str]]:
        return {name: t.ignored for name, t in self.tables.items()}

    def read_chunks(self, table: str, chunk_rows: int) -> Iterator[pd.DataFrame]:
        """The raw table in consecutive chunks (at least one, maybe empty), indexed by raw row number.

        Files are streamed (bounded memory); each chunk has the dtypes a whole read would give, so
        quarantine records do not depend on the chunk size. A database table is read in one chunk.
        """
        source = self.tables[table]
        columns = list(source.rename)
        try:
            start = 0
            for frame in _chunks(source, columns, chunk_rows):
                frame = frame[columns].rename(columns=source.rename)
                frame.index = pd.RangeIndex(start, start + len(frame))
                start += len(frame)
                yield frame
        except IngestError:
            raise
        except Exception as exc:  # malformed file, lost connection: name what failed, not a traceback
            raise IngestError(f"cannot read {table} from {source.location}: {type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''}. Check or re-export it.") from exc

    def close(self) -> None:
        for source in self.tables.values():
            if source.engine is not None:
                source.engine.dispose()


def resolve_schema(source: str | Path) -> DataSchema:
    """The schema of a source: a schema file, or a directory holding ``schema.yaml``."""
    if isinstance(source, DataSchema):
        return source
    path = Path(source).expanduser()
    if isinstance(source, str) and "://" in source:
        raise IngestError(f"source {source.split('://')[0]}://...: a database is described in a schema file "
                          "(url: and table: or query: per table, docs/SCHEMA.md); pass that file as --source")
    if path.is_dir():
        if not (path / SCHEMA_FILE).is_file():
            raise IngestError(f"{path} holds no {SCHEMA_FILE}: write one that says which file holds the "
                              "transactions and which column is which (docs/SCHEMA.md), or pass its path")
        path = path / SCHEMA_FILE
    elif not path.exists():
        raise IngestError(f"source {path} does not exist: give a schema file (docs/SCHEMA.md) or a directory "
                          f"holding {SCHEMA_FILE}, e.g. the output of `crmlab generate`")
    try:
        return load_schema(path)
    except SchemaError as exc:
        raise IngestError(str(exc)) from None


def open_source(source: str | Path | DataSchema) -> RawSource:
    """Check every declared table and column; one ``IngestError`` lists all problems."""
    schema = resolve_schema(source)
    problems: list[str] = []
    tables: dict[str, TableSource] = {}
    for name, declared in schema.tables().items():
        try:
            opened = (_open_files(schema, name, declared) if declared.path is not None
                      else _open_database(name, declared))
        except IngestError as exc:
            problems.append(str(exc))
            continue
        tables[name] = opened
        problems += _missing_columns(name, declared, opened)
    if problems:
        for opened in tables.values():
            if opened.engine is not None:
                opened.engine.dispose()
        raise IngestError(f"cannot ingest {schema.name!r} ({_schema_origin(schema)}):\n- " + "\n- ".join(problems)
                          + "\nFix the schema file or the export (docs/SCHEMA.md) and run again.")
    location = f"schema {schema.name!r} in {schema.base_dir}"
    return RawSource(schema, location, tables, table_specs(schema))


def _schema_origin(schema: DataSchema) -> str:
    return f"schema in {schema.base_dir}"


def redact_url(url: str) -> str:
    """The URL without password or query string (query options can carry secrets too)."""
    from sqlalchemy.engine import URL, make_url

    parsed = make_url(url)
    bare = URL.create(parsed.drivername, username=parsed.username, host=parsed.host, port=parsed.port,
                      database=parsed.database)  # URL.set(password=None) would keep the password
    return bare.render_as_string(hide_password=False)


def _missing_columns(name: str, declared: object, opened: TableSource) -> list[str]:
    """Declared columns absent from the export, each named by its schema key."""
    present = opened.rename  # filled with every export column by the openers
    wanted: list[tuple[str, str, str]] = [(f"{name}.columns.{role}", raw, role)
                                          for role, raw in declared.columns.items()]
    wanted += [(f"{name}.attributes", a, a) for a in getattr(declared, "attributes", [])]
    pii = getattr(declared, "pii", None)
    wanted += [(f"{name}.pii.hash", h, h) for h in (pii.hash if pii else [])]
    problems = []
    for key, raw, _ in wanted:
        if raw not in present:
            shown = ", ".join(list(present)[:12]) + (", ..." if len(present) > 12 else "")
            problems.append(f"{key}: column {raw!r} is not in {opened.location} (its columns: {shown}); "
                            "names are case-sensitive")
    dropped = set(pii.drop) if pii else set()
    opened.ignored = [c for c in present if c not in {raw for _, raw, _ in wanted} and c not in dropped]
    opened.rename = {raw: clean for _, raw, clean in wanted if raw in present}
    return problems


# --- files ------------------------------------------------------------------------------------------

def _open_files(schema: DataSchema, name: str, declared: object) -> TableSource:
    path = schema.resolve(declared.path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith((".", "_"))
                       and (declared.format is None or p.suffix == f".{declared.format}"))
        files = [p for p in files if declared.format is not None or p.suffix in (".csv", ".parquet")]
        if not files:
            raise IngestError(f"{name}.path: folder {path} holds no .csv or .parquet file")
    elif path.is_file():
        files = [path]
    else:
        raise IngestError(f"{name}.path: {path} does not exist (paths are relative to the schema file)")
    fmt = declared.format or ("parquet" if files[0].suffix == ".parquet" else "csv" if files[0].suffix in (
        ".csv", ".txt", ".tsv") else None)
    if fmt is None:
        raise IngestError(f"{name}.path: cannot tell the format of {files[0].name}; add format: csv or parquet")
    mixed = [p.name for p in files if fmt == "parquet" and p.suffix != ".parquet"]
    if mixed:
        raise IngestError(f"{name}.path: {path} mixes formats ({mixed[0]}); keep one format per table")
    columns = _file_columns(files[0], fmt, declared.csv)
    location = str(path)
    return TableSource(name, "files", location, {c: c for c in columns}, [], files=files, fmt=fmt,
                       csv=declared.csv)


def _csv_kwargs(options: object) -> dict[str, object]:
    kwargs: dict[str, object] = {
        "sep": r"\s+" if options.delimiter == "whitespace" else options.delimiter,
        "header": 0 if options.header else None, "encoding": options.encoding, "quotechar": options.quote,
        "skiprows": options.skip_rows or None, "keep_default_na": False, "na_values": options.null_values,
    }
    if options.names:
        kwargs["names"] = options.names
    return kwargs


def _file_columns(path: Path, fmt: str, options: object) -> list[str]:
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        return [str(c) for c in pd.read_csv(path, nrows=0, **_csv_kwargs(options)).columns]
    except Exception as exc:  # corrupt file: say which one
        raise IngestError(f"cannot read {path}: {type(exc).__name__}: {exc}. Re-export the file.") from exc


def _chunks(source: TableSource, columns: list[str], chunk_rows: int) -> Iterator[pd.DataFrame]:
    if source.kind == "database":
        with source.engine.connect() as connection:
            yield pd.read_sql(source.statement(columns), connection)
        return
    empty = True
    for path in source.files:
        reader = (_parquet_chunks(path, columns, chunk_rows) if source.fmt == "parquet"
                  else _csv_chunks(path, columns, chunk_rows, source.csv))
        for frame in reader:
            if len(frame) or (empty and path == source.files[-1]):
                empty = False
                yield frame


def _parquet_chunks(path: Path, columns: list[str], chunk_rows: int) -> Iterator[pd.DataFrame]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path)
    schema = pa.schema([file.schema_arrow.field(c) for c in columns], metadata=file.schema_arrow.metadata)
    widen = _widened_by_nulls(file, schema)
    empty = True
    for batch in file.iter_batches(batch_size=chunk_rows, columns=columns, use_pandas_metadata=True):
        empty = False
        yield _to_pandas(pa.Table.from_batches([batch]).replace_schema_metadata(schema.metadata), widen)
    if empty:
        yield _to_pandas(schema.empty_table(), widen)


def _widened_by_nulls(file: object, schema: object) -> dict[str, str]:
    """Columns pandas converts differently when the WHOLE file has nulls (int -> float64, bool -> object)."""
    import pyarrow as pa

    widen: dict[str, str] = {}
    for field_ in schema:
        if pa.types.is_integer(field_.type):
            target = "float64"
        elif pa.types.is_boolean(field_.type):
            target = "object"
        else:
            continue
        if _null_count(file, field_.name) > 0:
            widen[field_.name] = target
    return widen


def _null_count(file: object, column: str) -> int:
    index = file.schema_arrow.get_field_index(column)
    total = 0
    for group in range(file.metadata.num_row_groups):
        stats = file.metadata.row_group(group).column(index).statistics
        if stats is None or not stats.has_null_count:  # no statistics: count by reading the one column
            return file.read(columns=[column]).column(0).null_count
        total += stats.null_count
    return total


def _to_pandas(table: object, widen: dict[str, str]) -> pd.DataFrame:
    frame = table.to_pandas()
    for column, target in widen.items():
        if isinstance(frame[column].dtype, np.dtype) and frame[column].dtype.kind in "iub":
            # numpy int/bool: this chunk had no null but the file has, so a whole read widens the column
            frame[column] = frame[column].astype(target)
    return frame


def _csv_chunks(path: Path, columns: list[str], chunk_rows: int, options: object) -> Iterator[pd.DataFrame]:
    # Everything as text, only the declared null cells are null: the parse step decides what values mean.
    kwargs = _csv_kwargs(options)
    with pd.read_csv(path, usecols=columns, dtype=str, chunksize=chunk_rows, **kwargs) as reader:
        empty = True
        for frame in reader:
            empty = False
            yield frame
        if empty:
            yield pd.read_csv(path, usecols=columns, dtype=str, nrows=0, **kwargs)


# --- database ---------------------------------------------------------------------------------------

def _open_database(name: str, declared: object) -> TableSource:
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    try:
        parsed = make_url(declared.url)
    except ArgumentError as exc:
        raise IngestError(f"{name}.url is not a valid SQLAlchemy URL ({exc}); "
                          "expected e.g. postgresql+psycopg://user@host:5432/db") from exc
    location = redact_url(declared.url)
    try:
        engine = sa.create_engine(parsed)
        if declared.table is not None:
            where = f"{location} (schema {declared.db_schema})" if declared.db_schema else location
            location = f"table {declared.table} of {where}"
            inspector = sa.inspect(engine)
            if not inspector.has_table(declared.table, schema=declared.db_schema):
                engine.dispose()
                raise IngestError(f"{name}.table: no table {declared.table!r} in {where}")
            columns = [c["name"] for c in inspector.get_columns(declared.table, schema=declared.db_schema)]
            relation = sa.table(declared.table, *[sa.column(c) for c in columns], schema=declared.db_schema)
        else:
            location = f"the query of {name} on {location}"
            with engine.connect() as connection:
                columns = list(connection.execute(
                    sa.text(f"SELECT * FROM ({declared.query}) AS export LIMIT 0")).keys())
            relation = sa.text(declared.query).columns(*[sa.column(c) for c in columns]).subquery("export")
    except NoSuchModuleError as exc:
        raise IngestError(f"{name}.url: no SQLAlchemy driver for {parsed.drivername!r}: "
                          "use e.g. postgresql+psycopg://") from exc
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        if parsed.password:
            reason = reason.replace(parsed.password, "***")
        raise IngestError(f"{name}: cannot read {location}: {reason}. "
                          "Check the URL, the table or query, and that the database is running.") from exc
    def statement(wanted: list[str]) -> object:  # the SELECT of the declared columns only
        return sa.select(*[relation.c[c] for c in wanted])

    return TableSource(name, "database", location, {c: c for c in columns}, [], statement=statement,
                       engine=engine)


__all__ = ["IngestError", "RawSource", "TableSource", "open_source", "redact_url", "resolve_schema"]
