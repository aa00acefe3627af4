"""Train, compare and register the CLV family: BG/NBD + Gamma-Gamma baseline vs tuned LightGBM.

Both models predict spend over the same horizon for the same holdout rows; the winner on the primary
metric (normalized Gini: targeting ranks customers by value) is wrapped in ``ClvModel`` with tier
thresholds from its training population and registered through the core as ``challenger``.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from training.clv.btyd import BTYDModel, predict_from_inputs
from training.clv.inputs import LABEL, ClvProblem
from training.clv.metrics import PRIMARY_METRIC, comparison_table, pick_winner
from training.clv.pyfunc import TIERS_ARTIFACT, ClvModel, btyd_spec
from training.clv.tiers import fit_tier_thresholds, save_thresholds
from training.core.pyfunc_base import InputSpec
from training.settings import Settings

FAMILY = "clv"
TASK = "tweedie"
# Tweedie log-likelihoods at different variance powers are not comparable, and the power is searched:
# early stopping, pruning and trial selection all use the validation Poisson deviance instead.
SELECTION_METRIC = "poisson"
MODELS = ("btyd", "lightgbm")  # baseline first: it wins ties


@dataclass
class ClvResult:
    winner: str
    comparison: pd.DataFrame
    model_name: str
    version: str
    run_id: str
    thresholds: dict[str, float]
    notes: list[str] = field(default_factory=list)
    promotion: str | None = None


def tune_lightgbm(problem: ClvProblem, *, trials: int, timeout: float | None, seed: int, storage: str | None,
                  study_name: str, settings: Settings):
    """Optuna (core ``run_study``) over the core LightGBM space; returns (booster, its params, study)."""
    from training.core.lgbm import fit_lgbm, suggest_lgbm_params
    from training.core.tuning import run_study

    train = (problem.train[problem.features], problem.train[LABEL].astype(float))
    valid = (problem.valid[problem.features], problem.valid[LABEL].astype(float))
    best: dict = {}

    def objective(trial) -> float:
        params = {**suggest_lgbm_params(trial, TASK), "metric": SELECTION_METRIC, "seed": seed}
        booster = fit_lgbm(params, train, valid, task=TASK, trial=trial, categorical=problem.categorical)
        value = float(booster.best_score["valid"][SELECTION_METRIC])
        trial.set_user_attr("best_iteration", int(booster.best_iteration))
        if not best or value < best["value"]:
            best.update(value=value, number=trial.number, booster=booster, params=params)
        return value

    study = run_study(objective, study_name=study_name, direction="minimize", trials=trials, timeout=timeout,
                      seed=seed, storage=storage, settings=settings)
    if best.get("number") != study.best_trial.number:  # best trial came from an earlier (resumed) run
        import optuna

        fixed = optuna.trial.FixedTrial(study.best_trial.params)
        params = {**suggest_lgbm_params(fixed, TASK), "metric": SELECTION_METRIC, "seed": seed}
        best.update(booster=fit_lgbm(params, train, valid, task=TASK, categorical=problem.categorical),
                    params=params)
    return best["booster"], best["params"], study


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
              storage: str | None, promote: bool, settings: Settings) -> ClvResult:
    """Fit both models, compare on the holdout, register the winner; optionally run the promotion gate."""
    import mlflow
    from rich.console import Console

    from training.core.registry import data_hash
    from training.tracking import tracked_run

    console = Console(stderr=True)
    fingerprint = data_hash(problem.train[[*problem.features, LABEL]])
    with tracked_run(settings, run_name=f"clv-{problem.shape}", tags={"crmlab.family": FAMILY}) as run:
        mlflow.log_params({"shape": problem.shape, "horizon_days": problem.horizon_days, "trials": trials,
                           "seed": seed, "rows_train": len(problem.train), "rows_valid": len(problem.valid),
                           "rows_holdout": len(problem.holdout), "lgbm_scale": round(problem.lgbm_scale, 6),
                           "primary_metric": PRIMARY_METRIC, "task": TASK})
        console.log(f"[clv] BG/NBD + Gamma-Gamma on {len(problem.btyd_population)} customers")
        btyd = BTYDModel.fit(problem.btyd_population)
        mlflow.log_params(btyd.params())
        btyd_spend, p_alive = predict_from_inputs(btyd, problem.holdout, problem.horizon_days)
        console.log(f"[clv] tuning LightGBM ({trials} trials) on {len(problem.train)} rows")
        booster, best_params, study = tune_lightgbm(
            problem, trials=trials, timeout=timeout, seed=seed, storage=storage, settings=settings,
            study_name=f"{model_name}-{FAMILY}-{problem.shape}-{fingerprint}-s{seed}")
        predictions = {"btyd": btyd_spend, "lightgbm": lgbm_holdout_spend(booster, problem, problem.holdout)}
        table = comparison_table(problem.holdout[LABEL].to_numpy(float), predictions).loc[list(MODELS)]
        winner = pick_winner(table)
        table = table.sort_values(PRIMARY_METRIC, ascending=False, kind="stable")
        console.log(f"[clv] holdout {PRIMARY_METRIC}: " + ", ".join(
            f"{name} {value:.4f}" for name, value in table[PRIMARY_METRIC].items()) + f"; winner {winner}")
        for name, row in table.iterrows():
            mlflow.log_metrics({f"{name}.{k}": float(v) for k, v in row.items() if np.isfinite(v)})
        model = winner_model(winner, problem, btyd, booster)
        tuned = {**best_params, "best_iteration": int(booster.best_iteration),
                 "validation_poisson_deviance": float(study.best_value)}
        version = _log_and_register(problem, model, table, winner, predictions, p_alive, btyd, booster, tuned,
                                    model_name=model_name, fingerprint=fingerprint, seed=seed, settings=settings)
        mlflow.set_tags({"clv.winner": winner, "clv.notes": " | ".join(problem.notes)[:5000]})
        result = ClvResult(winner, table, model_name, str(version.version), run.info.run_id, model.thresholds,
                           list(problem.notes))
    if promote:
        from training.core.promotion import promote as run_gate

        result.promotion = run_gate(model_name, settings=settings).summary()
    return result


def _log_and_register(problem: ClvProblem, model: ClvModel, table: pd.DataFrame, winner: str,
                      predictions: dict[str, np.ndarray], p_alive: np.ndarray, btyd: BTYDModel, booster,
                      tuned: dict, *, model_name: str, fingerprint: str, seed: int, settings: Settings):
    """Artifacts under ``clv/`` (monitoring's reference sample too), the holdout for the gate, then the core
    registration."""
    import mlflow

    from training.clv import report
    from training.core.promotion import log_holdout
    from training.core.registry import log_and_register

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        tiers_path = save_thresholds(model.thresholds, out / "clv_tiers.json")
        (out / "btyd_params.json").write_text(json.dumps(btyd.params(), indent=2))
        (out / "lgbm_params.json").write_text(json.dumps(tuned, indent=2))
        booster.save_model(str(out / "lgbm_model.txt"))
        report.write_comparison(out, problem, table, predictions, p_alive, winner)
        report.write_model_card(out, problem, table, winner, model.spec, model.thresholds, btyd, tuned)
        report.write_monitoring_files(out, problem, model, booster, seed=seed)
        mlflow.log_artifacts(str(out), artifact_path="clv")
        log_holdout(problem.holdout.drop(columns=["cutoff"], errors="ignore"))
        return log_and_register(
            model, model_name=model_name, family=FAMILY, artifacts={TIERS_ARTIFACT: tiers_path},
            input_example=problem.holdout[list(model.spec.columns)].head(5).reset_index(drop=True),
            tags={"data_hash": fingerprint, "clv.winner": winner, "clv.shape": problem.shape,
                  "clv.horizon_days": str(problem.horizon_days), "clv.primary_metric": PRIMARY_METRIC},
            metrics={k: float(v) for k, v in table.loc[winner].items() if np.isfinite(v)}, settings=settings)
