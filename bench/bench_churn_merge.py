"""Single-row churn latency of the served cross-fit: K fold boosters (main before issue 14's follow-up) vs
one merged booster (``training.core.lgbm_merge``), and raw ``Booster.predict`` of one fold's trees.

Trains churn on a generated world (cross-fit: the table is small enough for K-fold tuning), loads the
registered pyfunc in this process and times ``predict`` of one row with reasons (p50 over ``--repeats``),
the scorer alone (raw probability + path contributions, no validation or calibration) and its trees alone.
Run it once per checkout, back to back on one machine, and compare (the test AUC must be equal):

    PYTHONPATH=/path/to/checkout python bench/bench_churn_merge.py --customers 2000 --seed 0

When the registered model has a logistic part (a blend or the baseline), ``linear`` also compares it scored
through scikit-learn's pipeline (``LinearScorer.without_mirror``, main before the numpy mirror) and through
the mirror, in this run: one row (alone and in the model's full predict with reasons) and a batch.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def p50_ms(call, repeats: int) -> float:
    call()  # warm-up (explainer tables, category lookups)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def linear_before_after(model, python_model, row, features, batch, repeats: int) -> dict | None:
    """The logistic part through scikit-learn (before) vs the numpy mirror (after), p50 ms / batch seconds."""
    scorer = python_model.scorer
    linear = scorer if scorer.kind == "logistic" else getattr(scorer, "linear", None)
    if linear is None:
        return None
    slow = linear.without_mirror()
    slow_scorer = slow if scorer is linear else dataclasses.replace(scorer, linear=slow)

    def parts(s, x):
        return lambda: (s.raw_proba(x), s.contributions(x))

    def full_predict(s):
        def call():
            python_model.scorer = s
            try:
                return model.predict(row)
            finally:
                python_model.scorer = scorer
        return call

    def seconds(call):
        call()
        return min(_timed(call) for _ in range(3))

    out = {"rows_in_batch": len(batch)}
    for name, s, lin in (("sklearn", slow_scorer, slow), ("numpy", scorer, linear)):
        out[name] = {"linear_row_p50_ms": p50_ms(parts(lin, features), repeats),
                     "scorer_row_reasons_p50_ms": p50_ms(parts(s, features), repeats),
                     "predict_row_reasons_p50_ms": p50_ms(full_predict(s), repeats),
                     "linear_batch_s": seconds(parts(lin, batch)),
                     "scorer_batch_s": seconds(parts(s, batch))}
    out["ratio_sklearn_over_numpy"] = {k: out["sklearn"][k] / out["numpy"][k] for k in out["numpy"]}
    return out


def _timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=500)
    parser.add_argument("--batch-rows", type=int, default=100_000)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench_churn_merge_"))
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{home / 'mlflow.db'}"
    os.environ.setdefault("CRMLAB_DEMO", "1")  # generated data: the public demo pseudonymisation key
    import mlflow

    from training.churn.inputs import from_features_dir
    from training.churn.scorers import LgbmScorer
    from training.churn.train import REFIT_FOLDS, train_churn
    from training.core import lgbm_predict
    from training.core.pyfunc_base import python_model_of, validate_frame
    from training.features.from_source import features_from_source
    from training.settings import get_settings
    from training.world import WorldConfig, generate_world, write_world

    write_world(generate_world(WorldConfig(n_customers=args.customers, seed=args.seed)), home / "raw")
    data = from_features_dir(features_from_source(home / "raw", home, get_settings()))
    result = train_churn(data=data, trials=args.trials, timeout=None, seed=args.seed, settings=get_settings())
    model = mlflow.pyfunc.load_model(result.model_uri)
    row = data.raw.head(1)
    python_model = python_model_of(model)
    scorer = python_model.scorer
    features = validate_frame(python_model.preprocess(row), python_model.spec)  # as a request is
    members = [m for m in getattr(scorer, "members", []) if m.kind == "lightgbm"]
    booster = members[0].booster if members else scorer.booster
    # one fold's trees: a fold booster (before) or the merged booster's first fold (after: trees 0..n/K-1)
    fold_trees = booster.num_trees() if members else booster.num_trees() // REFIT_FOLDS
    matrix = lgbm_predict.booster_matrix(booster, features, scorer.features, scorer.categorical)
    # the trees alone (what a registered "lightgbm" candidate serves): K members averaged, or the merged booster
    trees = (type(scorer)(members, [1 / len(members)] * len(members), scorer.features, scorer.categorical)
             if members else LgbmScorer(booster, scorer.features, scorer.categorical))
    many = data.raw.sample(args.batch_rows, replace=True, random_state=args.seed).reset_index(drop=True)
    batch = validate_frame(python_model.preprocess(many), python_model.spec)
    print(json.dumps({
        "scorer": type(scorer).__name__, "chosen": result.chosen, "boosters": max(len(members), 1),
        "trees": sum(m.booster.num_trees() for m in members) or booster.num_trees(),
        "test_roc_auc": result.metrics["test_roc_auc"], "test_log_loss": result.metrics["test_log_loss"],
        "predict_row_reasons_p50_ms": p50_ms(lambda: model.predict(row), args.repeats),
        "predict_row_no_reasons_p50_ms": p50_ms(lambda: model.predict(row, params={"reasons": False}),
                                                args.repeats),
        "scorer_row_reasons_p50_ms": p50_ms(lambda: (scorer.raw_proba(features), scorer.contributions(features)),
                                            args.repeats),
        "trees_row_reasons_p50_ms": p50_ms(lambda: (trees.raw_proba(features), trees.contributions(features)),
                                           args.repeats),
        "raw_fold_booster_p50_ms": p50_ms(lambda: booster.predict(matrix, num_iteration=fold_trees,
                                                                  num_threads=1), args.repeats),
        "linear": linear_before_after(model, python_model, row, features, batch, args.repeats),
        "load": os.getloadavg(),
    }, indent=1))


if __name__ == "__main__":
    main()
