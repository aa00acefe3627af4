"""``crmlab main``: the whole chain on a schema-described export (or a generated world), resumable.

[generate ->] ingest -> features (labelled training cutoffs chosen from the data's own range, plus the
unlabelled "current" batch at the data's end) -> train churn / clv / segments (each through the
promotion gate) -> recommender (at the latest training cutoff; skipped with a message when the data
has no product ids) -> customer_profile -> batch scores -> monitoring report. Without ``--source`` a world
is generated first and enters through its schema.yaml: one path for both. Every step is a child MLflow
run of the main run; a step whose inputs, parameters and code are unchanged reuses its finished run
(``training.resume``), ``--force`` reruns everything.
"""

from __future__ import annotations

import importlib
from datetime import date
from pathlib import Path

import click

from crmlab.commands.options import WholeNumber, seed_option


def _command(name: str) -> click.Command:
    return importlib.import_module(f"crmlab.commands.{name}").command


def _dates(ctx: click.Context, param: click.Parameter, value: str | None) -> list[date] | None:
    if not value:
        return None
    from training.features.build import normalise_cutoffs

    try:
        return normalise_cutoffs([c for c in value.split(",") if c.strip()])
    except ValueError as err:
        raise click.BadParameter(str(err)) from None


@click.command("main")
@click.option("--source", callback=lambda ctx, param, value: _source(value), default=None,
              metavar="SCHEMA.yaml|DIR",
              help="Schema file of your export (docs/SCHEMA.md), or a directory holding schema.yaml. "
                   "Without it a synthetic world is generated (demo PII key).")
@click.option("--customers", type=WholeNumber(), default=4000, show_default=True,
              help="Generated world only: number of customers.")
@seed_option
@click.option("--trials", type=WholeNumber(), default=15, show_default=True, help="Optuna trials per family.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=Path("data"),
              show_default=True, help="Where raw, clean, features and scores are written.")
@click.option("--drift", type=click.FloatRange(0.0, 1.0), default=0.0, show_default=True,
              help="Generated world only: drift strength (monitoring then sees it).")
@click.option("--cutoffs", callback=_dates, default=None, metavar="DATE[,DATE]",
              help="Training cutoffs instead of the rule (steps of one horizon back from the data's end).")
@click.option("--force", type=click.BOOL, is_flag=False, flag_value=True, default=False, metavar="[true|false]",
              help="Rerun every step even if a finished run with the same inputs exists.")
@click.pass_context
def command(ctx: click.Context, source: Path | None, customers: int, seed: int | None, trials: int, workdir: Path,
            drift: float, cutoffs: list[date] | None, force: bool) -> None:
    """Run the main job end to end: on your export (--source) or on a generated world."""
    import os

    from training.tracking import tracked_run

    if source is None:
        os.environ.setdefault("CRMLAB_DEMO", "1")  # generated data: the public demo key is acceptable
    from crmlab.commands.options import load_settings

    settings = load_settings(seed=seed)
    horizon = settings.horizon_days
    raw, clean, feats, current = (workdir / p for p in ("raw", "clean", "features", "features_current"))
    scores = workdir / "scores" / "customer_scores.parquet"
    reports = workdir.parent / "reports"  # ./reports for the default workdir ./data
    if source is not None:
        _source_files(source)  # a wrong schema fails here, before any run is opened

    with tracked_run(settings, run_name="main", tags={"crmlab.command": "main"}) as main_run:
        import mlflow

        # names differ from the MLproject parameters, which `mlflow run` has already logged as given
        mlflow.log_params({"data_source": str(source or "generated"), "seed": settings.seed, "trials": trials,
                           "workdir": str(workdir), "force_rerun": force,
                           **({"customers": customers, "drift": drift} if source is None else {})})
        step = _Steps(ctx, main_run.info.experiment_id, force)
        if source is None:
            step("generate", outputs=[raw / "schema.yaml"], n_customers=customers, seed=settings.seed, out=raw,
                 drift=drift)
            source = raw
        step("ingest", inputs=_source_files(source), outputs=[clean / "transactions.parquet"],
             source=str(source), out_dir=clean, demo=None)
        plan = _plan(clean, horizon, cutoffs)
        click.echo(plan.describe())
        mlflow.log_params({"training_cutoffs": ",".join(d.isoformat() for d in plan.training),
                           "current_cutoff": plan.current.isoformat()})
        step("features", inputs=[clean], outputs=[feats / "features.parquet"], data_dir=clean,
             cutoffs=",".join(d.isoformat() for d in plan.training), horizon_days=horizon, out_dir=feats)
        step("features", inputs=[clean, feats / "features_meta.json"], outputs=[current / "features.parquet"],
             data_dir=clean, cutoffs=plan.current.isoformat(), horizon_days=horizon, out_dir=current,
             vocabulary_from=feats)
        for family in ("churn", "clv", "segments"):
            step.train(family, inputs=[feats], features_dir=str(feats), trials=trials, seed=settings.seed,
                       promote=True)
        step.recs(inputs=[clean], data_dir=str(clean), cutoff=plan.training[-1].isoformat(), horizon_days=horizon,
                  trials=trials, seed=settings.seed, promote=True)
        step("profile", inputs=[current], sample_path=current)
        step("score", inputs=[current], outputs=[scores], features=str(current), out_path=scores)
        step("monitor", inputs=[current], current=str(current), models=[], policy=None, retrain=False,
             labels_available=False, reports_dir=str(reports), workspace=None, train_features=None)
    click.echo(f"main finished: data under {workdir}; browse runs with `mlflow ui --backend-store-uri "
               f"{settings.tracking_uri}`")


