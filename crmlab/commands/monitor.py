"""``crmlab monitor``: drift, calibration / estimated performance and policy verdicts for champions."""

from __future__ import annotations

import os

import click

# Before NumPy/Evidently load (imports below are lazy): no telemetry, single-threaded BLAS (2-3x faster drift).
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _models(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> list[str]:
    return [name.strip() for item in value for name in item.split(",") if name.strip()]


def monitor_options(func):
    """The options ``monitor`` and ``schedule`` share (the schedule runs exactly this command)."""
    options = [
        click.option("--current", required=True, type=click.Path(exists=True),
                     help="The batch to judge: a features directory (crmlab features --out) or a .parquet/.csv."),
        click.option("--model", "models", multiple=True, callback=_models,
                     help="Registered model(s) to monitor, repeatable or comma-separated "
                          "(default: every model with a champion)."),
        click.option("--policy", type=click.Path(), default=None,
                     help="Policy YAML (thresholds); default: the documented defaults (docs/MONITORING.md)."),
        click.option("--retrain", type=click.BOOL, is_flag=False, flag_value=True, default=False,
                     help="Retrain (train_<family> + promotion gate) when a threshold is crossed. "
                          "`--retrain` alone means true; `--retrain false` is accepted too."),
        click.option("--labels-available", type=click.BOOL, is_flag=False, flag_value=True, default=False,
                     help="The batch has labels (its outcome window has elapsed): measure calibration and AUC "
                          "instead of estimating them."),
        click.option("--reports-dir", type=click.Path(), default="reports", show_default=True,
                     help="Where reports/<date>/ and index.html go."),
        click.option("--workspace", type=click.Path(), default=None,
                     help="Evidently workspace directory (default: <reports-dir>/workspace)."),
        click.option("--train-features", type=click.Path(), default=None,
                     help="Features to retrain on (default: --current when it is a path)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def run_from_options(current: str, models: list[str], policy: str | None, retrain: bool, labels_available: bool,
                     reports_dir: str, workspace: str | None, train_features: str | None):
    """Resolve settings, policy and models, then run the monitor once."""
    from pathlib import Path

    from crmlab.commands.options import load_settings
    from monitoring.data import MonitorInputError, champion_models
    from monitoring.policy import PolicyError, load_policy
    from monitoring.run import run_monitor

    settings = load_settings()
    try:
        chosen = load_policy(policy or None)  # "" (an MLproject default) means "no file"
        names = models or champion_models(settings)
        if not names:
            raise click.UsageError("no registered model has a champion yet: train and promote one, or name it "
                                   "with --model NAME")
        return run_monitor(Path(current), names, chosen, Path(reports_dir), retrain, settings,
                           labels_available=labels_available,
                           workspace_dir=Path(workspace) if workspace else None,
                           train_features=train_features or None)
    except (PolicyError, MonitorInputError) as err:
        raise click.ClickException(str(err)) from None


def print_result(result) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"crmlab monitor: {result.data_window}")
    for column in ("model", "version", "status", "verdict", "retrain"):
        table.add_column(column, overflow="fold")
    style = {"ok": "green", "alert": "yellow", "error": "red"}
    for m in result.models:
        retrain = f"{m.retrain.status}: {m.retrain.message}" if m.retrain else "-"
        table.add_row(m.model_name, str(m.version or "-"), f"[{style[m.status]}]{m.status}[/]", m.verdict, retrain)
    console = Console()
    console.print(table)
    console.print(f"index: {result.index}   MLflow run: {result.mlflow_run_id} (experiment 'monitoring')")


@click.command()
@monitor_options
def command(**options) -> None:
    """Judge each champion on a batch: drift, calibration (with labels) or estimated AUC (without).

    Writes reports/<date>/<model>-<time>.html and .json, updates reports/index.html, logs them to the
    MLflow experiment 'monitoring' and the Evidently workspace (see `crmlab reports`). Exit code 1 when a
    model could not be monitored or a retrain it asked for failed (or could not start: no labelled
    window); alerts alone exit 0 (they are in the reports).
    """
    result = run_from_options(**options)
    print_result(result)
    for m in result.failed_retrains:
        click.echo(f"error: retrain of {m.model_name} failed: {m.retrain.message}", err=True)
    if result.errors or result.failed_retrains:
        raise SystemExit(1)
