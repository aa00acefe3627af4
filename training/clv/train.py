"""Fit and compare the CLV family (``fit``): BG/NBD + Gamma-Gamma baseline vs tuned LightGBM.

Both models predict spend over the same horizon for the same holdout rows; the winner on the primary
metric (normalized Gini: targeting ranks customers by value) is wrapped in ``ClvModel`` with tier
thresholds from its training population; the core lifecycle registers it as ``challenger``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from training.clv.btyd import BTYDModel, predict_from_inputs
from training.clv.inputs import LABEL, ClvProblem
from training.clv.metrics import PRIMARY_METRIC, comparison_table, pick_winner
from training.clv.pyfunc import TIERS_ARTIFACT, ClvModel, btyd_spec
from training.clv.tiers import fit_tier_thresholds, save_thresholds
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


@dataclass
class ClvDetails:
    """CLV's own part of ``TrainResult`` (``result.winner``, ``result.comparison``, ``result.thresholds``)."""

    winner: str
    comparison: pd.DataFrame
    thresholds: dict[str, float]


def tune_lightgbm(problem: ClvProblem, run: RunContext) -> TunedBooster:
    """The shared LightGBM search (``core.lgbm_search``), selected on validation Poisson deviance."""
    from training.core.lgbm_search import tune_lightgbm as tune

    return tune((problem.train[problem.features], problem.train[LABEL].astype(float)),
                (problem.valid[problem.features], problem.valid[LABEL].astype(float)), task=TASK, run=run,
                categorical=problem.categorical, extra_params={"metric": SELECTION_METRIC})


def lgbm_spec(problem: ClvProblem) -> InputSpec:
    """Numeric features never missing in training are required; the rest may be null (as churn)."""
    train = problem.train[problem.features]
    required = {c for c in problem.features if c not in problem.categorical and train[c].notna().all()}
    return InputSpec(columns=tuple(problem.features), categorical=frozenset(problem.categorical),
                     required=frozenset(required))


def lgbm_holdout_spend(booster, problem: ClvProblem, frame: pd.DataFrame) -> np.ndarray:
    """LightGBM spend over the horizon (label-window prediction times the problem's scale)."""
    from training.core.lgbm import as_lgbm_frame

    raw = booster.predict(as_lgbm_frame(frame[problem.features], problem.categorical))
    return np.clip(raw, 0, None) * problem.lgbm_scale


def winner_model(winner: str, problem: ClvProblem, btyd: BTYDModel, booster) -> ClvModel:
    """The served model for the winner, with tier thresholds from its training population."""
    lgbm = winner == "lightgbm"
    spec = lgbm_spec(problem) if lgbm else btyd_spec()
    model = ClvModel(spec, kind=winner, horizon_days=problem.horizon_days, thresholds={},
                     booster_text=booster.model_to_string() if lgbm else None,
                     btyd_params=None if lgbm else btyd.params(), scale=problem.lgbm_scale if lgbm else 1.0,
                     categorical=problem.categorical if lgbm else None)
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
    run.log(f"[clv] tuning LightGBM ({run.trials} trials) on {len(problem.train)} rows")
    tuned = tune_lightgbm(problem, run)
    booster = tuned.booster
    predictions = {"btyd": btyd_spend, "lightgbm": lgbm_holdout_spend(booster, problem, problem.holdout)}
    table = comparison_table(problem.holdout[LABEL].to_numpy(float), predictions).loc[list(MODELS)]
    winner = pick_winner(table)
    table = table.sort_values(PRIMARY_METRIC, ascending=False, kind="stable")
    run.log(f"[clv] holdout {PRIMARY_METRIC}: " + ", ".join(
        f"{name} {value:.4f}" for name, value in table[PRIMARY_METRIC].items()) + f"; winner {winner}")
    metrics = {f"{name}.{k}": float(v) for name, row in table.iterrows() for k, v in row.items()}
    model = winner_model(winner, problem, btyd, booster)
    params = {**tuned.params, "best_iteration": int(booster.best_iteration),
              "validation_poisson_deviance": tuned.value}
    out = run.files_dir
    tiers_path = save_thresholds(model.thresholds, out / "clv_tiers.json")
    (out / "btyd_params.json").write_text(json.dumps(btyd.params(), indent=2))
    (out / "lgbm_params.json").write_text(json.dumps(params, indent=2))
    booster.save_model(str(out / "lgbm_model.txt"))
    report.write_comparison(out, problem, table, predictions, p_alive, winner)
    reference, importance = report.monitoring_files(problem, model, booster, seed=run.seed)
    mlflow.set_tags({"clv.winner": winner, "clv.notes": " | ".join(problem.notes)[:5000]})
    version_metrics = {k: float(v) for k, v in table.loc[winner].items() if np.isfinite(v)}
    card = ModelCard(
        predicts=f"Expected spend per customer over the next {problem.horizon_days} days, p_alive and a CLV "
                 f"tier ({winner} won the holdout comparison on {PRIMARY_METRIC}).",
        data_window=_window(problem), test_metrics=version_metrics,
        body=report.model_card(problem, table, winner, model.spec, model.thresholds, btyd, params))
    return Fitted(
        model=model, input_spec=model.spec,
        input_example=problem.holdout[list(model.spec.columns)].head(5).reset_index(drop=True),
        holdout=problem.holdout.drop(columns=["cutoff"], errors="ignore"), reference=reference, card=card,
        metrics=metrics, version_metrics=version_metrics, importance=importance,
        tags={"clv.winner": winner, "clv.shape": problem.shape, "clv.horizon_days": str(problem.horizon_days),
              "clv.primary_metric": PRIMARY_METRIC},
        artifacts={TIERS_ARTIFACT: str(tiers_path)}, trials=len(tuned.study.trials), table=table,
        notes=[f"winner: {winner} (holdout {PRIMARY_METRIC})", *problem.notes],
        details=ClvDetails(winner, table, model.thresholds))


def _window(problem: ClvProblem) -> str:
    rows = (f"{problem.shape} input; train {len(problem.train)}, validation {len(problem.valid)}, "
            f"holdout {len(problem.holdout)} rows; horizon {problem.horizon_days} days")
    if "cutoff" in problem.train.columns:
        cutoffs = pd.to_datetime(problem.train["cutoff"])
        rows = f"training cutoffs {cutoffs.min().date()} .. {cutoffs.max().date()}; {rows}"
    return rows
