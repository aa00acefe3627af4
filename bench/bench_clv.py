"""CLV model quality, step by step (issue 14): held-out normalized Gini and Spearman per model.

Rows: the two outside baselines (past spend; BG/NBD + Gamma-Gamma), crmlab's first LightGBM (Tweedie, RFM
features), then one step at a time: + stacking (BG/NBD / Gamma-Gamma outputs as features), + two-part
(P(buy) x E[spend | buy] alone), + tuned objective (Optuna chooses Tweedie / l2 on log1p / Huber / two-part on
one validation split), + the one-SE rule on that split, then every non-test row: K-fold over train +
validation grouped by customer, the fold models averaged, without and with the one-SE rule; these steps start
from one regularised configuration (``spend_models.CONSERVATIVE`` with Tweedie). Then the registered search:
a regularised start per objective (two-part first), the one-SE rule measured against the best of them; and
two alternatives: its choice refitted on all non-test rows, once and with several seeds (what tables above
``kfold_max_rows`` do). When the labels cover less than the horizon (a log shorter than twice the horizon:
CDNOW at 273 days, worlds at ``--world-horizon 365``), the registered row is the same search with BG/NBD +
Gamma-Gamma predicting the days past the labels (``ClvProblem.tail_days``), and the row before it the label
window scaled up to the horizon. Every search gets the same number of Optuna trials. On generated worlds the
table also gives the normalized Gini against the generator's expected spend (``Gini vs truth``).

Tables: generated worlds (transaction logs of ``training.world``, calibration to 2024-06-30, 90 days out)
and the CDNOW sample (calibration 1997-01-01 .. 1997-09-30, the next 90 days, as crmlab's own-data chain
uses). Target: Gini at least 0.03 above the better baseline.

    nice -n 10 python bench/bench_clv.py                      # 2k and 5k worlds x seeds 1, 2; CDNOW
    nice -n 10 python bench/bench_clv.py --sizes 2000 --seeds 1 --trials 10
    nice -n 10 python bench/bench_clv.py --sizes --cdnow-horizon 273     # the issue's 39 weeks in, 39 out
    nice -n 10 python bench/bench_clv.py --no-cdnow --world-horizon 365  # labels shorter than the horizon
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CDNOW = Path(__file__).resolve().parents[1] / "tests" / "data" / "cdnow_sample" / "CDNOW_sample.txt"
HORIZON = 90
WORLD_CUTOFF = pd.Timestamp("2024-07-01")
TARGET_MARGIN = 0.03


def cdnow_problem(seed: int, horizon: int = HORIZON):
    from training.clv.inputs import problem_from_transactions
    from training.clv.transactions import read_transactions

    log = read_transactions(CDNOW, header=False)
    return problem_from_transactions(log, id_col="2", date_col="3", amount_col="5", calibration_end="1997-09-30",
                                     horizon_days=horizon, seed=seed), None


def world_problem(n: int, seed: int, horizon: int = HORIZON):
    """A generated world's log; at the default horizon 18 months of history (labels cover the horizon), else
    one year of history before the cutoff and ``horizon`` days after it (labels cover half a year)."""
    from training.clv.inputs import problem_from_transactions
    from training.world import WorldConfig, generate_world
    from training.world.truth import expected_spend

    start, end = ("2023-01-01", "2024-12-31") if horizon == HORIZON else (
        str((WORLD_CUTOFF - pd.Timedelta(days=366)).date()), str((WORLD_CUTOFF + pd.Timedelta(days=horizon)).date()))
    world = generate_world(WorldConfig(n_customers=n, seed=seed, start=start, end=end, dirt_rate=0.0))
    problem = problem_from_transactions(world.transactions, id_col="customer_id", date_col="order_ts",
                                        amount_col="amount",
                                        calibration_end=str((WORLD_CUTOFF - pd.Timedelta(days=1)).date()),
                                        horizon_days=horizon, seed=seed)
    truth = expected_spend(world.truth_customers, world.meta, WORLD_CUTOFF, horizon)
    return problem, truth.reindex(problem.holdout["customer_id"]).to_numpy(float)


def steps(problem, trials: int, seed: int, settings, tag: str, seeds: int) -> dict[str, np.ndarray]:
    """Holdout predictions of every row of the table, in table order."""
    from training.clv.btyd import BTYDModel, predict_from_inputs
    from training.clv.spend_models import REGISTERED, SINGLE, final_model, tune_spend_model, wrap_model
    from training.clv.stacking import stack_problem
    from training.clv.train import PAST_SPEND, lgbm_holdout_spend, lightgbm_spend, tune_lightgbm
    from training.clv.transactions import ID
    from training.core.family import RunContext
    from training.tracking import tracked_run

    def run(step: str) -> RunContext:
        return RunContext(family="clv", model_name="clv", seed=seed, trials=trials, timeout=None, storage=None,
                          study_name=f"bench-{tag}-{step}", settings=settings, plots_dir=Path("."),
                          files_dir=Path("."))

    def spend(p, step: str, objectives: tuple[str, ...], every_row: bool = False, one_se: bool = False,
              starts: tuple[str, ...] | None = None, scale: float | None = None):
        data = p.train[p.features], p.train["future_spend"].astype(float)
        valid = p.valid[p.features], p.valid["future_spend"].astype(float)
        groups = pd.concat([p.train[ID], p.valid[ID]]).astype(str).to_numpy()
        return tune_spend_model(data, valid, run=run(step), categorical=p.categorical,
                                scale=p.lgbm_scale if scale is None else scale,
                                objectives=objectives, groups=groups, every_row=every_row, one_se=one_se,
                                ensemble="folds", starts=starts or objectives[:1])

    out = {"past spend": problem.holdout[PAST_SPEND].to_numpy(float)}
    out["BG/NBD + GG"], _ = predict_from_inputs(BTYDModel.fit(problem.btyd_population), problem.holdout,
                                                problem.horizon_days)
    stacked = stack_problem(problem)
    features, cats = stacked.features, stacked.categorical
    with tracked_run(settings, f"bench-clv-{tag}"):
        out["LightGBM (before)"] = lgbm_holdout_spend(tune_lightgbm(problem, run("before")).booster, problem,
                                                     problem.holdout)
        out["+ stacking"] = lgbm_holdout_spend(tune_lightgbm(stacked, run("stacking")).booster, stacked,
                                               stacked.holdout)
        out["+ two-part"] = spend(stacked, "two-part", ("two_part",)).model.predict(stacked.holdout)
        split = spend(stacked, "objective", SINGLE, one_se=True)
        out["+ tuned objective (one split)"] = wrap_model(split.searched, split.searched.boosters, features, cats,
                                                          1).predict(stacked.holdout)
        out["+ one-SE rule (one split)"] = split.model.predict(stacked.holdout)
        tuned = spend(stacked, "every-row", SINGLE, every_row=True, one_se=True)
        registered = spend(stacked, "starts", REGISTERED, every_row=True, one_se=True, starts=REGISTERED)
        print(f"[bench_clv] {tag}: {registered.how}; chose {registered.choice.objective}", file=sys.stderr)
        if tuned.folds:
            out["+ every non-test row: K-fold, fold models averaged"] = wrap_model(
                tuned.searched, tuned.searched.boosters, features, cats, tuned.folds).predict(stacked.holdout)
            out["+ one-SE rule: K-fold, fold models averaged"] = tuned.model.predict(stacked.holdout)
        else:
            out["+ every non-test row: refit"] = final_model(tuned.searched, tuned.rows, cats, folds=0, seeds=1,
                                                             ensemble="refit", seed=seed)[0].predict(stacked.holdout)
            out["+ one-SE rule: refit"] = tuned.model.predict(stacked.holdout)
        out["+ a regularised start per objective" + ("" if stacked.tail_days else " (registered)")] = \
            registered.model.predict(stacked.holdout)
        if stacked.tail_days:  # labels shorter than the horizon: BG/NBD predicts the rest (registered)
            tailed = spend(stacked, "tail", REGISTERED, every_row=True, one_se=True, starts=REGISTERED,
                           scale=stacked.spend_scale).model
            out["+ BG/NBD + GG for the days past the labels (registered)"] = lightgbm_spend(stacked, tailed,
                                                                                          stacked.holdout)
        for label, n in (("alt: registered choice, refit", 1),
                         (f"alt: registered choice, refit, {seeds} seeds averaged", seeds)):
            out[label] = final_model(registered.choice, registered.rows, cats, folds=0, seeds=n, ensemble="refit",
                                     seed=seed)[0].predict(stacked.holdout)
    return out


def table_rows(name: str, problem, predictions: dict[str, np.ndarray], truth: np.ndarray | None) -> list[dict]:
    """Metrics against the realised holdout spend; on a generated world also the normalized Gini against the
    generator's expected spend (``truth_gini``): the same ranking question without the noise of one
    realisation, so a step's real effect shows at 2,000 customers."""
    from training.clv.metrics import normalized_gini, regression_metrics

    actual = problem.holdout["future_spend"].to_numpy(float)
    rows = [{"table": name, "model": model, **regression_metrics(actual, pred),
             "truth_gini": np.nan if truth is None else normalized_gini(truth, pred)}
            for model, pred in predictions.items()]
    best_baseline = max(rows[0]["normalized_gini"], rows[1]["normalized_gini"])
    for row in rows:
        row["gain_vs_best_baseline"] = row["normalized_gini"] - best_baseline
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| table | model | normalized Gini | Spearman | Gini - best baseline | target +0.03 | Gini vs truth |",
             "|---|---|---:|---:|---:|---|---:|"]
    for r in rows:
        baseline = r["model"] in ("past spend", "BG/NBD + GG")
        met = "" if baseline else ("met" if r["gain_vs_best_baseline"] >= TARGET_MARGIN else "missed")
        lines.append(f"| {r['table']} | {r['model']} | {r['normalized_gini']:.3f} | {r['spearman']:.3f} | "
                     f"{r['gain_vs_best_baseline']:+.3f} | {met} | "
                     + ("" if np.isnan(r["truth_gini"]) else f"{r['truth_gini']:.3f}") + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[2000, 5000])
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--no-cdnow", action="store_true")
    parser.add_argument("--cdnow-seeds", type=int, nargs="*", default=[],
                        help="more CDNOW runs with other train/validation customer splits and search seeds")
    parser.add_argument("--cdnow-horizon", type=int, default=HORIZON,
                        help="CDNOW holdout days (273 = the issue's 39 weeks in, 39 weeks out)")
    parser.add_argument("--world-horizon", type=int, default=HORIZON,
                        help="worlds' holdout days; other than 90: one year of history, so labels cover half a year")
    parser.add_argument("--refit-seeds", type=int, default=5, help="seeds of the seed-averaged refit step")
    args = parser.parse_args()
    os.environ.setdefault("DO_NOT_TRACK", "1")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{Path(tmp) / 'bench.db'}"
        os.environ["CRMLAB_OPTUNA_STORAGE"] = f"sqlite:///{Path(tmp) / 'optuna.db'}"
        from training.settings import get_settings

        settings = get_settings()
        rows: list[dict] = []
        cdnow = "CDNOW sample (2,357)" + ("" if args.cdnow_horizon == HORIZON else f", {args.cdnow_horizon} days")
        tables = [] if args.no_cdnow else [(cdnow, lambda: cdnow_problem(0, args.cdnow_horizon), 0)]
        tables += [(f"{cdnow} split seed {s}", (lambda s=s: cdnow_problem(s, args.cdnow_horizon)), s)
                   for s in args.cdnow_seeds]
        world = "" if args.world_horizon == HORIZON else f", {args.world_horizon} days"
        tables += [(f"world {n:,}{world} seed {s}", (lambda n=n, s=s: world_problem(n, s, args.world_horizon)), s)
                   for n in args.sizes for s in args.seeds]
        for name, load, seed in tables:
            problem, truth = load()
            predictions = steps(problem, args.trials, seed, settings, name.replace(" ", "_").replace(",", ""),
                                args.refit_seeds)
            rows += table_rows(name, problem, predictions, truth)
            print(f"[bench_clv] {name} done ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    load = os.getloadavg()
    print(f"# CLV quality per step ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
          f"{os.cpu_count()} cores, {platform.python_version()}, load {load[0]:.1f})\n")
    print(f"Held-out spend over {args.cdnow_horizon} days on CDNOW, {args.world_horizon} on the worlds; "
          f"{args.trials} Optuna trials per LightGBM step; {time.perf_counter() - started:.0f} s in all.\n")
    print(markdown(rows))


if __name__ == "__main__":
    main()
