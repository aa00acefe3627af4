"""``crmlab score``: batch-score customers with a registered model into a file and/or PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import click

from crmlab.commands.options import WholeNumber


@click.command("score")
@click.option("--model", default="customer_profile", show_default=True,
              help="Registered model name (resolved with --alias), or a model URI (models:/..., runs:/...).")
@click.option("--alias", default="champion", show_default=True, help="Alias to use for a registered name.")
@click.option("--features", required=True, metavar="DIR|PATH",
              help="Features directory from `crmlab features`, or a .parquet/.csv file with customer_id.")
@click.option("--out", "out_path", type=click.Path(path_type=Path), default=None,
              help="Output file (.parquet or .csv); with --engine spark a .parquet directory or a Spark table.")
@click.option("--to", default=None, metavar="POSTGRESQL_URL",
              help="Upsert the scores into PostgreSQL, e.g. postgresql://user@host:5432/crm.")
@click.option("--table", default="customer_scores", show_default=True, help="Table for --to.")
@click.option("--schema", default=None, help="Database schema for --to (default: the search path).")
@click.option("--chunk-size", type=WholeNumber(), default=50_000, show_default=True,
              help="Rows scored per batch.")
@click.option("--consent", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Consent list (customer_id, marketing_consent): only customers with consent are scored.")
@click.option("--exclude", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Exclusion list (customer_id): customers never scored or exported.")
@click.option("--reasons", type=click.BOOL, default=True, show_default=True, metavar="true|false",
              help="Churn's top_reasons (the costliest part of scoring); false leaves them null.")
@click.option("--reasons-method", type=click.Choice(["path", "shap"]), default="path", show_default=True,
              help="How churn's reasons are computed: path contributions (about 2x a prediction) or exact "
                   "tree SHAP (about 15x).")
@click.option("--data", "clean_data", type=click.Path(exists=True, file_okay=False), default=None,
              help="Clean data folder (crmlab ingest) for a BG/NBD CLV's inputs; default: the one the "
                   "features were built from.")
@click.option("--no-progress", is_flag=True, help="No progress bar (for logs).")
@click.option("--engine", type=click.Choice(["duckdb", "spark"]), default="duckdb", show_default=True,
              help="duckdb: in process, chunk by chunk; spark: mlflow spark_udf on the Spark of CRMLAB_SPARK_MASTER "
                   "or SPARK_REMOTE (Parquet or Spark tables in and out).")
def command(model: str, alias: str, features: str, out_path: Path | None, to: str | None, table: str,
            schema: str | None, chunk_size: int, consent: str | None, exclude: str | None, reasons: bool,
            reasons_method: str, clean_data: str | None, no_progress: bool, engine: str) -> None:
    """Score every customer of FEATURES (latest cutoff) and write the scores with the model versions."""
    if out_path is None and to is None:
        raise click.UsageError("give --out PATH and/or --to POSTGRESQL_URL")
    if engine == "spark":
        _score_on_spark(model, alias, features, out_path, to, consent, exclude,
                        {"reasons": reasons, "reasons_method": reasons_method})
        return

    from serving.batch import score_batch
    from serving.model_ref import model_uri
    from training.settings import get_settings

    try:
        result = score_batch(model_uri(model, alias), features, out_path, chunk_size, get_settings(), to=to,
                             table=table, schema=schema, consent=consent, exclude=exclude,
                             progress=not no_progress,
                             params={"reasons": reasons, "reasons_method": reasons_method},
                             clean_data=clean_data)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    click.echo(result.summary())


def _score_on_spark(model: str, alias: str, features: str, out_path: Path | None, to: str | None,
                    consent: str | None, exclude: str | None, params: dict) -> None:
    if to is not None or out_path is None:
        raise click.UsageError("--engine spark writes --out (a .parquet path or a Spark table), not --to")
    from crmlab.commands.options import load_settings
    from serving.model_ref import model_uri
    from serving.spark_batch import score_spark
    from training.spark.session import SparkUnavailable

    settings = load_settings()
    try:
        result = score_spark(model_uri(model, alias), features, out_path, settings, consent=consent,
                             exclude=exclude, params=params)
    except (ValueError, SparkUnavailable) as err:
        raise click.ClickException(str(err)) from None
    click.echo(result.summary())
