"""``crmlab train <family> --workers N``: start N local copies of the same command on one shared study.

Each copy is an ordinary ``crmlab train <family> ... --workers 1 --study NAME`` process (the command a
user types on another machine to join the job), so the coordinator only spawns, relays and waits.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from training.settings import Settings

TEAM_PARAMS = ("workers", "study", "heartbeat")


@dataclass(frozen=True)
class WorkerExit:
    pid: int
    code: int

    def describe(self) -> str:
        if self.code < 0:
            return f"worker pid {self.pid} was killed ({signal.Signals(-self.code).name}); its trial fails after " \
                   "the heartbeat and another worker replaces it"
        return f"worker pid {self.pid} exited with code {self.code}"


def new_study_name(ctx: click.Context) -> str:
    """A fresh job name from the command path (``train-churn-20261129T193000-1a2b``)."""
    path = "-".join(ctx.command_path.split()[1:]) or "job"
    return f"{path}-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:4]}"


def worker_argv(ctx: click.Context, study: str) -> list[str]:
    """The command line of one worker: the options given on this command line, plus ``--workers 1 --study``."""
    names = []
    node = ctx
    while node.parent is not None:
        names.append(node.info_name)
        node = node.parent
    argv = [sys.executable, "-m", "crmlab.cli", *reversed(names)]
    for param in ctx.command.params:
        if not isinstance(param, click.Option) or param.name in TEAM_PARAMS:
            continue
        if ctx.get_parameter_source(param.name) != click.core.ParameterSource.COMMANDLINE:
            continue
        value = ctx.params[param.name]
        if param.is_flag:
            if value:
                argv.append(param.opts[0])
        elif value is not None:
            argv += [param.opts[0], str(value)]
    heartbeat = ctx.params.get("heartbeat")
    argv += ["--workers", "1", "--study", study]
    return argv + (["--heartbeat", str(heartbeat)] if heartbeat else [])


def run_workers(ctx: click.Context, settings: Settings, workers: int, study: str) -> None:
    """Spawn the workers, wait for all; exit 0 when one finished the job (others done or killed)."""
    from training.core.distributed import DistributedStudyError, prepare_job

    try:
        prepare_job(settings.tracking_uri, settings.default_optuna_storage())
    except DistributedStudyError as err:
        raise click.ClickException(str(err)) from None
    argv = worker_argv(ctx, study)
    click.echo(f"tuning job: study {study!r}, {workers} local workers; another machine joins with the same "
               f"command and --study {study}")
    processes = [subprocess.Popen(argv) for _ in range(workers)]
    for process in processes:
        click.echo(f"worker pid {process.pid} started")
    exits = [WorkerExit(p.pid, p.wait()) for p in processes]
    for worker in exits:
        if worker.code != 0:
            click.echo(worker.describe(), err=True)
    if not any(w.code == 0 for w in exits) or any(w.code > 0 for w in exits):
        raise click.ClickException(f"tuning job {study!r} did not finish cleanly: "
                                   + "; ".join(w.describe() for w in exits if w.code != 0))
