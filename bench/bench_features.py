"""crmlab ``build_features`` for one cutoff vs a single hand-written DuckDB RFM query, same parquet, same run.

Each side runs in its own subprocess, so its wall time (the call only, imports excluded) and its peak
memory (``ru_maxrss`` of that process) are its own. The hand query computes the RFM part the way a
competent analyst would in one statement (orders = distinct customer_id + order_ts, recency, frequency,
monetary total/mean, quintile scores) with no cleaning; crmlab computes all 45 catalog features and both
labels (two tables, point-in-time cleaning fitted first). The script also checks that both agree on
recency, frequency and the frequency score.

    python bench/bench_features.py --customers 50000          # generate (training.world) + ingest, then time
    python bench/bench_features.py --data data/raw             # a raw export: ingested first
    python bench/bench_features.py --data data/clean --repeat 3

Generated worlds and their clean tables are cached under --workdir (default bench/out/features).
Prints a Markdown table and appends its row to the "features" section of bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
README = ROOT / "bench" / "README.md"
START, END = "<!-- bench_features:start -->", "<!-- bench_features:end -->"
HEADER = ("| date | machine | customers | transactions | events | cutoff | crmlab build_features (s) "
          "| hand RFM query (s) | ratio | crmlab peak RSS (MiB) | hand peak RSS (MiB) | RFM agree |")

HAND_RFM_SQL = """
WITH orders AS (
    SELECT customer_id, order_ts, sum(amount) AS spend
    FROM read_parquet('{tx}')
    WHERE order_ts < TIMESTAMP '{cutoff} 00:00:00'
    GROUP BY customer_id, order_ts
), rfm AS (
    SELECT customer_id,
           CAST(date_diff('day', CAST(max(order_ts) AS DATE), DATE '{cutoff}') AS DOUBLE) AS recency_days,
           count(*) AS frequency, coalesce(sum(spend), 0) AS monetary_total
    FROM orders GROUP BY customer_id
)
SELECT customer_id, recency_days, frequency, monetary_total, monetary_total / frequency AS monetary_mean,
       CAST(1 + floor(5.0 * (rank() OVER (ORDER BY recency_days DESC) - 1) / count(*) OVER ()) AS BIGINT) AS r_score,
       CAST(1 + floor(5.0 * (rank() OVER (ORDER BY frequency) - 1) / count(*) OVER ()) AS BIGINT) AS f_score,
       CAST(1 + floor(5.0 * (rank() OVER (ORDER BY monetary_total) - 1) / count(*) OVER ()) AS BIGINT) AS m_score
FROM rfm
"""
_RULE = "|" + "---|" * (HEADER.count("|") - 1)
RFM_COLUMNS = ["customer_id", "recency_days", "frequency", "monetary_total", "r_score", "f_score", "m_score"]


def _peak_rss_mib() -> float:
    """Peak resident memory of this process since its exec.

    ``ru_maxrss`` survives fork+exec on Linux (a child started by a big parent reports the parent's
    peak), so prefer VmHWM, which belongs to the process image; ru_maxrss is the fallback.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


# --------------------------------------------------------------------------- one side, in a subprocess
def _side(side: str, clean: Path, cutoff: date, horizon: int, result: Path) -> None:
    import duckdb
    import pandas as pd  # noqa: F401  (imports and DuckDB start-up are not what is being timed)
    import pyarrow.parquet  # noqa: F401

    duckdb.connect().execute("SELECT 1").df()
    if side == "crmlab":
        from training.features.build import build_features
        from training.settings import get_settings

        settings = get_settings()
        started = time.perf_counter()
        frame = build_features(clean, [cutoff], horizon, settings)
        seconds = time.perf_counter() - started
        frame = frame[frame["frequency"] > 0]
    else:
        con = duckdb.connect()
        sql = HAND_RFM_SQL.format(tx=clean / "transactions.parquet", cutoff=cutoff.isoformat())
        started = time.perf_counter()
        frame = con.execute(sql).df()
        seconds = time.perf_counter() - started
    frame[RFM_COLUMNS].to_parquet(result.with_suffix(".parquet"), index=False)
    result.write_text(json.dumps({"seconds": seconds, "peak_rss_mib": _peak_rss_mib(), "rows": len(frame)}))


def _run_side(side: str, clean: Path, cutoff: date, horizon: int, workdir: Path) -> dict:
    result = workdir / f"result_{side}.json"
    cmd = [sys.executable, __file__, "--side", side, "--data", str(clean), "--cutoff", cutoff.isoformat(),
           "--horizon-days", str(horizon), "--result", str(result)]
    subprocess.run(cmd, check=True, cwd=workdir)
    return json.loads(result.read_text())


# --------------------------------------------------------------------------- data preparation
def _is_clean(folder: Path) -> bool:
    import pyarrow.parquet as pq

    return "full_name" not in pq.ParquetFile(folder / "customers.parquet").schema_arrow.names


def _ingest(raw: Path, clean: Path, workdir: Path) -> Path:
    if (clean / "transactions.parquet").exists():
        print(f">> reusing clean tables in {clean}")
        return clean
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{workdir / 'mlflow.db'}")
    from training.ingest.pipeline import ingest
    from training.settings import get_settings

    print(f">> ingesting {raw} -> {clean}")
    ingest(raw, clean, get_settings(), progress=True)
    return clean


def _generate(customers: int, seed: int, workdir: Path) -> Path:
    raw = workdir / f"raw_{customers}_{seed}"
    if (raw / "world.json").exists():
        print(f">> reusing generated world in {raw}")
        return raw
    from training.world import WorldConfig, generate_world, write_world

    print(f">> generating {customers} customers into {raw}")
    write_world(generate_world(WorldConfig(n_customers=customers, seed=seed), progress=print), raw)
    return raw


