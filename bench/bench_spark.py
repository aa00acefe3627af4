"""Features on DuckDB vs Spark local[2], and batch scoring in process vs Spark (``spark_udf``), same run.

For each world size: generate + ingest (reused when present, as in ``bench_features.py``), then four
sides, each in its own subprocess so its peak memory is its own:

- ``features-duckdb`` / ``features-spark``: ``build_feature_set`` for one cutoff (the latest whose
  label window is inside the data); the Spark side runs the same SQL transpiled (``--engine spark``);
- ``score-local`` / ``score-spark``: the ``customer_profile`` of a demo store (churn trained on 20k
  synthetic rows + the profile, as in ``bench_serving.py --demo``) over that features table's buyers
  (the demo churn model requires ``recency_days``, which is null for customers without an order),
  ``reasons=false`` (SHAP explanations cost the same on both engines and would hide the engine).

Seconds are the call only; Spark's session start (JVM, 10-25 s here) is reported apart. Peak memory:
the Python process's VmHWM, plus the Spark driver JVM's VmHWM for Spark sides (Python workers of
``spark_udf`` are not included: they are short-lived children of the JVM). Rows/s divide the rows
written by the seconds.

    python bench/bench_spark.py --customers 100000 --customers 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench_features  # generate + ingest, cutoff choice, peak memory

README = Path(__file__).with_name("README.md")
START, END = "<!-- bench_spark:start -->", "<!-- bench_spark:end -->"
SIDES = ("features-duckdb", "features-spark", "score-local", "score-spark")


def _jvm_peak_mib(spark) -> float:
    pid = spark.sparkContext._gateway.proc.pid  # the driver JVM started by PySpark
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _side(side: str, clean: Path, cutoff: date, horizon: int, workdir: Path, result: Path) -> None:
    """One measurement in this process; writes {seconds, rows, peak_rss_mib, start_s} to ``result``."""
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{workdir / 'store' / 'mlflow.db'}"
    os.environ.setdefault("CRMLAB_DEMO", "1")
    from training.settings import Settings, get_settings

    spark, start_s, jvm = None, 0.0, 0.0
    if side.endswith("spark"):
        from training.spark.session import spark_session

        started = time.perf_counter()
        spark = spark_session(Settings(spark_master="local[2]"))
        spark.range(1).count()
        start_s = time.perf_counter() - started
    features = workdir / "features.parquet"
    started = time.perf_counter()
    if side.startswith("features"):
        from training.features.build import build_feature_set
        from training.features.engine import spark_engine

        frame = build_feature_set(clean, [cutoff], horizon, get_settings(),
                                  engine=spark_engine(spark) if spark is not None else None).frame
        rows = len(frame)
        seconds = time.perf_counter() - started
        if spark is None:  # buyers only: the demo churn model requires recency_days, null without an order
            frame[frame["frequency"] > 0].to_parquet(features, index=False, coerce_timestamps="us")
    else:
        model = "models:/customer_profile@champion"
        if spark is None:
            from serving.batch import score_batch

            out = score_batch(model, features, workdir / "scores_local.parquet", settings=get_settings(),
                              progress=False, params={"reasons": False})
        else:
            from serving.spark_batch import score_spark

            out = score_spark(model, features, workdir / "scores_spark.parquet", get_settings(), spark=spark,
                              params={"reasons": False})
        rows, seconds = out.rows_scored, time.perf_counter() - started
    if spark is not None:
        jvm = _jvm_peak_mib(spark)
        spark.stop()
    result.write_text(json.dumps({"seconds": seconds, "rows": rows, "start_s": start_s,
                                  "peak_rss_mib": bench_features._peak_rss_mib() + jvm}))


def _run_side(side: str, clean: Path, cutoff: date, horizon: int, workdir: Path) -> dict:
    result = workdir / f"result_{side}.json"
    cmd = [sys.executable, __file__, "--side", side, "--data", str(clean), "--cutoff", cutoff.isoformat(),
           "--horizon-days", str(horizon), "--workdir", str(workdir), "--result", str(result)]
    subprocess.run(cmd, check=True, cwd=workdir)
    return json.loads(result.read_text())


def _demo_store(workdir: Path) -> None:
    if (workdir / "store" / "mlflow.db").exists():
        return
    import bench_serving

    (workdir / "store").mkdir(parents=True, exist_ok=True)
    bench_serving.demo_store(workdir / "store", 20_000)


def measure(customers: int, seed: int, horizon: int, root: Path) -> list[dict]:
    args = argparse.Namespace(customers=customers, seed=seed, data=None)
    clean = bench_features.prepare(args, root)
    cutoff = bench_features._default_cutoff(clean, horizon)
    workdir = root / f"run_{customers}"
    workdir.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, __file__, "--demo-store", "--workdir", str(workdir)], check=True, cwd=workdir)
    rows = []
    for side in SIDES:
        print(f">> {customers:,} customers: {side}", flush=True)
        r = _run_side(side, clean, cutoff, horizon, workdir)
        rows.append({"customers": customers, "side": side, **r})
    return rows


def markdown(rows: list[dict]) -> str:
    machine = bench_features._machine()
    head = ("| date | machine | customers | step | engine | rows | seconds | rows/s | Spark start (s) "
            "| peak RSS (MiB) | vs DuckDB/in-process |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
    lines, base = [], {}
    for r in rows:
        step, engine = r["side"].split("-")
        key = (r["customers"], step)
        base.setdefault(key, r["seconds"])
        lines.append(f"| {date.today()} | {machine} | {r['customers']:,} | {step} | {engine} | {r['rows']:,} "
                     f"| {r['seconds']:.1f} | {r['rows'] / r['seconds']:,.0f} | "
                     f"{r['start_s']:.1f} | {r['peak_rss_mib']:,.0f} | {r['seconds'] / base[key]:.2f}x |")
    return head + "\n".join(lines) + "\n"


def _write_readme(table: str) -> None:
    text = README.read_text()
    block = f"{START}\n{table}{END}"
    if START in text:
        text = text[:text.index(START)] + block + text[text.index(END) + len(END):]
    else:
        text += f"\n## Spark: features and batch scoring, DuckDB / in-process vs Spark local[2]\n\n{block}\n"
    README.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, action="append", help="world size (repeatable)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--horizon-days", type=int, default=90)
    parser.add_argument("--workdir", default=None, help="keeps worlds and stores (default: a temporary folder)")
    parser.add_argument("--no-readme", action="store_true", help="print the table only")
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--demo-store", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--cutoff", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.demo_store:
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{Path(args.workdir) / 'store' / 'mlflow.db'}"
        _demo_store(Path(args.workdir))
        return
    if args.side:
        _side(args.side, Path(args.data), date.fromisoformat(args.cutoff), args.horizon_days, Path(args.workdir),
              Path(args.result))
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.workdir or tmp).resolve()
        root.mkdir(parents=True, exist_ok=True)
        rows = [r for n in (args.customers or [100_000]) for r in measure(n, args.seed, args.horizon_days, root)]
    table = markdown(rows)
    print(table)
    if not args.no_readme:
        _write_readme(table)


if __name__ == "__main__":
    main()
