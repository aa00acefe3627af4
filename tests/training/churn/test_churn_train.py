"""End to end on synthetic features with a known signal: selection, calibration, registry, serving."""

from __future__ import annotations

import re
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException

from training.churn.train import REFIT_FOLDS, train_churn
from training.core.evaluation import expected_calibration_error
from training.core.pyfunc_base import python_model_of
from training.settings import get_settings
from training.world.churn_features import synthetic_features, write_features_dir

REASON = re.compile(r"^[^:;]+: [^;]+, (raises|lowers) risk$")


def test_nonlinear_signal_lightgbm_wins_is_calibrated_explained_and_served(tmp_path):
    features = write_features_dir(synthetic_features(8000, seed=3, kind="nonlinear"), tmp_path / "features")
    result = train_churn(features, trials=4, timeout=0, seed=0, settings=get_settings())

    m = result.metrics
    chosen = result.chosen
    assert chosen in {"lightgbm", "blend"}  # trees carry the signal, alone or blended with the baseline
    assert m["valid_log_loss_lightgbm"] < m["valid_log_loss_logistic"]
    assert m["test_roc_auc"] > m["test_logistic_roc_auc"] + 0.03  # thresholds/interactions: trees win
    assert m["test_roc_auc"] > 0.70                               # far above random (0.5)
    assert m["valid_log_loss"] == m[f"valid_log_loss_{chosen}"] == min(
        m[f"valid_log_loss_{c}"] for c in ("lightgbm", "logistic", "blend"))
    others = [f"{c} calibrated" for c in ("lightgbm", "logistic", "blend") if c != chosen]
    assert list(result.table.columns) == [f"{chosen} raw", f"{chosen} calibrated (registered)", *others]

    client = mlflow.MlflowClient()
    version = client.get_model_version_by_alias("churn", "challenger")
    assert str(version.version) == result.version
    tags = version.tags
    assert tags["crmlab.family"] == "churn" and tags["optuna.study"] == result.study_name
    assert tags["model_kind"] == chosen and tags["calibration"] in {"none", "isotonic", "sigmoid"}
    assert "recency_days" in tags["features"].split(",") and len(tags["data_hash"]) == 16
    assert float(tags["metric.roc_auc"]) == pytest.approx(m["test_roc_auc"], abs=1e-5)
    # frequency is never missing -> required; sessions_90d has gaps -> optional
    assert "frequency" in tags["required_features"].split(",")
    assert "sessions_90d" not in tags["required_features"].split(",")

    run_metrics = mlflow.get_run(result.run_id).data.metrics  # baselines on the same rows, logged
    assert {"baseline.default_lightgbm.roc_auc", "baseline.logistic.roc_auc"} <= set(run_metrics)
    assert "baseline.default_lightgbm.roc_auc" in tags
    artifacts = {a.path for a in client.list_artifacts(result.run_id)}
    assert {"model_card.md", "reference.parquet", "holdout.parquet", "plots"} <= artifacts
    plots = {a.path for a in client.list_artifacts(result.run_id, "plots")}
    assert {f"plots/{p}.png" for p in ("reliability", "roc_pr", "lift", "importance",
                                       "contributions_summary")} <= plots
    children = mlflow.search_runs(filter_string=f"tags.mlflow.parentRunId = '{result.run_id}'",
                                  output_format="list")
    assert sum("optuna.trial_number" in r.data.tags for r in children) == result.trials == 4
    assert any(r.info.run_name == "baseline-logistic" for r in children)
    card_path = mlflow.artifacts.download_artifacts(run_id=result.run_id, artifact_path="model_card.md")
    card = Path(card_path).read_text()
    assert "## Limits" in card and "required (must be present" in card and f"Registered: **{chosen}**" in card
    reference = pd.read_parquet(mlflow.artifacts.download_artifacts(run_id=result.run_id,
                                                                     artifact_path="reference.parquet"))
    assert {"churn_probability", "risk_band", "churned", "recency_days"} <= set(reference.columns)
    assert "customer_id" not in reference.columns

    model = mlflow.pyfunc.load_model("models:/churn@challenger")
    # what is served is the cross-fitted fold models the map was fitted on (settings.churn_served), as one
    # booster holding every fold model's trees
    booster = python_model_of(model).scorer.booster
    note = next(n for n in result.notes if "cross-fitted fold models" in n)
    fold_rounds = int(re.search(r"fold models \((\d+) rounds each\)", note).group(1))
    # the note names the logistic C and how it was chosen
    assert re.search(r"logistic C = [\d.e+-]+ chosen by (\d+-fold cross-validated log loss|log loss on)", note)
    assert abs(booster.num_trees() - REFIT_FOLDS * fold_rounds) <= REFIT_FOLDS, (booster.num_trees(), fold_rounds)
    assert f"log-odds average of {REFIT_FOLDS} cross-fitted fold models" in version.description
    fresh = synthetic_features(20000, seed=99, kind="nonlinear")  # same world, rows never seen
    fresh = fresh[fresh["churned"].notna()]
    out = model.predict(fresh)  # extra columns (customer_id, cutoff, labels) are ignored
    assert list(out.columns) == ["churn_probability", "risk_band", "top_reasons"]
    assert len(out) == len(fresh) and out.index.equals(fresh.index)
    p = out["churn_probability"].to_numpy()
    assert expected_calibration_error(fresh["churned"].astype(int).to_numpy(), p) <= 0.03
    expected_band = np.where(p < 0.2, "low", np.where(p < 0.5, "medium", "high"))
    assert (out["risk_band"].to_numpy() == expected_band).all()
    reasons = out["top_reasons"].iloc[0].split("; ")
    assert len(reasons) == 3 and all(REASON.match(r) for r in reasons)
    assert any(r.startswith("days since the last order: ") for r in out["top_reasons"])

    # optional features absent and unseen categories are scored; required ones are not optional
    sparse = fresh.head(3).drop(columns=["sessions_90d", "region"]).assign(plan="platinum")
    assert model.predict(sparse)["churn_probability"].between(0, 1).all()
    secret = "ann.secret@example.com"
    for bad, message in [
        (fresh.head(2).drop(columns=["frequency"]), "missing required column(s): frequency"),
        (fresh.head(2).assign(recency_days=secret), "column 'recency_days' expects numbers"),
        (fresh.head(2).assign(frequency=[1.0, np.nan]), "column 'frequency' is required but null"),
        (fresh.head(0), "empty payload"),
    ]:
        with pytest.raises(MlflowException) as err:
            model.predict(bad)
        assert err.value.error_code == "INVALID_PARAMETER_VALUE"
        assert message in err.value.message
        assert secret not in err.value.message and "C0000" not in err.value.message