def prepare(args: argparse.Namespace, workdir: Path) -> Path:
    if args.customers:
        os.environ.setdefault("CRMLAB_DEMO", "1")  # generated data only: the public demo key is fine
        raw = _generate(args.customers, args.seed, workdir)
        return _ingest(raw, workdir / f"clean_{args.customers}_{args.seed}", workdir)
    data = Path(args.data).resolve()
    return data if _is_clean(data) else _ingest(data, workdir / f"clean_{data.name}", workdir)


def _sizes(clean: Path) -> dict[str, int]:
    import pyarrow.parquet as pq

    tables = ("customers", "transactions", "events")
    return {t: pq.ParquetFile(clean / f"{t}.parquet").metadata.num_rows for t in tables}


def _default_cutoff(clean: Path, horizon: int) -> date:
    """The latest date whose label window is fully inside the data."""
    import duckdb

    last = duckdb.connect().execute(f"SELECT max(order_ts) FROM read_parquet('{clean / 'transactions.parquet'}')")
    return last.fetchall()[0][0].date() - timedelta(days=horizon)


def _agreement(workdir: Path) -> str:
    """Do both sides agree on the buyers they share? (crmlab keeps only customers signed up before the cutoff.)"""
    import pandas as pd

    ours = pd.read_parquet(workdir / "result_crmlab.parquet").set_index("customer_id")
    hand = pd.read_parquet(workdir / "result_hand.parquet").set_index("customer_id")
    common = ours.index.intersection(hand.index)
    ours, extra, hand = ours.loc[common], len(hand) - len(common), hand.loc[common]
    columns = ("recency_days", "frequency") if extra else ("recency_days", "frequency", "f_score")
    same = all((ours[c] == hand[c]).all() for c in columns)
    money = float((abs(ours["monetary_total"] - hand["monetary_total"]) < 1e-6).mean())
    note = f"; {extra} buyers not signed up by the cutoff (hand only)" if extra else ""
    return f"{'yes' if same else 'NO'}: {', '.join(columns)} (monetary equal for {money:.1%}, rest cleaned{note})"


def _machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import duckdb

    return f"{os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}, DuckDB {duckdb.__version__}"


def _write_readme(row: str) -> None:
    text = README.read_text() if README.exists() else "# crmlab benchmarks\n"
    if START in text:
        head, rest = text.split(START, 1)
        body, tail = rest.split(END, 1)
        rows = [line for line in body.splitlines() if line.startswith("| 20")]
    else:
        head, tail, rows = text.rstrip() + "\n\n", "\n", []
    section = "\n".join([
        START,
        "## Features: `build_features` (one cutoff) vs a hand-written DuckDB RFM query",
        "",
        "`python bench/bench_features.py --customers N` (or `--data DIR`). crmlab builds all 45 features and",
        "both labels from transactions *and* events (about 1.7x as many rows), with point-in-time cleaning",
        "fitted first; the hand query computes only R, F, M and their quintiles from transactions, uncleaned.",
        "So the ratio is the price of the full feature set, not of a slower RFM. Times: best of `--repeat`",
        "runs of the call alone (imports and DuckDB start-up excluded), each side in its own process; peak",
        "RSS is that process's VmHWM. The machine is shared with other jobs: compare rows of one run only.",
        "",
        HEADER,
        _RULE,
        *rows, row,
        END,
    ])
    README.write_text(head + section + tail)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--customers", type=int, help="generate a world of N customers, ingest it, then time")
    source.add_argument("--data", help="a raw or clean data directory")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--cutoff", type=date.fromisoformat, help="default: last order date - horizon")
    parser.add_argument("--horizon-days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=1, help="alternate the sides N times, report the best")
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench" / "out" / "features")
    parser.add_argument("--no-readme", action="store_true", help="print only; leave bench/README.md alone")
    parser.add_argument("--side", choices=["crmlab", "hand"], help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        _side(args.side, Path(args.data), args.cutoff, args.horizon_days, args.result)
        return
    if not (args.customers or args.data):
        parser.error("give --customers N or --data DIR")
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    clean = prepare(args, workdir)
    cutoff = args.cutoff or _default_cutoff(clean, args.horizon_days)
    sizes = _sizes(clean)
    print(f">> timing at cutoff {cutoff}: {sizes}")
    runs: dict[str, list[dict]] = {"crmlab": [], "hand": []}
    for i in range(args.repeat):
        for side in ("hand", "crmlab") if i % 2 else ("crmlab", "hand"):
            runs[side].append(_run_side(side, clean, cutoff, args.horizon_days, workdir))
            print(f"   {side}: {runs[side][-1]['seconds']:.2f} s, peak {runs[side][-1]['peak_rss_mib']:.0f} MiB")
    best = {side: min(r["seconds"] for r in rs) for side, rs in runs.items()}
    peak = {side: max(r["peak_rss_mib"] for r in rs) for side, rs in runs.items()}
    row = (f"| {date.today()} | {_machine()} | {sizes['customers']:,} | {sizes['transactions']:,} "
           f"| {sizes['events']:,} | {cutoff} | {best['crmlab']:.2f} | {best['hand']:.2f} "
           f"| {best['crmlab'] / best['hand']:.2f}x | {peak['crmlab']:.0f} | {peak['hand']:.0f} "
           f"| {_agreement(workdir)} |")
    print("\n".join(["", HEADER, _RULE, row]))
    if not args.no_readme:
        _write_readme(row)
        print(f"\n>> appended to {README}")


if __name__ == "__main__":
    main()
