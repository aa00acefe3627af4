"""One churn tuning job with the same wall-clock budget on 1 and on 2 worker processes.

Runs the real command, ``crmlab train churn --timeout BUDGET --workers N --study S --storage PG``, once per
worker count, each on its own fresh PostgreSQL Optuna database (dropped afterwards) and a throw-away SQLite
tracking store. The trial budget is large, so the time budget ends each job; each worker stops asking for
trials when its time is up, finishes its running trial, and one process registers the model. Reported:
trials finished (complete + pruned) within the job, the best validation (selection) log loss, and the whole
job's wall time (start-up, tuning, registration).

    python bench/bench_tuning_workers.py --customers 5000 --budget 60

Writes a Markdown table to stdout and to --out (default bench/out/tuning_workers.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

PG = os.environ.get("CRMLAB_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")


def run_job(workers: int, budget: int, features: Path, home: Path, seed: int) -> dict:
    import optuna

    name = f"crmlab_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(f"{PG}/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    storage = f"{PG}/{name}"
    study = f"bench-{workers}w"
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{home / f'mlflow_{workers}.db'}",
           "OMP_NUM_THREADS": "1"}
    try:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "crmlab.cli", "train", "churn", "--features", str(features),
                        "--trials", "10000", "--timeout", str(budget), "--seed", str(seed), "--storage", storage,
                        "--workers", str(workers), "--study", study, "--model-name", f"churn_bench_{workers}"],
                       env=env, cwd=home, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        done = optuna.load_study(study_name=study, storage=storage)
        states = [t.state for t in done.trials]
        return {"workers": workers, "budget_s": budget,
                "trials": sum(s in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
                              for s in states),
                "pruned": sum(s == optuna.trial.TrialState.PRUNED for s in states),
                "failed": sum(s == optuna.trial.TrialState.FAIL for s in states),
                "best_valid_log_loss": done.best_value, "job_wall_s": wall}
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--budget", type=int, default=60, help="tuning seconds per job")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("bench/out/tuning_workers.md"))
    args = parser.parse_args()

    from training.world.churn_features import synthetic_features, write_features_dir

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        features = write_features_dir(synthetic_features(args.customers, seed=args.seed), home / "features")
        load = os.getloadavg()[0]
        rows = [run_job(n, args.budget, features, home, args.seed) for n in (1, 2)]
    machine = f"{os.cpu_count()} cores, Python {platform.python_version()}, load avg {load:.1f} at start"
    lines = [f"{time.strftime('%Y-%m-%d')}, {machine}, {args.customers} customers, budget {args.budget} s",
             "", "| workers | budget (s) | trials finished | of which pruned | failed | best validation log loss "
             "| job wall time (s) |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['workers']} | {r['budget_s']} | {r['trials']} | {r['pruned']} | {r['failed']} | "
              f"{r['best_valid_log_loss']:.4f} | {r['job_wall_s']:.0f} |" for r in rows]
    ratio = rows[1]["trials"] / max(rows[0]["trials"], 1)
    lines += ["", f"2 workers / 1 worker, trials finished in the same budget: {ratio:.2f}x"]
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
