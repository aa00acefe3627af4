"""Does the monitor alarm when it should, and only then? `main`-like worlds at drift 0, 0.3 and 0.7.

Per (seed, drift) world, in its own subprocess and tracking store: generate (timeline to 2026-03-31 so
the January batch's outcome is known; drift from 2025-07-20, where `main`'s 0.85 puts it), ingest,
features at `main`'s training cutoffs and at 2026-01-01, train + promote churn, CLV and segments as
`main` does (fewer trials), then `run_monitor` on the 2026-01-01 batch *without* labels (as `main`).
A verdict is a false alarm at drift 0 and a detection at drift > 0. The churn champion's estimated ROC
AUC (CBPE, no labels) is compared with its AUC measured on the same batch's labels.

    python bench/bench_monitor_quality.py --seeds 5 --customers 1500 --trials 1 --jobs 3

Writes the Markdown table to stdout and bench/out/monitor_quality.md (rows:
bench/out/monitor_quality_<customers>.jsonl; the table covers the seeds and drifts asked for). With
``--keep DIR`` the trained worlds stay on disk, and ``--remonitor --keep DIR`` re-judges them with the
current monitor code without training again (develop on other seeds than the ones you report).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
DRIFTS = (0.0, 0.3, 0.7)
FAMILIES = ("churn", "clv", "segments")
CURRENT = "2026-01-01"
WORLD_END = date(2025, 12, 31)


def world(seed: int, drift: float, customers: int, trials: int, workdir: Path) -> dict:
    """One world end to end; returns each family's status, crossed checks and the AUC pair."""
    from datetime import timedelta

    import click

    from crmlab.commands.main import _command
    from crmlab.commands.options import load_settings
    from crmlab.commands.train import family_command

    settings = load_settings(seed=seed)
    raw, clean, feats, current = (workdir / p for p in ("raw", "clean", "features", "current"))
    horizon = settings.horizon_days
    # `main`'s cutoffs on a world ending 2025-12-31: one horizon back from its end, then two more.
    cutoffs = ",".join((WORLD_END - timedelta(days=horizon * k)).isoformat() for k in (3, 2, 1))
    started = time.perf_counter()
    with click.Context(click.Command("bench")) as ctx:
        ctx.invoke(_command("generate"), n_customers=customers, seed=seed, out=raw, drift=drift, end="2026-03-31",
                   drift_start="2025-07-20")
        ctx.invoke(_command("ingest"), source=str(raw), out_dir=clean, demo=True)
        ctx.invoke(_command("features"), data_dir=clean, cutoffs=cutoffs, horizon_days=horizon, out_dir=feats)
        ctx.invoke(_command("features"), data_dir=clean, cutoffs=CURRENT, horizon_days=horizon, out_dir=current,
                   vocabulary_from=feats)
        for family in FAMILIES:
            ctx.invoke(family_command(family), features_dir=str(feats), trials=trials, seed=seed, promote=True)
    trained = time.perf_counter() - started
    unlabelled = current / "unlabelled"
    unlabelled.mkdir()
    _without_labels(current, unlabelled)
    return monitor_world(seed, drift, workdir, settings) | {"train_s": round(trained, 1)}


def monitor_world(seed: int, drift: float, workdir: Path, settings=None) -> dict:
    """The monitor's verdicts on an already trained world (``--remonitor`` re-judges kept worlds)."""
    from crmlab.commands.options import load_settings
    from monitoring.policy import Policy
    from monitoring.run import run_monitor

    settings = settings or load_settings(seed=seed)
    current = workdir / "current"
    started = time.perf_counter()
    result = run_monitor(current / "unlabelled", list(FAMILIES), Policy(), workdir / "reports", False, settings)
    out = {"seed": seed, "drift": drift, "monitor_s": round(time.perf_counter() - started, 1)}
    for m in result.models:
        out[m.model_name] = {"status": m.status, "checks": sorted({c.check for c in m.crossings}),
                             "verdict": m.verdict[:400]}
    out["auc"] = _auc_pair(result.model("churn"), current, settings)
    return out


def _without_labels(src: Path, dst: Path) -> None:
    """The batch as `main` sees it on 2026-01-01: features only (its outcome window has not elapsed)."""
    import pandas as pd

    frame = pd.read_parquet(src / "features.parquet").drop(columns=["churned", "future_spend"])
    frame.to_parquet(dst / "features.parquet", index=False)
    meta = json.loads((src / "features_meta.json").read_text())
    (dst / "features_meta.json").write_text(json.dumps(meta))


def _auc_pair(model, current: Path, settings) -> dict:
    """(estimated without labels, measured with them) for the churn champion on the batch."""
    import pandas as pd

    from monitoring.data import load_champion, model_outputs
    from monitoring.estimate import measured_roc_auc
    from monitoring.families import population_mask

    frame = pd.read_parquet(current / "features.parquet")
    champion = load_champion("churn", settings)
    keep = population_mask(champion.spec, frame, settings.active_window_days)
    frame = frame.loc[keep] if keep is not None else frame
    frame = frame.loc[frame["churned"].notna()]
    p = model_outputs(champion, frame.drop(columns=["churned", "future_spend"]), current)["churn_probability"]
    measured = measured_roc_auc(frame["churned"].astype(int).to_numpy(), p.to_numpy())
    return {"estimated": model.metrics.get("estimated_roc_auc"), "measured": measured}


