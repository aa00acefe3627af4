"""``ClvModel``: the served CLV model, whichever of LightGBM or BG/NBD + Gamma-Gamma won.

Output, one row per input row (same index): ``predicted_spend`` (expected spend over the model's
horizon, currency units), ``p_alive`` (BG/NBD probability the customer is still active: from the BTYD
model, or from the BG/NBD fit a stacked LightGBM carries; NaN for a LightGBM without it) and
``clv_tier`` (platinum/gold/silver/bronze from the
thresholds frozen at training, artifact ``clv_tiers.json``).

Input validation is the core's (``ValidatedPyfunc``). For BG/NBD the four ``btyd_*`` columns must be
present and consistent (non-negative, integral frequency, recency <= T); a row with all four null is a
customer with no purchase yet: predicted spend 0, p_alive NaN (BG/NBD describes repeat buying only).
A stacked LightGBM reads the same ``btyd_*`` columns and derives the BG/NBD / Gamma-Gamma features from
them with the parameters fitted at the latest training cutoff (``training.clv.stacking``). For it they
follow the core rule for features: required when never missing in training (transaction-log shape),
else optional, and an absent optional column is scored as missing (no history known), as ``crmlab
score`` would never do: it adds them from the clean data (``serving.batch.derived_inputs``).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from training.clv.btyd import BTYD_INPUTS, BTYDModel, from_inputs, predict_from_inputs
from training.clv.spend_models import booster_count
from training.clv.stacking import STACKED_COLUMNS, btyd_tail, stacked_features
from training.clv.tiers import assign_tiers, load_thresholds
from training.core.pyfunc_base import InputSpec, ValidatedPyfunc, invalid_input

OUTPUT_COLUMNS = ["predicted_spend", "p_alive", "clv_tier"]
TIERS_ARTIFACT = "tiers"
Kind = Literal["lightgbm", "btyd"]


class ClvModel(ValidatedPyfunc):
    """Self-contained (booster text / BTYD parameters travel in the logged state); tiers reload from the
    artifact."""

    def __init__(self, spec: InputSpec, *, kind: Kind, horizon_days: int, thresholds: dict[str, float],
                 booster_text: str | None = None, btyd_params: dict[str, float] | None = None,
                 scale: float = 1.0, categorical: list[str] | None = None, objective: str = "tweedie",
                 more_booster_texts: tuple[str, ...] = (), part_scales: tuple[float, ...] = (),
                 stack_horizon_days: float = 0.0, members: int = 1, tail_days: float = 0.0) -> None:
        super().__init__(spec)
        if kind == "lightgbm" and not booster_text:
            raise ValueError("a LightGBM ClvModel needs the booster (model_to_string())")
        if (kind == "btyd" or stack_horizon_days) and not btyd_params:
            raise ValueError("a BTYD (or stacked LightGBM) ClvModel needs the fitted BTYD parameters")
        if kind == "lightgbm" and 1 + len(more_booster_texts) != booster_count(objective) * members:
            raise ValueError(f"a {objective!r} ClvModel of {members} member(s) needs "
                             f"{booster_count(objective) * members} booster(s)")
        self.kind, self.horizon_days, self.thresholds = kind, horizon_days, dict(thresholds)
        self.booster_text, self.btyd_params, self.scale = booster_text, btyd_params, scale
        self.categorical = list(categorical or [])
        # LightGBM only: the objective (how the booster outputs become spend, ``spend_models``), its further
        # boosters (one attribute each, so every booster is also written as LightGBM text), a blend's part
        # calibration, the label window of the stacked BG/NBD features (0 = none) and how many fits of the
        # objective are averaged (``members``: seeds of the refit, or the fold models; boosters member-major).
        self.objective, self.part_scales, self.members = objective, tuple(part_scales), members
        for i, text in enumerate(more_booster_texts, start=2):
            setattr(self, f"booster_text_{i}", text)
        self.stack_horizon_days = stack_horizon_days
        # Days past the label window whose spend the stacked BG/NBD fit adds (``ClvProblem.tail_days``; 0: the
        # label window is the horizon, or ``scale`` stretches it); ``scale`` then holds the calibration alone.
        self.tail_days = tail_days
        self._booster = None
        self._more_boosters = None

    def load_context(self, context) -> None:
        super().load_context(context)
        if context is not None and TIERS_ARTIFACT in (context.artifacts or {}):
            self.thresholds = load_thresholds(context.artifacts[TIERS_ARTIFACT])

    def __getstate__(self) -> dict:
        # Rebuilt from text: no native handle in the logged state.
        return {**self.__dict__, "_booster": None, "_more_boosters": None}

    def __setstate__(self, state: dict) -> None:
        defaults = {"objective": "tweedie", "part_scales": (), "stack_horizon_days": 0.0, "members": 1,
                    "tail_days": 0.0, "_more_boosters": None}  # versions logged before these existed
        self.__dict__.update({**defaults, **state})

    def preprocess(self, frame: pd.DataFrame) -> pd.DataFrame:
        if self.kind == "btyd":
            missing = [c for c in BTYD_INPUTS.values() if c not in frame.columns]
            if missing:
                raise ValueError(f"missing required column(s): {', '.join(missing)}; build them with "
                                 "training.clv.inputs.add_btyd_inputs (see the model card)")
        return frame

    def predict_spend(self, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(predicted spend over the horizon, p_alive) for a validated feature frame."""
        if self.kind == "btyd":
            summary = from_inputs(features)
            _check_summary_rows(summary, summary.isna().all(axis=1).to_numpy())
            return predict_from_inputs(BTYDModel.from_params(self.btyd_params), features, self.horizon_days)
        return self._lgbm_spend(features)

    def _lgbm_spend(self, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        from training.clv.spend_models import combine_members
        from training.core import lgbm_predict

        frame, p_alive, tail = features, np.full(len(features), np.nan), 0.0
        if self.stack_horizon_days:  # the stacked BG/NBD columns, from the btyd_* inputs
            btyd = BTYDModel.from_params(self.btyd_params)
            stacked = stacked_features(btyd, features, self.stack_horizon_days)
            if self.tail_days:
                tail = btyd_tail(btyd, features, self.stack_horizon_days, self.stack_horizon_days + self.tail_days)
            frame = features.drop(columns=STACKED_COLUMNS, errors="ignore").join(stacked)
            p_alive = stacked["bgnbd_p_alive"].to_numpy(float)
        outputs = [lgbm_predict.predict(b, lgbm_predict.booster_matrix(b, frame, b.feature_name(), self.categorical))
                   for b in [self._lgbm(), *self._more_lgbm()]]
        return combine_members(self.objective, outputs, self.part_scales, self.members) * self.scale + tail, p_alive

    def predict_frame(self, features: pd.DataFrame, params=None) -> pd.DataFrame:
        spend, p_alive = self.predict_spend(features)
        return pd.DataFrame({"predicted_spend": spend, "p_alive": p_alive,
                             "clv_tier": assign_tiers(spend, self.thresholds)}, index=features.index)

    def _lgbm(self):
        if self._booster is None:
            import lightgbm

            self._booster = lightgbm.Booster(model_str=self.booster_text)
        return self._booster

    def _more_lgbm(self) -> list:
        if self._more_boosters is None:
            import lightgbm

            count = booster_count(self.objective) * self.members
            texts = [getattr(self, f"booster_text_{i}") for i in range(2, count + 1)]
            self._more_boosters = [lightgbm.Booster(model_str=t) for t in texts]
        return self._more_boosters


def btyd_spec() -> InputSpec:
    """All four optional for the core validator (all-null = no purchase yet); presence is checked above."""
    return InputSpec(columns=tuple(BTYD_INPUTS.values()))


def _check_summary_rows(summary: pd.DataFrame, no_history: np.ndarray) -> None:
    """Refuse summaries BG/NBD cannot mean anything for; name the column and the first row position."""
    summary = summary.reset_index(drop=True)
    problems = {
        BTYD_INPUTS["frequency"]: (summary["frequency"] < 0) | (summary["frequency"] % 1 != 0),
        BTYD_INPUTS["recency"]: (summary["recency"] < 0) | (summary["recency"] > summary["T"] + 1e-9),
        BTYD_INPUTS["T"]: summary["T"] < 0,
        BTYD_INPUTS["monetary_value"]: summary["monetary_value"] < 0,
    }
    partial = summary.isna().any(axis=1) & ~no_history
    if partial.any():
        raise invalid_input(
            f"btyd_* columns are partly null in {int(partial.sum())} row(s) (first at row position "
            f"{int(np.flatnonzero(partial.to_numpy())[0])}): give all four, or all null for a customer "
            "with no purchase yet")
    for column, bad in problems.items():
        bad = bad & ~no_history
        if bad.any():
            raise invalid_input(
                f"column {column!r} is out of range in {int(bad.sum())} row(s) (first at row position "
                f"{int(np.flatnonzero(bad.to_numpy())[0])}): frequency is a whole number >= 0, "
                "0 <= recency <= T, monetary_value >= 0 (build them with training.clv.inputs)")
