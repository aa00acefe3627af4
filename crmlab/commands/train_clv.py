"""``crmlab train clv``: BG/NBD + Gamma-Gamma baseline vs tuned LightGBM; the winner is registered.

Two input shapes: crmlab features (``--features DIR``, with ``--data CLEAN_DIR`` for the BG/NBD inputs
when the features do not name their clean data) or a transaction log (``--transactions PATH`` with
``--id/--date/--amount`` column names and ``--calibration-end``).
"""

from __future__ import annotations

import click

from crmlab.commands.options import family_options


@click.command(name="clv")
@click.option("--features", "features_dir", type=click.Path(file_okay=False), default=None,
              help="Features folder (features.parquet + features_meta.json) from `crmlab features`.")
@click.option("--data", "data_dir", type=click.Path(file_okay=False), default=None,
              help="Clean data folder (`crmlab ingest --out`), for the BG/NBD inputs of the features shape.")
@click.option("--transactions", "transactions", type=click.Path(dir_okay=False), default=None,
              help="A transaction log (CSV, TSV, whitespace-separated .txt, or Parquet) instead of features.")
@click.option("--id", "id_col", default=None, help="Customer id column of the transaction log.")
@click.option("--date", "date_col", default=None, help="Purchase date column of the transaction log.")
@click.option("--amount", "amount_col", default=None, help="Purchase amount column of the transaction log.")
@click.option("--no-header", is_flag=True,
              help="The log has no header row: name columns by 1-based position (--id 2 --date 3 ...).")
@click.option("--date-format", default=None,
              help="strptime format of --date when not ISO (YYYYMMDD is detected).")
@click.option("--calibration-end", default=None, help="Last day of the calibration period (YYYY-MM-DD).")
@click.option("--horizon-days", type=click.IntRange(min=1), default=None,
              help="Prediction horizon in days (default: the features' horizon, else CRMLAB_HORIZON_DAYS).")
@family_options("clv")
def command(features_dir, data_dir, transactions, id_col, date_col, amount_col, no_header, date_format,
            calibration_end, horizon_days, trials, timeout, model_name, seed, storage, promote) -> None:
    """Train and register the customer-lifetime-value model (alias `challenger`)."""
    if bool(features_dir) == bool(transactions):
        raise click.UsageError("give exactly one input: --features DIR or --transactions PATH")
    if transactions:
        missing = [f"--{n}" for n, v in (("id", id_col), ("date", date_col), ("amount", amount_col),
                                         ("calibration-end", calibration_end)) if not v]
        if missing:
            raise click.UsageError(f"--transactions needs {', '.join(missing)}")
    elif any((id_col, date_col, amount_col, calibration_end, date_format, no_header)):
        raise click.UsageError("--id/--date/--amount/--calibration-end/--date-format/--no-header go with "
                               "--transactions")

    from crmlab.commands.options import load_settings
    from training.clv.inputs import problem_from_features, problem_from_transactions
    from training.clv.train import train_clv
    from training.clv.transactions import ClvInputError

    settings = load_settings(seed=seed, trials=trials, timeout_s=timeout, optuna_storage=storage)
    try:
        if transactions:
            problem = problem_from_transactions(
                transactions, id_col=id_col, date_col=date_col, amount_col=amount_col,
                calibration_end=calibration_end, horizon_days=horizon_days or settings.horizon_days,
                seed=settings.seed, date_format=date_format,
                header=not no_header)
        else:
            problem = problem_from_features(features_dir, data_dir=data_dir, seed=settings.seed,
                                            horizon_days=horizon_days)
    except ClvInputError as err:
        raise click.ClickException(str(err)) from None
    result = train_clv(problem, trials=settings.trials, timeout=settings.timeout_s, model_name=model_name,
                       seed=settings.seed, storage=storage, promote=promote, settings=settings)
    click.echo(result.comparison.round(4).to_string())
    click.echo(f"winner: {result.winner}; registered {result.model_name} v{result.version} as challenger "
               f"(run {result.run_id})")
    for note in result.notes:
        click.echo(f"note: {note}")
    if result.promotion:
        click.echo(result.promotion)
