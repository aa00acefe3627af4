"""The registered CLV model ranks held-out spend better than both baselines (issue 14).

On a generated world (2,000 customers) and on the CDNOW sample (calibration to 1997-09-30, the next 90
days; and the issue's protocol, 39 weeks in and 39 out, where the labels cover 136 days and BG/NBD +
Gamma-Gamma predict the rest of the horizon) the served model's normalized Gini on the holdout is above past
spend's and BG/NBD + Gamma-Gamma's, read from the ``baseline_<name>`` columns training writes into the logged
holdout (the gate's own inputs), and the gate passes. On CDNOW past spend is the strong peer: before the
search started from a regularised configuration of every objective (not Tweedie's alone), the model sat within
+-0.02 of it depending on the customer split; with the two-part start it is above it by 0.026-0.032 on six split
seeds at 10 and 30 trials, and by 0.025 at 39 weeks (bench/README.md, "CLV quality per step"). The same
assertions fail for the model's predictions shuffled across customers. Few trials (CI): the numbers per step
and at bench budgets are in bench/README.md (bench_clv.py).
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from training.clv.gate import BASELINE_PREFIX, checks
from training.clv.inputs import problem_from_transactions
from training.clv.metrics import normalized_gini
from training.clv.train import train_clv
from training.clv.transactions import read_transactions
from training.settings import get_settings
from training.world import WorldConfig, generate_world

CDNOW = Path(__file__).resolve().parents[2] / "data" / "cdnow_sample" / "CDNOW_sample.txt"
TRIALS = 6


def _world_problem():
    world = generate_world(WorldConfig(n_customers=2000, seed=1, start="2023-01-01", end="2024-12-31",
                                       dirt_rate=0.0))
    return problem_from_transactions(world.transactions, id_col="customer_id", date_col="order_ts",
                                     amount_col="amount", calibration_end="2024-06-30", horizon_days=90, seed=1)


def _cdnow_problem(horizon: int):
    log = read_transactions(CDNOW, header=False)
    return problem_from_transactions(log, id_col="2", date_col="3", amount_col="5", calibration_end="1997-09-30",
                                     horizon_days=horizon, seed=0)


def beats_both_baselines(actual: np.ndarray, predicted: np.ndarray, holdout: pd.DataFrame) -> bool:
    baselines = {c: normalized_gini(actual, holdout[c].to_numpy(float)) for c in holdout.columns
                 if c.startswith(BASELINE_PREFIX)}
    assert set(baselines) == {"baseline_past_spend", "baseline_btyd"}
    return normalized_gini(actual, predicted) > max(baselines.values())


def _registered(problem) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """(actual, served predictions, logged holdout) of the model ``train_clv`` registers."""
    result = train_clv(problem, trials=TRIALS, timeout=None, model_name="clv", seed=0, storage=None,
                       promote=False, settings=get_settings())
    assert result.winner == "lightgbm", result.comparison
    holdout = pd.read_parquet(mlflow.artifacts.download_artifacts(run_id=result.run_id,
                                                                  artifact_path="holdout.parquet"))
    predicted = mlflow.pyfunc.load_model("models:/clv@challenger").predict(holdout)["predicted_spend"]
    return holdout["future_spend"].to_numpy(float), predicted.to_numpy(float), holdout


def test_registered_clv_model_ranks_above_both_baselines_on_a_generated_world():
    actual, predicted, holdout = _registered(_world_problem())
    assert beats_both_baselines(actual, predicted, holdout)
    # The gate holds the same line.
    assert checks(pd.DataFrame({"predicted_spend": predicted}), holdout)["gini_not_below_best_baseline"]
    # A broken model (the same predictions, shuffled across customers) fails both.
    shuffled = np.random.default_rng(0).permutation(predicted)
    assert not beats_both_baselines(actual, shuffled, holdout)
    assert not checks(pd.DataFrame({"predicted_spend": shuffled}), holdout)["gini_not_below_best_baseline"]


@pytest.mark.parametrize("horizon", [90, 273])  # 273: the 39 weeks in, 39 weeks out (BG/NBD tail)
def test_registered_clv_model_on_cdnow_ranks_above_both_baselines(horizon):
    actual, predicted, holdout = _registered(_cdnow_problem(horizon))
    assert beats_both_baselines(actual, predicted, holdout)
    assert checks(pd.DataFrame({"predicted_spend": predicted}), holdout)["gini_not_below_best_baseline"]
    shuffled = np.random.default_rng(0).permutation(predicted)
    assert not beats_both_baselines(actual, shuffled, holdout)


def test_cdnow_total_over_a_horizon_twice_the_labels_is_right_within_a_fifth():
    """39 weeks in, 39 out: LightGBM's 136 labelled days plus BG/NBD + Gamma-Gamma's remaining 137 sum to the
    actual total within 20%. The label window scaled up at a constant spending rate, as before, over-predicted
    by 31% (bench/README.md): customers stop buying over the longer span."""
    actual, predicted, _ = _registered(_cdnow_problem(273))
    assert 0.8 < predicted.sum() / actual.sum() < 1.2
