"""``crmlab train <family>``: one sub-command per row of ``training.core.families.FAMILIES``.

Each sub-command is built from its family's ``source_options`` plus the options every family shares
(``family_options``); it calls ``train_family`` and prints the one ``TrainResult`` shape. Adding a
family adds its sub-command: nothing here names a family.
"""

from __future__ import annotations

import click

from crmlab.commands.options import family_options

_KINDS = {"dir": click.Path(file_okay=False), "file": click.Path(dir_okay=False),
          "int": click.IntRange(min=1), "text": None}


class _FamilyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        from training.core.families import FAMILIES

        return list(FAMILIES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        from training.core.families import FAMILIES

        return family_command(cmd_name) if cmd_name in FAMILIES else None


@click.group(cls=_FamilyGroup)
def command() -> None:
    """Tune, evaluate and register a model family (one sub-command per family)."""


def family_command(name: str) -> click.Command:
    """The ``crmlab train <name>`` command (``main`` invokes the same one)."""
    from training.core.families import family

    fam = family(name)

    def run(**params: object) -> None:
        _train(name, params)

    run = family_options(fam.default_model_name)(run)  # listed after the family's own inputs
    for option in reversed(fam.source_options):
        if option.kind == "flag":
            run = click.option(option.flag, option.dest, is_flag=True, help=option.help)(run)
        else:
            run = click.option(option.flag, option.dest, type=_KINDS[option.kind], default=None,
                               help=option.help)(run)
    return click.command(name=name, help=fam.summary + " Registers alias `challenger`.")(run)


def _train(name: str, params: dict) -> None:
    from crmlab.commands.options import load_settings
    from training.core.families import family
    from training.core.family import FamilyInputError, SourceUsageError
    from training.core.lifecycle import train_family

    trials, timeout, seed, storage = (params.pop(k) for k in ("trials", "timeout", "seed", "storage"))
    model_name, promote = params.pop("model_name"), params.pop("promote")
    if trials is not None and trials < 1:
        raise click.UsageError(f"--trials must be at least 1 (got {trials})")
    fam = family(name)
    settings = load_settings(seed=seed, trials=trials, timeout_s=timeout, optuna_storage=storage)
    try:
        result = train_family(fam, params, model_name=model_name, trials=settings.trials,
                              timeout=settings.timeout_s, seed=settings.seed, storage=storage, promote=promote,
                              settings=settings)
    except SourceUsageError as err:
        raise click.UsageError(str(err)) from None
    except (FamilyInputError, *fam.input_errors) as err:
        raise click.ClickException(str(err)) from None
    print_result(result)


def print_result(result) -> None:
    """The comparison table, the notes, what was registered and the gate's decision."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=160)
    if result.table is not None:
        table = Table(title=f"{result.family}: {result.card.data_window}", title_justify="left")
        frame = result.table
        table.add_column(str(frame.index.name or ""))
        for column in frame.columns:
            table.add_column(str(column), justify="right")
        for index, row in frame.iterrows():
            table.add_row(str(index), *(f"{v:.4f}" if isinstance(v, float) else str(v) for v in row))
        console.print(table)
    for note in result.notes:
        console.print(f"note: {note}", markup=False)
    console.print(f"registered {result.model_name} v{result.version} as challenger (run {result.run_id}; "
                  f"study {result.study_name}, {result.trials} trials)", markup=False)
    if result.promotion is not None:
        console.print(result.promotion.summary(), markup=False)

