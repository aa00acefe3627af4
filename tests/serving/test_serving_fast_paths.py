"""The fast scoring paths give the answers of the slow ones; every LightGBM version carries its booster."""

from __future__ import annotations

from pathlib import Path

import lightgbm
import mlflow
import numpy as np
import pandas as pd
import pytest

from training.core import lgbm_predict
from training.core.lgbm import as_lgbm_frame
from training.core.native_boosters import BOOSTER_PATH, METADATA_KEY
from training.core.pyfunc_base import plain_validation, python_model_of, validate_frame


@pytest.fixture()
def rows(registry) -> pd.DataFrame:
    return registry.features.head(200).drop(columns=["churned", "future_spend", "cutoff"]).reset_index(drop=True)


def test_booster_matrix_predicts_like_lightgbms_pandas_path(registry, rows):
    churn = python_model_of(mlflow.pyfunc.load_model("models:/churn@champion"))
    scorer = churn.scorer
    assert scorer.kind == "lightgbm"
    odd = rows.astype({c: object for c in scorer.categorical})
    odd.loc[0, scorer.categorical[0]] = "never-seen-in-training"
    odd.loc[1, scorer.categorical[0]] = None
    features = validate_frame(odd, churn.spec)
    for n in (1, 3, 200):  # the small-batch (dict lookup, one thread) and the large path
        part = features.head(n)
        expected = scorer.booster.predict(as_lgbm_frame(part[scorer.features], scorer.categorical))
        fast = lgbm_predict.predict(scorer.booster, lgbm_predict.booster_matrix(
            scorer.booster, part, scorer.features, scorer.categorical))
        np.testing.assert_allclose(fast, expected, rtol=1e-12)
        contrib = scorer.booster.predict(as_lgbm_frame(part[scorer.features], scorer.categorical),
                                         pred_contrib=True)
        np.testing.assert_allclose(scorer.contributions(part).to_numpy(), contrib[:, :-1], rtol=1e-10)


def test_profile_validates_once_and_answers_like_each_component_alone(registry, rows):
    profile = mlflow.pyfunc.load_model("models:/customer_profile@champion")
    model = python_model_of(profile)
    assert model._shared_spec() is not None  # every packaged component is plain: one validation
    assert all(plain_validation(python_model_of(m)) for m in model._models.values())
    fast = model.predict(None, rows)
    model._shared = False  # force the per-component path
    slow = model.predict(None, rows)
    pd.testing.assert_frame_equal(fast, slow)


@pytest.mark.parametrize("family", ["churn", "clv"])
def test_each_lightgbm_version_carries_its_booster_as_text(registry, rows, family):
    local = Path(mlflow.artifacts.download_artifacts(f"models:/{family}@champion"))
    info = mlflow.models.Model.load(local)
    assert info.metadata[METADATA_KEY] == {"lightgbm_booster": BOOSTER_PATH}
    booster = lightgbm.Booster(model_file=str(local / BOOSTER_PATH))  # no crmlab, no pickle
    inner = python_model_of(mlflow.pyfunc.load_model(str(local)))
    original = inner.scorer.booster if family == "churn" else inner._lgbm()
    assert booster.num_trees() == original.num_trees() and booster.feature_name() == original.feature_name()
    matrix = lgbm_predict.booster_matrix(original, validate_frame(rows, inner.spec), original.feature_name(),
                                         inner.scorer.categorical if family == "churn" else inner.categorical)
    np.testing.assert_allclose(booster.predict(matrix), original.predict(matrix))
