"""BG/NBD + Gamma-Gamma outputs as LightGBM features (stacking), leak-free per cutoff.

A CLV expert's first step past the baseline: give the trees what the baseline knows. For each cutoff,
BG/NBD and Gamma-Gamma are fitted on that cutoff's population, whose ``btyd_*`` summaries come from
purchases before the cutoff only, and the four outputs below become features of the rows of that cutoff.
No label and no purchase after a cutoff reaches its features (tests/training/clv/test_clv_stacking.py
adds post-cutoff purchases and checks nothing changes). The fit uses no labels, so the whole population
of a cutoff (training and validation customers alike) is fitted on.

The served LightGBM model carries the BTYD parameters of the latest cutoff and derives the same columns
from the ``btyd_*`` inputs (``training.clv.pyfunc``). Customers with no purchase yet get nulls.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import numpy as np
import pandas as pd

from training.clv.btyd import BTYD_INPUTS, BTYDModel, from_inputs
from training.clv.inputs import ClvProblem
from training.clv.transactions import ID, ClvInputError

CUTOFF = "cutoff"
STACKED_COLUMNS = ["bgnbd_expected_purchases", "bgnbd_p_alive", "gg_expected_spend", "btyd_expected_spend"]


def stacked_features(model: BTYDModel, frame: pd.DataFrame, horizon_days: float) -> pd.DataFrame:
    """The four stacked columns for rows with ``btyd_*`` inputs (all-null inputs -> nulls)."""
    summary = from_inputs(frame)
    known = summary.notna().all(axis=1).to_numpy()
    out = pd.DataFrame(np.nan, index=frame.index, columns=STACKED_COLUMNS)
    if known.any():
        rows = summary[known]
        purchases = model.bgnbd.expected_purchases(rows, model.horizon_units(horizon_days))
        spend = model.gamma_gamma.conditional_expected_spend(rows)
        out.loc[known, STACKED_COLUMNS] = np.column_stack(
            [purchases, model.bgnbd.p_alive(rows), spend, purchases * spend])
    return out


def btyd_tail(model: BTYDModel, frame: pd.DataFrame, from_days: float, to_days: float) -> np.ndarray:
    """Expected spend in ``(from_days, to_days]`` after the cutoff for rows with ``btyd_*`` inputs (0 for a
    customer with no purchase yet): Gamma-Gamma spend x the BG/NBD purchases between the two
    (``ClvProblem.tail_days``)."""
    summary = from_inputs(frame)
    known = summary.notna().all(axis=1).to_numpy()
    out = np.zeros(len(frame))
    if known.any():
        rows = summary[known]
        purchases = (model.bgnbd.expected_purchases(rows, model.horizon_units(to_days))
                     - model.bgnbd.expected_purchases(rows, model.horizon_units(from_days)))
        out[known] = np.clip(purchases, 0.0, None) * model.gamma_gamma.conditional_expected_spend(rows)
    return out


def population(frames: Iterable[pd.DataFrame], cutoff: pd.Timestamp) -> pd.DataFrame:
    """The BTYD summary of every customer with history at ``cutoff`` (one row each) across ``frames``."""
    parts = [f.loc[pd.to_datetime(f[CUTOFF]) == cutoff, [ID, *BTYD_INPUTS.values()]] for f in frames]
    rows = pd.concat(parts).drop_duplicates(ID).set_index(ID)
    return from_inputs(rows).dropna()


def fit_by_cutoff(frames: list[pd.DataFrame]) -> tuple[dict[pd.Timestamp, BTYDModel | None], list[str]]:
    """One BTYD fit per cutoff on that cutoff's population; None (and a note) where it cannot be fitted."""
    cutoffs = sorted({pd.Timestamp(c) for f in frames for c in pd.to_datetime(f[CUTOFF]).unique()})
    models: dict[pd.Timestamp, BTYDModel | None] = {}
    notes: list[str] = []
    for cutoff in cutoffs:
        try:
            models[cutoff] = BTYDModel.fit(population(frames, cutoff))
        except (ClvInputError, RuntimeError) as err:
            models[cutoff] = None
            notes.append(f"stacking: no BG/NBD features at cutoff {cutoff.date()} ({err})")
    return models, notes


def add_stacked(frame: pd.DataFrame, models: dict[pd.Timestamp, BTYDModel | None],
                horizon_days: float) -> pd.DataFrame:
    """``frame`` plus the stacked columns, each row from the fit of its own cutoff."""
    out = frame.drop(columns=[c for c in STACKED_COLUMNS if c in frame.columns])
    parts = []
    for cutoff, rows in out.groupby(pd.to_datetime(out[CUTOFF]), sort=True):
        model = models.get(pd.Timestamp(cutoff))
        parts.append(stacked_features(model, rows, horizon_days) if model is not None
                     else pd.DataFrame(np.nan, index=rows.index, columns=STACKED_COLUMNS))
    if not parts:
        return out.assign(**dict.fromkeys(STACKED_COLUMNS, np.nan))
    return out.join(pd.concat(parts))


def stack_problem(problem: ClvProblem) -> ClvProblem:
    """``problem`` with the stacked columns on every frame and among the LightGBM features.

    The expectations cover the LightGBM label window (``problem.label_days``), the quantity the trees
    learn, at training cutoffs and at the holdout alike.
    """
    frames = [problem.train, problem.valid, problem.holdout, problem.tier_population]
    models, notes = fit_by_cutoff(frames)
    fitted = [c for c, m in models.items() if m is not None]
    if not fitted:
        return replace(problem, notes=[*problem.notes, *notes])
    days = problem.label_days
    train, valid, holdout, tiers = (add_stacked(f, models, days) for f in frames)
    features = [*problem.features, *(c for c in STACKED_COLUMNS if c not in problem.features)]
    return replace(problem, train=train, valid=valid, holdout=holdout, tier_population=tiers, features=features,
                   stack_btyd=models[max(fitted)], stack_horizon_days=days, notes=[*problem.notes, *notes])
