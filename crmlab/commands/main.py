"""``crmlab main``: the whole chain on a generated world, each step the same command a user runs.

generate -> ingest -> features (labelled training cutoffs, plus the unlabelled "current" batch)
-> train churn / clv / segments (each through the promotion gate) -> customer_profile -> batch scores
-> monitoring report (./reports). Every step is a child MLflow run of the main run.
"""

from __future__ import annotations

import importlib
from datetime import date, timedelta
from pathlib import Path

import click

from crmlab.commands.options import WholeNumber, seed_option

WORLD_END = date(2025, 12, 31)


def training_cutoffs(end: date, horizon_days: int, count: int = 3) -> list[date]:
    """Labelled cutoffs: the latest whose label window ends inside the data, then earlier ones."""
    latest = end - timedelta(days=horizon_days)
    return [latest - timedelta(days=horizon_days * k) for k in reversed(range(count))]


def _command(name: str) -> click.Command:
    return importlib.import_module(f"crmlab.commands.{name}").command


def _has(name: str) -> bool:
    return importlib.util.find_spec(f"crmlab.commands.{name}") is not None


@click.command("main")
@click.option("--customers", type=WholeNumber(), default=4000, show_default=True)
@seed_option
@click.option("--trials", type=WholeNumber(), default=15, show_default=True, help="Optuna trials per family.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=Path("data"),
              show_default=True, help="Where raw, clean, features and scores are written.")
@click.option("--drift", type=click.FloatRange(0.0, 1.0), default=0.0, show_default=True,
              help="Drift strength of the generated world (monitoring then sees it).")
@click.pass_context
def command(ctx: click.Context, customers: int, seed: int | None, trials: int, workdir: Path,
            drift: float) -> None:
    """Run the main job end to end on a generated world (demo PII key unless CRMLAB_PII_KEY is set)."""
    import os

    from training.tracking import tracked_run

    os.environ.setdefault("CRMLAB_DEMO", "1")  # generated data: the public demo key is acceptable
    from crmlab.commands.options import load_settings

    settings = load_settings(seed=seed)
    horizon = settings.horizon_days
    raw, clean, feats, current = (workdir / p for p in ("raw", "clean", "features", "features_current"))
    cutoffs = training_cutoffs(WORLD_END, horizon)
    now = WORLD_END + timedelta(days=1)
    reports = workdir.parent / "reports"  # ./reports for the default workdir ./data

    with tracked_run(settings, run_name="main", tags={"crmlab.command": "main"}):
        import mlflow

        mlflow.log_params({"customers": customers, "seed": settings.seed, "trials": trials,
                           "workdir": str(workdir), "drift": drift,
                           "cutoffs": ",".join(d.isoformat() for d in cutoffs)})
        step = _Steps(ctx)
        step("generate", n_customers=customers, seed=settings.seed, out=raw, drift=drift)
        step("ingest", source=str(raw), out_dir=clean, demo=True)
        step("features", data_dir=clean, cutoffs=",".join(d.isoformat() for d in cutoffs),
             horizon_days=horizon, out_dir=feats)
        step("features", data_dir=clean, cutoffs=now.isoformat(), horizon_days=horizon, out_dir=current)
        for family in ("churn", "clv", "segments"):
            step.train(family, features_dir=str(feats), trials=trials, seed=settings.seed, promote=True)
        step("profile", sample_path=current)
        step("score", features=str(current), out_path=workdir / "scores" / "customer_scores.parquet")
        step("monitor", current=str(current), models=[], policy=None, retrain=False, labels_available=False,
             reports_dir=str(reports), workspace=None, train_features=None)
    click.echo(f"main finished: data under {workdir}; browse runs with `mlflow ui --backend-store-uri "
               f"{settings.tracking_uri}`")


class _Steps:
    """Invokes sibling commands with their own defaults, so `main` runs exactly what users run."""

    def __init__(self, ctx: click.Context) -> None:
        self.ctx = ctx

    def __call__(self, name: str, **params: object) -> None:
        click.secho(f"\n== crmlab {name}", bold=True)
        self.ctx.invoke(_command(name), **params)

    def train(self, family: str, **params: object) -> None:
        from crmlab.commands.train import family_command

        click.secho(f"\n== crmlab train {family}", bold=True)
        self.ctx.invoke(family_command(family), **params)
