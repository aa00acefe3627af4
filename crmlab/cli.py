"""The ``crmlab`` command line: the one place that imports training, serving and monitoring.

Each command lives in ``crmlab/commands/<name>.py`` as a thin click wrapper over plain functions and
imports heavy libraries inside its body, so ``crmlab --help`` answers at once.
"""

from __future__ import annotations

import importlib
import importlib.util

import click

# command name -> module in crmlab.commands exposing ``command``
COMMANDS: dict[str, str] = {
    "generate": "generate",
    "ingest": "ingest",
    "features": "features",
    "main": "main",
    "train": "train",
    "promote": "promote",
    "profile": "profile",
    "score": "score",
    "serve": "serve",
    "monitor": "monitor",
    "schedule": "schedule",
    "reports": "reports",
    "server": "server",
    "users": "users",
}


class LazyGroup(click.Group):
    """Loads a command's module only when that command is run or listed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if _module_exists(COMMANDS[name]))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not _module_exists(COMMANDS[cmd_name]):
            return None
        module = importlib.import_module(f"crmlab.commands.{COMMANDS[cmd_name]}")
        return module.command


    def invoke(self, ctx: click.Context):
        """Runs the command; a request the tracking server refused (401/403) becomes one line, exit 1."""
        try:
            return super().invoke(ctx)
        except click.exceptions.ClickException:
            raise
        except Exception as err:
            from crmlab.auth_errors import refused_request_message
            from training.core.distributed import StudyFinishedElsewhere

            if isinstance(err, StudyFinishedElsewhere):  # a tuning worker whose job another worker finishes
                click.echo(str(err))
                return None

            message = refused_request_message(err)
            if message is None:
                raise
            raise click.ClickException(message) from None


def _module_exists(name: str) -> bool:
    return importlib.util.find_spec(f"crmlab.commands.{name}") is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="crmlab")
def cli() -> None:
    """crmlab: leakage-free customer features, tuned churn/CLV/segment models on MLflow, served and monitored.

    Tracking store: MLFLOW_TRACKING_URI (default sqlite:///mlflow.db in the working directory).
    """


def main() -> None:
    """The console entry point: a file-system failure the user can fix is one line, not a traceback.

    Commands turn their own expected failures into ``click.ClickException``; this catches what reaches
    the top from the operating system (a path that vanished, no permission, a full disk).
    ``CRMLAB_DEBUG=1`` shows the traceback instead.
    """
    import os
    import sys

    import training.tracking  # noqa: F401  (sets DO_NOT_TRACK before any library loads)

    try:
        cli(standalone_mode=True)
    except OSError as err:
        if os.environ.get("CRMLAB_DEBUG"):
            raise
        where = f": {err.filename}" if err.filename else ""
        click.echo(f"Error: {err.strerror or type(err).__name__}{where}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
