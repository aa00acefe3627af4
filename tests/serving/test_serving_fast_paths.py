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
    scorers = _lightgbm_scorers(churn.scorer)
    assert scorers, churn.scorer.kind
    odd = rows.astype({c: object for c in scorers[0].categorical})
    odd.loc[0, scorers[0].categorical[0]] = "never-seen-in-training"
    odd.loc[1, scorers[0].categorical[0]] = None
    features = validate_frame(odd, churn.spec)
    for scorer, n in ((scorer, n) for scorer in scorers for n in (1, 3, 200)):  # small-batch and large paths
        part = features.head(n)
        expected = scorer.booster.predict(as_lgbm_frame(part[scorer.features], scorer.categorical))
        fast = lgbm_predict.predict(scorer.booster, lgbm_predict.booster_matrix(
            scorer.booster, part, scorer.features, scorer.categorical))
        np.testing.assert_allclose(fast, expected, rtol=1e-12)
        contrib = scorer.booster.predict(as_lgbm_frame(part[scorer.features], scorer.categorical),
                                         pred_contrib=True)
        np.testing.assert_allclose(scorer.contributions(part, "shap").to_numpy(), contrib[:, :-1], rtol=1e-10)
        path = scorer.contributions(part, "path").to_numpy()  # the default: the same raw score, split by path
        np.testing.assert_allclose(path.sum(axis=1) + contrib[:, -1], contrib.sum(axis=1), atol=1e-9)


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
    inner = python_model_of(mlflow.pyfunc.load_model(str(local)))
    originals = ([s.booster for s in _lightgbm_scorers(inner.scorer)] if family == "churn" else [inner._lgbm()])
    paths = info.metadata[METADATA_KEY]
    assert paths == {"lightgbm_booster": BOOSTER_PATH}  # one booster, a cross-fit's fold models merged in it
    for path, original in zip(paths.values(), originals, strict=True):
        booster = lightgbm.Booster(model_file=str(local / path))  # no crmlab, no pickle
        assert booster.num_trees() == original.num_trees() and booster.feature_name() == original.feature_name()
        matrix = lgbm_predict.booster_matrix(original, validate_frame(rows, inner.spec), original.feature_name(),
                                             inner.scorer.categorical if family == "churn" else inner.categorical)
        np.testing.assert_allclose(booster.predict(matrix), original.predict(matrix))


def _lightgbm_scorers(scorer) -> list:
    """The LightGBM scorer: the scorer itself, or a blend's trees."""
    from training.churn.scorers import LgbmScorer

    booster = getattr(scorer, "booster", None)
    return [] if booster is None else [LgbmScorer(booster, scorer.features, scorer.categorical)]


def test_reasons_method_chooses_path_or_exact_shap_and_refuses_others(registry, rows):
    churn = mlflow.pyfunc.load_model("models:/churn@champion")
    default = churn.predict(rows)
    shap = churn.predict(rows, params={"reasons_method": "shap"})
    path = churn.predict(rows, params={"reasons_method": "path"})
    pd.testing.assert_frame_equal(default, path)
    pd.testing.assert_series_equal(shap["churn_probability"], path["churn_probability"])
    first = [r.split("; ")[0].split(":")[0] for r in path["top_reasons"]], \
        [r.split("; ")[0].split(":")[0] for r in shap["top_reasons"]]
    assert np.mean([a == b for a, b in zip(*first, strict=True)]) >= 0.6  # same strongest reason, most rows
    assert (shap["top_reasons"] != path["top_reasons"]).any()  # the parameter reaches the explainer
    with pytest.raises(mlflow.exceptions.MlflowException, match="reasons_method"):
        churn.predict(rows.head(2), params={"reasons_method": "lime"})
    profile = mlflow.pyfunc.load_model("models:/customer_profile@champion")
    via_profile = profile.predict(rows, params={"reasons_method": "shap"})
    assert list(via_profile["top_reasons"]) == list(shap["top_reasons"])
