"""Batch scoring on Spark: the registered model as ``mlflow.pyfunc.spark_udf``, same rows and columns.

The same contract as ``serving.batch.score_batch`` (whose helpers it reuses): only the latest cutoff
is scored; customers without consent or on the exclusion list (``serving.consent``, the same filter
object) are skipped and counted; each output row is ``customer_id``, ``model_name``,
``model_version`` (the concrete version the alias resolved to), ``scored_at``, then the model's output
columns with the same types. The model runs inside Spark's Python workers through MLflow's own
``spark_udf`` (``env_manager="local"``: the driver's environment), so the registered artifact is
scored unchanged; the rows reach it as one named struct, so no column can land on the wrong input.

Input: a features directory or Parquet path (read by Spark), or the name of a Spark table. Output: a
Parquet directory (written to ``<name>.partial`` and renamed on success, like the in-process batch),
or a Spark table. Derived BG/NBD inputs are not computed on Spark: such a model is refused with a
message saying what to do.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from serving.batch import CUTOFF, ID, ScoreResult, _cutoff_label, _model_inputs, derived_inputs, features_meta
from serving.consent import ListSource, load_consent_filter
from serving.model_ref import resolve_version
from training.features.output import FEATURES_FILE
from training.settings import Settings, get_settings

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import DataType, StructType

SAMPLE_ROWS = 64  # rows scored on the driver to learn the output columns and their types
_TABLE_NAME = re.compile(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*){0,2}")


def score_spark(model_uri: str, features: str | Path, out: str | Path, settings: Settings | None = None, *,
                spark: SparkSession | None = None, consent: ListSource | None = None,
                exclude: ListSource | None = None, params: dict | None = None) -> ScoreResult:
    """Score every consenting customer of ``features`` (latest cutoff) with ``model_uri`` on Spark.

    ``out``: a ``.parquet`` path (a directory of part files) or a Spark table name (``db.scores``).
    ``spark``: a running session (default: one from ``settings``, see ``training.spark.session``).
    """
    import mlflow

    from training.core.pyfunc_base import declared_params
    from training.spark.session import spark_session
    from training.tracking import configure_mlflow

    settings = settings or get_settings()
    configure_mlflow(settings)
    name, version = resolve_version(model_uri)
    concrete = f"models:/{name}/{version}" if version else model_uri
    model = mlflow.pyfunc.load_model(concrete)
    spark = spark or spark_session(settings)
    frame, meta = _read_features(spark, features)
    if ID not in frame.columns:
        raise ValueError(f"the features have no {ID!r} column: batch scores are keyed by customer")
    if derived_inputs(model, name, frame.columns, meta, None) is not None:
        raise ValueError(f"{name} reads BG/NBD inputs the features do not carry; --engine spark does not derive "
                         "them: score in process (--engine duckdb) or add the btyd_* columns to the features")
    started = time.perf_counter()
    rows_in = frame.count()
    frame, cutoff = _latest_cutoff(frame)
    gate = load_consent_filter(consent, exclude)
    keep, counts = _consenting(spark, frame, gate)
    if counts["duplicates"]:
        raise ValueError(f"{counts['duplicates']} customer id(s) appear more than once among the rows to score: "
                         "give one row per customer")
    scored_at = datetime.now(UTC)
    call_params = declared_params(model, params)
    result_type = _result_type(model, keep, call_params)
    udf = mlflow.pyfunc.spark_udf(spark, concrete, result_type=result_type, env_manager="local",
                                  params=call_params)
    reads = _model_inputs(model)  # only what the model reads travels to the Python workers
    scores = _output(keep, [c for c in keep.columns if c == ID or c in reads], udf, result_type, name, version,
                     scored_at)
    target = _write(scores, out)
    result = ScoreResult(model_uri, name, version, scored_at, rows_in, counts["keep"], counts["no_consent"],
                         counts["excluded"], rows_in - counts["rows"], time.perf_counter() - started,
                         out_path=Path(target) if not _is_table(out) else None,
                         table=str(out) if _is_table(out) else None, cutoff=cutoff)
    return result


def _is_table(target: str | Path) -> bool:
    text = str(target)
    return not text.lower().endswith((".parquet", ".pq")) and bool(_TABLE_NAME.fullmatch(text))


def _read_features(spark: SparkSession, features: str | Path) -> tuple[DataFrame, dict]:
    path = Path(features)
    if path.is_dir() and (path / FEATURES_FILE).exists():
        path = path / FEATURES_FILE
    if path.exists():
        if path.suffix.lower() == ".csv":
            raise ValueError(f"features {path.name}: --engine spark reads Parquet or a Spark table, not CSV")
        return _read_parquet(spark, path), features_meta(path)
    if _TABLE_NAME.fullmatch(str(features)) and spark.catalog.tableExists(str(features)):
        return spark.table(str(features)), {}
    raise ValueError(f"features {features} are neither a Parquet file or directory nor a Spark table")


def _read_parquet(spark: SparkSession, path: Path) -> DataFrame:
    """Spark refuses pandas' nanosecond timestamps; such columns are read as numbers and turned back."""
    import pyarrow as pa
    import pyarrow.dataset as ds
    from pyspark.sql import functions as F

    schema = ds.dataset(str(path), format="parquet").schema
    nanos = [f.name for f in schema if pa.types.is_timestamp(f.type) and f.type.unit == "ns"]
    if nanos:
        spark.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")
    frame = spark.read.parquet(str(path))
    for column in nanos:  # the session time zone is UTC: the naive wall-clock value is kept
        micros = F.timestamp_micros(F.floor(F.col(column) / 1000).cast("long")).cast("timestamp_ntz")
        frame = frame.withColumn(column, micros)
    return frame


