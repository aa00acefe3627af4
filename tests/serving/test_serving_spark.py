"""``score --engine spark``: the registered model through ``mlflow.pyfunc.spark_udf`` in local[2] gives the
in-process batch's rows, columns and predictions, with the same consent filter and counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from serving.batch import score_batch
from serving.spark_batch import score_spark
from training.settings import get_settings
from training.world.churn_features import synthetic_features

PROFILE = "models:/customer_profile@champion"


def _same_scores(spark_out: pd.DataFrame, local_out: pd.DataFrame) -> None:
    a = spark_out.sort_values("customer_id").reset_index(drop=True)
    b = local_out.sort_values("customer_id").reset_index(drop=True)
    assert list(a.columns) == list(b.columns)
    for column in a.columns:
        if column == "scored_at":
            continue
        if pd.api.types.is_float_dtype(b[column]):
            np.testing.assert_allclose(a[column].to_numpy(float), b[column].to_numpy(float), rtol=1e-9,
                                       err_msg=column)
        else:
            assert a[column].astype(object).where(a[column].notna(), None).tolist() == \
                b[column].astype(object).where(b[column].notna(), None).tolist(), column


@pytest.mark.parametrize("model", [PROFILE, "models:/churn@champion", "models:/segments@champion",
                                   "models:/clv@champion"])
def test_spark_scores_equal_the_in_process_batch(registry, spark, tmp_path, model):
    local = score_batch(model, registry.features_dir, tmp_path / "local.parquet", settings=get_settings(),
                        progress=False)
    on_spark = score_spark(model, registry.features_dir, tmp_path / "spark.parquet", get_settings(), spark=spark)
    assert (on_spark.rows_in, on_spark.rows_scored, on_spark.model_version) == \
        (local.rows_in, local.rows_scored, local.model_version)
    spark_out, local_out = pd.read_parquet(tmp_path / "spark.parquet"), pd.read_parquet(local.out_path)
    assert len(spark_out) == len(local_out) == 1000
    _same_scores(spark_out, local_out)
    assert spark_out["scored_at"].nunique() == 1


def test_spark_keeps_the_consent_filter_and_latest_cutoff(registry, spark, tmp_path):
    frame = synthetic_features(400, seed=3, cutoffs=2).drop(columns=["churned", "future_spend"])
    features = tmp_path / "features.parquet"
    frame.to_parquet(features, index=False)
    latest = frame[frame["cutoff"] == frame["cutoff"].max()]
    ids = list(latest["customer_id"])
    pd.DataFrame({"customer_id": ids[:150] + ids[150:160] + ids[:5],
                  "marketing_consent": ["true"] * 150 + ["false"] * 10 + ["no"] * 5}
                 ).to_csv(tmp_path / "consent.csv", index=False)
    pd.DataFrame({"customer_id": ids[5:8]}).to_parquet(tmp_path / "erase.parquet")
    lists = {"consent": tmp_path / "consent.csv", "exclude": tmp_path / "erase.parquet"}

    local = score_batch(PROFILE, features, tmp_path / "local.parquet", settings=get_settings(), progress=False,
                        **lists)
    on_spark = score_spark(PROFILE, features, tmp_path / "spark.parquet", get_settings(), spark=spark, **lists)
    allowed = set(ids[8:150])
    for result in (local, on_spark):
        assert (result.rows_scored, result.rows_excluded, result.rows_no_consent) == \
            (len(allowed), 3, len(latest) - len(allowed) - 3)
        assert result.rows_other_cutoffs == len(frame) - len(latest) and result.cutoff == local.cutoff
    spark_out = pd.read_parquet(tmp_path / "spark.parquet")
    assert set(spark_out["customer_id"]) == allowed and spark_out["customer_id"].is_unique
    _same_scores(spark_out, pd.read_parquet(tmp_path / "local.parquet"))
    assert not (tmp_path / "spark.parquet.partial").exists()


def test_spark_refuses_duplicate_customers(registry, spark, tmp_path):
    frame = registry.features.drop(columns=["churned", "future_spend"]).head(20)
    pd.concat([frame, frame.head(2)]).to_parquet(tmp_path / "dup.parquet", index=False)
    with pytest.raises(ValueError, match="2 customer id"):
        score_spark(PROFILE, tmp_path / "dup.parquet", tmp_path / "out.parquet", get_settings(), spark=spark)
    assert not (tmp_path / "out.parquet").exists()
