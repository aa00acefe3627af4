"""crmlab's tuned churn LightGBM vs FLAML AutoML (LightGBM only), same split, same wall-clock budget.

Both tune on the same training rows and select on the same validation (selection) rows from
``training.churn.train.prepare``; both are scored once on the same test rows. crmlab's time includes
what it always does per trial (median pruning, a nested MLflow run per trial in a throw-away SQLite
store); its calibrated column adds the calibration fitted on the calibration half (which FLAML does not
use). Trials/s counts finished trials (complete + pruned) per second of tuning.

    python bench/bench_churn_vs_flaml.py --budget 60                 # synthetic features (20k rows)
    python bench/bench_churn_vs_flaml.py --features data/features --budget 300

Writes a Markdown table to stdout and to --out (default bench/out/churn_vs_flaml.md).
Needs ``flaml[automl]`` (pip install -e ".[bench]").
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from training.churn.inputs import LABEL, ChurnData, from_features_dir, synthetic_features, write_features_dir
from training.churn.train import calibrate, prepare, tune_lightgbm
from training.core.evaluation import binary_metrics
from training.core.lgbm import as_lgbm_frame
from training.core.markdown import markdown_table
from training.settings import get_settings
from training.tracking import tracked_run


def run_crmlab(data: ChurnData, parts, *, budget: float, seed: int, workdir: Path) -> dict:
    settings = get_settings(tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")
    started = time.perf_counter()
    with tracked_run(settings, "bench-churn"):
        scorer, study = tune_lightgbm(data, parts, trials=1_000_000, timeout=budget, seed=seed, storage=None,
                                      study_name="bench", settings=settings)
    tuned = time.perf_counter() - started
    candidate = calibrate("lightgbm", scorer, data, parts, seed)
    total = time.perf_counter() - started
    test_x, test_y = parts.test[data.features], parts.test[LABEL].to_numpy()
    raw = scorer.raw_proba(test_x)
    return {"trials": len(study.trials), "tuning_s": tuned, "total_s": total, "raw": binary_metrics(test_y, raw),
            "calibrated": binary_metrics(test_y, candidate.calibrator.apply(raw))}


def run_flaml(data: ChurnData, parts, *, budget: float, seed: int) -> dict:
    from flaml import AutoML

    def frame(part: pd.DataFrame) -> pd.DataFrame:
        return as_lgbm_frame(part[data.features], data.categorical)

    automl = AutoML()
    started = time.perf_counter()
    automl.fit(frame(parts.train), parts.train[LABEL].to_numpy(), X_val=frame(parts.select),
               y_val=parts.select[LABEL].to_numpy(), task="classification", metric="log_loss",
               estimator_list=["lgbm"], time_budget=budget, seed=seed, n_jobs=1, verbose=0,
               retrain_full=False, log_file_name="")
    total = time.perf_counter() - started
    p = automl.predict_proba(frame(parts.test))[:, 1]
    return {"trials": int(automl._search_states["lgbm"].total_iter), "tuning_s": total, "total_s": total,
            "raw": binary_metrics(parts.test[LABEL].to_numpy(), p)}


def table(results: dict[str, dict], budget: float) -> pd.DataFrame:
    rows = []
    for name, r in results.items():
        variants = [("", r["raw"])] + ([(" + calibration", r["calibrated"])] if "calibrated" in r else [])
        for suffix, metrics in variants:
            rows.append({"tuner": name + suffix, "budget_s": budget, "wall_s": r["total_s"],
                         "trials": r["trials"], "trials_per_s": r["trials"] / max(r["tuning_s"], 1e-9),
                         "test_roc_auc": metrics["roc_auc"], "test_log_loss": metrics["log_loss"],
                         "test_ece": metrics["ece"]})
    return pd.DataFrame(rows).set_index("tuner")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=Path, default=None, help="features directory (default: synthetic)")
    parser.add_argument("--rows", type=int, default=20_000, help="synthetic rows when no --features")
    parser.add_argument("--budget", type=float, default=60.0, help="wall-clock tuning budget per tuner (s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("bench/out/churn_vs_flaml.md"))
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if args.features is None:
            source = write_features_dir(synthetic_features(args.rows, seed=args.seed), workdir / "features")
            label = f"synthetic nonlinear features, {args.rows} rows"
        else:
            source, label = args.features, str(args.features)
        data = from_features_dir(source)
        parts = prepare(data, args.seed)
        crmlab = run_crmlab(data, parts, budget=args.budget, seed=args.seed, workdir=workdir)
        flaml = run_flaml(data, parts, budget=args.budget, seed=args.seed)
        results = {"crmlab (Optuna TPE + pruning)": crmlab, "FLAML AutoML (lgbm)": flaml}
    result = table(results, args.budget)
    text = (f"# Churn tuning: crmlab vs FLAML\n\nData: {label}; {parts.description}.\n"
            f"Same split, same budget, test rows scored once; seed {args.seed}; {os.cpu_count()} CPU(s).\n\n"
            f"{markdown_table(result.round(4), digits=4)}\n")
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    return 0 if np.isfinite(result["test_roc_auc"]).all() else 1


if __name__ == "__main__":
    raise SystemExit(main())
