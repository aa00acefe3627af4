"""The monitor on generated worlds, CI-sized: calm on a stationary world, alarms on a drifted one.

Two 1,600-customer worlds (drift 0 and 0.7, timeline as `crmlab main`'s), features built as `crmlab
features` does at the January batch and the same season one and two years back, and stand-in models
per family (simple formulas on the inputs real models rank high: recency, activity, spend, channel
mix). A monitor with a fixed effect size or a reference from another season alarms on the calm world
(ageing, seasonality); one that compares with the latest training cutoff misses the drift (it already
shows there). Full-size rates over seeds: bench/bench_monitor_quality.py, bench/README.md.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monitoring.assess import Comparison, assess
from monitoring.data import Champion
from monitoring.families import family_spec
from monitoring.policy import Policy
from training.settings import get_settings

CUTOFFS = ("2024-01-02", "2025-01-01", "2026-01-01")
# The inputs the stand-ins are declared to read (a real model's full list costs one Evidently chart per
# column; these cover what ages, what is seasonal and what drift moves).
INPUTS = ("tenure_days", "recency_days", "frequency", "monetary_total", "monetary_mean", "days_since_first_order",
          "orders_90d", "spend_90d", "spend_30d", "sessions_30d", "sessions_90d", "page_views_90d",
          "days_since_last_session", "channel_share_app", "cat_share_home", "n_categories", "region", "plan")
USES = {  # stand-in model -> the inputs it reads (importance: equal among them, small for the rest)
    "churn": ("recency_days", "frequency", "sessions_90d", "days_since_last_session"),
    "clv": ("spend_90d", "frequency", "sessions_90d", "monetary_mean"),
    "segments": ("channel_share_app", "cat_share_home", "frequency", "monetary_mean"),
}


def _features(tmp, drift: float) -> dict[str, pd.DataFrame]:
    from training.features.build import build_feature_set
    from training.ingest.pipeline import ingest
    from training.world import WorldConfig, generate_world
    from training.world.store import write_world

    settings = get_settings()
    world = generate_world(WorldConfig(n_customers=1600, seed=7, drift=drift, dirt_rate=0.0))
    write_world(world, tmp / "raw")
    ingest(tmp / "raw", tmp / "clean", settings, progress=False)
    frame = build_feature_set(tmp / "clean", list(CUTOFFS), 90, settings).frame
    days = pd.to_datetime(frame["cutoff"]).dt.date.astype(str)
    return {c: frame.loc[days == c].reset_index(drop=True) for c in CUTOFFS}


@pytest.fixture(scope="module")
def worlds(tmp_path_factory) -> dict[float, dict[str, pd.DataFrame]]:
    with pytest.MonkeyPatch.context() as mp:
        root = tmp_path_factory.mktemp("rates")
        mp.chdir(root)
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        mp.setenv("CRMLAB_DEMO", "1")
        out = {}
        for drift in (0.0, 0.7):
            (root / str(drift)).mkdir()
            out[drift] = _features(root / str(drift), drift)
        return out


def _outputs(family: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Stand-in models: fixed formulas, so only the inputs can move their outputs."""
    x = frame.select_dtypes("number").fillna(0)
    if family == "churn":
        logit = 0.012 * x["recency_days"] - 0.15 * x["frequency"] - 0.1 * x["sessions_90d"] - 0.5
        p = 1 / (1 + np.exp(-logit.clip(-30, 30)))
        band = np.select([p < 0.2, p < 0.5], ["low", "medium"], "high")
        return pd.DataFrame({"churn_probability": p, "risk_band": band}, index=frame.index)
    if family == "clv":
        spend = 0.6 * x["spend_90d"] + 4 * x["sessions_90d"] + 2 * x["frequency"]
        tier = np.select([spend < 50, spend < 150], ["low", "mid"], "high")
        return pd.DataFrame({"predicted_spend": spend, "p_alive": np.exp(-x["recency_days"] / 200),
                             "clv_tier": tier}, index=frame.index)
    name = np.select([x["channel_share_app"] > 0.5, x["frequency"] > 8], ["app lovers", "regulars"], "occasional")
    return pd.DataFrame({"segment_name": name, "distance": (x["monetary_mean"] - 60).abs() / 40},
                        index=frame.index)


def _verdict(family: str, cutoffs: dict[str, pd.DataFrame]):
    spec = family_spec(family)
    scored = {c: pd.concat([f, _outputs(family, f)], axis=1) for c, f in cutoffs.items()}
    importance = pd.Series([1.0 if c in USES[family] else 0.05 for c in INPUTS], index=list(INPUTS))
    champion = Champion(family, "1", "run", spec, {"features": ",".join(INPUTS)}, scored[CUTOFFS[1]], importance)
    batch = cutoffs[CUTOFFS[2]]
    comparison = Comparison("same season a year earlier", "test", scored[CUTOFFS[1]], scored[CUTOFFS[0]])
    outputs = _outputs(family, batch)
    return assess(champion, batch, outputs, Policy(), labels=False, comparison=comparison)


@pytest.mark.parametrize("family", ["churn", "clv", "segments"])
def test_calm_world_no_alarm_drifted_world_alarms(worlds, family):
    calm = _verdict(family, worlds[0.0])
    assert calm.crossings == [], [c.reason for c in calm.crossings]
    drifted = _verdict(family, worlds[0.7])
    assert drifted.crossings, "drift 0.7 went unnoticed"
    # Every number in the verdict names its threshold.
    assert all("threshold" in c.reason for c in drifted.checks)