def _latest_cutoff(frame: DataFrame) -> tuple[DataFrame, str | None]:
    """Only the latest cutoff when the table holds several (as ``FeatureSource`` does in process)."""
    from pyspark.sql import functions as F

    if CUTOFF not in frame.columns:
        return frame, None
    row = frame.agg(F.countDistinct(CUTOFF).alias("n"), F.max(CUTOFF).alias("latest")).first()
    if row["n"] <= 1:
        return frame, None
    return frame.filter(F.col(CUTOFF) == F.lit(row["latest"])), _cutoff_label(row["latest"])


def _consenting(spark: SparkSession, frame: DataFrame, gate) -> tuple[DataFrame, dict[str, int]]:
    """Rows that may be scored and the counts, from the same ``ConsentFilter`` the in-process batch uses.

    The lists become two small id tables joined to the features (broadcast when small): the rule is the
    filter's own (``ConsentFilter.split``): excluded first, then no consent when a consent list is given.
    """
    from pyspark.sql import functions as F

    ids = frame.withColumn("_id", F.col(ID).cast("string"))
    excluded = F.lit(False)
    if gate.excluded:
        ex = spark.createDataFrame([(i,) for i in sorted(gate.excluded)], "_id string").withColumn("_ex", F.lit(True))
        ids = ids.join(F.broadcast(ex), "_id", "left")
        excluded = F.coalesce(F.col("_ex"), F.lit(False))
    no_consent = F.lit(False)
    if gate.allowed is not None:
        ok = spark.createDataFrame([(i,) for i in sorted(gate.allowed)] or [("",)], "_id string")
        ok = ok.withColumn("_ok", F.lit(True))
        ids = ids.join(F.broadcast(ok), "_id", "left")
        no_consent = ~F.coalesce(F.col("_ok"), F.lit(False)) & ~excluded
    flagged = ids.withColumn("_keep", ~(excluded | no_consent)).withColumn("_ex_flag", excluded)
    # not cached: counting and scoring each scan the Parquet again, which is cheaper than holding a
    # whole features table in executor memory at scale
    flagged = flagged.withColumn("_nc_flag", no_consent)
    kept_ids = F.when(F.col("_keep"), F.col("_id"))
    row = flagged.agg(F.count(F.lit(1)).alias("rows"), F.sum(F.col("_keep").cast("long")).alias("keep"),
                      F.sum(F.col("_nc_flag").cast("long")).alias("no_consent"),
                      F.sum(F.col("_ex_flag").cast("long")).alias("excluded"),
                      F.countDistinct(kept_ids).alias("distinct_keep")).first()
    counts = {k: int(row[k] or 0) for k in ("rows", "keep", "no_consent", "excluded", "distinct_keep")}
    counts["duplicates"] = counts["keep"] - counts["distinct_keep"]
    keep = flagged.filter(F.col("_keep")).select(*frame.columns)
    return keep, counts


def _result_type(model, rows: DataFrame, params: dict | None) -> StructType:
    """The output struct, from the model's answer on a few rows on the driver (types as stored in process)."""
    from serving.batch import _score_rows
    from training.core.pyfunc_base import direct_predictor

    sample = rows.limit(SAMPLE_ROWS).toPandas()
    if sample.empty:
        raise ValueError("no customer may be scored: every row lacks consent or is excluded")
    out = _score_rows(direct_predictor(model), sample, 0, set(), params).drop(columns=[ID])
    return _struct_of(out)


def _struct_of(frame: pd.DataFrame) -> StructType:
    from pyspark.sql.types import StructField, StructType

    return StructType([StructField(str(c), _spark_type(frame[c]), True) for c in frame.columns])


def _spark_type(column: pd.Series) -> DataType:
    import pandas as pd
    from pyspark.sql.types import BooleanType, DoubleType, LongType, StringType

    if pd.api.types.is_bool_dtype(column):
        return BooleanType()
    if pd.api.types.is_integer_dtype(column):
        return LongType()
    if pd.api.types.is_float_dtype(column):
        return DoubleType()
    return StringType()  # text, and columns all null in the sample (stored as text in process too)


def _output(rows: DataFrame, inputs: list[str], udf: Any, result_type: StructType, name: str, version: str | None,
            scored_at: datetime) -> DataFrame:
    """customer_id, model_name, model_version, scored_at, then the model's columns (the in-process order)."""
    from pyspark.sql import functions as F

    scored = rows.select(F.col(ID).cast("string").alias(ID), udf(F.struct(*[F.col(c) for c in inputs]))
                         .alias("_out"))
    return scored.select(ID, F.lit(name).alias("model_name"), F.lit(version).cast("string").alias("model_version"),
                         F.lit(scored_at).alias("scored_at"), *[F.col(f"_out.{f.name}").alias(f.name)
                                                               for f in result_type.fields])


def _write(scores: DataFrame, out: str | Path) -> str:
    """A Spark table, or Parquet written beside the target and renamed on success (local paths)."""
    import shutil

    if _is_table(out):
        scores.write.mode("overwrite").saveAsTable(str(out))
        return str(out)
    target = Path(out)
    if target.suffix.lower() not in {".parquet", ".pq"}:
        raise ValueError(f"--out {target.name}: with --engine spark give a .parquet path or a Spark table name")
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        scores.write.mode("overwrite").parquet(str(partial))
    except Exception:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if target.is_dir():
        shutil.rmtree(target)
    elif target.exists():
        target.unlink()
    partial.replace(target)
    return str(target)
