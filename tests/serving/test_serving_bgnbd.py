"""A BG/NBD CLV champion is served like a LightGBM one: its ``btyd_*`` inputs come from the clean data.

crmlab features do not carry BG/NBD's repeat-purchase summaries. The profile must still build from
features, and batch scoring must derive the summaries from the clean transactions the features were
built from (features_meta.json ``data_dir``), with the code training used, or refuse with a next step.
"""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pandas as pd
import pytest

from serving.batch import score_batch
from serving.profile_model import build_customer_profile
from training.clv.btyd import BTYDModel
from training.clv.inputs import BtydInputs, history_summary
from training.clv.pyfunc import ClvModel, btyd_spec
from training.clv.tiers import fit_tier_thresholds
from training.core.registry import CHAMPION, log_and_register
from training.settings import get_settings
from training.tracking import tracked_run

PROFILE = "models:/customer_profile@champion"


def _transactions(ids: pd.Series, cutoff: pd.Timestamp, seed: int = 5) -> pd.DataFrame:
    """Repeat buyers with different rates and spend levels over the year before the cutoff."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, customer in enumerate(ids):
        if i % 10 == 0:
            continue  # no purchase yet: BG/NBD predicts 0 for them
        rate, spend = rng.gamma(2.0, 3.0), rng.gamma(4.0, 15.0)
        days = rng.integers(1, 365, size=1 + rng.poisson(rate))
        for day in days:
            rows.append((customer, cutoff - pd.Timedelta(days=int(day)), float(rng.gamma(5.0, spend / 5.0))))
    return pd.DataFrame(rows, columns=["customer_id", "order_ts", "amount"])


@pytest.fixture()
def bgnbd_champion(registry, tmp_path):
    """clv@champion is BG/NBD; features written with a features_meta.json that names the clean data."""
    settings = get_settings()
    features = registry.features.drop(columns=["churned", "future_spend"])
    cutoff = pd.Timestamp(features["cutoff"].max())
    clean = tmp_path / "clean"
    clean.mkdir()
    _transactions(features["customer_id"], cutoff).to_parquet(clean / "transactions.parquet", index=False)
    features_dir = tmp_path / "features"
    features_dir.mkdir()
    features.to_parquet(features_dir / "features.parquet", index=False)
    (features_dir / "features_meta.json").write_text(json.dumps({"data_dir": str(clean)}))

    inputs = BtydInputs(clean)
    fitted = BTYDModel.fit(history_summary(inputs.tx, cutoff))
    model = ClvModel(btyd_spec(), kind="btyd", horizon_days=90, thresholds={}, btyd_params=fitted.params())
    example = inputs.add(features.head(50))
    spend, _ = model.predict_spend(example[list(btyd_spec().columns)])
    model.thresholds = fit_tier_thresholds(spend)
    with tracked_run(settings, "test-clv-bgnbd"):
        version = log_and_register(model, model_name="clv", family="clv", artifacts={},
                                   input_example=example[list(btyd_spec().columns)].head(5), tags={},
                                   metrics={}, settings=settings)
    mlflow.MlflowClient().set_registered_model_alias("clv", CHAMPION, version.version)
    return features, features_dir, clean, model, inputs


def test_profile_builds_from_features_and_batch_derives_btyd_inputs(bgnbd_champion, tmp_path):
    features, features_dir, _, clv, inputs = bgnbd_champion
    profile = build_customer_profile(get_settings(), sample=features)  # features lack btyd_*: still builds
    assert json.loads(profile.tags["profile.components"])["clv"] == "clv/2"

    result = score_batch(PROFILE, features_dir, tmp_path / "scores.parquet", settings=get_settings(),
                         progress=False, params={"reasons": False})
    assert result.rows_scored == len(features)
    scores = pd.read_parquet(result.out_path)
    expected = clv.predict(None, inputs.add(features))
    np.testing.assert_allclose(scores["predicted_spend"], expected["predicted_spend"])
    assert list(scores["clv_tier"]) == list(expected["clv_tier"])
    assert set(scores["clv_version"]) == {"2"}
    buyers = np.arange(len(features)) % 10 != 0
    assert (scores["predicted_spend"][buyers] > 0).all() and (scores["predicted_spend"][~buyers] == 0).all()


def test_batch_without_the_clean_data_refuses_with_a_next_step(bgnbd_champion, tmp_path):
    features, _, clean, clv, inputs = bgnbd_champion
    with pytest.raises(ValueError, match=r"btyd_frequency.*--data DIR"):
        score_batch("models:/clv@champion", features, tmp_path / "a.parquet", settings=get_settings(),
                    progress=False)
    assert not (tmp_path / "a.parquet").exists()
    result = score_batch("models:/clv@champion", features, tmp_path / "b.parquet", settings=get_settings(),
                         progress=False, clean_data=clean)
    scores = pd.read_parquet(result.out_path)
    np.testing.assert_allclose(scores["predicted_spend"], clv.predict(None, inputs.add(features))["predicted_spend"])
