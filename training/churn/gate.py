"""The churn promotion gate (``GATE``; ``training.churn.family`` hands it to the lifecycle).

- Per-row loss: log loss of ``churn_probability`` against the holdout's ``churned`` (0/1 or bool).
- Tolerance (non-inferiority margin): 0.01 nats of mean log loss, about 2-3% of a typical churn log
  loss. The *upper* 95% bound of (challenger - champion) must stay below it, so a clearly worse model
  is refused. The bound's half-width is about 1.65 x sd/sqrt(rows): on holdouts under ~2,000 rows it
  exceeds the margin, and even an equally good challenger is then refused (the champion is kept).
  That is deliberate; give a larger trusted holdout with ``--holdout``, or ``--force`` (recorded).
- Checks on the challenger's holdout output: probabilities finite and inside [0, 1]; calibration ECE
  (10 fixed bins) at most 0.05 plus the ECE a perfectly calibrated model shows by chance on this
  holdout (``calibrated_ece_noise``: about 0.05 on 500 rows, 0.01 on 10,000), because the CRM acts on
  the probability values, not just the ranking, and a small holdout must not refuse a calibrated model;
  "not worse than a default": for each ``baseline_<name>`` column of the holdout (test probabilities of
  the default LightGBM and the logistic regression trained on the same rows, written by training), the
  challenger's AUC is at least the baseline's minus ``BASELINE_AUC_MARGIN``. A holdout given by hand
  without those columns has no baseline to compare with, and the check is not run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.core.evaluation import calibrated_ece_noise, expected_calibration_error, per_row_log_loss
from training.core.gate_spec import GateSpec

LABEL = "churned"
SCORE = "churn_probability"
TOLERANCE = 0.01
MAX_ECE = 0.05
BASELINE_PREFIX = "baseline_"
BASELINE_AUC_MARGIN = 0.005  # issue 14: "test AUC within 0.005" of the better default


def _labels(holdout: pd.DataFrame) -> np.ndarray:
    if LABEL not in holdout.columns:
        raise ValueError(f"the holdout has no {LABEL!r} column: the gate needs the observed outcome per row")
    known = holdout[LABEL]
    if known.isna().any():
        raise ValueError(f"the holdout has {int(known.isna().sum())} row(s) with a null {LABEL!r}: "
                         "drop unlabelled rows from the holdout")
    return known.astype(float).to_numpy()


def per_row_loss(output: pd.DataFrame, holdout: pd.DataFrame) -> np.ndarray:
    return per_row_log_loss(_labels(holdout), output[SCORE].to_numpy(dtype=float))


def checks(output: pd.DataFrame, holdout: pd.DataFrame) -> dict[str, bool]:
    p = output[SCORE].to_numpy(dtype=float)
    valid = bool(np.isfinite(p).all() and p.min() >= 0 and p.max() <= 1)
    ece = expected_calibration_error(_labels(holdout), p) if valid else np.inf
    allowed = MAX_ECE + calibrated_ece_noise(p) if valid else MAX_ECE
    out = {"probabilities_valid": valid, f"ece_at_most_{MAX_ECE:g}_plus_noise": bool(ece <= allowed)}
    return out | not_worse_than_baselines(p if valid else None, holdout)


def not_worse_than_baselines(p: np.ndarray | None, holdout: pd.DataFrame) -> dict[str, bool]:
    """``auc_not_below_<name>`` per ``baseline_<name>`` column of the holdout (see the module docstring)."""
    from sklearn.metrics import roc_auc_score

    columns = [c for c in holdout.columns if c.startswith(BASELINE_PREFIX)]
    if not columns:
        return {}
    y = _labels(holdout)
    auc = roc_auc_score(y, p) if p is not None else -np.inf
    return {f"auc_not_below_{c.removeprefix(BASELINE_PREFIX)}":
            bool(auc >= roc_auc_score(y, holdout[c].to_numpy(dtype=float)) - BASELINE_AUC_MARGIN)
            for c in columns}


GATE = GateSpec(per_row_loss=per_row_loss, checks=checks, tolerance=TOLERANCE)
