"""Fit and compare the CLV family (``fit``): BG/NBD + Gamma-Gamma baseline vs tuned LightGBM.

LightGBM is stacked on the baseline (``stacking``: BG/NBD expectations, p_alive and Gamma-Gamma spend per
cutoff as features) and Optuna chooses its objective with its parameters (``spend_models``), using every
non-test row: on a small table by K-fold cross-fitting (folds grouped by customer; the K fold models are
served, averaged), on a larger one by the validation split and a refit on train + validation. Both models
predict spend over the same horizon for the same holdout rows; the winner on the primary metric
(normalized Gini: targeting ranks customers by value) is wrapped in ``ClvModel`` with tier thresholds
from its training population; the core lifecycle registers it as ``challenger``. Past spend is logged
as a second baseline and, with BG/NBD, written into the holdout for the gate (``baseline_<name>``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from training.clv.btyd import BTYDModel, predict_from_inputs
from training.clv.gate import BASELINE_PREFIX
from training.clv.inputs import LABEL, ClvProblem
from training.clv.metrics import PRIMARY_METRIC, comparison_table, pick_winner
from training.clv.pyfunc import TIERS_ARTIFACT, ClvModel, btyd_spec
from training.clv.spend_models import SpendModel, TunedSpend, tune_spend_model
from training.clv.stacking import STACKED_COLUMNS, stack_problem
from training.clv.tiers import fit_tier_thresholds, save_thresholds
from training.clv.transactions import ID
from training.core.family import Fitted, ModelCard, RunContext, TrainResult
from training.core.lgbm_search import TunedBooster
from training.core.pyfunc_base import InputSpec
from training.settings import Settings

FAMILY = "clv"
TASK = "tweedie"
# Tweedie log-likelihoods at different variance powers are not comparable, and the power is searched:
# early stopping, pruning and trial selection all use the validation Poisson deviance instead.
SELECTION_METRIC = "poisson"
MODELS = ("btyd", "lightgbm")  # baseline first: it wins ties
# Past spend, the simplest ranking a CRM uses: total spend before the cutoff (transaction-log shape,
# then crmlab features). A baseline to beat, never served.
PAST_SPEND_COLUMNS = ("total_spend", "monetary_total")
PAST_SPEND = PAST_SPEND_COLUMNS[0]


@dataclass
class ClvDetails:
    """CLV's own part of ``TrainResult`` (``result.winner``, ``result.comparison``, ``result.thresholds``)."""

    winner: str
    comparison: pd.DataFrame
    thresholds: dict[str, float]


def tune_lightgbm(problem: ClvProblem, run: RunContext) -> TunedBooster:
    """crmlab's earlier LightGBM (kept for the benchmark's "before" row): the shared search with Tweedie,
    selected on validation Poisson deviance."""
    from training.core.lgbm_search import tune_lightgbm as tune

    return tune((problem.train[problem.features], problem.train[LABEL].astype(float)),
                (problem.valid[problem.features], problem.valid[LABEL].astype(float)), task=TASK, run=run,
                categorical=problem.categorical, extra_params={"metric": SELECTION_METRIC})


def tune_spend(problem: ClvProblem, run: RunContext) -> TunedSpend:
    """The registered LightGBM: objective and parameters tuned on normalized Gini over every non-test row.

    Small table: K-fold, grouped by customer, and the K fold models averaged (a cross-fit ensemble: its
    out-of-fold predictions are what chose and calibrated it). Larger: the validation split, then a refit
    on train + validation (``settings.clv_refit_seeds`` seeds averaged)."""
    return tune_spend_model((problem.train[problem.features], problem.train[LABEL].astype(float)),
                            (problem.valid[problem.features], problem.valid[LABEL].astype(float)), run=run,
                            categorical=problem.categorical, scale=problem.spend_scale,
                            groups=pd.concat([problem.train[ID], problem.valid[ID]]).astype(str).to_numpy(),
                            every_row=True, seeds=run.settings.clv_refit_seeds, ensemble="folds", one_se=True)


def lightgbm_spend(problem: ClvProblem, spend: SpendModel, frame: pd.DataFrame) -> np.ndarray:
    """The tuned LightGBM's spend over the horizon: its label-window spend, plus BG/NBD's expected spend for the
    rest of the horizon when the labels are shorter (``ClvProblem.tail_days``); what ``ClvModel`` serves."""
    from training.clv.stacking import btyd_tail

    predicted = spend.predict(frame)
    if problem.tail_days:
        predicted = predicted + btyd_tail(problem.stack_btyd, frame, problem.stack_horizon_days,
                                          problem.horizon_days)
    return predicted


