"""LightGBM space and fit, honest splits, and the binary metrics (checked against hand computations)."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest

from training.core.evaluation import binary_metrics, expected_calibration_error, lift_table
from training.core.lgbm import as_lgbm_frame, default_trial_params, fit_lgbm, suggest_lgbm_params
from training.core.splits import make_splits


def _binary_frame(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                      "plan": rng.choice(["basic", "plus", "premium"], n)})
    logit = 1.5 * x["a"] - x["b"] + np.where(x["plan"] == "premium", -1.0, 0.5)
    return x, pd.Series((rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int))


@pytest.mark.parametrize("task", ["binary", "regression", "tweedie"])
def test_search_space_stays_in_expert_ranges(task):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(40):
        params = suggest_lgbm_params(study.ask(), task)
        assert 0.01 <= params["learning_rate"] <= 0.3
        assert 8 <= params["num_leaves"] <= 256 or params["num_leaves"] == 2 ** params["max_depth"]
        assert params["max_depth"] == -1 or 3 <= params["max_depth"] <= 12
        assert params["max_depth"] == -1 or params["num_leaves"] <= 2 ** params["max_depth"]
        assert 5 <= params["min_child_samples"] <= 200
        assert 0.5 <= params["feature_fraction"] <= 1 and 0.5 <= params["bagging_fraction"] <= 1
        assert 1e-8 <= params["lambda_l1"] <= 10 and 1e-8 <= params["lambda_l2"] <= 10
        weighted = "is_unbalance" in params or "scale_pos_weight" in params
        assert weighted is False or task == "binary"
        assert ("tweedie_variance_power" in params) == (task == "tweedie")


@pytest.mark.parametrize("task", ["binary", "regression", "tweedie"])
def test_default_trial_is_a_point_of_the_search_space(task):
    params = suggest_lgbm_params(optuna.trial.FixedTrial(default_trial_params(task)), task)
    assert params["num_leaves"] == 31 and params["max_depth"] == -1 and params["learning_rate"] == 0.05


def test_categorical_regularisation_is_searched_only_with_categorical_columns():
    from training.core.lgbm import CATEGORICAL_SPACE

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=2))
    for _ in range(30):
        params = suggest_lgbm_params(study.ask(), "binary", categorical=True)
        for name, (low, high, _) in CATEGORICAL_SPACE.items():
            assert low <= params[name] <= high
    assert not set(CATEGORICAL_SPACE) & set(suggest_lgbm_params(study.ask(), "binary"))
    defaults = suggest_lgbm_params(optuna.trial.FixedTrial(default_trial_params("binary", categorical=True)),
                                   "binary", categorical=True)
    assert {k: defaults[k] for k in CATEGORICAL_SPACE} == {"max_cat_threshold": 32, "min_data_per_group": 100,
                                                           "cat_smooth": 10.0}


def test_categorical_regularisation_reaches_lightgbm_and_tames_a_noise_column():
    """The names are LightGBM's own (the trained model lists them), and regularising the categorical
    splits of a 60-value column without signal scores a better cross-validated log loss than LightGBM's
    defaults: what the searched range is for."""
    from training.core.lgbm_search import cv_lgbm

    x, y = _binary_frame(4000, seed=3)
    x["store"] = np.random.default_rng(4).choice([f"s{i}" for i in range(60)], len(x))
    train, valid = (x[:3000], y[:3000]), (x[3000:], y[3000:])
    base = {"learning_rate": 0.05, "num_leaves": 31}
    strict = base | {"max_cat_threshold": 2, "min_data_per_group": 400, "cat_smooth": 100.0}
    kw = {"task": "binary", "folds": 5, "metric": "binary_logloss", "seed": 0, "categorical": ["plan", "store"]}
    _, loose_loss, _ = cv_lgbm(base, train, valid, **kw)
    _, strict_loss, _ = cv_lgbm(strict, train, valid, **kw)
    assert strict_loss < loose_loss - 0.002
    booster = fit_lgbm(strict, train, valid, task="binary", categorical=["plan", "store"], max_rounds=20)
    text = booster.model_to_string()
    assert "[max_cat_threshold: 2]" in text and "[min_data_per_group: 400]" in text and "[cat_smooth: 100]" in text


def test_fit_lgbm_early_stops_learns_and_scores_unseen_categories():
    x, y = _binary_frame(3000)
    booster = fit_lgbm({"learning_rate": 0.1, "num_leaves": 15}, (x[:2000], y[:2000]), (x[2000:], y[2000:]),
                       task="binary", categorical=["plan"], max_rounds=1000, early_stopping=20)
    assert 1 <= booster.best_iteration < 1000
    new = x[2000:].copy()
    p = booster.predict(as_lgbm_frame(new, ["plan"]))
    assert np.corrcoef(p, y[2000:])[0, 1] > 0.3
    new["plan"] = "never-seen"
    p_unseen = booster.predict(as_lgbm_frame(new, ["plan"]))
    assert np.isfinite(p_unseen).all() and p_unseen.min() >= 0 and p_unseen.max() <= 1


def test_fit_lgbm_reports_to_the_pruner():
    x, y = _binary_frame(1500)
    study = optuna.create_study()
    trial = study.ask()
    fit_lgbm({"learning_rate": 0.2}, (x[:1000], y[:1000]), (x[1000:], y[1000:]), task="binary",
             trial=trial, categorical=["plan"], max_rounds=30, early_stopping=30)
    assert sorted(study.trials[0].intermediate_values) == [9, 19, 29]  # every PRUNING_REPORT_INTERVAL rounds


def _panel(customers: int, cutoffs: list[str], seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [{"customer_id": f"C{c:05d}", "cutoff": pd.Timestamp(t), "x": rng.normal(),
             "churned": bool(rng.random() < 0.3)} for t in cutoffs for c in range(customers)]
    return pd.DataFrame(rows)


def test_time_split_trains_on_the_past_and_tests_disjoint_customers_at_the_latest_cutoff():
    frame = _panel(400, ["2024-01-01", "2024-04-01", "2024-06-01"])
    splits = make_splits(frame, label="churned", seed=0, horizon_days=90)
    latest = pd.Timestamp("2024-06-01")
    assert splits.kind == "time-based"
    assert (splits.train["cutoff"] < latest).all()
    # 2024-04-01 + 90 days reaches past 2024-06-01: those labels would overlap the test period
    assert set(splits.train["cutoff"]) == {pd.Timestamp("2024-01-01")}
    assert "400 training rows dropped" in splits.describe()
    assert (splits.valid["cutoff"] == latest).all() and (splits.test["cutoff"] == latest).all()
    assert not set(splits.valid["customer_id"]) & set(splits.test["customer_id"])
    assert len(splits.valid) + len(splits.test) == 400


def test_single_cutoff_split_is_stratified_and_disjoint():
    frame = _panel(1000, ["2024-06-01"])
    splits = make_splits(frame, label="churned", seed=1)
    assert splits.kind.startswith("random")
    parts = [splits.train, splits.valid, splits.test]
    assert sum(map(len, parts)) == 1000
    ids = [set(p["customer_id"]) for p in parts]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    rates = [p["churned"].mean() for p in parts]
    assert max(rates) - min(rates) < 0.02


def test_time_split_without_usable_training_rows_says_what_to_do():
    frame = _panel(50, ["2024-05-01", "2024-06-01"])
    with pytest.raises(ValueError, match="at least one horizon apart"):
        make_splits(frame, label="churned", seed=0, horizon_days=90)


def test_ece_uses_fixed_equal_width_bins():
    # bin [0.1,0.2): p=0.15 twice, observed 1 of 2 -> |0.5-0.15| ; bin [0.9,1]: p=0.95 twice, both 1
    y = np.array([1, 0, 1, 1])
    p = np.array([0.15, 0.15, 0.95, 0.95])
    assert expected_calibration_error(y, p) == pytest.approx(0.5 * 0.35 + 0.5 * 0.05)
    assert expected_calibration_error(np.array([0, 1]), np.array([0.0, 1.0])) == 0.0


def test_metrics_and_lift_on_a_known_ranking():
    y = np.array([1] * 10 + [0] * 90)
    p = np.linspace(1, 0, 100)  # all positives ranked first
    metrics = binary_metrics(y, p)
    assert metrics["roc_auc"] == 1.0 and metrics["pr_auc"] == pytest.approx(1.0)
    assert metrics["base_rate"] == pytest.approx(0.1)
    table = lift_table(y, p)
    assert table.loc[0, "lift"] == pytest.approx(10.0) and table.loc[0, "cumulative_gain"] == 1.0
    assert table["rows"].sum() == 100
    with pytest.raises(ValueError, match="both classes"):
        binary_metrics(np.zeros(5), np.full(5, 0.1))
