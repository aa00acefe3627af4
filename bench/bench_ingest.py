"""Benchmark ingestion against its outside peer: a plain DuckDB read-and-write of the same tables.

Usage: python bench/bench_ingest.py --customers 100000 [--seed 42] [--data DIR] [--repeat 3] [--append bench/README.md]

Generates a world (or takes ``--data DIR`` holding schema.yaml), then, each in its own process so peak
memory is that process's own: (1) ``crmlab ingest`` through the schema (parse, contracts, keys, consent,
references, quarantine, pseudonymisation, report, MLflow run; screened on DuckDB); (2) DuckDB reading
every declared table file and writing it back as Parquet, nothing checked. Prints one Markdown row with wall times, the
ratio, and peak RSS; the ingest time excludes Python/MLflow import (measured inside the call). With
``--repeat N`` the two run in turn N times (crmlab, DuckDB, crmlab, ...) and the row shows the medians and
the median of the N pair ratios, which holds when other jobs change the machine's speed during the run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

HEADER = ("| date | machine | customers | rows read | crmlab ingest (s) | DuckDB read+write (s) | ratio "
          "| crmlab peak RSS (GiB) | DuckDB peak RSS (GiB) | pairs |\n"
          "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")

_INGEST = """
import json, resource, sys, time
from pathlib import Path
import mlflow  # imported before the clock starts: its import cost is not ingestion
from training.ingest import ingest
from training.settings import get_settings
settings = get_settings()
began = time.perf_counter()
result = ingest(Path(sys.argv[1]), Path(sys.argv[2]), settings, progress=False)
seconds = time.perf_counter() - began
rows = sum(c.rows_in for c in result.counts.values())
print(json.dumps({"seconds": seconds, "rows": rows,
                  "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""

_DUCKDB = """
import json, resource, sys, time
from pathlib import Path
import duckdb
from training.ingest.sources import open_source
source = open_source(Path(sys.argv[1]))
out = Path(sys.argv[2]); out.mkdir(parents=True, exist_ok=True)
con = duckdb.connect()
began = time.perf_counter()
for name, table in source.tables.items():
    files = [str(p) for p in table.files]
    reader = (f"read_parquet({files})" if table.fmt == "parquet" else f"read_csv({files}, header=true)")
    con.execute(f"COPY (SELECT * FROM {reader}) TO '{out / (name + '.parquet')}' (FORMAT parquet)")
seconds = time.perf_counter() - began
print(json.dumps({"seconds": seconds,
                  "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""


def _child(code: str, *args: str) -> dict:
    env = {**os.environ, "CRMLAB_DEMO": "1", "DO_NOT_TRACK": "1"}
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    return json.loads([line for line in proc.stdout.splitlines() if line.startswith("{")][-1])


def _machine() -> str:
    import duckdb

    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}, "
            f"DuckDB {duckdb.__version__} (machine shared, load {os.getloadavg()[0]:.0f})")


def run(customers: int, seed: int, data: Path | None, repeat: int = 1) -> str:
    with tempfile.TemporaryDirectory(prefix="crmlab-bench-ingest-") as tmp:
        tmp_path = Path(tmp)
        if data is None:
            from training.world import WorldConfig, generate_world, write_world

            data = tmp_path / "raw"
            write_world(generate_world(WorldConfig(n_customers=customers, seed=seed)), data)
        os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
        pairs = []
        for _ in range(repeat):  # in turn, so a change of the machine's speed hits both sides alike
            crm = _child(_INGEST, str(data), str(tmp_path / "clean"))
            peer = _child(_DUCKDB, str(data), str(tmp_path / "duck"))
            pairs.append((crm, peer))
    crm_s = statistics.median(c["seconds"] for c, _ in pairs)
    peer_s = statistics.median(p["seconds"] for _, p in pairs)
    ratio = statistics.median(c["seconds"] / p["seconds"] for c, p in pairs)
    cells = [date.today().isoformat(), _machine(), f"{customers:,}", f"{pairs[0][0]['rows']:,}",
             f"{crm_s:.1f}", f"{peer_s:.1f}", f"{ratio:.1f}x",
             f"{max(c['peak_gib'] for c, _ in pairs):.2f}", f"{max(p['peak_gib'] for _, p in pairs):.2f}",
             str(repeat)]
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data", type=Path, default=None, help="A raw directory with schema.yaml (skip generation).")
    parser.add_argument("--repeat", type=int, default=1, help="Run the pair N times in turn; medians.")
    parser.add_argument("--append", type=Path, default=None, help="Also append the row to this file.")
    args = parser.parse_args()
    began = time.perf_counter()
    row = run(args.customers, args.seed, args.data, args.repeat)
    print(HEADER)
    print(row)
    print(f"(whole benchmark {time.perf_counter() - began:.0f} s)", file=sys.stderr)
    if args.append is not None:
        with args.append.open("a") as handle:
            handle.write(row + "\n")


if __name__ == "__main__":
    main()
