"""crmlab's DuckDB SQL, run on Spark: the same query text, transpiled with SQLGlot.

The feature catalogue is written once, as DuckDB SQL (``training.features.sql``) and the cleaning
statistics (``training.cleaning``). ``to_spark_sql`` parses that text with SQLGlot's DuckDB dialect and
writes Spark SQL, fixing the few places where the two engines differ in meaning, not only in spelling:

- ``list_position(list, x)`` is NULL when ``x`` is absent; Spark's ``array_position`` is 0;
- ``epoch_us(ts)`` is ``unix_micros`` (the session time zone is UTC, so naive timestamps keep their value);
- ``quantile_cont(x, [p, ...])`` is Spark's exact ``percentile(x, array(p, ...))`` (both interpolate
  linearly between order statistics); ``quantile_disc(x, p)`` is ``percentile_disc(p) WITHIN GROUP``;
- a decimal literal such as ``5.0`` is DECIMAL in Spark (exact, then rounded to 6 places in a division)
  but DOUBLE arithmetic in DuckDB: such literals become DOUBLE;
- ``read_parquet('path')`` becomes a temporary view over the same file (``SparkSql.relation_views``);
- a ``NOT MATERIALIZED`` hint on a CTE is DuckDB's alone and is dropped.

``SparkSql`` offers the two calls crmlab makes on a DuckDB connection (``execute(sql).fetchall()`` and
``.df()``), so the feature build runs its statements unchanged on either engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession
    from sqlglot import exp


def to_spark_sql(duckdb_sql: str, views: dict[str, str] | None = None) -> str:
    """Spark SQL for one DuckDB statement; ``views`` maps a parquet path to the Spark view reading it."""
    import sqlglot

    tree = sqlglot.parse_one(duckdb_sql, read="duckdb")
    tree = tree.transform(lambda node: _rewrite(node, views or {}))
    return tree.sql(dialect="spark")


def _rewrite(node: exp.Expression, views: dict[str, str]) -> exp.Expression:
    from sqlglot import exp

    if isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
        node.set("materialized", None)
        return node
    if isinstance(node, exp.Table) and isinstance(node.this, exp.ReadParquet):
        path = node.this.expressions[0].name if node.this.expressions else node.this.this.name
        if path in views:
            return exp.Table(this=exp.to_identifier(views[path]), alias=node.args.get("alias"))
        return node
    if isinstance(node, exp.Anonymous):
        name = node.name.lower()
        if name == "list_position":
            items, value = node.expressions
            position = exp.Anonymous(this="ARRAY_POSITION", expressions=[items, value])
            return exp.Nullif(this=position, expression=exp.Literal.number(0))
        if name == "epoch_us":
            (value,) = node.expressions
            return exp.Anonymous(this="UNIX_MICROS", expressions=[exp.cast(value, "TIMESTAMP")])
    if isinstance(node, exp.PercentileCont) and isinstance(node.expression, exp.Array):
        return exp.Anonymous(this="PERCENTILE", expressions=[node.this, node.expression])
    if isinstance(node, exp.PercentileDisc) and not isinstance(node.parent, exp.WithinGroup):
        order = exp.Order(expressions=[exp.Ordered(this=node.this)])
        return exp.WithinGroup(this=exp.Anonymous(this="PERCENTILE_DISC", expressions=[node.expression]),
                               expression=order)
    if isinstance(node, exp.Literal) and not node.is_string and not node.this.lstrip("-").isdigit():
        return exp.cast(node.copy(), "DOUBLE")
    return node


class SparkResult:
    """The part of a DuckDB result crmlab reads: all rows as tuples, or a pandas frame."""

    def __init__(self, frame: DataFrame) -> None:
        self.frame = frame

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.frame.collect()]

    def df(self) -> pd.DataFrame:
        return self.frame.toPandas()


class SparkSql:
    """Runs DuckDB statements on Spark; the clean parquet files named in them are read as views."""

    def __init__(self, spark: SparkSession, files: dict[str, str] | None = None) -> None:
        """``files``: view name -> parquet path; each is registered (and cached: every cutoff reads it)."""
        self.spark = spark
        self.relation_views: dict[str, str] = {}
        for view, path in (files or {}).items():
            spark.read.parquet(path).cache().createOrReplaceTempView(view)
            self.relation_views[path] = view

    def execute(self, duckdb_sql: str) -> SparkResult:
        return SparkResult(self.spark.sql(to_spark_sql(duckdb_sql, self.relation_views)))

    def close(self) -> None:
        """Frees the cached views (the session stays: it is shared)."""
        for view in self.relation_views.values():
            self.spark.catalog.dropTempView(view)
        self.relation_views.clear()
