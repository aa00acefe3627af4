"""``crmlab features``: point-in-time features and labels from a clean data directory."""

from __future__ import annotations

from pathlib import Path

import click


def _horizon(ctx: click.Context, param: click.Parameter, value: float | None) -> int | None:
    """Whole days; MLproject passes float parameters such as ``90.0``."""
    if value is None:
        return None
    if not float(value).is_integer() or value <= 0:
        raise click.BadParameter(f"{value!r}: give a positive whole number of days, e.g. 90.")
    return int(value)


@click.command("features")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("data/clean"),
              show_default=True, help="Clean data directory written by `crmlab ingest`.")
@click.option("--cutoff", "cutoffs", required=True,
              help="Cutoff date(s) YYYY-MM-DD, comma-separated; one row per customer and cutoff.")
@click.option("--horizon-days", type=float, default=None, callback=_horizon, metavar="DAYS",
              help="Label window length in days (default: CRMLAB_HORIZON_DAYS or 90).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("data/features"),
              show_default=True, help="Folder for features.parquet and features_meta.json.")
@click.option("--vocabulary-from", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Reuse the categories/channels learned by this (training) features directory, so a "
                   "scoring batch has the models' columns; later values count as missing.")
@click.option("--engine", type=click.Choice(["duckdb", "spark"]), default="duckdb", show_default=True,
              help="Runs the feature query: DuckDB in process, or Spark (CRMLAB_SPARK_MASTER or SPARK_REMOTE).")
def command(data_dir: Path, cutoffs: str, horizon_days: int | None, out_dir: Path,
            vocabulary_from: Path | None = None, engine: str = "duckdb") -> None:
    """Build features from data strictly before each cutoff and labels from [cutoff, cutoff + horizon).

    Cleaning statistics are fitted per cutoff on earlier rows only. One MLflow run ("features") records
    parameters, label rates, null rates, the metadata and a feature summary.
    """
    from rich.console import Console

    from training.features.build import normalise_cutoffs
    from training.features.inputs import CleanDataError
    from training.features.run import run_features

    console = Console(stderr=True, log_path=False)
    try:
        days = normalise_cutoffs([c for c in cutoffs.split(",") if c.strip()])
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--cutoff") from None
    from crmlab.commands.options import load_settings
    from training.features.cutoff_check import check_cutoffs, data_span

    span = data_span(data_dir)
    if span is not None:
        try:
            for warning in check_cutoffs(days, span):
                console.print(f"warning: {warning}", markup=False, soft_wrap=True)
        except ValueError as err:
            raise click.ClickException(f"--cutoff: {err}") from None
    settings = load_settings()
    from training.features.engine import open_engine
    from training.spark.session import SparkUnavailable

    try:
        sql_engine = open_engine(engine, settings)
    except SparkUnavailable as err:
        raise click.ClickException(str(err)) from None
    with console.status("building features") as status:
        def progress(message: str) -> None:
            status.update(message)
            console.log(message)

        try:
            result = run_features(data_dir, days, horizon_days, out_dir, settings, progress=progress,
                                  vocabulary_from=vocabulary_from, engine=sql_engine)
        except (CleanDataError, ValueError) as err:
            raise click.ClickException(str(err)) from None
    meta = result.feature_set.meta
    for cutoff, rows in meta["rows_per_cutoff"].items():
        rate = result.metrics.get(f"cutoff_{cutoff}/churn_rate")
        churn = f"{rate:.1%}" if rate is not None else "n/a"
        spend = result.metrics.get(f"cutoff_{cutoff}/mean_future_spend")
        if not meta.get("labels_observed", {}).get(cutoff, True):
            console.print(f"cutoff {cutoff}: {rows} customers; labels unknown (the {meta['horizon_days']}-day "
                          f"window runs past the data, which ends {meta['observed_until']})")
            continue
        console.print(f"cutoff {cutoff}: {rows} customers, churn rate {churn}, mean future spend {spend:.2f}")
    console.print(f"wrote {result.files.parquet} ({meta['rows']} rows, {len(meta['features'])} features) "
                  f"in {meta['build_seconds']:.1f} s; MLflow run {result.run_id}")
