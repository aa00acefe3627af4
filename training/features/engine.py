"""Which engine runs the feature statements: DuckDB in process (default) or Spark.

The feature build speaks to its engine through the two calls a DuckDB connection offers
(``execute(sql).fetchall()`` / ``.df()``); the statements are always the DuckDB text of
``training.features.sql`` and ``training.cleaning``, so both engines run one definition.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, Protocol

from training.features.inputs import CleanTables
from training.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

EngineName = Literal["duckdb", "spark"]
ENGINES: tuple[str, ...] = ("duckdb", "spark")


class SqlResult(Protocol):
    def fetchall(self) -> list[tuple[Any, ...]]: ...

    def df(self) -> Any: ...


class SqlConnection(Protocol):
    def execute(self, sql: str) -> SqlResult: ...

    def close(self) -> None: ...


# Opens the engine on the checked clean tables; None = the build's own DuckDB connection.
Engine = Callable[[CleanTables], SqlConnection]


def spark_engine(spark: SparkSession) -> Engine:
    """Feature statements on ``spark``; each clean table present is read once into a cached view."""
    from training.spark.sql import SparkSql

    def open_tables(tables: CleanTables) -> SqlConnection:
        return SparkSql(spark, {f"crmlab_clean_{t}": str(tables.path(t)) for t in tables.columns})

    return open_tables


def open_engine(name: str, settings: Settings) -> Engine | None:
    """The engine called ``name`` (``duckdb``: None, the build's default; ``spark``: from the settings)."""
    if name == "duckdb":
        return None
    if name == "spark":
        from training.spark.session import spark_session

        return spark_engine(spark_session(settings))
    raise ValueError(f"engine {name!r}: choose one of {', '.join(ENGINES)}")
