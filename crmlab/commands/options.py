"""Options shared by several commands, declared once."""

from __future__ import annotations

import functools

import click


class WholeNumber(click.ParamType):
    """An integer that also accepts ``10000.0`` or ``1e6`` (MLproject passes float parameters)."""

    name = "integer"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            number = float(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a whole number", param, ctx)
        if not number.is_integer():
            self.fail(f"{value!r} is not a whole number", param, ctx)
        return int(number)


seed_option = click.option("--seed", type=WholeNumber(), default=None, help="Random seed (default: CRMLAB_SEED or 42).")
demo_option = click.option(
    "--demo", is_flag=True, default=None,
    help="Demo mode: use the public demo PII key (generated data only). Same as CRMLAB_DEMO=1.",
)
storage_option = click.option(
    "--storage", default=None,
    help="Optuna storage URL (default: CRMLAB_OPTUNA_STORAGE, else optuna.db beside a SQLite tracking store; "
         "with PostgreSQL give a database of its own).",
)


TEAM_OVERRIDES = "crmlab.team_overrides"  # ctx.meta key: settings given by the team options below


def load_settings(**overrides: object):
    """Settings with flag overrides; a value out of range is a usage error naming the field, not a traceback."""
    from pydantic import ValidationError

    from training.settings import get_settings

    ctx = click.get_current_context(silent=True)
    team = ctx.meta.get(TEAM_OVERRIDES, {}) if ctx is not None else {}
    try:
        return get_settings(**team, **overrides)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise click.UsageError(f"invalid setting ({problems})") from None


def family_options(model_name: str):
    """The options every ``crmlab train <family>`` shares, in one place (same shape for every family)."""

    def decorate(func):
        options = [
            click.option("--trials", type=WholeNumber(), default=None,
                         help="Optuna trials, >= 1 (default CRMLAB_TRIALS)."),
            click.option("--timeout", type=click.FloatRange(min=0), default=None,
                         help="Tuning time limit in seconds; 0 = none (default CRMLAB_TIMEOUT_S)."),
            click.option("--model-name", default=model_name, show_default=True, help="Registered model name."),
            seed_option,
            storage_option,
            click.option("--promote", is_flag=True, help="Run the promotion gate after registering the challenger."),
            *team_options,
        ]
        func = _team_job(func)
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


team_options = (
    click.option("--workers", type=click.IntRange(min=1), default=None,
                 help="Local tuning processes on one shared study (needs a PostgreSQL --storage); "
                      "--trials is the job's total."),
    click.option("--study", default=None,
                 help="Optuna study of a distributed job: workers started with the same name (any machine) "
                      "join it. Default with --workers N: a new name, printed."),
    click.option("--heartbeat", type=click.IntRange(min=1), default=None,
                 help="Trial heartbeat in seconds (default CRMLAB_HEARTBEAT_S, 30): a worker silent for twice "
                      "this has its trial failed and replaced."),
)


def _team_job(func):
    """Routes the team options: N > 1 workers -> spawn them; a study name -> this process is one worker."""
    @functools.wraps(func)
    def run(*args, workers: int | None, study: str | None, heartbeat: int | None, **kwargs):
        ctx = click.get_current_context()
        if workers is not None and workers > 1:
            from crmlab.workers import new_study_name, run_workers

            settings = load_settings(optuna_storage=ctx.params.get("storage"))
            return run_workers(ctx, settings, workers, study or new_study_name(ctx))
        ctx.meta[TEAM_OVERRIDES] = {k: v for k, v in {"study": study, "heartbeat_s": heartbeat}.items()
                                    if v is not None}
        return func(*args, **kwargs)

    return run
