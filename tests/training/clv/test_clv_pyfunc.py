"""ClvModel answers the documented columns for both winners and refuses bad payloads; the CLV gate exists."""

from __future__ import annotations

import cloudpickle
import lightgbm
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException

import training.clv  # noqa: F401  (registers the gate)
from training.clv.btyd import BGNBD, BTYDModel, GammaGamma
from training.clv.gate import per_row_loss
from training.clv.pyfunc import OUTPUT_COLUMNS, ClvModel, btyd_spec
from training.clv.tiers import TIERS
from training.core.families import gate_for
from training.core.pyfunc_base import InputSpec

PARAMS = BTYDModel(BGNBD(0.243, 4.414, 0.793, 2.426), GammaGamma(6.25, 3.74, 15.44)).params()
THRESHOLDS = {"platinum": 60.0, "gold": 25.0, "silver": 10.0}


def _btyd_rows() -> pd.DataFrame:
    return pd.DataFrame({"customer_id": ["a", "b", "c", "d"],
                         "btyd_frequency": [5.0, 0.0, 1.0, np.nan], "btyd_recency": [30.0, 0.0, 2.0, np.nan],
                         "btyd_T": [38.0, 20.0, 38.0, np.nan],
                         "btyd_monetary_value": [40.0, 0.0, 15.0, np.nan]})


def _btyd_model() -> ClvModel:
    return ClvModel(btyd_spec(), kind="btyd", horizon_days=273, thresholds=THRESHOLDS, btyd_params=PARAMS)


def test_btyd_model_answers_documented_columns():
    rows = _btyd_rows()
    out = _btyd_model().predict(None, rows)
    assert list(out.columns) == OUTPUT_COLUMNS and len(out) == len(rows)
    assert (out["predicted_spend"].iloc[:3] > 0).all()
    assert out["p_alive"].iloc[:3].between(0, 1).all() and out.loc[1, "p_alive"] == 1.0
    assert set(out["clv_tier"].iloc[:3]) <= set(TIERS)
    # No purchase yet (all btyd_* null): spend 0, p_alive unknown, lowest tier.
    assert out.loc[3, "predicted_spend"] == 0 and np.isnan(out.loc[3, "p_alive"])
    assert out.loc[3, "clv_tier"] == "bronze"
    # Matches the model it wraps.
    model = BTYDModel.from_params(PARAMS)
    summary = rows.iloc[:3, 1:].set_axis(["frequency", "recency", "T", "monetary_value"], axis=1)
    np.testing.assert_allclose(out["predicted_spend"].iloc[:3], model.predicted_spend(summary, 39.0))


@pytest.mark.parametrize(("change", "words"), [
    (lambda f: f.drop(columns=["btyd_T"]), "btyd_T"),
    (lambda f: f.assign(btyd_frequency=[5.0, 0.0, 1.5, np.nan]), "'btyd_frequency' is out of range"),
    (lambda f: f.assign(btyd_recency=[40.0, 0.0, 2.0, np.nan]), "'btyd_recency' is out of range"),
    (lambda f: f.assign(btyd_monetary_value=[40.0, 0.0, np.nan, np.nan]), "partly null"),
    (lambda f: f.assign(btyd_T=["x", 1, 2, 3]), "'btyd_T' expects numbers"),
    (lambda f: f.iloc[:0], "empty payload"),
])
def test_btyd_model_refuses_bad_payloads_without_echoing_values(change, words):
    with pytest.raises(MlflowException) as err:
        _btyd_model().predict(None, change(_btyd_rows()))
    assert words in err.value.message
    assert "40.0" not in err.value.message  # no customer value travels back


