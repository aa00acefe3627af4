"""Probability calibration on out-of-fold predictions (rows no model scoring them was fitted on).

Training hands over each candidate's out-of-fold predictions on every non-test row. On them, isotonic
and sigmoid (Platt) are compared by cross-fitted log loss (each row scored by a calibrator fitted on the
other folds), so the method is never chosen on the rows it was fitted on; the chosen method is then
refitted on all those rows. The raw probabilities ("none") compete too: a model trained on log loss is
often calibrated already, and a map fitted on a few hundred rows would then only add noise. The test
split is not involved.

Shape on every period, level on the scored one (``level_on``): on a time-based split the base churn rate
drifts between cutoffs, so a map fitted on every cutoff's rows is off in level for the period scored
next; fitted on the latest cutoff's rows only (about a third of them: 1,580 on a 5,000-customer world)
its shape is noisy. The Platt map is therefore split in two: its slope (the shape) is fitted on the
out-of-fold predictions of *every* period, with one intercept per group (latest vs earlier), and the
latest group's intercept is its level. The latest rows now pay for one number instead of the whole map.
Isotonic does not compete there: fitted on three times the rows it wins the log-loss choice more often,
but its steps tie scores and cost test AUC (measured: up to 0.0017 on generated worlds, bench/README.md),
while a Platt map never changes the ranking. The choice, "none" vs the split Platt map, is still made by
cross-fitted log loss, scored on the latest rows only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from training.core.evaluation import per_row_log_loss
from training.core.splits import stratified_folds

METHODS = ("none", "isotonic", "sigmoid")  # ties go to the first: no map unless it helps
SPLIT_METHODS = ("none", "sigmoid")  # with ``level_on``: monotone in log-odds, so the ranking is kept
FOLDS = 5
# Calibrated probabilities stay inside (0, 1): isotonic steps can reach exactly 0 or 1.
P_MIN, P_MAX = 1e-4, 1 - 1e-4


@dataclass
class Calibrator:
    method: str
    model: object

    def apply(self, p: np.ndarray) -> np.ndarray:
        p = np.asarray(p, dtype=float)
        if self.method == "none":
            out = p
        elif self.method == "isotonic":
            out = self.model.predict(p)
        else:
            out = self.model.predict_proba(_logit(p).reshape(-1, 1))[:, 1]
        return np.clip(out, P_MIN, P_MAX)


def fit_calibrator(method: str, p: np.ndarray, y: np.ndarray, level_on: np.ndarray | None = None) -> Calibrator:
    """Fit one calibration map from raw scores ``p`` to outcomes ``y``; with ``level_on`` (a row mask), its
    shape on every row and its level on the masked rows (module docstring). "none" stays the identity."""
    p, y = np.asarray(p, dtype=float), np.asarray(y, dtype=int)
    split = level_on is not None and 0 < int(np.sum(level_on)) < len(p)
    if method == "none":
        model: object = None
    elif method == "isotonic":
        if split:
            raise ValueError(f"isotonic has no shape/level split; with level_on use one of {SPLIT_METHODS}")
        model = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(p, y)
    elif method == "sigmoid":
        z = _logit(p).reshape(-1, 1)
        model = LogisticRegression(C=1e6, max_iter=1000).fit(z, y)
        if split:  # shared slope, one intercept per group: the latest group's is the level, and is served
            both = LogisticRegression(C=1e6, max_iter=1000).fit(np.c_[z, np.asarray(level_on, float)], y)
            model.coef_ = both.coef_[:, :1].copy()
            model.intercept_ = both.intercept_ + both.coef_[0, 1]
    else:
        raise ValueError(f"unknown calibration method {method!r}; expected one of {METHODS}")
    return Calibrator(method, model)


def choose_calibrator(p: np.ndarray, y: np.ndarray, *, seed: int, level_on: np.ndarray | None = None
                      ) -> tuple[Calibrator, dict[str, float]]:
    """Pick the method with the lower cross-fitted log loss; refit it on all rows. Returns (map, losses).

    ``level_on``: mask of the rows of the period scored next (the latest cutoff). Then "none" competes with
    the split Platt map only (shape on every row, level on these rows), and the losses are those of these
    rows only.
    """
    p, y = np.asarray(p, dtype=float), np.asarray(y, dtype=int)
    scored = np.ones(len(p), bool) if level_on is None else np.asarray(level_on, bool)
    methods = METHODS if scored.all() else SPLIT_METHODS
    losses = {m: float(cross_fitted_losses(p, y, m, seed=seed, level_on=level_on)[scored].mean()) for m in methods}
    best = min(methods, key=lambda m: losses[m])
    return fit_calibrator(best, p, y, scored), losses


def cross_fitted_losses(p: np.ndarray, y: np.ndarray, method: str, *, seed: int,
                        level_on: np.ndarray | None = None) -> np.ndarray:
    """Per-row log loss of ``method``'s map, each row mapped by a map fitted on the other folds (the same
    folds for every method and candidate, so two candidates' rows can be compared pairwise)."""
    p, y = np.asarray(p, dtype=float), np.asarray(y, dtype=int)
    scored = np.ones(len(p), bool) if level_on is None else np.asarray(level_on, bool)
    oof = np.empty_like(p)
    for fit_idx, score_idx in stratified_folds(y, FOLDS, seed):
        oof[score_idx] = fit_calibrator(method, p[fit_idx], y[fit_idx], scored[fit_idx]).apply(p[score_idx])
    return per_row_log_loss(y, oof)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))
