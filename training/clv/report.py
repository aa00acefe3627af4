"""CLV run artifacts: comparison table (CSV + Markdown), holdout predictions, calibration plot (under
``clv/``), and what the lifecycle writes at its fixed paths: model card, monitoring reference sample and
LightGBM importance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from training.clv.btyd import BTYDModel
from training.clv.gate import TOLERANCE, TOTAL_RATIO_BOUNDS
from training.clv.inputs import LABEL, ClvProblem
from training.clv.metrics import PRIMARY_METRIC, calibration_by_decile, plot_calibration
from training.clv.pyfunc import ClvModel
from training.clv.tiers import TIER_SHARES
from training.clv.transactions import ID
from training.core.family import REFERENCE_ROWS
from training.core.native_boosters import BOOSTER_PATH
from training.core.pyfunc_base import InputSpec


def write_comparison(out: Path, problem: ClvProblem, table: pd.DataFrame, predictions: dict[str, np.ndarray],
                     p_alive: np.ndarray, winner: str) -> None:
    """comparison.csv/.md, holdout_predictions.parquet, calibration_by_decile.csv/.png."""
    actual = problem.holdout[LABEL].to_numpy(float)
    table.to_csv(out / "comparison.csv")
    (out / "comparison.md").write_text(_markdown(table, winner))
    # rows in holdout.parquet's order, without the customer id: a user's own log may key customers by e-mail,
    # and nothing identifying reaches the tracking store (the churn and segments holdouts carry none either)
    frame = pd.DataFrame({"actual": actual, **predictions, "btyd_p_alive": p_alive})
    frame.to_parquet(out / "holdout_predictions.parquet", index=False)
    deciles = pd.concat([calibration_by_decile(actual, pred).assign(model=name)
                         for name, pred in predictions.items()], ignore_index=True)
    deciles.to_csv(out / "calibration_by_decile.csv", index=False)
    plot_calibration(actual, predictions, str(out / "calibration_by_decile.png"))


def monitoring_files(problem: ClvProblem, model: ClvModel, booster, *, seed: int
                     ) -> tuple[pd.DataFrame, pd.Series | None]:
    """What ``crmlab monitor`` compares batches with (monitoring/data.py): (reference, importance).

    Reference: up to ``REFERENCE_ROWS`` held-out rows (features shape; else the tier population): model
    inputs, ``cutoff``, the served
    model's ``predicted_spend``/``p_alive``/``clv_tier`` and ``future_spend``; no customer ids.
    Importance (LightGBM gain) only when LightGBM serves: BG/NBD has no such notion.
    """
    # Features shape: the holdout (latest cutoff, not fitted on), so reference predictions are out of sample.
    held_out = problem.shape == "features"
    population = problem.holdout if held_out else problem.tier_population
    rows = population.sample(min(REFERENCE_ROWS, len(population)), random_state=seed)
    outputs = model.predict_frame(rows[list(model.spec.columns)])
    labels = rows[LABEL] if held_out else _population_labels(problem).loc[rows.index]
    reference = rows.drop(columns=[ID], errors="ignore").assign(
        **{LABEL: labels.to_numpy(float)},
        **{c: outputs[c].to_numpy() for c in outputs.columns})
    importance = None
    if model.kind == "lightgbm":
        importance = pd.Series(booster.feature_importance(importance_type="gain"), index=booster.feature_name())
        importance = importance.sort_values(ascending=False, kind="stable")
    return reference.reset_index(drop=True), importance


def _population_labels(problem: ClvProblem) -> pd.Series:
    """``future_spend`` of the tier population's rows: the LightGBM training rows for the features shape,
    the holdout customers (everyone at the calibration end) for the transaction-log shape."""
    return (problem.train if problem.shape == "features" else problem.holdout)[LABEL]


def _table(table: pd.DataFrame, winner: str) -> str:
    cols = list(table.columns)
    lines = ["| model | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, row in table.iterrows():
        mark = " (winner)" if name == winner else ""
        lines.append(f"| {name}{mark} | " + " | ".join(f"{v:.4g}" for v in row.to_numpy(float)) + " |")
    return "\n".join(lines) + "\n"


def _markdown(table: pd.DataFrame, winner: str) -> str:
    return (f"# CLV holdout comparison\n\nPrimary metric: `{PRIMARY_METRIC}` (higher is better).\n\n"
            + _table(table, winner))


def model_card(problem: ClvProblem, table: pd.DataFrame, winner: str, spec: InputSpec,
               thresholds: dict[str, float], btyd: BTYDModel, best_params: dict,
               baselines: pd.DataFrame | None = None) -> str:
    params = ", ".join(f"{k}={v:.4g}" for k, v in btyd.params().items())
    tiers = ", ".join(f"{name} >= {value:.2f}" for name, value in thresholds.items())
    shares = ", ".join(f"{k}: top {v:.0%}" for k, v in TIER_SHARES.items())
    lgbm = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in best_params.items()
                     if k != "fitted")
    notes = "\n".join(f"- {n}" for n in problem.notes) or "- none"
    baseline_rows = _table(baselines, "") if baselines is not None else "(none)\n"
    return f"""# Model card: customer lifetime value (`clv`)

