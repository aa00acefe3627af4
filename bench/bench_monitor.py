"""crmlab monitoring vs a bare Evidently ``DataDriftPreset`` report, same frames, same run.

Three cases, each in its own subprocess so its wall time (the call only; imports and data generation
excluded) and its peak memory (VmHWM of that process) are its own:

- ``assess``: crmlab's per-model report with labels: one ValueDrift per feature and output, drifted
  share of important features, share shift, estimated AUC / expected churn rate, ECE, Brier, measured
  AUC drop, Evidently's ClassificationQuality preset, reliability PNG; plus HTML and JSON written.
- ``run_monitor``: the whole ``run_monitor`` call on a registered (synthetic) champion: scoring the
  batch with the pyfunc, the report above, files, index, MLflow logging, Evidently workspace.
- ``preset``: ``Report([DataDriftPreset()]).run(current, reference)`` on the same feature columns, and
  its HTML.

    python bench/bench_monitor.py                       # 100k current x 100k reference rows, 30 features
    python bench/bench_monitor.py --rows 20000 --reference-rows 5000

Writes the Markdown table to stdout and to bench/out/monitor.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out" / "monitor.md"
CASES = ("assess", "run_monitor", "preset")


def _peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _frames(rows: int, reference_rows: int, features: int):
    from monitoring.synthetic import churn_batch

    reference = churn_batch(reference_rows, features=features, seed=1)
    current = churn_batch(rows, features=features, seed=2, shift={"f00": 0.5, "f03": 0.5}, cutoff="2024-09-30")
    return reference, current


def case_assess(args, workdir: Path) -> dict:
    from monitoring.assess import assess
    from monitoring.policy import Policy
    from monitoring.reports import report_paths, write_report
    from monitoring.synthetic import fake_champion

    reference, current = _frames(args.rows, args.reference_rows, args.features)
    outputs = ["churn_probability", "risk_band"]
    champion = fake_champion(reference)
    files = report_paths(workdir, "churn", __import__("datetime").datetime.now())
    start = time.perf_counter()
    result = assess(champion, current.drop(columns=outputs), current[outputs], Policy(), labels=True,
                    plot_path=files.plot)
    write_report(files, {"model": "churn", "verdict": "bench"}, result.snapshot)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "checks": sorted({c.check for c in result.crossings}),
            "drifted": result.drift.drifted_features}


def case_run_monitor(args, workdir: Path) -> dict:
    import evidently.ui.workspace  # noqa: F401  (imported before the clock, as in the other cases)
    import mlflow.pyfunc  # noqa: F401

    import monitoring.assess  # noqa: F401
    from monitoring.policy import Policy
    from monitoring.run import run_monitor
    from training.settings import get_settings

    _, current = _frames(args.rows, args.reference_rows, args.features)
    batch = current.drop(columns=["churn_probability", "risk_band"])
    start = time.perf_counter()
    result = run_monitor(batch, ["churn"], Policy(), workdir / "reports", False, get_settings(),
                         labels_available=True)
    seconds = time.perf_counter() - start
    model = result.model("churn")
    if model.status == "error":
        raise RuntimeError(model.verdict)
    return {"seconds": seconds, "checks": sorted({c.check for c in model.crossings})}


def case_preset(args, workdir: Path) -> dict:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    reference, current = _frames(args.rows, args.reference_rows, args.features)
    numeric = [f"f{i:02d}" for i in range(args.features)]
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=["plan", "region"])
    cols = [*numeric, "plan", "region"]
    start = time.perf_counter()
    snapshot = Report([DataDriftPreset()], include_tests=True).run(
        Dataset.from_pandas(current[cols], data_definition=definition),
        Dataset.from_pandas(reference[cols], data_definition=definition))
    snapshot.save_html(str(workdir / "preset.html"))
    return {"seconds": time.perf_counter() - start}


def _register(args, workdir: Path) -> None:
    """The champion run_monitor resolves: a synthetic churn pyfunc with its reference sample."""
    from monitoring.synthetic import register_synthetic_champion
    from training.settings import get_settings

    reference, _ = _frames(args.rows, args.reference_rows, args.features)
    register_synthetic_champion(reference, get_settings(), features=args.features)


def _child(args) -> None:
    workdir = Path(args.workdir)
    started = time.perf_counter()
    if args.case == "register":
        _register(args, workdir)
        print(json.dumps({"seconds": time.perf_counter() - started}))
        return
    result = {"assess": case_assess, "run_monitor": case_run_monitor, "preset": case_preset}[args.case](args, workdir)
    result |= {"peak_rss_mib": _peak_rss_mib(), "process_seconds": time.perf_counter() - started}
    print(json.dumps(result))


def _run(case: str, args, workdir: Path, env: dict) -> dict:
    argv = [sys.executable, __file__, "--case", case, "--workdir", str(workdir), "--rows", str(args.rows),
            "--reference-rows", str(args.reference_rows), "--features", str(args.features)]
    wall = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=workdir, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"case {case} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_with_imports"] = time.perf_counter() - wall
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="current batch rows")
    parser.add_argument("--reference-rows", type=int, default=100_000, help="reference sample rows")
    parser.add_argument("--features", type=int, default=28, help="numeric features (plus 2 categorical)")
    parser.add_argument("--case", choices=(*CASES, "register"), help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        _child(args)
        return
    with tempfile.TemporaryDirectory(prefix="bench-monitor-") as tmp:
        workdir = Path(tmp)
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}", "CRMLAB_DEMO": "1",
               "PYTHONPATH": str(ROOT)}
        print(f"registering a synthetic champion ({args.reference_rows:,} reference rows) ...", file=sys.stderr)
        _run("register", args, workdir, env)
        results = {}
        for case in CASES:
            print(f"running {case} ...", file=sys.stderr)
            results[case] = _run(case, args, workdir, env)
    table = _table(args, results)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(table + "\n")
    print(table)


def _table(args, results: dict) -> str:
    import numpy
    import pandas

    machine = (f"{os.cpu_count()} cores, Python {platform.python_version()}, numpy {numpy.__version__}, "
               f"pandas {pandas.__version__}")
    try:
        from importlib.metadata import version

        machine += f", evidently {version('evidently')}"
    except Exception:  # (metadata is informational only)
        pass
    labels = {
        "assess": "crmlab report (drift + calibration + estimate + ClassificationQuality), HTML+JSON",
        "run_monitor": "crmlab run_monitor (score 100% of rows, report, files, MLflow, workspace)",
        "preset": "bare DataDriftPreset report + HTML",
    }
    lines = [
        f"Monitoring benchmark, {date.today()}, {machine}.",
        f"Current {args.rows:,} rows x {args.features + 2} features (28 numeric + 2 categorical by default), "
        f"reference {args.reference_rows:,} rows. Times: the call only (imports and data generation excluded); "
        "'with imports' is the whole subprocess (interpreter start, imports, generating the frames). "
        "Peak RSS: VmHWM of that process. The machine is shared: compare rows of one run only.",
        "",
        "| case | time (s) | with imports (s) | peak RSS (MiB) |",
        "|---|---|---|---|",
    ]
    for case in CASES:
        r = results[case]
        lines.append(f"| {labels[case]} | {r['seconds']:.2f} | {r['wall_with_imports']:.2f} | "
                     f"{r['peak_rss_mib']:.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
