"""What a churn training run leaves behind (the lifecycle writes them at its fixed paths).

- plots: reliability (raw vs calibrated, test), ROC/PR, lift/gain, global importance, contribution
  summary (SHAP-style) PNGs, written into the run's plots folder;
- model card: data window, features and the input contract, selection, metrics, limits;
- reference sample: up to ``REFERENCE_ROWS`` held-out test rows (model inputs, ``churned``,
  ``churn_probability``, ``risk_band``; no customer ids) for drift and calibration monitoring;
- global importance (mean |contribution|), which monitoring uses to weigh drifted features.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from training.churn.explain import feature_label, global_importance
from training.churn.inputs import LABEL, ChurnData
from training.churn.model import RISK_BANDS, ChurnModel, risk_band
from training.core import plots
from training.core.evaluation import lift_table
from training.core.family import REFERENCE_ROWS
from training.core.lgbm_contrib import SHAP
from training.core.markdown import markdown_table
from training.core.native_boosters import card_line

IMPORTANCE_ROWS = 2000


@dataclass
class ChurnFiles:
    model_card: str
    reference: pd.DataFrame
    importance: pd.Series


def write_artifacts(plot_dir: Path, *, model: ChurnModel, data: ChurnData, parts, chosen, candidates,
                    table: pd.DataFrame, notes: list[str], study_name: str, trials: int,
                    seed: int) -> ChurnFiles:
    test_x, test_y = parts.test[data.features], parts.test[LABEL].to_numpy()
    raw, calibrated = model.probabilities(test_x)
    plots.reliability_plot(test_y, {"raw": raw, f"calibrated ({chosen.calibrator.method})": calibrated},
                           plot_dir / "reliability.png")
    plots.roc_pr_plot(test_y, calibrated, plot_dir / "roc_pr.png")
    lift = lift_table(test_y, calibrated)
    plots.lift_plot(lift, plot_dir / "lift.png")
    sample = test_x.sample(min(IMPORTANCE_ROWS, len(test_x)), random_state=seed)
    contributions = model.scorer.contributions(sample, SHAP)  # exact for the card: a sample, once
    importance = global_importance(contributions)
    plots.importance_plot(importance.rename(index=lambda f: feature_label(f, data.labels)),
                          plot_dir / "importance.png")
    plots.contribution_summary_plot(contributions, sample, plot_dir / "contributions_summary.png", seed=seed)
    card = model_card(model=model, data=data, parts=parts, chosen=chosen, candidates=candidates, table=table,
                      lift=lift, importance=importance, notes=notes, study_name=study_name, trials=trials)
    return ChurnFiles(card, _reference(model, data, parts, seed), importance)


def _reference(model: ChurnModel, data: ChurnData, parts, seed: int) -> pd.DataFrame:
    # Held-out test rows (the latest cutoff): predictions out of sample and as close in time to what the
    # model will score as the labelled data allows (docs/MONITORING.md "The reference").
    rows = parts.test.sample(min(REFERENCE_ROWS, len(parts.test)), random_state=seed)
    inputs = data.raw.loc[rows.index].reset_index(drop=True)
    _, p = model.probabilities(rows[data.features])
    out = inputs.assign(**{LABEL: rows[LABEL].to_numpy(), "churn_probability": p, "risk_band": risk_band(p)})
    if data.time_col:
        out.insert(0, data.time_col, rows[data.time_col].to_numpy())
    return out


def model_card(*, model: ChurnModel, data: ChurnData, parts, chosen, candidates, table: pd.DataFrame,
               lift: pd.DataFrame, importance: pd.Series, notes: list[str], study_name: str,
               trials: int) -> str:
    bands = ", ".join(f"{name} < {bound:g}" for name, bound in RISK_BANDS)
    bands += f", high >= {RISK_BANDS[-1][1]:g}"
    validation = "\n".join(
        f"| {c.name} | {c.valid_log_loss:.4f} | {c.valid_auc:.4f} | {c.calibrator.method} | "
        + ", ".join(f"{m} {v:.4f}" for m, v in c.calibration_losses.items()) + " |"
        for c in candidates.values()
    )
    top = "\n".join(f"| {feature_label(f, data.labels)} | {v:.4f} |" for f, v in importance.head(10).items())
    top_decile = lift.iloc[0]
    folds = chosen.fold_models
    served = (f"LightGBM is served as the {folds} fold models behind those predictions, averaged in log-odds "
              "(cross-fit: the calibration map was fitted on exactly these models; one booster holds their "
              "trees), the logistic model refitted on every non-test row" if folds else
              "the registered model is the chosen configuration refitted on every non-test row")
    return f"""# Churn model card

## Data
- Source: {data.source}
- Window: {data.window}
- Rows: {len(data.frame)} labelled (customer x cutoff); base churn rate {data.frame[LABEL].mean():.3f}
- Split: {parts.description}
- Notes:
{chr(10).join(f"  - {n}" for n in notes)}

## Inputs
{len(data.features)} features, in model order: {", ".join(data.features)}

{model.spec.describe()}

Extra columns (e.g. customer_id) are ignored. Bad input is refused with a message naming the column,
never the values.

## Selection
Objective: validation log loss (Optuna study `{study_name}`, {trials} trials, TPE + median pruning).
Candidates scored on the 5-fold out-of-fold predictions of every non-test row (cross-fitted calibrated
log loss, the choice); {served}. The calibration map is fitted on the out-of-fold
predictions of every row; on a time-based split its level (one log-odds offset) comes from the latest
cutoff's rows only, the period the model scores, where its method is also chosen (last column):

| candidate | calibrated log loss | ROC AUC (raw, out-of-fold) | calibration | calibration rows: log loss by method |
|---|---|---|---|---|
{validation}

Registered: **{chosen.name}**, calibration **{chosen.calibrator.method}** (the baseline is registered
whenever LightGBM is not at least as good; "none" = raw probabilities beat every fitted map).
{card_line(model)}

## Test metrics (scored once, after every choice)
{markdown_table(table)}

ECE uses 10 fixed equal-width probability bins. Top decile: churn rate {top_decile['rate']:.3f},
lift {top_decile['lift']:.2f}, {top_decile['cumulative_gain']:.0%} of churners.

## Outputs
`churn_probability` (calibrated), `risk_band` ({bands}), `top_reasons` (3 strongest per-customer
contributions to the raw model's log-odds as text, e.g. "recency days: 212, raises risk"). Inference
parameter `reasons` (default true): false leaves `top_reasons` null and skips the contributions.
`reasons_method`: `path` (default) credits each split on the customer's path through every tree with
the change of the node's mean value (Saabas, about 2x a plain prediction; contributions add up to the
raw score exactly); `shap` uses LightGBM's exact tree SHAP (about 15x). Their strongest reason agrees
for most customers (bench/README.md, serving). Calibration is monotone, so a reason that raises the
raw log-odds raises `churn_probability` too and the ranking holds. (The logistic baseline's
contributions are exact either way.) Global importance below uses exact contributions on a test sample.

## Global importance (mean |contribution to log-odds|)
| feature | importance |
|---|---|
{top}

## Limits
- Probabilities are calibrated for the population and period above; a shift in customers, products or
  seasonality degrades them: monitor drift and calibration against `reference.parquet`.
- "Churn" means the label as defined by the features (no purchase within the horizon); it is not
  cancellation, and customers unlabelled at the cutoff were not used.
- Reasons are associations learned from data, not causes: an action on a listed feature is not
  guaranteed to change the outcome.
- Categories unseen in training and missing optional features are scored as missing values.
"""