def past_spend(frame: pd.DataFrame) -> np.ndarray | None:
    """Total spend before the cutoff per row, or None when the features carry no such column."""
    column = next((c for c in PAST_SPEND_COLUMNS if c in frame.columns), None)
    return None if column is None else frame[column].fillna(0.0).to_numpy(float)


def lgbm_spec(problem: ClvProblem) -> InputSpec:
    """Numeric features never missing in training are required; the rest may be null (as churn).

    A stacked model reads the ``btyd_*`` inputs instead of the stacked columns it derives from them.
    """
    from training.clv.btyd import BTYD_INPUTS

    own = [c for c in problem.features if c not in STACKED_COLUMNS]
    btyd = [c for c in BTYD_INPUTS.values() if c not in own] if problem.stack_btyd is not None else []
    train = problem.train[own]
    required = {c for c in own if c not in problem.categorical and train[c].notna().all()}
    return InputSpec(columns=tuple([*own, *btyd]), categorical=frozenset(problem.categorical),
                     required=frozenset(required))


def lgbm_holdout_spend(booster, problem: ClvProblem, frame: pd.DataFrame) -> np.ndarray:
    """A single Tweedie booster's spend over the horizon (label-window prediction times the scale)."""
    from training.core.lgbm import as_lgbm_frame

    raw = booster.predict(as_lgbm_frame(frame[problem.features], problem.categorical))
    return np.clip(raw, 0, None) * problem.lgbm_scale


def winner_model(winner: str, problem: ClvProblem, btyd: BTYDModel, spend: SpendModel) -> ClvModel:
    """The served model for the winner, with tier thresholds from its training population."""
    lgbm = winner == "lightgbm"
    spec = lgbm_spec(problem) if lgbm else btyd_spec()
    stacked = lgbm and problem.stack_btyd is not None
    if lgbm:
        model = ClvModel(spec, kind="lightgbm", horizon_days=problem.horizon_days, thresholds={},
                         booster_text=spend.booster_texts[0], scale=spend.scale, categorical=problem.categorical,
                         objective=spend.objective, more_booster_texts=spend.booster_texts[1:],
                         part_scales=spend.part_scales, members=spend.members,
                         btyd_params=problem.stack_btyd.params() if stacked else None,
                         stack_horizon_days=problem.stack_horizon_days if stacked else 0.0,
                         tail_days=problem.tail_days)
    else:
        model = ClvModel(spec, kind="btyd", horizon_days=problem.horizon_days, thresholds={},
                         btyd_params=btyd.params())
    population_spend, _ = model.predict_spend(problem.tier_population[list(spec.columns)])
    model.thresholds = fit_tier_thresholds(population_spend)
    return model


def train_clv(problem: ClvProblem, *, trials: int, timeout: float | None, model_name: str, seed: int,
              storage: str | None, promote: bool, settings: Settings) -> TrainResult:
    """``train_family`` for CLV on a ready problem (features or transaction-log shape)."""
    from training.core.lifecycle import train_family

    return train_family(FAMILY, data=problem, model_name=model_name, trials=trials, timeout=timeout, seed=seed,
                        storage=storage, promote=promote, settings=settings)


