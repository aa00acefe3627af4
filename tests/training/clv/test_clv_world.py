"""On a generated world with known expected future spend, both models rank customers well; LightGBM better.

The world (training/world) has seasonality and segment-specific dropout that BG/NBD's stationary story
does not know, so the tuned LightGBM should rank customers at least as well against the generator's
expected spend. Measured (2,000 customers, cutoff 2024-07-01, 90 days, 3 trials), Spearman with the
truth, BG/NBD vs LightGBM: seed 1 0.801 vs 0.809, seed 2 0.806 vs 0.840, seed 3 0.759 vs 0.819,
seed 4 0.782 vs 0.822. The test runs seed 1 (deterministic: seeded TPE, single-threaded LightGBM).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from scipy.stats import spearmanr

from training.clv.btyd import BTYDModel, predict_from_inputs
from training.clv.inputs import problem_from_transactions
from training.clv.train import tune_lightgbm
from training.core.family import RunContext
from training.core.lgbm import as_lgbm_frame
from training.settings import get_settings
from training.tracking import tracked_run
from training.world.config import WorldConfig
from training.world.generate import generate_world
from training.world.truth import expected_spend

CUTOFF = pd.Timestamp("2024-07-01")
HORIZON = 90


def test_lightgbm_ranks_expected_spend_at_least_as_well_as_bgnbd():
    world = generate_world(WorldConfig(n_customers=2000, seed=1, start="2023-01-01", end="2024-12-31",
                                       dirt_rate=0.0))
    # The raw transactions as a user's log: calibration up to the day before the cutoff.
    problem = problem_from_transactions(
        world.transactions, id_col="customer_id", date_col="order_ts", amount_col="amount",
        calibration_end=str((CUTOFF - pd.Timedelta(days=1)).date()), horizon_days=HORIZON, seed=1)
    truth = expected_spend(world.truth_customers, world.meta, CUTOFF, HORIZON)
    truth = truth.reindex(problem.holdout["customer_id"]).to_numpy()

    baseline, _ = predict_from_inputs(BTYDModel.fit(problem.btyd_population), problem.holdout, HORIZON)
    settings = get_settings()
    with tracked_run(settings, "clv-world"):  # trials are logged as nested runs of an active run
        run = RunContext(family="clv", model_name="clv", seed=0, trials=3, timeout=None, storage=None,
                         study_name="world", settings=settings, plots_dir=Path("."), files_dir=Path("."))
        booster = tune_lightgbm(problem, run).booster
    lgbm = booster.predict(as_lgbm_frame(problem.holdout[problem.features], [])) * problem.lgbm_scale

    rho_baseline = spearmanr(truth, baseline).statistic
    rho_lgbm = spearmanr(truth, lgbm).statistic
    assert rho_baseline > 0.6, rho_baseline  # the baseline learns the world too
    assert rho_lgbm >= rho_baseline, (rho_lgbm, rho_baseline)
