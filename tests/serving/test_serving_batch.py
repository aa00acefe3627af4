"""Batch scoring to files: chunked, latest cutoff only, consent enforced and counted, versions recorded."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from crmlab.commands.score import command as score_command
from serving.batch import score_batch
from serving.profile_model import OUTPUT_COLUMNS
from training.settings import get_settings
from training.world.churn_features import synthetic_features

PROFILE = "models:/customer_profile@champion"
LEAD = ["customer_id", "model_name", "model_version", "scored_at"]


def test_parquet_scores_every_customer_in_chunks_with_versions(registry, tmp_path):
    out = tmp_path / "scores" / "profile.parquet"
    result = score_batch(PROFILE, registry.features_dir, out, chunk_size=128, settings=get_settings(),
                         progress=False)
    assert (result.rows_in, result.rows_scored, result.rows_no_consent) == (1000, 1000, 0)
    assert (result.model_name, result.model_version) == ("customer_profile", "1")
    scores = pd.read_parquet(out)
    assert list(scores.columns) == LEAD + OUTPUT_COLUMNS[1:]
    assert list(scores["customer_id"]) == list(registry.features["customer_id"])
    assert scores["scored_at"].nunique() == 1 and set(scores["model_version"]) == {"1"}
    assert set(scores["churn_version"]) == {"1"} and scores["segment_id"].notna().all()
    assert not (tmp_path / "scores" / "profile.parquet.partial").exists()

    direct = mlflow.pyfunc.load_model(PROFILE).predict(registry.features.iloc[300:310])
    np.testing.assert_allclose(scores["churn_probability"].iloc[300:310], direct["churn_probability"])
    assert list(scores["clv_tier"].iloc[300:310]) == list(direct["clv_tier"])


def test_reasons_false_skips_explanations_and_changes_no_score(registry, tmp_path):
    full = score_batch(PROFILE, registry.features_dir, tmp_path / "full.parquet", settings=get_settings(),
                       progress=False)
    runner = CliRunner().invoke(score_command, ["--features", str(registry.features_dir), "--out",
                                                str(tmp_path / "fast.csv"), "--reasons", "false", "--no-progress"])
    assert runner.exit_code == 0, runner.output
    with_reasons, fast = pd.read_parquet(full.out_path), pd.read_csv(tmp_path / "fast.csv")
    assert with_reasons["top_reasons"].str.contains("risk").all() and fast["top_reasons"].isna().all()
    np.testing.assert_allclose(fast["churn_probability"], with_reasons["churn_probability"])
    np.testing.assert_allclose(fast["predicted_spend"], with_reasons["predicted_spend"])
    assert list(fast["segment_id"]) == list(with_reasons["segment_id"])


def test_reasons_method_reaches_churn_through_the_profile_and_changes_no_score(registry, tmp_path):
    path = score_batch(PROFILE, registry.features_dir, tmp_path / "path.parquet", settings=get_settings(),
                       progress=False)
    runner = CliRunner().invoke(score_command, ["--features", str(registry.features_dir), "--out",
                                                str(tmp_path / "shap.parquet"), "--reasons-method", "shap",
                                                "--no-progress"])
    assert runner.exit_code == 0, runner.output
    by_path, by_shap = pd.read_parquet(path.out_path), pd.read_parquet(tmp_path / "shap.parquet")
    np.testing.assert_allclose(by_shap["churn_probability"], by_path["churn_probability"])
    assert by_shap["top_reasons"].str.contains("risk").all()
    assert (by_shap["top_reasons"] != by_path["top_reasons"]).any()  # exact SHAP was used, not the default
    strongest = [(a.split(":")[0], b.split(":")[0]) for a, b in zip(by_path["top_reasons"], by_shap["top_reasons"],
                                                                     strict=True)]
    assert np.mean([a == b for a, b in strongest]) >= 0.6
    bad = CliRunner().invoke(score_command, ["--features", str(registry.features_dir), "--out",
                                             str(tmp_path / "x.parquet"), "--reasons-method", "lime"])
    assert bad.exit_code != 0 and "lime" in bad.output and "Traceback" not in bad.output


def test_latest_cutoff_consent_and_exclusions_are_enforced_and_counted(registry, tmp_path):
    frame = synthetic_features(400, seed=3, cutoffs=2).drop(columns=["churned", "future_spend"])
    latest = frame[frame["cutoff"] == frame["cutoff"].max()]
    features = tmp_path / "features.csv"
    frame.to_csv(features, index=False)
    ids = list(latest["customer_id"])
    consent = pd.DataFrame({
        "customer_id": ids[:150] + ids[150:160] + ids[:5],
        "marketing_consent": ["true"] * 150 + ["false"] * 10 + ["no"] * 5,  # a later opt-out wins
        "email": "someone@example.com",  # never loaded
    })
    consent.to_csv(tmp_path / "consent.csv", index=False)
    pd.DataFrame({"customer_id": ids[5:8]}).to_parquet(tmp_path / "erase.parquet")

    out = tmp_path / "scores.csv"
    result = score_batch(PROFILE, features, out, chunk_size=64, settings=get_settings(),
                         consent=tmp_path / "consent.csv", exclude=tmp_path / "erase.parquet", progress=False)
    assert result.cutoff == str(pd.Timestamp(latest["cutoff"].iloc[0]).date())
    assert result.rows_other_cutoffs == len(frame) - len(latest)
    allowed = set(ids[8:150])
    assert result.rows_scored == len(allowed) and result.rows_excluded == 3
    assert result.rows_no_consent == len(latest) - len(allowed) - 3
    scores = pd.read_csv(out)
    assert set(scores["customer_id"]) == allowed and scores["customer_id"].is_unique
    assert "without consent" in result.summary()


def test_consent_list_without_the_flag_is_refused_with_advice(registry, tmp_path):
    pd.DataFrame({"customer_id": ["C1"]}).to_csv(tmp_path / "list.csv", index=False)
    with pytest.raises(ValueError, match=r"marketing_consent.*exclusion list"):
        score_batch(PROFILE, registry.features_dir, tmp_path / "s.csv", consent=tmp_path / "list.csv",
                    progress=False)


def test_duplicate_customers_and_bad_features_fail_without_a_result_file(registry, tmp_path):
    doubled = pd.concat([registry.features.head(30), registry.features.iloc[[3]]], ignore_index=True)
    out = tmp_path / "dup.parquet"
    with pytest.raises(ValueError, match=r"1 customer id.*more than once.*position 30"):
        score_batch(PROFILE, doubled, out, chunk_size=1000, progress=False)
    assert not out.exists() and not (tmp_path / "dup.parquet.partial").exists()

    secret = "jane.doe@example.com"
    broken = registry.features.head(20).assign(frequency=secret)
    with pytest.raises(ValueError, match=r"chunk starting at input row 0.*'frequency' expects numbers") as err:
        score_batch(PROFILE, broken, out, progress=False)
    assert secret not in str(err.value) and not out.exists()


def test_cli_scores_a_features_directory(registry, tmp_path):
    out = tmp_path / "cli.parquet"
    result = CliRunner().invoke(score_command, ["--features", str(registry.features_dir), "--out", str(out),
                                                "--chunk-size", "400", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "scored 1,000 of 1,000 rows with customer_profile v1" in result.output
    assert len(pd.read_parquet(out)) == 1000

    missing = CliRunner().invoke(score_command, ["--model", "churn", "--alias", "gold", "--features",
                                                 str(registry.features_dir), "--out", str(out)])
    assert missing.exit_code != 0 and "no version of 'churn' has the alias 'gold'" in missing.output
    nowhere = CliRunner().invoke(score_command, ["--features", str(registry.features_dir)])
    assert nowhere.exit_code != 0 and "--out PATH and/or --to" in nowhere.output