def fit(problem: ClvProblem, run: RunContext) -> Fitted:
    """Fit both models, compare them on the holdout; the winner becomes the served model."""
    import mlflow

    from training.clv import report

    mlflow.log_params({"shape": problem.shape, "horizon_days": problem.horizon_days,
                       "rows_train": len(problem.train), "rows_valid": len(problem.valid),
                       "rows_holdout": len(problem.holdout), "lgbm_scale": round(problem.lgbm_scale, 6),
                       "primary_metric": PRIMARY_METRIC, "task": TASK})
    run.log(f"[clv] BG/NBD + Gamma-Gamma on {len(problem.btyd_population)} customers")
    btyd = BTYDModel.fit(problem.btyd_population)
    mlflow.log_params(btyd.params())
    btyd_spend, p_alive = predict_from_inputs(btyd, problem.holdout, problem.horizon_days)
    stacked = stack_problem(problem)
    run.log(f"[clv] tuning LightGBM ({run.trials} trials, objective searched) on {len(stacked.train)} rows, "
            f"{'stacked on BG/NBD per cutoff' if stacked.stack_btyd is not None else 'not stacked'}")
    tuned = tune_spend(stacked, run)
    spend = tuned.model
    predictions = {"btyd": btyd_spend, "lightgbm": lightgbm_spend(stacked, spend, stacked.holdout)}
    actual = problem.holdout[LABEL].to_numpy(float)
    table = comparison_table(actual, predictions).loc[list(MODELS)]
    winner = pick_winner(table)
    table = table.sort_values(PRIMARY_METRIC, ascending=False, kind="stable")
    baselines = {"btyd": btyd_spend}
    if (past := past_spend(problem.holdout)) is not None:
        baselines = {"past_spend": past, **baselines}
    baseline_table = comparison_table(actual, baselines)
    run.log(f"[clv] holdout {PRIMARY_METRIC}: " + ", ".join(
        f"{name} {value:.4f}" for name, value in table[PRIMARY_METRIC].items()) + f"; winner {winner}; "
        + ", ".join(f"baseline {n} {v:.4f}" for n, v in baseline_table[PRIMARY_METRIC].items()))
    metrics = {f"{name}.{k}": float(v) for name, row in table.iterrows() for k, v in row.items()}
    model = winner_model(winner, stacked, btyd, spend)
    params = {**spend.params, "objective": spend.objective, "best_iterations": list(spend.best_iterations),
              "scale": spend.scale, "btyd_tail_days": stacked.tail_days, "part_scales": list(spend.part_scales),
              "validation_normalized_gini": tuned.value, "stacked": stacked.stack_btyd is not None,
              "members": spend.members, "fitted": tuned.how}
    out = run.files_dir
    tiers_path = save_thresholds(model.thresholds, out / "clv_tiers.json")
    (out / "btyd_params.json").write_text(json.dumps(btyd.params(), indent=2))
    (out / "lgbm_params.json").write_text(json.dumps(params, indent=2, default=str))
    for i, text in enumerate(spend.booster_texts, start=1):
        (out / ("lgbm_model.txt" if i == 1 else f"lgbm_model_{i}.txt")).write_text(text)
    report.write_comparison(out, problem, table, predictions, p_alive, winner)
    booster = spend.boosters()[0]
    reference, importance = report.monitoring_files(problem, model, booster, seed=run.seed)
    mlflow.set_tags({"clv.winner": winner, "clv.objective": spend.objective,
                     "clv.notes": " | ".join(stacked.notes)[:5000]})
    version_metrics = {k: float(v) for k, v in table.loc[winner].items() if np.isfinite(v)}
    card = ModelCard(
        predicts=f"Expected spend per customer over the next {problem.horizon_days} days, p_alive and a CLV "
                 f"tier ({winner} won the holdout comparison on {PRIMARY_METRIC}).",
        data_window=_window(problem), test_metrics=version_metrics,
        body=report.model_card(stacked, table, winner, model.spec, model.thresholds, btyd, params,
                               baseline_table))
    holdout = problem.holdout.drop(columns=["cutoff", ID], errors="ignore").assign(
        **{f"{BASELINE_PREFIX}{name}": values for name, values in baselines.items()})
    return Fitted(
        model=model, input_spec=model.spec,
        input_example=stacked.holdout[list(model.spec.columns)].head(5).reset_index(drop=True),
        holdout=holdout, reference=reference, card=card,
        metrics=metrics, version_metrics=version_metrics, importance=importance,
        tags={"clv.winner": winner, "clv.shape": problem.shape, "clv.horizon_days": str(problem.horizon_days),
              "clv.primary_metric": PRIMARY_METRIC, "clv.objective": spend.objective},
        artifacts={TIERS_ARTIFACT: str(tiers_path)}, trials=len(tuned.study.trials), table=table,
        notes=[f"winner: {winner} (holdout {PRIMARY_METRIC})", f"LightGBM chosen by {tuned.how}", *stacked.notes],
        details=ClvDetails(winner, table, model.thresholds),
        baselines={name: dict(row) for name, row in baseline_table.iterrows()})


def _window(problem: ClvProblem) -> str:
    rows = (f"{problem.shape} input; train {len(problem.train)}, validation {len(problem.valid)}, "
            f"holdout {len(problem.holdout)} rows; horizon {problem.horizon_days} days")
    if "cutoff" in problem.train.columns:
        cutoffs = pd.to_datetime(problem.train["cutoff"])
        rows = f"training cutoffs {cutoffs.min().date()} .. {cutoffs.max().date()}; {rows}"
    return rows
