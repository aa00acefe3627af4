"""Benchmark the synthetic world generator: wall time per stage and peak memory for one size.

Usage: python bench/bench_generate.py --customers 1000000 [--seed 42] [--format parquet] [--out DIR]
Prints a Markdown table (header + one row); ``--append FILE`` also appends the row to FILE.
Without ``--out`` the world is written to a temporary folder that is removed afterwards.
"""

from __future__ import annotations

import argparse
import platform
import resource
import tempfile
import time
from pathlib import Path

HEADER = (
    "| customers | transactions | events | customers s | transactions s | events s | generate s | write s "
    "| total s | peak RSS GiB | cores | machine |\n"
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
)


def _peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux reports KiB


def run(customers: int, seed: int, fmt: str, out: Path | None) -> str:
    import os

    from training.world import WorldConfig, generate_world, write_world

    stage_times: dict[str, float] = {}
    last = [time.perf_counter()]

    def tick(stage: str) -> None:
        now = time.perf_counter()
        stage_times[stage] = now - last[0]
        last[0] = now

    began = time.perf_counter()
    last[0] = began
    world = generate_world(WorldConfig(n_customers=customers, seed=seed), progress=tick)
    generated = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="crmlab-bench-") as tmp:
        write_world(world, out or Path(tmp), fmt=fmt)
    written = time.perf_counter()
    rows = world.meta["rows"]
    cells = [
        f"{customers:,}",
        f"{rows['transactions']:,}",
        f"{rows['events']:,}",
        f"{stage_times.get('customers', 0):.1f}",
        f"{stage_times.get('transactions', 0):.1f}",
        f"{stage_times.get('events', 0):.1f}",
        f"{generated - began:.1f}",
        f"{written - generated:.1f}",
        f"{written - began:.1f}",
        f"{_peak_rss_gib():.2f}",
        str(os.cpu_count()),
        platform.machine(),
    ]
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--format", dest="fmt", choices=["parquet", "csv"], default="parquet")
    parser.add_argument("--out", type=Path, default=None, help="keep the world in this folder")
    parser.add_argument("--append", type=Path, default=None, help="also append the row to this Markdown file")
    args = parser.parse_args()
    row = run(args.customers, args.seed, args.fmt, args.out)
    print(HEADER)
    print(row)
    if args.append:
        args.append.parent.mkdir(parents=True, exist_ok=True)
        new = not args.append.exists()
        with args.append.open("a") as handle:
            handle.write((HEADER + "\n" if new else "") + row + "\n")


if __name__ == "__main__":
    main()
