"""Run a job (a monitoring run) every N hours in the foreground, with APScheduler.

One instance at a time (``max_instances=1``) and missed ticks collapsed into one (``coalesce``): a slow
run never overlaps the next. A run that raises is logged and the schedule goes on. ``max_runs`` stops
after that many runs (tests, or a bounded catch-up). For unattended hosts, cron or a systemd timer on
``mlflow run . -e monitor`` does the same without a resident process (docs/MONITORING.md).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

log = logging.getLogger(__name__)

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")


def parse_interval(text: str) -> timedelta:
    """``90s``, ``15m``, ``24h``, ``7d`` -> timedelta; anything else is an error naming the format."""
    match = _INTERVAL.match(str(text).lower())
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"--every {text!r}: give a positive number with a unit s, m, h or d (e.g. 24h, 30m)")
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


@dataclass
class ScheduleStats:
    runs: int = 0
    failures: int = 0
    errors: list[str] = field(default_factory=list)


def run_every(job: Callable[[], object], every: timedelta, *, max_runs: int | None = None,
              start_now: bool = True) -> ScheduleStats:
    """Block, running ``job`` every ``every``; returns after ``max_runs`` runs (never, when None)."""
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
    from apscheduler.schedulers.blocking import BlockingScheduler

    if max_runs is not None and max_runs < 1:
        raise ValueError("--max-runs must be at least 1")
    stats = ScheduleStats()
    done = threading.Event()
    scheduler = BlockingScheduler(job_defaults={"max_instances": 1, "coalesce": True,
                                                "misfire_grace_time": None})

    def on_event(event) -> None:
        stats.runs += 1
        if event.exception is not None:
            stats.failures += 1
            stats.errors.append(f"{type(event.exception).__name__}: {event.exception}")
            log.error("scheduled run %d failed (%s); the next run is still scheduled", stats.runs,
                      stats.errors[-1])
        if max_runs is not None and stats.runs >= max_runs and not done.is_set():
            done.set()
            scheduler.shutdown(wait=False)

    scheduler.add_listener(on_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.add_job(job, "interval", seconds=every.total_seconds(), id="crmlab-monitor",
                      next_run_time=datetime.now().astimezone() if start_now else None)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("schedule stopped after %d run(s)", stats.runs)
    return stats
