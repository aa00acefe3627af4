"""Probability calibration on out-of-fold predictions (rows no model scoring them was fitted on).

Training hands over each candidate's out-of-fold predictions on every non-test row. On them, isotonic
and sigmoid (Platt) are compared by cross-fitted log loss (each row scored by a calibrator fitted on the
other folds), so the method is never chosen on the rows it was fitted on; the chosen method is then
refitted on all those rows. The raw probabilities ("none") compete too: a model trained on log loss is
often calibrated already, and a map fitted on a few hundred rows would then only add noise. The test
split is not involved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from training.core.evaluation import per_row_log_loss
from training.core.splits import stratified_folds

METHODS = ("none", "isotonic", "sigmoid")  # ties go to the first: no map unless it helps
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


def fit_calibrator(method: str, p: np.ndarray, y: np.ndarray) -> Calibrator:
    """Fit one calibration map from raw scores ``p`` to outcomes ``y``."""
    if method == "none":
        model: object = None
    elif method == "isotonic":
        model = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(p, y)
    elif method == "sigmoid":
        model = LogisticRegression(C=1e6, max_iter=1000).fit(_logit(p).reshape(-1, 1), y)
    else:
        raise ValueError(f"unknown calibration method {method!r}; expected one of {METHODS}")
    return Calibrator(method, model)


def choose_calibrator(p: np.ndarray, y: np.ndarray, *, seed: int) -> tuple[Calibrator, dict[str, float]]:
    """Pick the method with the lower cross-fitted log loss; refit it on all rows. Returns (map, losses)."""
    p, y = np.asarray(p, dtype=float), np.asarray(y, dtype=int)
    folds = stratified_folds(y, FOLDS, seed)
    losses = {}
    for method in METHODS:
        oof = np.empty_like(p)
        for fit_idx, score_idx in folds:
            oof[score_idx] = fit_calibrator(method, p[fit_idx], y[fit_idx]).apply(p[score_idx])
        losses[method] = float(per_row_log_loss(y, oof).mean())
    best = min(METHODS, key=lambda m: losses[m])
    return fit_calibrator(best, p, y), losses


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))
