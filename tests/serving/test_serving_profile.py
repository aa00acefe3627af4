"""customer_profile: packages concrete champion versions, joins their outputs, stays reproducible."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest

from serving.profile_model import OUTPUT_COLUMNS, build_customer_profile
from training.core.pyfunc_base import InvalidModelInput
from training.settings import get_settings

SECRET = "jane.doe@example.com"


def _champion(name: str):
    return mlflow.MlflowClient().get_model_version_by_alias(name, "champion")


def test_profile_joins_the_champions_outputs_per_customer(registry):
    version = _champion("customer_profile")
    assert version.tags["profile.churn"] == "churn/1"
    assert version.tags["profile.clv"] == "clv/1" and version.tags["profile.segments"] == "segments/1"
    assert version.tags["crmlab.family"] == "profile" and version.tags["gate.decision"] == "promoted"

    rows = registry.features.head(25).assign(email=SECRET)  # an unknown extra column
    rows.loc[rows.index[:3], "plan"] = "platinum-plus"       # a category never seen in training
    out = mlflow.pyfunc.load_model("models:/customer_profile@champion").predict(rows)
    assert list(out.columns) == OUTPUT_COLUMNS and len(out) == 25
    assert list(out["customer_id"]) == list(rows["customer_id"])
    assert not out.isin([SECRET]).any().any()

    churn = mlflow.pyfunc.load_model("models:/churn@champion").predict(rows)
    clv = mlflow.pyfunc.load_model("models:/clv@champion").predict(rows)
    segments = mlflow.pyfunc.load_model("models:/segments@champion").predict(rows)
    np.testing.assert_allclose(out["churn_probability"], churn["churn_probability"])
    assert list(out["risk_band"]) == list(churn["risk_band"]) and list(out["top_reasons"]) == list(churn["top_reasons"])
    np.testing.assert_allclose(out["predicted_spend"].astype(float), clv["predicted_spend"])
    assert list(out["clv_tier"]) == list(clv["clv_tier"])
    assert list(out["segment_id"]) == list(segments["segment_id"])
    assert list(out["segment_name"]) == list(segments["segment_name"])
    assert set(out["churn_version"]) == {"1"} and set(out["clv_version"]) == {"1"}
    assert set(out["segments_version"]) == {"1"}


def test_profile_keeps_its_versions_when_a_component_champion_moves(registry):
    settings = get_settings()
    client = mlflow.MlflowClient()
    rows = registry.features.head(5)
    first = _champion("customer_profile")
    assert build_customer_profile(settings, sample=rows).version == first.version  # nothing changed: reused

    copied = client.copy_model_version("models:/churn/1", "churn")  # a new churn version becomes champion
    client.set_registered_model_alias("churn", "champion", copied.version)
    old = mlflow.pyfunc.load_model(f"models:/customer_profile/{first.version}").predict(rows)
    assert set(old["churn_version"]) == {"1"}  # the built profile still answers with what it packaged

    rebuilt = build_customer_profile(settings, sample=rows)
    assert int(rebuilt.version) == int(first.version) + 1
    assert rebuilt.tags["profile.churn"] == f"churn/{copied.version}"
    assert _champion("customer_profile").version == rebuilt.version
    new = mlflow.pyfunc.load_model("models:/customer_profile@champion").predict(rows)
    assert set(new["churn_version"]) == {str(copied.version)}


def test_profile_without_optional_components_answers_null_columns(registry):
    client = mlflow.MlflowClient()
    client.delete_registered_model_alias("clv", "champion")
    client.delete_registered_model_alias("segments", "champion")
    version = build_customer_profile(get_settings(), sample=registry.features.head(5))
    assert "profile.clv" not in version.tags and version.tags["profile.churn"] == "churn/1"
    out = mlflow.pyfunc.load_model(f"models:/customer_profile/{version.version}").predict(
        registry.features.head(4))
    assert list(out.columns) == OUTPUT_COLUMNS
    assert out[["predicted_spend", "clv_tier", "segment_id", "segment_name", "clv_version"]].isna().all().all()
    assert out["churn_probability"].between(0, 1).all()


def test_profile_needs_a_churn_champion(registry):
    mlflow.MlflowClient().delete_registered_model_alias("churn", "champion")
    with pytest.raises(ValueError, match=r"no churn@champion.*crmlab train churn"):
        build_customer_profile(get_settings())


def test_profile_refuses_bad_rows_naming_the_column_never_the_value(registry):
    model = mlflow.pyfunc.load_model("models:/customer_profile@champion")
    good = registry.features.head(3).drop(columns=["churned", "future_spend"]).reset_index(drop=True)
    cases = {
        "missing required column(s): customer_id": good.drop(columns="customer_id").assign(note=SECRET),
        "must hold text (or integer) ids": good.assign(customer_id=[{"mail": SECRET}, "C2", "C3"]),
        "churn model: missing required column(s): recency_days": good.drop(columns="recency_days"),
        "churn model: column 'frequency' expects numbers": good.assign(frequency=[1.0, SECRET, 2.0]),
        "churn model: column 'tenure_days' is required but null/NaN": good.assign(
            tenure_days=[1.0, np.nan, 3.0], email=SECRET),
        "empty payload": good.iloc[:0],
    }
    for expected, frame in cases.items():
        with pytest.raises(InvalidModelInput) as err:
            model.predict(frame)
        assert expected in err.value.message
        assert SECRET not in str(err.value) and "C0000" not in err.value.message
        err.value.message = f"Failed to predict data '{frame}'"  # what the stock server does
        assert SECRET not in err.value.message and expected in err.value.message


def test_profile_example_defaults_to_the_components_examples(registry):
    mlflow.MlflowClient().delete_registered_model_alias("customer_profile", "champion")
    version = build_customer_profile(get_settings(), promote=False)
    assert version.aliases == ["challenger"]
    example = mlflow.models.Model.load(f"models:/customer_profile/{version.version}").load_input_example(
        mlflow.artifacts.download_artifacts(f"models:/customer_profile/{version.version}"))
    assert isinstance(example, pd.DataFrame) and "customer_id" in example.columns
    assert {"recency_days", "frequency", "monetary_total", "tenure_days"} <= set(example.columns)