def test_linear_signal_the_baseline_is_registered_when_lightgbm_is_not_better(tmp_path):
    features = write_features_dir(synthetic_features(5000, seed=5, kind="linear"), tmp_path / "features")
    result = train_churn(features, trials=3, timeout=None, seed=1, settings=get_settings())
    m = result.metrics
    assert m["valid_log_loss"] == m["valid_log_loss_logistic"] <= m["valid_log_loss_lightgbm"]
    assert result.chosen == "logistic"  # the linear model is the true model family here
    assert m["test_roc_auc"] > 0.70
    tags = mlflow.MlflowClient().get_model_version("churn", result.version).tags
    assert tags["model_kind"] == "logistic"
    out = mlflow.pyfunc.load_model(result.model_uri).predict(
        synthetic_features(50, seed=7, kind="linear"))
    assert out["top_reasons"].map(lambda t: len(t.split("; ")) == 3).all()


def test_time_based_split_on_several_cutoffs(tmp_path):
    frame = synthetic_features(4000, seed=8, cutoffs=2, horizon_days=90)
    features = write_features_dir(frame, tmp_path / "features", horizon_days=90)
    # kfold_max_rows=0: tuned on one validation split, as large tables are; churn_served="refit": one model
    # refitted on all rows (the cheaper option a user can choose)
    result = train_churn(features, trials=2, timeout=None, seed=0,
                         settings=get_settings(kfold_max_rows=0, churn_served="refit"))
    assert any("refit on all" in n for n in result.notes)
    assert "cross-fitted" not in mlflow.MlflowClient().get_model_version("churn", result.version).description
    assert result.split.startswith("time-based")
    assert "validation/test at cutoff 2024-12-31" in result.split
    holdout = pd.read_parquet(mlflow.artifacts.download_artifacts(run_id=result.run_id,
                                                                   artifact_path="holdout.parquet"))
    assert len(holdout) == int(result.metrics["test_rows"]) and holdout["churned"].isin([0, 1]).all()
