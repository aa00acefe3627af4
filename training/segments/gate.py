"""The segments promotion gate (``GATE``; ``training.segments.family`` hands it to the lifecycle).

Quality. Per-row loss = minus the simplified silhouette of the row under the model's segments, computed
in a space built from the *holdout alone* (the same selection, log, scaling and group weights as
training, fitted on the holdout): both versions are judged on the same distances, whatever features or
PCA each was trained with. ``TOLERANCE`` 0.05: the challenger's mean silhouette may be at most 0.05
lower than the champion's (upper 95% bound).

Stability (checks on the challenger). ``ids_kept_ge_90pct``: at least ``MIN_KEPT_SHARE`` of holdout
customers keep the segment ID the champion gave them. The training run stores the champion's IDs in the
logged holdout as ``champion_segment_id``; ``GateSpec.checks`` receives only the challenger's output,
so a holdout without that column fails the check (use the run's ``holdout.parquet`` or ``--force``).
``min_segment_share_ok``: every segment holds at least ``MIN_HOLDOUT_SHARE`` of the holdout.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.core.gate_spec import GateSpec
from training.segments.inputs import select_features
from training.segments.pipeline import Preprocessor
from training.segments.quality import simplified_silhouette

FAMILY = "segments"
TOLERANCE = 0.05
MIN_KEPT_SHARE = 0.9
MIN_HOLDOUT_SHARE = 0.01
CHAMPION_COLUMN = "champion_segment_id"


def quality_space(holdout: pd.DataFrame) -> np.ndarray:
    """Model-independent distances: the segmentation space fitted on the holdout itself, no PCA."""
    prep = Preprocessor(select_features(holdout)).fit(holdout)
    return prep.weighted(prep.standardised(holdout))


def per_row_loss(output: pd.DataFrame, holdout: pd.DataFrame) -> np.ndarray:
    return -simplified_silhouette(quality_space(holdout), output["segment_id"].to_numpy())


def kept_share(output: pd.DataFrame, holdout: pd.DataFrame) -> float | None:
    """Share of holdout rows whose segment ID equals the champion's; None without champion IDs."""
    if CHAMPION_COLUMN not in holdout.columns or holdout[CHAMPION_COLUMN].isna().all():
        return None
    champion = holdout[CHAMPION_COLUMN].to_numpy()
    return float(np.mean(output["segment_id"].to_numpy() == champion))


def checks(output: pd.DataFrame, holdout: pd.DataFrame) -> dict[str, bool]:
    kept = kept_share(output, holdout)
    sizes = output["segment_id"].value_counts(normalize=True)
    return {
        "ids_kept_ge_90pct": kept is not None and kept >= MIN_KEPT_SHARE,
        "min_segment_share_ok": bool(sizes.min() >= MIN_HOLDOUT_SHARE),
    }


GATE = GateSpec(per_row_loss=per_row_loss, checks=checks, tolerance=TOLERANCE,
                relative_checks=frozenset({"ids_kept_ge_90pct"}))  # a first version has no champion IDs

