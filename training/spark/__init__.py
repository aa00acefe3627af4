"""The Spark engine: a session from the settings, and crmlab's DuckDB SQL run on Spark.

Only imported for ``--engine spark`` (PySpark is the ``spark`` extra; importing it costs seconds).
"""
