"""Where raw tables come from: a directory of parquet/CSV files or a database (SQLAlchemy URL).

``open_source`` checks every table and column up front (cheap: file footers, CSV headers, database
catalogue) so a wrong export fails in seconds with one message listing everything missing, before any
data is read or any run is logged. Only contract columns are read: extra columns (which may hold
personal data crmlab does not need) never enter memory; their names are reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from training.ingest.contracts import TABLES, raw_columns


class IngestError(ValueError):
    """Bad input for ingestion; the message names the table/column/setting and what to do."""


@dataclass
class RawSource:
    """A checked source. ``location`` is safe to print and log (no password)."""

    kind: Literal["directory", "database"]
    location: str
    schema: str | None
    columns: dict[str, list[str]]            # table -> columns to read (required + optional present)
    ignored_columns: dict[str, list[str]]    # table -> extra columns left unread
    files: dict[str, Path] = field(default_factory=dict)
    _engine: object | None = field(default=None, repr=False)

    def read(self, table: str) -> pd.DataFrame:
        """The raw table with a 0-based RangeIndex (= row number in quarantine)."""
        where = self.files.get(table, f"table {table} of {self.location}")
        try:
            if self.kind == "directory":
                frame = _read_file(self.files[table], self.columns[table])
            else:
                frame = _read_sql(self._engine, table, self.schema, self.columns[table])
        except Exception as exc:  # malformed file, lost connection: name what failed, not a traceback
            raise IngestError(f"cannot read {where}: {type(exc).__name__}: {str(exc).splitlines()[0]}. "
                              "Check or re-export it.") from exc
        return frame[self.columns[table]].reset_index(drop=True)

    def read_chunks(self, table: str, chunk_rows: int, columns: list[str] | None = None
                    ) -> Iterator[pd.DataFrame]:
        """The raw table in consecutive chunks (at least one, maybe empty), indexed by raw row number.

        Files are streamed (bounded memory); each chunk has the dtypes ``read`` gives the whole table,
        so quarantine records do not depend on the chunk size. A database table is read in one chunk.
        """
        columns = columns or self.columns[table]
        if self.kind == "database" or self.files[table].suffix not in (".parquet", ".csv"):
            yield self.read(table)[columns]
            return
        try:
            reader = (_parquet_chunks(self.files[table], columns, chunk_rows)
                      if self.files[table].suffix == ".parquet"
                      else _csv_chunks(self.files[table], columns, chunk_rows))
            start = 0
            for frame in reader:
                frame.index = pd.RangeIndex(start, start + len(frame))
                start += len(frame)
                yield frame[columns]
        except IngestError:
            raise
        except Exception as exc:  # malformed file: name what failed, not a traceback
            raise IngestError(f"cannot read {self.files[table]}: {type(exc).__name__}: "
                              f"{str(exc).splitlines()[0]}. Check or re-export it.") from exc

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def is_url(source: str | Path) -> bool:
    return isinstance(source, str) and "://" in source


def open_source(source: str | Path, schema: str | None = None) -> RawSource:
    """Check a directory or SQLAlchemy URL (``?schema=NAME`` or ``schema`` selects a database schema)."""
    if is_url(source):
        return _open_database(str(source), schema)
    if schema:
        raise IngestError("--schema applies to database sources only; a directory source has no schema")
    return _open_directory(Path(source).expanduser())


def redact_url(url: str) -> str:
    """The URL without password or query string (query options can carry secrets too)."""
    from sqlalchemy.engine import URL, make_url

    parsed = make_url(url)
    bare = URL.create(parsed.drivername, username=parsed.username, host=parsed.host, port=parsed.port,
                      database=parsed.database)  # URL.set(password=None) would keep the password
    return bare.render_as_string(hide_password=False)


# --- directory --------------------------------------------------------------------------------------

def _open_directory(directory: Path) -> RawSource:
    if not directory.is_dir():
        raise IngestError(
            f"source {directory} is not a directory: give a directory holding customers, transactions, "
            "products and events as .parquet or .csv (e.g. from `crmlab generate --out DIR`), "
            "or a SQLAlchemy URL such as postgresql+psycopg://user@host/db?schema=crm"
        )
    problems: list[str] = []
    files: dict[str, Path] = {}
    present: dict[str, list[str]] = {}
    for table in TABLES:
        found = [p for p in (directory / f"{table}.parquet", directory / f"{table}.csv") if p.is_file()]
        if not found:
            problems.append(f"table {table!r} is missing: expected {table}.parquet or {table}.csv")
        elif len(found) > 1:
            problems.append(f"table {table!r} exists as both {found[0].name} and {found[1].name}: "
                            "remove the one that is not the current export")
        else:
            files[table] = found[0]
            present[table] = _file_columns(found[0])
    columns, ignored = _resolve_columns(present, problems)
    if problems:
        raise IngestError(f"cannot ingest {directory}:\n- " + "\n- ".join(problems)
                          + "\nFix the export (see docs/DATA_MODEL.md section 1) and run again.")
    return RawSource("directory", str(directory.resolve()), None, columns, ignored, files=files)


def _file_columns(path: Path) -> list[str]:
    try:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        return list(pd.read_csv(path, nrows=0).columns)
    except Exception as exc:  # corrupt file: say which one
        raise IngestError(f"cannot read {path}: {type(exc).__name__}: {exc}. Re-export the file.") from exc


def _read_file(path: Path, columns: list[str]) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path, columns=columns)
    # Everything as text, only empty cells are null: the parse step decides what each value means.
    return pd.read_csv(path, usecols=columns, dtype=str, keep_default_na=False, na_values=[""])


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


def _csv_chunks(path: Path, columns: list[str], chunk_rows: int) -> Iterator[pd.DataFrame]:
    # Everything as text, only empty cells are null (as in ``_read_file``).
    with pd.read_csv(path, usecols=columns, dtype=str, keep_default_na=False, na_values=[""],
                     chunksize=chunk_rows) as reader:
        empty = True
        for frame in reader:
            empty = False
            yield frame
        if empty:
            yield pd.read_csv(path, usecols=columns, dtype=str, nrows=0)


# --- database ---------------------------------------------------------------------------------------

def _open_database(url: str, schema: str | None) -> RawSource:
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise IngestError(f"source is not a valid SQLAlchemy URL ({exc}); "
                          "expected e.g. postgresql+psycopg://user@host:5432/db?schema=crm") from exc
    url_schema = parsed.query.get("schema")
    if isinstance(url_schema, tuple):
        url_schema = url_schema[-1]
    if schema and url_schema and schema != url_schema:
        raise IngestError(f"schema given twice ({schema!r} and ?schema={url_schema}): keep one")
    schema = schema or url_schema
    parsed = parsed.difference_update_query(["schema"])
    location = redact_url(url) + (f" (schema {schema})" if schema else "")
    try:
        engine = sa.create_engine(parsed)
        inspector = sa.inspect(engine)
        present: dict[str, list[str]] = {}
        problems: list[str] = []
        for table in TABLES:
            if not inspector.has_table(table, schema=schema):
                where = f"schema {schema!r}" if schema else "the default schema"
                problems.append(f"table {table!r} is missing in {where}: load the export there "
                                "or point ?schema= at the schema that holds it")
                continue
            present[table] = [c["name"] for c in inspector.get_columns(table, schema=schema)]
    except NoSuchModuleError as exc:
        raise IngestError(f"no SQLAlchemy driver for {parsed.drivername!r}: "
                          "use e.g. postgresql+psycopg://") from exc
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        if parsed.password:
            reason = reason.replace(parsed.password, "***")
        raise IngestError(f"cannot read the database at {location}: {reason}. "
                          "Check the URL and that the database is running.") from exc
    columns, ignored = _resolve_columns(present, problems)
    if problems:
        engine.dispose()
        raise IngestError(f"cannot ingest {location}:\n- " + "\n- ".join(problems)
                          + "\nFix the export (see docs/DATA_MODEL.md section 1) and run again.")
    return RawSource("database", location, schema, columns, ignored, _engine=engine)


def _read_sql(engine: object, table: str, schema: str | None, columns: list[str]) -> pd.DataFrame:
    import sqlalchemy as sa

    statement = sa.select(*[sa.column(c) for c in columns]).select_from(sa.table(table, schema=schema))
    with engine.connect() as connection:
        return pd.read_sql(statement, connection)


# --- shared -----------------------------------------------------------------------------------------

def _resolve_columns(present: dict[str, list[str]], problems: list[str]
                     ) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Columns to read per table; missing required columns are appended to ``problems``."""
    columns: dict[str, list[str]] = {}
    ignored: dict[str, list[str]] = {}
    for table, names in present.items():
        required, optional = raw_columns(table)
        missing = [c for c in required if c not in names]
        if missing:
            problems.append(f"table {table!r} lacks column(s) {', '.join(missing)}: "
                            "add them to the export (names are case-sensitive)")
        columns[table] = required + [c for c in optional if c in names]
        ignored[table] = [c for c in names if c not in required and c not in optional]
    return columns, ignored