## What it predicts
Expected spend per customer over the next {problem.horizon_days} days (`predicted_spend`, currency units),
`p_alive` (BG/NBD probability the customer is still active; NaN when LightGBM serves) and `clv_tier`.

## Data ({problem.shape} input shape)
Train {len(problem.train)} rows, validation {len(problem.valid)} rows, holdout {len(problem.holdout)} rows.
{notes}

## Models compared
- **btyd**: BG/NBD (purchase days) x Gamma-Gamma (spend per purchase day), fitted by maximum likelihood on
  {len(problem.btyd_population)} customers' calibration history ({params}; time unit weeks).
- **lightgbm**: LightGBM stacked on the baseline: per training cutoff, BG/NBD and Gamma-Gamma are fitted
  on that cutoff's history only and their expected purchases, p_alive, expected spend per purchase and
  expected spend are features ({"stacked" if problem.stack_btyd is not None else "not stacked here"}).
  Optuna chooses the objective with the tree parameters (Tweedie with its variance power, l2 on
  log(1 + spend), Huber, or a two-part P(buy) x E[spend | buy]: `{best_params.get("objective")}` here),
  starting from a regularised configuration of each objective (two-part first), on normalized Gini; the
  best of those starts is kept unless the search beats it by more than one standard error; early stopping
  watches each objective's own metric. Rows used: {best_params.get("fitted", "one validation split")} ({lgbm}).
  {_horizon_note(problem)}

## Holdout comparison (winner: **{winner}**)
Primary metric: normalized Gini (targeting ranks customers by value; 1 = perfect order), MAE reported.

{_table(table, winner)}
Baselines on the same holdout (past spend: total spend before the cutoff, a ranking only; the promotion
gate refuses a model whose Gini is below the better one):

{baseline_rows}
## Tiers
Thresholds on the winner's predictions for its training population ({shares}): {tiers}.
Stored in `clv_tiers.json` with the model, so a tier depends only on the customer's own prediction.
A LightGBM winner's booster is also among the model's files in LightGBM's text format:
`{BOOSTER_PATH}` (load it with `lightgbm.Booster(model_file=...)`).

## Inputs
{spec.describe()}
BG/NBD inputs (`btyd_frequency` repeat purchase days, `btyd_recency` and `btyd_T` in weeks,
`btyd_monetary_value` mean repeat-day spend) come from `training.clv.inputs.add_btyd_inputs`; all four null
means no purchase yet (predicted spend 0).

## Promotion gate
Per-row loss |predicted - actual| / mean actual spend on the holdout (absolute error: robust to whales);
tolerance {TOLERANCE} (upper 95% bound of the MAE increase, in units of mean spend); checks: finite,
non-negative predictions, total predicted / total actual in {TOTAL_RATIO_BOUNDS}, and normalized Gini not
below the better baseline's.

## Limitations
BG/NBD assumes a stationary purchase process and independent spend and frequency; LightGBM trained on
earlier cutoffs assumes the next horizon behaves like the past ones. The winner is chosen on the same
holdout that is reported (two candidates only, so the optimism is small).
"""


def _horizon_note(problem: ClvProblem) -> str:
    """How LightGBM's label window becomes the horizon (model card)."""
    window = round(problem.label_days)
    if problem.tail_days:
        return (f"Its labels cover {window} of the {problem.horizon_days} days (the log is too short for more): "
                f"it predicts those {window} days and BG/NBD + Gamma-Gamma, fitted at the latest cutoff, add the "
                f"expected spend of the remaining {round(problem.tail_days)}.")
    if problem.lgbm_scale > 1:
        return (f"Its labels cover {window} of the {problem.horizon_days} days: its predictions are scaled by "
                f"{problem.lgbm_scale:.2f} (the same spending rate over the rest).")
    return f"Its labels cover the whole {problem.horizon_days}-day horizon."
