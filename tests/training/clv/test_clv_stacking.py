"""Stacked BG/NBD features are leak-free: purchases after a cutoff never change the features at that cutoff."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.clv.inputs import problem_from_transactions
from training.clv.stacking import (
    STACKED_COLUMNS,
    add_stacked,
    btyd_tail,
    fit_by_cutoff,
    stack_problem,
    stacked_features,
)


def _stacked(log: pd.DataFrame, calibration_end: str, horizon: int):
    problem = problem_from_transactions(log, id_col="customer_id", date_col="date", amount_col="amount",
                                        calibration_end=calibration_end, horizon_days=horizon, seed=0)
    return stack_problem(problem)


def _rows(problem, cutoff: pd.Timestamp) -> pd.DataFrame:
    rows = pd.concat([problem.train, problem.valid])
    return rows[rows["cutoff"] == cutoff].set_index("customer_id").sort_index()


def _later_purchases(log: pd.DataFrame, after: pd.Timestamp, seed: int = 1) -> pd.DataFrame:
    """Big purchases by a third of the customers, all strictly after ``after`` (within 60 days)."""
    rng = np.random.default_rng(seed)
    ids = rng.choice(log["customer_id"].unique(), log["customer_id"].nunique() // 3, replace=False)
    days = pd.to_timedelta(rng.integers(1, 60, len(ids)), unit="D")
    extra = pd.DataFrame({"customer_id": ids, "date": after + days, "amount": rng.uniform(50, 500, len(ids))})
    return pd.concat([log, extra], ignore_index=True)


def test_features_at_a_cutoff_ignore_every_later_purchase(sim_log, sim_split):
    calibration_end, horizon = sim_split
    base = _stacked(sim_log, calibration_end, horizon)
    earliest = pd.Timestamp(base.train["cutoff"].min())
    changed = _stacked(_later_purchases(sim_log, earliest), calibration_end, horizon)
    assert base.stack_btyd is not None and set(STACKED_COLUMNS) <= set(base.features)
    # Rows at the earliest cutoff: the later purchases are in their label, never in their features.
    before, after = _rows(base, earliest), _rows(changed, earliest)
    pd.testing.assert_frame_equal(before[STACKED_COLUMNS], after[STACKED_COLUMNS].loc[before.index])
    assert not np.allclose(before["future_spend"], after["future_spend"].loc[before.index])
    # Sanity: the added purchases do reach the features of the later cutoffs (the test can see a change).
    latest = pd.Timestamp(base.train["cutoff"].max())
    assert not _rows(base, latest)[STACKED_COLUMNS].equals(_rows(changed, latest)[STACKED_COLUMNS])


def test_a_bgnbd_fitted_with_post_cutoff_data_would_be_caught(sim_log, sim_split):
    """The per-cutoff fit differs from a fit on later history, so the check above would catch that leak."""
    calibration_end, horizon = sim_split
    problem = _stacked(sim_log, calibration_end, horizon)
    earliest = pd.Timestamp(problem.train["cutoff"].min())
    rows = problem.train[problem.train["cutoff"] == earliest]
    models, _ = fit_by_cutoff([problem.train, problem.valid, problem.holdout])
    leaky = {earliest: models[max(models)]}  # the calibration-end fit: it saw the rows' label windows
    honest = add_stacked(rows, models, problem.label_days)[STACKED_COLUMNS]
    leaked = add_stacked(rows, leaky, problem.label_days)[STACKED_COLUMNS]
    assert not np.allclose(honest.to_numpy(float), leaked.to_numpy(float), equal_nan=True)
    # Holdout rows use the calibration-end fit, the one the served model carries.
    assert problem.stack_btyd == models[max(models)]


def test_customers_without_history_get_null_stacked_features(sim_log, sim_split):
    calibration_end, horizon = sim_split
    problem = _stacked(sim_log, calibration_end, horizon)
    rows = problem.holdout.head(3).copy()
    rows.loc[rows.index[0], [c for c in rows.columns if c.startswith("btyd_")]] = np.nan
    models, _ = fit_by_cutoff([problem.holdout])
    out = add_stacked(rows, models, problem.label_days)
    assert out.loc[rows.index[0], STACKED_COLUMNS].isna().all()
    assert out.loc[rows.index[1:], STACKED_COLUMNS].notna().all().all()
    p_alive = out["bgnbd_p_alive"].dropna()
    assert ((p_alive > 0) & (p_alive <= 1)).all()
    assert out["btyd_expected_spend"].dropna().to_numpy() == pytest.approx(
        (out["bgnbd_expected_purchases"] * out["gg_expected_spend"]).dropna().to_numpy())


def test_the_rest_of_a_long_horizon_comes_from_the_stacked_bgnbd(sim_log):
    # 273 days of history: labels cover 136 days, half of it; the 180-day horizon's last 44 are BG/NBD's.
    problem = _stacked(sim_log, "2020-09-30", 180)
    assert (problem.label_days, problem.tail_days, problem.spend_scale) == (136, 44, 1.0)
    holdout = problem.holdout
    tail = btyd_tail(problem.stack_btyd, holdout, 136, 180)
    whole = stacked_features(problem.stack_btyd, holdout, 180)["btyd_expected_spend"].to_numpy()
    known = holdout["btyd_expected_spend"].notna().to_numpy()
    assert known.all() and (tail > 0).all()
    np.testing.assert_allclose(holdout["btyd_expected_spend"].to_numpy() + tail, whole, rtol=1e-9)
    # Labels over the whole horizon, or no BG/NBD to extrapolate with: no tail.
    assert _stacked(sim_log, "2020-09-30", 90).tail_days == 0
    unstacked = problem_from_transactions(sim_log, id_col="customer_id", date_col="date", amount_col="amount",
                                          calibration_end="2020-09-30", horizon_days=180, seed=0)
    assert unstacked.tail_days == 0 and unstacked.spend_scale == pytest.approx(180 / 136)


def test_a_customer_without_history_has_no_tail(sim_log):
    problem = _stacked(sim_log, "2020-09-30", 180)
    rows = problem.holdout.head(3).copy()
    rows.loc[rows.index[0], [c for c in rows.columns if c.startswith("btyd_")]] = np.nan
    tail = btyd_tail(problem.stack_btyd, rows, 136, 180)
    assert tail[0] == 0 and (tail[1:] > 0).all()
