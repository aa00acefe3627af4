"""``crmlab train churn``: tuned LightGBM vs logistic baseline, calibrated and explained, registered.

Two inputs: crmlab features (``--features DIR``) or a user's own table (``--table PATH --target COL
--id COL [--positive VALUE]``, CSV or Parquet, column types inferred and reported).
"""

from __future__ import annotations

import click

from crmlab.commands.options import family_options


@click.command(name="churn")
@click.option("--features", "features_dir", type=click.Path(file_okay=False), default=None,
              help="Features folder (features.parquet + features_meta.json) from `crmlab features`.")
@click.option("--table", type=click.Path(dir_okay=False), default=None,
              help="A customer table (CSV or Parquet) instead of crmlab features.")
@click.option("--target", default=None, help="Target column of --table (binary, or see --positive).")
@click.option("--id", "id_col", default=None, help="Customer id column of --table (unique per row).")
@click.option("--positive", default=None,
              help="Target value meaning 'churned' (needed when the target is not yes/no, true/false, 1/0).")
@family_options("churn")
def command(features_dir, table, target, id_col, positive, trials, timeout, model_name, seed, storage,
            promote) -> None:
    """Train and register the churn model (alias `challenger`); print its test metrics."""
    if bool(features_dir) == bool(table):
        raise click.UsageError("give exactly one input: --features DIR or --table PATH")
    if table and not (target and id_col):
        raise click.UsageError("--table needs --target COL and --id COL")
    if features_dir and any((target, id_col, positive)):
        raise click.UsageError("--target/--id/--positive go with --table")
    if trials is not None and trials < 1:
        raise click.UsageError(f"--trials must be at least 1 (got {trials})")

    from crmlab.commands.options import load_settings
    from training.churn.inputs import ChurnInputError
    from training.churn.train import train_churn
    from training.core.tabular import TableError

    settings = load_settings(seed=seed, trials=trials, timeout_s=timeout, optuna_storage=storage)
    try:
        result = train_churn(features_dir, table=table, target=target, id_col=id_col, positive=positive,
                             trials=settings.trials, timeout=settings.timeout_s, model_name=model_name,
                             seed=settings.seed, storage=storage, promote=promote, settings=settings)
    except (ChurnInputError, TableError) as err:
        raise click.ClickException(str(err)) from None
    _print_summary(result)


def _print_summary(result) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"churn test metrics ({result.split})", title_justify="left")
    table.add_column("metric")
    for column in result.table.columns:
        table.add_column(str(column), justify="right")
    for metric, row in result.table.iterrows():
        table.add_row(str(metric), *(f"{v:.4f}" for v in row))
    console = Console()
    console.print(table)
    for note in result.notes:
        console.print(f"note: {note}", markup=False)
    console.print(f"registered {result.model_name} v{result.version} ({result.chosen}, {result.calibration} "
                  f"calibration) as challenger; run {result.run_id}; study {result.study_name} "
                  f"({result.trials} trials)", markup=False)
    if result.promotion is not None:
        console.print(result.promotion.summary(), markup=False)
