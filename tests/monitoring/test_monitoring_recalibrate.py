"""A calibration-only failure recalibrates (same booster, new calibrator, through the gate) instead of retraining."""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from monitoring.policy import Policy
from monitoring.run import run_monitor
from monitoring.synthetic import churn_batch
from training.core.evaluation import expected_calibration_error
from training.settings import get_settings

FEATURES = [f"f{i:02d}" for i in range(8)]


def _champion(settings) -> None:
    """A real ChurnModel (LightGBM scorer, no calibration map) registered as churn@champion."""
    import lightgbm as lgb

    from training.churn.calibration import Calibrator
    from training.churn.model import ChurnModel
    from training.churn.scorers import LgbmScorer
    from training.core.pyfunc_base import InputSpec
    from training.core.registry import CHAMPION, log_and_register
    from training.tracking import tracked_run

    train = churn_batch(3000, seed=700)
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 7, "learning_rate": 0.1,
                         "seed": 1}, lgb.Dataset(train[FEATURES], train["churned"].astype(int)), 60)
    model = ChurnModel(InputSpec(tuple(FEATURES)), LgbmScorer(booster, FEATURES, []), Calibrator("none", None))
    reference = churn_batch(1500, seed=701).drop(columns=["customer_id"])
    outputs = model.predict(None, reference, {"reasons": False})
    reference["churn_probability"], reference["risk_band"] = outputs["churn_probability"], outputs["risk_band"]
    with tracked_run(settings, "train-churn", tags={"crmlab.family": "churn"}), \
            tempfile.TemporaryDirectory() as tmp:
        reference.to_parquet(Path(tmp) / "reference.parquet", index=False)
        mlflow.log_artifact(str(Path(tmp) / "reference.parquet"))
        version = log_and_register(model, model_name="churn", family="churn", artifacts={},
                                   input_example=reference[FEATURES].head(5), tags={"features": ",".join(FEATURES)},
                                   metrics={}, settings=settings)
    mlflow.MlflowClient().set_registered_model_alias("churn", CHAMPION, version.version)


def _more_churn(n: int, seed: int) -> pd.DataFrame:
    """Same customers' inputs, a higher churn hazard: P(churn | x) moved (logit + 1), the ranking did not."""
    frame = churn_batch(n, seed=seed, cutoff="2024-09-30")
    rng = np.random.default_rng(seed + 1)
    logit = -1.0 + frame[FEATURES].to_numpy() @ (1.2 * 0.7 ** np.arange(len(FEATURES))) + 1.0
    frame["churned"] = rng.random(n) < 1 / (1 + np.exp(-logit))
    return frame.drop(columns=["churn_probability", "risk_band"])


@pytest.mark.slow
def test_calibration_only_failure_recalibrates_the_same_booster_and_the_gate_promotes_it(tmp_path):
    settings = get_settings()
    _champion(settings)
    batch = tmp_path / "features"
    batch.mkdir()
    _more_churn(3000, seed=702).to_parquet(batch / "features.parquet", index=False)

    result = run_monitor(batch, ["churn"], Policy(), tmp_path / "reports", True, settings,
                         labels_available=True, lock_dir=tmp_path)

    model = result.model("churn")
    assert {c.check for c in model.crossings} == {"calibration"}, model.verdict  # the ranking held
    assert model.retrain.status == "succeeded", model.retrain.message
    assert model.retrain.details["action"] == "recalibrate"
    assert model.retrain.message.startswith("recalibrated")
    client = mlflow.MlflowClient()
    new = client.get_model_version("churn", "2")
    assert new.tags["crmlab.recalibrated_from"] == "1"
    assert client.get_run(model.retrain.run_id).data.tags["crmlab.retrain_action"] == "recalibrate"
    # Same booster, new calibrator: the raw scores agree, the calibrated ones moved.
    old_m = mlflow.pyfunc.load_model("models:/churn/1").unwrap_python_model()
    new_m = mlflow.pyfunc.load_model("models:/churn/2").unwrap_python_model()
    fresh = _more_churn(4000, seed=703)
    assert np.allclose(old_m.scorer.raw_proba(fresh[FEATURES]), new_m.scorer.raw_proba(fresh[FEATURES]))
    assert new_m.calibrator.method != "none"
    y = fresh["churned"].astype(int).to_numpy()
    p_old = old_m.predict(None, fresh, {"reasons": False})["churn_probability"].to_numpy()
    p_new = new_m.predict(None, fresh, {"reasons": False})["churn_probability"].to_numpy()
    assert abs(p_new.mean() - y.mean()) < 0.02 < abs(p_old.mean() - y.mean())
    assert expected_calibration_error(y, p_new) < expected_calibration_error(y, p_old) / 2
    # Through the gate: the recalibrated version became champion.
    assert "PROMOTED" in model.retrain.promotion, model.retrain.promotion
    assert str(client.get_model_version_by_alias("churn", "champion").version) == "2"


def test_drift_in_the_inputs_still_retrains_not_recalibrates():
    from monitoring.recalibrate import calibration_only

    assert calibration_only(["calibration"], "churn")
    assert not calibration_only(["calibration", "auc_drop"], "churn")
    assert not calibration_only(["feature_drift"], "churn")
    assert not calibration_only(["calibration"], "clv")
    assert not calibration_only([], "churn")
