"""BG/NBD + Gamma-Gamma: the published CDNOW estimates, the summary conventions, and parameter recovery."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training.clv.btyd import BGNBD, BTYDModel, GammaGamma, rfm_summary
from training.clv.simulate import simulate_transactions

CDNOW = Path(__file__).resolve().parents[2] / "data" / "cdnow_sample" / "CDNOW_sample.txt"
# Fader, Hardie & Lee (2005); see tests/data/cdnow_sample/README.md.
PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_GG = {"p": 6.25, "q": 3.74, "v": 15.44}
PUBLISHED_HOLDOUT_EXPECTED = 1653.0
OBSERVED_HOLDOUT_REPEAT_DAYS = 1882


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    names = ["master_id", "sample_id", "date", "cds", "amount"]
    return pd.read_csv(CDNOW, sep=r"\s+", header=None, names=names,
                       dtype={"sample_id": str, "date": str})


@pytest.fixture(scope="module")
def cdnow_fit(cdnow):
    calibration = rfm_summary(cdnow, "sample_id", "date", "amount", "1997-09-30")
    return calibration, BTYDModel.fit(calibration)


def test_cdnow_summary_follows_the_published_conventions(cdnow_fit):
    calibration, _ = cdnow_fit
    assert len(calibration) == 2357
    assert int((calibration["frequency"] > 0).sum()) == 946
    # Customer 0001 bought on 1997-01-01, 01-18 and 08-02 in calibration (one more in December).
    row = calibration.loc["0001"]
    assert row["frequency"] == 2
    assert row["recency"] == pytest.approx((pd.Timestamp("1997-08-02") - pd.Timestamp("1997-01-01")).days / 7)
    assert row["T"] == pytest.approx(272 / 7)
    assert row["monetary_value"] == pytest.approx((29.73 + 14.96) / 2)  # the first purchase is excluded


def test_cdnow_fit_reproduces_published_parameters_within_2_percent(cdnow_fit):
    _, model = cdnow_fit
    for name, published in PUBLISHED_BGNBD.items():
        assert getattr(model.bgnbd, name) == pytest.approx(published, rel=0.02), name
    for name, published in PUBLISHED_GG.items():
        assert getattr(model.gamma_gamma, name) == pytest.approx(published, rel=0.02), name


def test_cdnow_expected_holdout_purchases_match_published_sum(cdnow, cdnow_fit):
    calibration, model = cdnow_fit
    expected = model.bgnbd.expected_purchases(calibration, 39.0)
    assert expected.sum() == pytest.approx(PUBLISHED_HOLDOUT_EXPECTED, rel=0.02)
    whole = rfm_summary(cdnow, "sample_id", "date", "amount", "1998-06-30").loc[calibration.index]
    assert int((whole["frequency"] - calibration["frequency"]).sum()) == OBSERVED_HOLDOUT_REPEAT_DAYS


def test_same_day_purchases_are_one_transaction_with_summed_amount():
    tx = pd.DataFrame({"id": ["a", "a", "a", "b"],
                       "day": ["2021-01-01", "2021-01-08", "2021-01-08", "2021-01-05"],
                       "spend": [10.0, 5.0, 7.0, 3.0]})
    summary = rfm_summary(tx, "id", "day", "spend", "2021-01-15", freq="D")
    assert summary.loc["a"].tolist() == [1.0, 7.0, 14.0, 12.0]
    # A single purchase is a valid history: frequency 0, recency 0, monetary 0.
    assert summary.loc["b"].tolist() == [0.0, 0.0, 10.0, 0.0]
    # Purchases after the calibration end are not part of the summary.
    assert rfm_summary(tx, "id", "day", "spend", "2021-01-07", freq="D").loc["a", "frequency"] == 0


def test_p_alive_and_expected_purchases_behave(cdnow_fit):
    calibration, model = cdnow_fit
    alive = model.bgnbd.p_alive(calibration)
    assert np.all((alive > 0) & (alive <= 1))
    assert np.all(alive[calibration["frequency"].to_numpy() == 0] == 1.0)  # no repeat: never died
    # Same frequency, older last purchase -> less likely alive.
    probe = pd.DataFrame({"frequency": [5.0, 5.0], "recency": [35.0, 10.0], "T": [38.0, 38.0]})
    recent, stale = model.bgnbd.p_alive(probe)
    assert recent > stale
    short, long = (model.bgnbd.expected_purchases(calibration, t).sum() for t in (10.0, 39.0))
    assert 0 < short < long


def test_conditional_expectation_of_a_new_customer_equals_the_unconditional_one(cdnow_fit):
    _, model = cdnow_fit
    new = pd.DataFrame({"frequency": [0.0], "recency": [0.0], "T": [0.0]})
    assert model.bgnbd.expected_purchases(new, 20.0)[0] == pytest.approx(
        float(model.bgnbd.expected_purchases_new(20.0)), rel=1e-9)


def test_heavy_buyers_do_not_overflow(cdnow_fit):
    _, model = cdnow_fit
    heavy = pd.DataFrame({"frequency": [2000.0, 2000.0], "recency": [199.0, 50.0], "T": [200.0, 200.0],
                          "monetary_value": [20.0, 20.0]})
    spend = model.predicted_spend(heavy, 52.0)
    params = np.array([model.bgnbd.r, model.bgnbd.alpha, model.bgnbd.a, model.bgnbd.b])
    ll = BGNBD.log_likelihood(params, *(heavy[c].to_numpy() for c in ("frequency", "recency", "T")))
    assert np.isfinite(spend).all() and np.isfinite(ll).all()
    assert spend[0] > spend[1] >= 0  # the one still buying is worth more (the other is surely gone)


def test_gamma_gamma_shrinks_towards_the_population_mean(cdnow_fit):
    _, model = cdnow_fit
    gg = model.gamma_gamma
    probe = pd.DataFrame({"frequency": [1.0, 30.0, 0.0], "monetary_value": [100.0, 100.0, 0.0]})
    few, many, none = gg.conditional_expected_spend(probe)
    assert gg.population_mean_spend() < few < many < 100.0
    assert none == pytest.approx(gg.population_mean_spend())


def test_simulated_parameters_are_recovered():
    truth_bg, truth_gg = BGNBD(0.8, 6.0, 0.6, 3.0), GammaGamma(6.0, 4.0, 15.0)
    tx = simulate_transactions(2500, bgnbd=truth_bg, gamma_gamma=truth_gg, weeks=78, seed=3)
    calibration = rfm_summary(tx, "customer_id", "date", "amount", "2020-12-30")
    model = BTYDModel.fit(calibration)
    # Identified combinations: mean purchase rate r/alpha, mean dropout a/(a+b), mean spend p v/(q-1).
    assert model.bgnbd.r / model.bgnbd.alpha == pytest.approx(truth_bg.r / truth_bg.alpha, rel=0.15)
    fitted_drop = model.bgnbd.a / (model.bgnbd.a + model.bgnbd.b)
    assert fitted_drop == pytest.approx(truth_bg.a / (truth_bg.a + truth_bg.b), rel=0.25)
    fitted_spend = model.gamma_gamma.population_mean_spend()
    assert fitted_spend == pytest.approx(truth_gg.population_mean_spend(), rel=0.1)
    # And the holdout forecast (the next 26 weeks) lands near what the simulation did.
    whole = rfm_summary(tx, "customer_id", "date", "amount", "2021-06-30").loc[calibration.index]
    observed = (whole["frequency"] - calibration["frequency"]).sum()
    weeks = (pd.Timestamp("2021-06-30") - pd.Timestamp("2020-12-30")).days / 7
    assert model.bgnbd.expected_purchases(calibration, weeks).sum() == pytest.approx(observed, rel=0.1)
