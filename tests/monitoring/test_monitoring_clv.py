"""CLV monitoring: predicted-spend drift, tier shares, regression quality with labels, all-null outputs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from monitoring.assess import assess
from monitoring.policy import Policy
from monitoring.synthetic import churn_batch, fake_champion

OUTPUTS = ["predicted_spend", "p_alive", "clv_tier"]


def _clv_batch(n: int, seed: int, spend_scale: float = 1.0) -> pd.DataFrame:
    frame = churn_batch(n, seed=seed).drop(columns=["churn_probability", "risk_band", "churned"])
    rng = np.random.default_rng(seed)
    spend = rng.lognormal(3.0, 0.6, n) * spend_scale
    tiers = np.select([spend > 45, spend > 25], ["gold", "silver"], "bronze")
    # LightGBM CLV models have no p_alive: the column is all NaN and must be skipped, not crash the report.
    return frame.assign(predicted_spend=spend, p_alive=np.nan, clv_tier=tiers,
                        future_spend=spend * rng.lognormal(0.0, 0.3, n))


def test_clv_report_judges_spend_drift_and_tier_shares_and_measures_quality():
    champion = fake_champion(_clv_batch(3000, seed=1), model_name="clv", family="clv")
    steady = _clv_batch(2000, seed=2)
    result = assess(champion, steady.drop(columns=OUTPUTS), steady[OUTPUTS], Policy(), labels=True)
    assert result.crossings == []
    assert "p_alive" in result.drift.skipped and "null" in result.drift.skipped["p_alive"]
    assert result.metrics["mae"] > 0  # Evidently's regression quality ran on the labelled batch

    richer = _clv_batch(2000, seed=3, spend_scale=1.8)
    drifted = assess(champion, richer.drop(columns=OUTPUTS), richer[OUTPUTS], Policy(), labels=False)
    checks = {c.check: c for c in drifted.crossings}
    assert "predicted_spend" in checks["prediction_drift"].reason
    assert "clv_tier" in checks["share_shift"].reason