def _child(args) -> None:
    workdir = Path(args.workdir)
    os.chdir(workdir)
    if args.remonitor:
        print(json.dumps(monitor_world(args.seed, args.drift, workdir)))
        return
    print(json.dumps(world(args.seed, args.drift, args.customers, args.trials, workdir)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=101, help="seeds first-seed .. first-seed+seeds-1")
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--drifts", default=",".join(map(str, DRIFTS)))
    parser.add_argument("--jobs", type=int, default=1, help="worlds run at once (each in its own process)")
    parser.add_argument("--fresh", action="store_true", help="forget worlds measured by earlier invocations")
    parser.add_argument("--keep", help="keep each trained world in KEEP/<customers>-<seed>-<drift> (re-judge with "
                        "--remonitor after changing the monitor, without training again)")
    parser.add_argument("--remonitor", action="store_true", help="only re-run the monitor on worlds kept by --keep")
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--drift", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.workdir:
        _child(args)
        return
    OUT.mkdir(parents=True, exist_ok=True)
    rows_path = OUT / f"monitor_quality_{args.customers}.jsonl"
    if args.fresh:
        rows_path.unlink(missing_ok=True)
    worlds = [(seed, float(d)) for seed in range(args.first_seed, args.first_seed + args.seeds)
              for d in args.drifts.split(",")]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(lambda w: _run_world(*w, args, rows_path), worlds))
    # Every world measured so far (earlier invocations too, unless --fresh): the latest row per world.
    wanted = set(worlds)
    rows = list({(r["seed"], r["drift"]): r for r in map(json.loads, rows_path.read_text().splitlines())
                 if (r["seed"], r["drift"]) in wanted}.values())
    table = summarize(rows, args)
    (OUT / "monitor_quality.md").write_text(table + "\n")
    print(table)


def _run_world(seed: int, drift: float, args, rows_path: Path) -> dict | None:
    if args.keep:
        kept = Path(args.keep).resolve() / f"{args.customers}-{seed}-{drift}"
        if not args.remonitor:
            shutil.rmtree(kept, ignore_errors=True)
        kept.mkdir(parents=True, exist_ok=True)
        return _in_dir(seed, drift, args, rows_path, str(kept))
    if args.remonitor:
        sys.exit("--remonitor needs --keep DIR (the worlds kept by an earlier run)")
    with tempfile.TemporaryDirectory(prefix="bench-mq-") as tmp:
        return _in_dir(seed, drift, args, rows_path, tmp)


def _in_dir(seed: int, drift: float, args, rows_path: Path, tmp: str) -> dict | None:
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db", "CRMLAB_DEMO": "1",
           "DO_NOT_TRACK": "1", "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, __file__, "--seed", str(seed), "--drift", str(drift), "--workdir", tmp,
            "--customers", str(args.customers), "--trials", str(args.trials)]
    done = subprocess.run(argv + (["--remonitor"] if args.remonitor else []), env=env, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"seed {seed} drift {drift} failed:\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    row = json.loads(done.stdout.strip().splitlines()[-1])
    with rows_path.open("a") as fh:
        fh.write(json.dumps(row) + "\n")
    print(f"seed {seed} drift {drift}: " + ", ".join(f"{f} {row[f]['status']}" for f in FAMILIES), file=sys.stderr)
    return row


def summarize(rows: list[dict], args) -> str:
    """Per family: alarms at drift 0 (false alarms), detections at 0.3 and 0.7; AUC estimate error."""
    import numpy as np

    lines = [f"Monitor quality, {date.today()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
             f"{args.customers:,}-customer worlds, {args.trials} trials per family, seeds "
             f"{sorted({r['seed'] for r in rows})}. A verdict alarms when any policy check crosses.", "",
             "| family | false alarms at drift 0 | detected at drift 0.3 | detected at drift 0.7 |",
             "|---|---|---|---|"]
    for family in FAMILIES:
        cells = []
        for drift in DRIFTS:
            got = [r[family]["status"] == "alert" for r in rows if r["drift"] == drift and family in r]
            cells.append(f"{sum(got)}/{len(got)}" if got else "-")
        lines.append(f"| {family} | " + " | ".join(cells) + " |")
    errors = [abs(r["auc"]["estimated"] - r["auc"]["measured"]) for r in rows
              if r.get("auc", {}).get("estimated") is not None and r["auc"].get("measured") is not None]
    by_drift = {d: [abs(r["auc"]["estimated"] - r["auc"]["measured"]) for r in rows if r["drift"] == d
                    and r.get("auc", {}).get("estimated") is not None] for d in DRIFTS}
    if errors:
        lines += ["", f"Churn AUC estimated without labels vs measured with them: mean |error| "
                  f"{np.mean(errors):.3f}, max {np.max(errors):.3f} over {len(errors)} batches ("
                  + ", ".join(f"drift {d}: max {max(v):.3f}" for d, v in by_drift.items() if v) + ")."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
