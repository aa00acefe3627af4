"""``crmlab schedule``: run ``crmlab monitor`` every N hours in the foreground (APScheduler)."""

from __future__ import annotations

import click

from crmlab.commands.monitor import monitor_options


@click.command()
@click.option("--every", default="24h", show_default=True, help="Interval: a number with s, m, h or d (24h, 30m).")
@click.option("--max-runs", type=int, default=None, help="Stop after this many runs (default: run until stopped).")
@monitor_options
def command(every: str, max_runs: int | None, **options) -> None:
    """Monitor on a schedule: the first run starts now, then one every --every.

    Takes every `crmlab monitor` option. A failed run is logged and the next one still runs; runs never
    overlap. For hosts without a resident process use cron or a systemd timer (docs/MONITORING.md).
    """
    import logging

    from crmlab.commands.monitor import print_result, run_from_options
    from monitoring.schedule import parse_interval, run_every

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        interval = parse_interval(every)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--every") from None

    def job() -> None:
        result = run_from_options(**options)
        print_result(result)
        if result.errors:
            names = ", ".join(m.model_name for m in result.errors)
            raise RuntimeError(f"monitoring failed for {names}; see {result.index}")

    stats = run_every(job, interval, max_runs=max_runs)
    click.echo(f"schedule finished: {stats.runs} run(s), {stats.failures} failed")
