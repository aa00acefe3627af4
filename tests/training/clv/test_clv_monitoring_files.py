"""The CLV training run leaves monitoring's reference sample (and LightGBM importance) in the shape it reads."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd

from monitoring.families import family_spec
from training.clv import train as clv_train
from training.clv.inputs import problem_from_features, problem_from_transactions
from training.clv.pyfunc import OUTPUT_COLUMNS
from training.clv.stacking import STACKED_COLUMNS
from training.settings import get_settings


def _artifact(run_id: str, name: str) -> pd.DataFrame:
    local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=name)
    return pd.read_parquet(local) if name.endswith(".parquet") else pd.read_csv(local)


def _files(run_id: str) -> set[str]:
    return {a.path for a in mlflow.MlflowClient().list_artifacts(run_id)}


def test_lightgbm_winner_logs_reference_with_served_outputs_and_gain_importance(features_world, monkeypatch):
    features_dir, clean_dir = features_world
    problem = problem_from_features(features_dir, data_dir=clean_dir, seed=0)
    monkeypatch.setattr(clv_train, "pick_winner", lambda table: "lightgbm")
    result = clv_train.train_clv(problem, trials=1, timeout=None, model_name="clv", seed=0, storage=None,
                                 promote=False, settings=get_settings())
    assert {"reference.parquet", "feature_importance.csv"} <= _files(result.run_id)
    reference = _artifact(result.run_id, "reference.parquet")
    spec = family_spec("clv")
    assert "customer_id" not in reference.columns
    assert set(spec.outputs) | {spec.label} | set(problem.features) <= set(reference.columns)
    assert len(reference) == min(5000, len(problem.holdout))  # held out: predictions out of sample
    assert reference["future_spend"].notna().all() and (reference["future_spend"] >= 0).all()
    # The outputs are the registered model's own predictions for those inputs.
    served = mlflow.pyfunc.load_model(f"models:/clv/{result.version}").predict(reference)
    np.testing.assert_allclose(reference["predicted_spend"], served["predicted_spend"], rtol=1e-9)
    assert (reference["clv_tier"] == served["clv_tier"]).all()

    importance = _artifact(result.run_id, "feature_importance.csv")
    assert list(importance.columns) == ["feature", "importance"]
    # The booster's own features: the crmlab features and the BG/NBD columns stacked on them.
    assert set(importance["feature"]) == set(problem.features) | set(STACKED_COLUMNS)
    assert (importance["importance"] >= 0).all() and importance["importance"].sum() > 0
    assert importance["importance"].is_monotonic_decreasing


def test_btyd_winner_logs_reference_with_p_alive_and_no_importance(sim_log, sim_split, monkeypatch):
    calibration_end, horizon = sim_split
    problem = problem_from_transactions(sim_log, id_col="customer_id", date_col="date", amount_col="amount",
                                        calibration_end=calibration_end, horizon_days=horizon, seed=0)
    monkeypatch.setattr(clv_train, "pick_winner", lambda table: "btyd")
    result = clv_train.train_clv(problem, trials=1, timeout=None, model_name="clv", seed=0, storage=None,
                                 promote=False, settings=get_settings())
    files = _files(result.run_id)
    assert "reference.parquet" in files and "feature_importance.csv" not in files
    reference = _artifact(result.run_id, "reference.parquet")
    assert "customer_id" not in reference.columns
    assert set(OUTPUT_COLUMNS) <= set(reference.columns) and "future_spend" in reference.columns
    assert reference["p_alive"].notna().any()  # BG/NBD serves: p_alive is monitored
    # Each row's label is that customer's holdout spend (rows matched on their inputs).
    assert len(reference) == len(problem.holdout)
    keys = list(problem.features)
    expected = problem.holdout.groupby(keys, dropna=False)["future_spend"].sum().sort_index()
    logged = reference.groupby(keys, dropna=False)["future_spend"].sum().sort_index()
    pd.testing.assert_series_equal(logged, expected, check_exact=False)
