"""Cross-fitting with LightGBM's own ``lightgbm.cv`` (a fast case of ``training.core.crossfit``), and a refit.

For families whose selection metric is not a LightGBM metric (CLV ranks customers by normalized Gini, which
needs predictions), ``lgbm_search.tune_lightgbm`` cannot score a configuration. ``lgbm_cross_fit`` gives what
they need instead: K-fold ``lightgbm.cv`` over every non-test row (early stopping on the fold mean of the
booster's own metric, so every fold stops at the same round) and the out-of-fold prediction of every row,
made by the fold model that did not see it. The caller scores those predictions with its own metric and
calibrates on them; the chosen configuration is then refitted on all rows (``refit``: rounds scaled by the
row ratio, ``lgbm_search.scaled_rounds``).

Why not ``crossfit.cross_fit`` with a LightGBM fit per fold: ``lightgbm.cv`` bins the data once for every
fold and stops every fold at the same round, the fold mean's best, which is what a refit scales from. When to
use K folds: ``lgbm_search.kfold_count``, the rule of the K-fold tuning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightgbm
import numpy as np
import pandas as pd

from training.core.crossfit import CrossFit
from training.core.lgbm import Task


@dataclass
class LgbmCrossFit(CrossFit[lightgbm.Booster]):
    """``CrossFit`` (fold models in fold order, out-of-fold raw prediction of every row) + the rounds."""

    rounds: int          # boosting rounds chosen on the fold mean of the metric
    fit_rows: int        # rows each fold model trained on (the mean over folds): what ``rounds`` is for


def lgbm_cross_fit(params: dict[str, Any], x: pd.DataFrame, y: pd.Series, folds: list[tuple[np.ndarray, np.ndarray]],
              *, task: Task, categorical: list[str] | None = None, fit_mask: np.ndarray | None = None,
              max_rounds: int = 2000, early_stopping: int = 50) -> LgbmCrossFit:
    """``lightgbm.cv`` over ``folds`` (positions into ``x``); every row gets its out-of-fold prediction.

    ``fit_mask``: the rows a model may learn from (e.g. buyers only for a spend-given-purchase model); the
    fold models still predict every row of their held-out fold.
    """
    from training.core.lgbm import as_lgbm_frame, base_params

    cats = [c for c in (categorical or []) if c in x.columns]
    frame = as_lgbm_frame(x, cats)
    mask = np.ones(len(x), bool) if fit_mask is None else np.asarray(fit_mask, bool)
    position = np.cumsum(mask) - 1  # row -> position among the fitted rows
    fit_folds = [(position[f[mask[f]]], position[s[mask[s]]]) for f, s in folds]
    data = lightgbm.Dataset(frame[mask], label=y[mask].astype(float), categorical_feature=cats or "auto",
                            free_raw_data=False)
    full = {**base_params(task), **params}
    result = lightgbm.cv(full, data, num_boost_round=max_rounds, folds=fit_folds, return_cvbooster=True,
                         callbacks=[lightgbm.early_stopping(early_stopping, first_metric_only=True, verbose=False)])
    curve = next(v for k, v in result.items() if k.endswith("-mean"))
    rounds = int(np.argmin(curve)) + 1
    boosters = result["cvbooster"].boosters
    oof = np.full(len(x), np.nan)
    for booster, (_, score) in zip(boosters, folds, strict=True):
        oof[score] = booster.predict(frame.iloc[score], num_iteration=rounds)
    for booster in boosters:
        booster.best_iteration = rounds
    return LgbmCrossFit(boosters, oof, rounds, round(float(np.mean([len(f) for f, _ in fit_folds]))))


def refit(params: dict[str, Any], x: pd.DataFrame, y: pd.Series, *, task: Task, rounds: int, tuned_rows: int,
          categorical: list[str] | None = None) -> lightgbm.Booster:
    """The chosen configuration on all of ``x``: ``rounds`` (found for ``tuned_rows`` rows) scaled to them."""
    from training.core.lgbm_search import fit_rounds, scaled_rounds

    return fit_rounds(params, x, y, task=task, categorical=categorical,
                      rounds=scaled_rounds(rounds, tuned_rows, len(x)))