def _source(value: str | None) -> Path | None:
    """``--source``: empty (as MLproject passes its default) means a generated world."""
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.exists():
        raise click.BadParameter(f"{path} does not exist: give your schema file (docs/SCHEMA.md)",
                                 param_hint="--source")
    return path


def _source_files(source: Path) -> list[Path]:
    """The schema file and every file it declares (what the ingest step's key depends on)."""
    from training.ingest.sources import IngestError, resolve_schema

    try:
        schema = resolve_schema(source)
    except IngestError as err:
        raise click.ClickException(str(err)) from None
    schema_file = source / "schema.yaml" if source.is_dir() else source
    return [schema_file, *(schema.resolve(t.path) for t in schema.tables().values() if t.path is not None)]


def _plan(clean: Path, horizon: int, cutoffs: list[date] | None):
    from training.features.cutoffs import CutoffError, plan_for
    from training.features.inputs import CleanDataError

    try:
        return plan_for(clean, horizon, cutoffs)
    except (CutoffError, CleanDataError) as err:
        raise click.ClickException(str(err)) from None


class _Steps:
    """Invokes sibling commands with their own defaults, so `main` runs exactly what users run; each step
    inside a marker run keyed by its inputs (reused when a finished run has the same key)."""

    def __init__(self, ctx: click.Context, experiment_id: str, force: bool) -> None:
        self.ctx = ctx
        self.experiment_id = experiment_id
        self.force = force
        self.previous = ""

    def __call__(self, name: str, *, inputs: list[Path] = (), outputs: list[Path] = (), label: str | None = None,
                 command: click.Command | None = None, **params: object) -> None:
        import mlflow

        from training.resume import STEP_KEY_TAG, finished_run, step_key

        label = label or name
        key = step_key(self.previous, label, params, inputs)
        self.previous = key
        done = None if self.force else finished_run(self.experiment_id, key)
        if done is not None and all(Path(p).exists() for p in outputs):
            click.secho(f"\n== crmlab {label}: inputs, parameters and code unchanged; reusing run {done}", bold=True)
            return
        click.secho(f"\n== crmlab {label}", bold=True)
        with mlflow.start_run(run_name=f"step {label}", nested=True,
                              tags={STEP_KEY_TAG: key, "crmlab.step": label}):
            self.ctx.invoke(command or _command(name), **params)

    def train(self, family: str, **kwargs: object) -> None:
        from crmlab.commands.train import family_command

        self(family, label=f"train {family}", command=family_command(family), **kwargs)

    def recs(self, **kwargs: object) -> None:
        """Recommendations need product ids: without them the message is shown and ``main`` goes on."""
        try:
            self.train("recs", **kwargs)
        except click.ClickException as err:
            click.secho(f"recommendations skipped: {err.format_message()}", fg="yellow")
