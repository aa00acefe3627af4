"""One Spark session from the typed settings, or a one-line error naming the setting.

Spark Connect (``SPARK_REMOTE=sc://host:15002``) wins over the master URL (``CRMLAB_SPARK_MASTER``,
``local[*]`` by default). The session is configured for crmlab's data: timestamps are naive UTC
(``spark.sql.session.timeZone=UTC``), pandas exchange goes through Arrow, and Python workers run the
driver's interpreter (``PYSPARK_PYTHON``), where crmlab and the model's libraries are installed; without
that, local workers start the machine's ``python3`` and cannot import pandas.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from training.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

BASE_CONF: dict[str, str] = {
    "spark.app.name": "crmlab",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",  # not INT96: readable by pandas and DuckDB
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}


class SparkUnavailable(RuntimeError):
    """Spark could not be reached with the configured settings (the message names the setting)."""


def spark_target(settings: Settings) -> str:
    """The setting that picks the cluster, as the user would write it (for messages)."""
    if settings.spark_remote:
        return f"SPARK_REMOTE={settings.spark_remote}"
    return f"CRMLAB_SPARK_MASTER={settings.spark_master}"


def spark_session(settings: Settings) -> SparkSession:
    """The active session if there is one, else a new one from ``settings``."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailable("--engine spark needs PySpark: install crmlab with its spark extra "
                               "(pip install -e '.[spark]'; scripts/_venv.sh does)") from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder
    builder = builder.remote(settings.spark_remote) if settings.spark_remote else builder.master(settings.spark_master)
    for key, value in {**BASE_CONF, **_driver_log_conf(), **_local_conf(settings), **settings.spark_conf}.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as err:  # a JVM or Connect failure: one line, not the Java stack trace
        raise SparkUnavailable(f"Spark did not start with {spark_target(settings)}: {_first_line(err)} (check "
                               "the setting, that Java 17 is installed and that the cluster is reachable)") from None
    if not settings.spark_remote:
        session.sparkContext.setLogLevel("ERROR")
    return session


def _driver_log_conf() -> dict[str, str]:
    """The driver JVM logs errors as single lines (``log4j2.properties`` beside this module)."""
    config = Path(__file__).with_name("log4j2.properties")
    return {"spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={config.as_uri()}"}


def _local_conf(settings: Settings) -> dict[str, str]:
    """In local mode a few shuffle partitions, not Spark's 200 meant for a cluster (tiny tasks cost more)."""
    if settings.spark_remote or not settings.spark_master.startswith("local"):
        return {}
    return {"spark.sql.shuffle.partitions": "8"}


def _first_line(err: BaseException) -> str:
    """The cause in one line: the Java exception's message rather than py4j's "error calling ..." wrapper."""
    java = getattr(err, "java_exception", None)
    if java is not None:
        cause = java
        while cause.getCause() is not None:
            cause = cause.getCause()
        text = str(cause.toString())
    else:
        text = str(err).strip() or type(err).__name__
    return text.splitlines()[0][:300]
