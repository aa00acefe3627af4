"""Churn scorers that older crmlab versions logged and this one still loads (never written any more).

``EnsembleScorer`` (state name ``churn.EnsembleScorer``): before the fold models were merged into one booster,
a small table's churn version held the K cross-fitted LightGBM fold models (and, in a blend, the logistic
model) as members averaged in log-odds with fixed weights. A registered champion of that kind must keep
scoring after an upgrade, so loading one rebuilds what this version would have registered: the LightGBM
members merged into one booster (``scorers.ensemble_of``), blended with the logistic member when there is
one (``scorers.BlendScorer``). Predictions equal the old ones up to the clipping noted in ``ensemble_of``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from training.core import lgbm_contrib


@dataclass
class EnsembleScorer:
    members: list
    weights: list[float]
    features: list[str]
    categorical: list[str]
    kind: str = "ensemble"

    def __post_init__(self) -> None:
        self._scorer = _rebuild(self.members, self.weights, self.features, self.categorical)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__post_init__()

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_scorer"}

    @property
    def scorer(self) -> Any:
        """What this version registers for the same members (``LgbmScorer`` or ``BlendScorer``)."""
        return self._scorer

    def raw_proba(self, x: pd.DataFrame) -> np.ndarray:
        return self._scorer.raw_proba(x)

    def contributions(self, x: pd.DataFrame, method: str = lgbm_contrib.PATH) -> pd.DataFrame:
        return self._scorer.contributions(x, method)

    def prepare_explainer(self) -> None:
        self._scorer.prepare_explainer()


def _rebuild(members: list, weights: list[float], features: list[str], categorical: list[str]) -> Any:
    from training.churn.scorers import BlendScorer, LgbmScorer, LinearScorer
    from training.core.lgbm_merge import merge_boosters

    trees = [(m, w) for m, w in zip(members, weights, strict=True) if not isinstance(m, LinearScorer)]
    linear = [(m, w) for m, w in zip(members, weights, strict=True) if isinstance(m, LinearScorer)]
    if len(linear) > 1 or not trees:
        raise ValueError(f"a churn ensemble of {len(trees)} LightGBM and {len(linear)} logistic member(s): "
                         "this crmlab reads only the cross-fit (and its blend with one logistic model); retrain it")
    share = sum(w for _, w in trees)
    merged = merge_boosters([m.booster for m, _ in trees], [w / share for _, w in trees])
    if not linear:
        return LgbmScorer(merged, features, categorical)
    return BlendScorer(merged, linear[0][0], share, features, categorical)
