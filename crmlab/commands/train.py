"""``crmlab train <family>``: one sub-command per model family, same shape for each."""

from __future__ import annotations

import importlib

import click

FAMILIES: dict[str, str] = {"churn": "train_churn", "clv": "train_clv", "segments": "train_segments"}


class _FamilyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(f for f, m in FAMILIES.items() if importlib.util.find_spec(f"crmlab.commands.{m}"))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = FAMILIES.get(cmd_name)
        if module is None or importlib.util.find_spec(f"crmlab.commands.{module}") is None:
            return None
        return importlib.import_module(f"crmlab.commands.{module}").command


@click.group(cls=_FamilyGroup)
def command() -> None:
    """Tune, evaluate and register a model family (churn, clv, segments)."""
