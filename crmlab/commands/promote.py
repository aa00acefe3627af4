"""``crmlab promote NAME``: run the family's gate; move alias `champion` to `challenger` if it passes."""

from __future__ import annotations

import click


@click.command(name="promote")
@click.argument("model_name")
@click.option("--force", is_flag=True,
              help="Promote even if the gate refuses (recorded on the version as gate.forced=true).")
@click.option("--holdout", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Holdout rows with model inputs and the outcome (Parquet or CSV). Default: the "
                   "challenger's own test split (holdout.parquet of its training run).")
def command(model_name, force, holdout) -> None:
    """Compare NAME@challenger with NAME@champion on the same holdout (paired bootstrap).

    Exit status 1 when the gate refuses, so scripts can stop there.
    """
    from serving.profile_model import COMPOSITE_GATES
    from training.core.promotion import promote
    from training.settings import get_settings

    frame = _read_holdout(holdout) if holdout else None
    try:
        decision = promote(model_name, holdout=frame, force=force, settings=get_settings(),
                           extra_gates=COMPOSITE_GATES)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    click.echo(decision.summary())
    already = decision.champion_version == decision.challenger_version
    if not decision.promoted and not already:
        raise SystemExit(1)


def _read_holdout(path: str):
    import pandas as pd

    if path.lower().endswith((".parquet", ".pq")):
        return pd.read_parquet(path)
    return pd.read_csv(path)
