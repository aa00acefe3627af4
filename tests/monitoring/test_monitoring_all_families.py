"""Real CLV and segments champions, trained as ``crmlab train`` does, can be monitored (no error report)."""

from __future__ import annotations

import pandas as pd

from monitoring.policy import Policy
from monitoring.run import run_monitor
from training.clv.btyd import BGNBD, GammaGamma
from training.clv.inputs import problem_from_transactions
from training.clv.simulate import simulate_transactions
from training.clv.train import train_clv
from training.segments.search import SearchSpace
from training.segments.train import train_segments
from training.settings import get_settings
from training.world.segment_features import synthetic_features


def _clv_champion_and_batch(settings) -> pd.DataFrame:
    """Train and promote a tiny CLV model; its holdout (inputs + label, as scored customers) is the batch."""
    log = simulate_transactions(400, bgnbd=BGNBD(0.9, 5.0, 0.6, 3.0), gamma_gamma=GammaGamma(6.0, 4.0, 15.0),
                                weeks=78, seed=11)
    problem = problem_from_transactions(log, id_col="customer_id", date_col="date", amount_col="amount",
                                        calibration_end="2020-12-30", horizon_days=90, seed=0)
    result = train_clv(problem, trials=1, timeout=None, model_name="clv", seed=0, storage=None, promote=True,
                       settings=settings)
    assert result.promotion.promoted
    return problem.holdout.reset_index(drop=True)


def _segments_champion_and_batch(settings, rows: int) -> pd.DataFrame:
    frame, _ = synthetic_features(900, seed=4)
    space = SearchSpace(k_min=2, k_max=6, fit_rows=800, eval_rows=400, resamples=2)
    assert train_segments(frame, settings=settings, trials=2, seed=4, space=space, promote=True).promotion.promoted
    batch, _ = synthetic_features(rows, seed=5)  # new customers from the same archetypes
    return batch.drop(columns=["customer_id", "cutoff", "future_spend"])


def test_clv_and_segments_champions_are_monitored_without_error(tmp_path):
    settings = get_settings()
    clv_batch = _clv_champion_and_batch(settings)
    # One batch carrying both models' inputs (their feature names do not overlap), as `crmlab features` would.
    batch = pd.concat([clv_batch, _segments_champion_and_batch(settings, len(clv_batch))], axis=1)

    result = run_monitor(batch, ["clv", "segments"], Policy(), tmp_path / "reports", retrain=False,
                         settings=settings)

    for name in ("clv", "segments"):
        model = result.model(name)
        assert model.status != "error", model.verdict
        assert model.version == "1" and model.files.json.exists()
        assert model.metrics["rows"] == len(batch)
    assert "prediction_drift.predicted_spend" in result.model("clv").metrics
    assert "share_shift.segment_name" in result.model("segments").metrics
    assert result.errors == []
    # --labels-available without --model reaches segments too, which has no label: judged without one.
    labelled = run_monitor(batch, ["segments"], Policy(), tmp_path / "reports", retrain=False, settings=settings,
                           labels_available=True)
    assert labelled.errors == [], labelled.model("segments").verdict
