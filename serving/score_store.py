"""Batch scores into a PostgreSQL table the CRM reads: one row per (customer, model), upserted.

``INSERT ... ON CONFLICT (customer_id, model_name) DO UPDATE`` makes a re-run idempotent: scoring the
same customers again updates their rows (new scores, ``scored_at``, versions), never duplicates them.
The table is created on first use from the score columns; an existing table must already hold every
column written (crmlab never alters a table a CRM reads).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd

KEY = ("customer_id", "model_name")
DEFAULT_TABLE = "customer_scores"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def engine_url(url: str) -> str:
    """``postgresql://`` (or ``postgres://``) -> the psycopg 3 driver URL SQLAlchemy needs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    if not url.startswith("postgresql+"):
        raise ValueError(f"--to expects a PostgreSQL URL such as postgresql://user@host:5432/db, got "
                         f"{url.split('://')[0]}://...")
    return url


class ScoreTable:
    """An upsert target; the SQL table is created (or checked) on the first ``upsert``."""

    def __init__(self, url: str, table: str = DEFAULT_TABLE, schema: str | None = None) -> None:
        from sqlalchemy import create_engine

        for name in (table, schema):
            if name is not None and not _IDENTIFIER.match(name):
                raise ValueError(f"invalid SQL name {name!r}: use letters, digits and underscores")
        self.name, self.schema = table, schema
        # hide_parameters: a failing statement's error text must not carry the rows' values.
        self.engine = create_engine(engine_url(url), pool_pre_ping=True, hide_parameters=True)
        self._table = None

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name

    def upsert(self, frame: pd.DataFrame) -> int:
        """Insert or update ``frame``'s rows (one transaction); returns the number of rows written."""
        if frame.empty:
            return 0
        from sqlalchemy.dialects.postgresql import insert

        records = frame.astype(object).where(frame.notna(), None).to_dict("records")
        with self._errors():
            table = self._table if self._table is not None else self._prepare(frame)
            stmt = insert(table)
            stmt = stmt.on_conflict_do_update(
                index_elements=list(KEY),
                set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name not in KEY},
            )
            with self.engine.begin() as conn:
                conn.execute(stmt, records)
        return len(records)

    def forget(self, ids: list[str], model_name: str) -> int:
        """Delete this model's scores of ``ids`` (customers now without consent); returns rows deleted."""
        from sqlalchemy import inspect

        if not ids:
            return 0
        with self._errors():
            if self._table is None and not inspect(self.engine).has_table(self.name, schema=self.schema):
                return 0
            table = self._table if self._table is not None else self._reflect()
            with self.engine.begin() as conn:
                deleted = conn.execute(table.delete().where(table.c.model_name == model_name,
                                                            table.c.customer_id.in_(ids)))
            return int(deleted.rowcount or 0)

    def close(self, ok: bool = True) -> None:
        """Release connections (chunks already upserted stay: a re-run completes them idempotently)."""
        self.engine.dispose()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Database errors as one clear line (no statement parameters: they are customer rows)."""
        from sqlalchemy.exc import SQLAlchemyError

        try:
            yield
        except SQLAlchemyError as err:
            reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
            where = self.engine.url.render_as_string(hide_password=True)
            raise ValueError(f"cannot write scores to {self.qualified_name} at {where}: {reason} "
                             "(is PostgreSQL running and the URL right?)") from None

    def _reflect(self):
        from sqlalchemy import MetaData, Table

        return Table(self.name, MetaData(schema=self.schema), autoload_with=self.engine)

    def _prepare(self, frame: pd.DataFrame):
        from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, Table, inspect

        missing_key = [k for k in KEY if k not in frame.columns]
        if missing_key:
            raise ValueError(f"scores need the key column(s) {', '.join(missing_key)}")
        metadata = MetaData(schema=self.schema)
        if inspect(self.engine).has_table(self.name, schema=self.schema):
            table = Table(self.name, metadata, autoload_with=self.engine)
            absent = [c for c in frame.columns if c not in table.columns]
            if absent:
                raise ValueError(f"table {self.qualified_name} exists without column(s) {', '.join(absent)}: "
                                 "drop it, or write to another table (--table)")
            pk = tuple(c.name for c in table.primary_key.columns)
            if set(pk) != set(KEY):
                raise ValueError(f"table {self.qualified_name} has primary key {pk or 'none'}, not {KEY}: "
                                 "the upsert needs it; drop the table or write to another one")
        else:
            columns = [Column(name, _sql_type(frame[name]), nullable=name not in KEY)
                       for name in frame.columns]
            table = Table(self.name, metadata, *columns, PrimaryKeyConstraint(*KEY))
            metadata.create_all(self.engine, checkfirst=True)
        self._table = table
        return table


def _sql_type(values: pd.Series):
    from sqlalchemy import BigInteger, Boolean, DateTime, Double, Text

    if pd.api.types.is_bool_dtype(values):
        return Boolean()
    if pd.api.types.is_integer_dtype(values):
        return BigInteger()
    if pd.api.types.is_float_dtype(values):
        return Double()
    if pd.api.types.is_datetime64_any_dtype(values):
        return DateTime(timezone=True)
    return Text()
