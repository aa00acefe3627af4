"""``crmlab generate``: write a synthetic customer world (raw CRM tables + hidden truth) to a folder."""

from __future__ import annotations

from pathlib import Path

import click

from crmlab.commands.options import WholeNumber, seed_option


@click.command("generate")
@click.option(
    "--customers",
    "n_customers",
    type=WholeNumber(),
    default=10_000,
    show_default=True,
    help="Number of customers (about 12 orders and 20 sessions each).",
)
@seed_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("data/raw"),
    show_default=True,
    help="Folder for <table>.parquet|csv, truth_customers.parquet, world.json.",
)
@click.option(
    "--drift",
    type=click.FloatRange(0.0, 1.0),
    default=0.0,
    show_default=True,
    help="Strength of the change after --drift-start (0 = stationary world).",
)
@click.option(
    "--drift-start",
    default="0.85",
    show_default=True,
    help="When drift begins: a date YYYY-MM-DD or a fraction of the timeline.",
)
@click.option(
    "--dirt-rate",
    type=float,
    default=None,
    help="Share of rows per dirt kind (default: CRMLAB_DIRT_RATE or 0.01).",
)
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True)
@click.option("--start", default="2023-01-01", show_default=True, help="First day of the timeline.")
@click.option("--end", default="2025-12-31", show_default=True, help="Last day of the timeline.")
def command(
    n_customers: int,
    seed: int | None,
    out: Path,
    drift: float,
    drift_start: str,
    dirt_rate: float | None,
    fmt: str,
    start: str,
    end: str,
) -> None:
    """Generate a synthetic customer world with latent segments, churn, drift and dirt.

    The raw tables follow docs/DATA_MODEL.md. One MLflow run ("generate") records the parameters,
    row and dirt counts and world.json; customer tables (names, emails, phones) are never logged.
    """
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from crmlab.commands.options import load_settings
    from training.world import WorldConfig
    from training.world.generate import STAGES
    from training.world.run import dirty_rows, generate_tracked

    settings = load_settings(seed=seed, dirt_rate=dirt_rate)
    try:
        config = WorldConfig(
            n_customers=n_customers,
            seed=settings.seed,
            start=start,
            end=end,
            drift=drift,
            drift_start=drift_start,
            dirt_rate=settings.dirt_rate,
        )
    except ValueError as err:
        raise click.UsageError(str(err)) from None

    console = Console()
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("customers", total=len(STAGES) + 1)
        world, paths = generate_tracked(
            config, out, fmt, settings,
            progress=lambda stage: progress.update(task, advance=1, description=stage),
        )
    rows = world.meta["rows"]

    summary = Table(title=f"World written to {out}")
    for header in ("table", "rows", "dirty rows", "file"):
        summary.add_column(header, justify="right" if header != "file" and header != "table" else "left")
    for name, n in rows.items():
        dirt = world.meta["dirt"].get(name)
        summary.add_row(name, f"{n:,}", f"{dirty_rows(dirt):,}" if dirt else "0", paths[name].name)
    console.print(summary)
    console.print(
        f"drift={config.drift} from {config.drift_start_date}; truth in {paths['truth_customers'].name} "
        "(tests and benchmarks only)"
    )