def _lgbm_model(scale: float = 1.0) -> tuple[ClvModel, pd.DataFrame]:
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"recency": rng.random(300), "spend": rng.gamma(2, 10, 300),
                      "region": rng.choice(["north", "south"], 300)})
    y = np.where(rng.random(300) < 0.5, 0.0, x["spend"] * 2)
    frame = x.assign(region=x["region"].astype("category"))
    booster = lightgbm.train({"objective": "tweedie", "verbosity": -1, "num_threads": 1},
                             lightgbm.Dataset(frame, label=y), num_boost_round=20)
    spec = InputSpec(columns=("recency", "spend", "region"), categorical=frozenset({"region"}),
                     required=frozenset({"spend"}))
    model = ClvModel(spec, kind="lightgbm", horizon_days=90, thresholds=THRESHOLDS,
                     booster_text=booster.model_to_string(), scale=scale, categorical=["region"])
    return model, x


def test_lightgbm_model_answers_documented_columns_and_survives_pickling():
    model, x = _lgbm_model()
    out = model.predict(None, x.head(20))
    assert list(out.columns) == OUTPUT_COLUMNS
    assert out["p_alive"].isna().all() and (out["predicted_spend"] >= 0).all()
    restored = cloudpickle.loads(cloudpickle.dumps(model))
    pd.testing.assert_frame_equal(restored.predict(None, x.head(20)), out)
    doubled = _lgbm_model(scale=2.0)[0].predict(None, x.head(20))
    np.testing.assert_allclose(doubled["predicted_spend"], 2 * out["predicted_spend"])
    # Optional feature absent: scored as missing; required one null: refused.
    assert len(model.predict(None, x.head(5).drop(columns=["recency"]))) == 5
    with pytest.raises(MlflowException, match="'spend' is required"):
        model.predict(None, x.head(5).assign(spend=np.nan))


def test_clv_gate_is_registered_with_a_scale_free_absolute_error():
    gate = gate_for("clv")
    holdout = pd.DataFrame({"future_spend": [0.0, 10.0, 30.0]})
    output = pd.DataFrame({"predicted_spend": [5.0, 10.0, 20.0]})
    mean_actual = 40 / 3
    np.testing.assert_allclose(gate.per_row_loss(output, holdout), [5 / mean_actual, 0, 10 / mean_actual])
    # Scaling the currency does not change the loss.
    np.testing.assert_allclose(per_row_loss(output * 100, holdout * 100), per_row_loss(output, holdout))
    assert gate.checks(output, holdout) == {"finite_non_negative": True, "total_spend_ratio_within_2x": True}
    assert not gate.checks(output * 3, holdout)["total_spend_ratio_within_2x"]
    assert not gate.checks(output - 6, holdout)["finite_non_negative"]
    with pytest.raises(ValueError, match="no 'future_spend' column"):
        gate.per_row_loss(output, holdout.rename(columns={"future_spend": "y"}))


def test_clv_gate_refuses_a_model_ranking_below_the_better_baseline():
    gate = gate_for("clv")
    actual = np.array([0.0, 0.0, 5.0, 10.0, 40.0, 80.0])
    holdout = pd.DataFrame({"future_spend": actual, "baseline_past_spend": [1.0, 0.0, 2.0, 3.0, 5.0, 4.0],
                            "baseline_btyd": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]})  # btyd: the perfect order
    good = pd.DataFrame({"predicted_spend": actual * 0.9 + 1})                  # perfect order too: ties it
    worse = pd.DataFrame({"predicted_spend": [1.0, 0.0, 2.0, 3.0, 5.0, 4.0]})   # past spend's order
    assert gate.checks(good, holdout)["gini_not_below_best_baseline"]
    assert not gate.checks(worse, holdout)["gini_not_below_best_baseline"]  # beats nothing but past spend
    # A holdout given by hand, without baselines: no such check.
    assert "gini_not_below_best_baseline" not in gate.checks(good, holdout[["future_spend"]])


def test_the_served_model_does_not_import_optuna():
    """Loading a CLV model in the model server needs LightGBM, not the tuning stack."""
    import subprocess
    import sys

    code = "import sys, training.clv.pyfunc; print('optuna' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
