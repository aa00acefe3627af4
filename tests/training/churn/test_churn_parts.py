"""Churn building blocks without MLflow: calibration choice, explanations, bands, inputs, selection rule."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from training.churn.calibration import choose_calibrator, fit_calibrator
from training.churn.explain import format_value, top_reasons
from training.churn.inputs import ChurnInputError, from_features_dir
from training.churn.model import risk_band
from training.churn.scorers import fit_baseline
from training.churn.train import Candidate, _blend_passed_over, _choose, required_features
from training.core import lgbm_contrib
from training.core.evaluation import expected_calibration_error, per_row_log_loss
from training.world.churn_features import synthetic_features, write_features_dir


def _outcomes(p_true: np.ndarray, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random(len(p_true)) < p_true).astype(int)


def test_calibration_picks_sigmoid_for_a_smooth_distortion_and_fixes_it():
    rng = np.random.default_rng(0)
    logit = rng.normal(-0.5, 1.5, 6000)
    p_true = 1 / (1 + np.exp(-logit))
    y = _outcomes(p_true, 1)
    overconfident = 1 / (1 + np.exp(-2.5 * logit))  # a temperature problem: exactly Platt's shape
    calibrator, losses = choose_calibrator(overconfident[:3000], y[:3000], seed=0)
    assert calibrator.method == "sigmoid" and losses["sigmoid"] < min(losses["isotonic"], losses["none"])
    fixed = calibrator.apply(overconfident[3000:])
    before = expected_calibration_error(y[3000:], overconfident[3000:])
    assert expected_calibration_error(y[3000:], fixed) < before / 3


def test_calibration_picks_isotonic_for_a_non_monotone_in_logit_distortion():
    rng = np.random.default_rng(2)
    p_true = rng.uniform(0.02, 0.98, 8000)
    y = _outcomes(p_true, 3)
    stepped = np.where(p_true < 0.5, p_true / 3, 0.5 + (p_true - 0.5) ** 2)  # kinked: no single sigmoid fits
    calibrator, losses = choose_calibrator(stepped, y, seed=0)
    assert calibrator.method == "isotonic" and losses["isotonic"] < min(losses["sigmoid"], losses["none"])
    out = calibrator.apply(np.array([0.0, 1.0]))
    assert out.min() > 0 and out.max() < 1  # never exactly 0 or 1 (infinite log loss)


def test_already_calibrated_scores_stay_nearly_unchanged():
    p_true = np.random.default_rng(4).uniform(0.05, 0.95, 600)
    y = _outcomes(p_true, 5)
    calibrator, losses = choose_calibrator(p_true, y, seed=0)
    assert calibrator.method != "isotonic"  # steps on 600 rows lose to a smooth (or no) map here
    assert losses[calibrator.method] <= losses["none"] < losses[calibrator.method] + 0.005
    assert np.abs(calibrator.apply(p_true) - p_true).max() < 0.06


def _drifting_period(rng: np.random.Generator, n: int, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Raw scores with a fixed (overconfident) shape; the true churn rate's level moves with the period."""
    z = rng.normal(0, 1.5, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(z - 1.2 + level)))).astype(int)
    return 1 / (1 + np.exp(-(1.8 * z - 1.0))), y


def test_calibration_takes_its_shape_from_every_period_and_its_level_from_the_latest():
    """Few latest rows (the period scored next) and many earlier ones at another churn level. With
    ``level_on`` the Platt slope comes from every row (closer to the true 1/1.8 than one fitted on the
    latest rows alone) and the level from the latest rows (the mean probability on fresh rows of the latest
    period matches its churn rate, where a map pooled over every period misses it); log loss on those
    fresh rows is no worse than either."""
    slope_err, level_err, loss = {}, {}, {}
    for seed in range(5):
        rng = np.random.default_rng(seed)
        p_old, y_old = _drifting_period(rng, 3000, 0.0)
        p_new, y_new = _drifting_period(rng, 200, 1.0)
        p_test, y_test = _drifting_period(rng, 20_000, 1.0)
        p_all, y_all = np.r_[p_old, p_new], np.r_[y_old, y_new]
        mask = np.r_[np.zeros(3000, bool), np.ones(200, bool)]
        maps = {"split": choose_calibrator(p_all, y_all, seed=0, level_on=mask)[0],
                "latest only": choose_calibrator(p_new, y_new, seed=0)[0],
                "pooled": choose_calibrator(p_all, y_all, seed=0)[0]}
        slopes = {"split": fit_calibrator("sigmoid", p_all, y_all, mask),
                  "latest only": fit_calibrator("sigmoid", p_new, y_new)}
        for name, cal in maps.items():
            p = cal.apply(p_test)
            loss.setdefault(name, []).append(float(per_row_log_loss(y_test, p).mean()))
            level_err.setdefault(name, []).append(abs(p.mean() - y_test.mean()))
        for name, cal in slopes.items():
            slope_err.setdefault(name, []).append(abs(cal.model.coef_[0, 0] - 1 / 1.8))
    slope_err, level_err, loss = ({k: float(np.mean(v)) for k, v in d.items()} for d in (slope_err, level_err, loss))
    assert slope_err["split"] < slope_err["latest only"] / 2  # the shape: fitted on 3,200 rows, not 200
    assert level_err["split"] < level_err["pooled"] / 2  # the level: the latest period's, not every period's
    assert loss["split"] <= min(loss["latest only"], loss["pooled"]) + 0.002


def test_risk_bands_follow_the_documented_thresholds():
    bands = risk_band(np.array([0.0, 0.199, 0.2, 0.499, 0.5, 1.0]))
    assert list(bands) == ["low", "low", "medium", "medium", "high", "high"]


def test_top_reasons_are_the_largest_effects_with_the_customers_values():
    contrib = pd.DataFrame({"recency_days": [1.2, -0.1], "plan": [-0.5, 0.0], "frequency": [0.1, -0.9],
                            "tenure_days": [0.05, 0.3]})
    values = pd.DataFrame({"recency_days": [212.0, 3.0], "plan": ["basic", None], "frequency": [1.0, 12.5],
                           "tenure_days": [400.0, np.nan]})
    texts = top_reasons(contrib, values, labels={"recency_days": "days since the last order"})
    assert texts[0] == ("days since the last order: 212, raises risk; plan: basic, lowers risk; "
                        "frequency: 1, raises risk")
    assert texts[1] == ("frequency: 12.50, lowers risk; tenure days: missing, raises risk; "
                        "days since the last order: 3, lowers risk")
    assert format_value(np.float64(3.0)) == "3" and format_value(None) == "missing"


def test_linear_contributions_add_up_to_the_models_log_odds():
    frame = synthetic_features(3000, seed=4, kind="linear").dropna(subset=["churned"])
    features = ["recency_days", "frequency", "sessions_90d", "plan", "region"]
    x, y = frame[features], frame["churned"].astype(int)
    scorer, losses = fit_baseline((x[:2000], y[:2000]), (x[2000:], y[2000:]), features=features,
                                  categorical=["plan", "region"], seed=0)
    assert set(losses) == {"C_0.01", "C_0.1", "C_1", "C_10"}
    contrib = scorer.contributions(x[2000:])
    p = scorer.raw_proba(x[2000:])
    logit = np.log(p / (1 - p))
    offset = logit - contrib.sum(axis=1).to_numpy()
    assert np.allclose(offset, offset[0])  # log-odds = constant + sum of contributions
    assert contrib["recency_days"].corr(x[2000:]["recency_days"]) > 0.99


def test_baseline_c_by_kfold_uses_every_row_and_regularises_a_wide_noisy_table():
    """K-fold mode (small tables) scores each C out of fold on all the rows it is given; on 300 rows with
    40 noise columns beside a real signal it prefers strong regularisation, and the chosen C is the one
    with the lowest cross-validated loss."""
    rng = np.random.default_rng(3)
    x = pd.DataFrame(rng.normal(size=(300, 41)), columns=[f"f{i}" for i in range(41)])
    y = pd.Series((rng.random(300) < 1 / (1 + np.exp(-1.2 * x["f0"]))).astype(int))
    features = list(x.columns)
    scorer, losses = fit_baseline((x, y), None, features=features, categorical=[], seed=0, folds=5)
    chosen = scorer.pipeline.named_steps["model"].C
    assert losses[f"C_{chosen:g}"] == min(losses.values()) and chosen <= 0.1
    assert losses["C_10"] > losses[f"C_{chosen:g}"] + 0.02


def test_never_worse_than_baseline_rule():
    def cand(name: str, loss: float) -> Candidate:
        return Candidate(name, None, None, {"isotonic": loss + 0.01, "sigmoid": loss}, 0.7)

    def chosen(lgbm_loss: float, baseline_loss: float, blend_loss: float = 1.0) -> str:
        trio = {"lightgbm": cand("lightgbm", lgbm_loss), "logistic": cand("logistic", baseline_loss),
                "blend": cand("blend", blend_loss)}
        return _choose(trio).name

    assert chosen(0.50, 0.51) == "lightgbm"
    assert chosen(0.52, 0.51) == "logistic"  # never ship a model worse than its baseline
    assert chosen(0.51, 0.51) == "lightgbm"  # a tie is not worse
    assert chosen(0.50, 0.51, 0.4985) == "blend"   # beats both by more than BLEND_MIN_GAIN
    assert chosen(0.50, 0.51, 0.4995) == "lightgbm"  # a blend gaining less is not worth its complexity
    # the selection score is the every-row loss when one is given, not the calibration rows' own
    assert Candidate("x", None, None, {"none": 0.3}, 0.7, selection_rows=np.array([0.2, 0.6])).valid_log_loss == 0.4


def test_a_blend_wins_only_beyond_chance():
    """The same mean gain of 0.002 chooses the blend when the per-row differences are steady, and the
    simpler model when they are noisy enough to make 0.002 luck."""
    rng = np.random.default_rng(0)
    base = rng.uniform(0.1, 0.9, 1000)
    wiggle = rng.normal(0, 1, 1000)
    wiggle -= wiggle.mean()  # the mean gain is exactly 0.002 in both
    steady, noisy = base - 0.002 + 0.01 * wiggle, base - 0.002 + 0.2 * wiggle

    def cand(name: str, rows: np.ndarray) -> Candidate:
        return Candidate(name, None, None, {"none": float(rows.mean())}, 0.7, selection_rows=rows)

    def chosen(blend_rows: np.ndarray) -> str:
        trio = {"lightgbm": cand("lightgbm", base), "logistic": cand("logistic", base + 0.05),
                "blend": cand("blend", blend_rows)}
        return _choose(trio).name

    assert chosen(steady) == "blend"
    assert chosen(noisy) == "lightgbm"
    note = _blend_passed_over(cand("blend", noisy), cand("lightgbm", base))
    assert "gain of 0.0020" in note and "beyond chance" in note
    assert _blend_passed_over(cand("blend", base + 0.01), cand("lightgbm", base)) == ""


def test_features_dir_reading_reports_unlabelled_rows_and_the_input_contract(tmp_path):
    frame = synthetic_features(1000, seed=0)
    out = write_features_dir(frame, tmp_path / "f")
    meta = json.loads((out / "features_meta.json").read_text())
    meta["categorical_features"] = ["region", "acquisition_channel", "age_band", "plan"]
    (out / "features_meta.json").write_text(json.dumps(meta))
    data = from_features_dir(out)
    unlabelled = int(frame["churned"].isna().sum())
    assert len(data.frame) == 1000 - unlabelled and data.frame["churned"].isin([0, 1]).all()
    assert any(f"{unlabelled} row(s) with a null 'churned'" in n for n in data.notes)
    assert data.categorical == ["region", "acquisition_channel", "age_band", "plan"]
    assert "future_spend" not in data.features and "customer_id" not in data.features
    required = required_features(data)
    assert "frequency" in required and "sessions_90d" not in required and "plan" not in required
    assert data.labels["recency_days"] == "days since the last order"


def test_features_dir_errors_say_what_to_do(tmp_path):
    with pytest.raises(ChurnInputError, match="run `crmlab features` first"):
        from_features_dir(tmp_path)
    one_class = synthetic_features(200, seed=0).assign(churned=pd.array([True] * 200, dtype="boolean"))
    with pytest.raises(ChurnInputError, match="one class only"):
        from_features_dir(write_features_dir(one_class, tmp_path / "one"))
    no_label = synthetic_features(200, seed=0).drop(columns=["churned"])
    with pytest.raises(ChurnInputError, match="missing column"):
        from_features_dir(write_features_dir(no_label, tmp_path / "nolabel"))


def test_lightgbm_tuning_is_reproducible_by_seed(tmp_path):
    from training.churn.train import prepare, tune_lightgbm
    from training.core.family import RunContext
    from training.settings import get_settings
    from training.tracking import tracked_run

    data = from_features_dir(write_features_dir(synthetic_features(2000, seed=6), tmp_path / "f"))
    parts = prepare(data, seed=0)
    settings = get_settings()

    def tune(name: str, seed: int) -> list[tuple[dict, float]]:
        run = RunContext(family="churn", model_name="churn", seed=seed, trials=2, timeout=None, storage=None,
                         study_name=name, settings=settings, plots_dir=tmp_path, files_dir=tmp_path)
        _, tuned = tune_lightgbm(data, parts, run)
        return [(t.params, t.value) for t in tuned.study.trials]

    with tracked_run(settings, "repro"):
        first, second, other = tune("a", 3), tune("b", 3), tune("c", 4)
    assert first == second
    assert first[1:] != other[1:]  # trial 0 is the shared warm start; the rest follow the seed


def test_blend_is_a_log_odds_average_its_reasons_add_up_and_its_state_round_trips(tmp_path):
    import optuna

    from training.churn.scorers import BlendScorer, blend_proba
    from training.churn.train import prepare
    from training.core import model_state
    from training.core.lgbm import default_trial_params, suggest_lgbm_params
    from training.core.lgbm_search import fit_rounds

    data = from_features_dir(write_features_dir(synthetic_features(1500, seed=0), tmp_path / "f"))
    parts = prepare(data, seed=0)
    train, x = parts.train, parts.test[data.features]
    linear, _ = fit_baseline((train[data.features], train["churned"]),
                             (parts.valid[data.features], parts.valid["churned"]),
                             features=data.features, categorical=data.categorical, seed=0)
    params = suggest_lgbm_params(optuna.trial.FixedTrial(default_trial_params("binary")), "binary")
    booster = fit_rounds(params, train[data.features], train["churned"], task="binary",
                         categorical=data.categorical, rounds=50)
    blend = BlendScorer(booster, linear, 0.75, data.features, data.categorical)
    trees = blend._trees()

    def logit(p):
        return np.log(p / (1 - p))

    p = blend.raw_proba(x)
    np.testing.assert_allclose(logit(p), 0.75 * logit(trees.raw_proba(x)) + 0.25 * logit(linear.raw_proba(x)),
                               atol=1e-6)
    assert np.allclose(blend_proba(p, p, 0.3), p)  # a blend of one model with itself is that model
    # contributions are the same weighted sum of both parts' (SHAP is linear in log-odds)
    expected = 0.75 * trees.contributions(x) + 0.25 * linear.contributions(x)
    np.testing.assert_allclose(blend.contributions(x).to_numpy(), expected.to_numpy())
    restored = model_state.load(model_state.save(blend, tmp_path / "state"))
    np.testing.assert_allclose(restored.raw_proba(x), p)


def test_cross_fit_is_one_booster_averaging_the_fold_models_in_log_odds_its_reasons_add_up_and_it_is_exported(
        tmp_path):
    """A cross-fitted candidate: fold models fitted on different rows, served as one booster whose log-odds is
    their mean (``scorers.ensemble_of``); blended with the logistic model it is the same log-odds average the
    out-of-fold predictions were blended with. A value of one row only is missing from some folds' rows: the
    fold models still share the category codes, so they merge."""
    import optuna

    from training.churn.calibration import Calibrator
    from training.churn.model import ChurnModel
    from training.churn.scorers import BlendScorer, ensemble_of
    from training.churn.train import _lgbm_refit, prepare
    from training.core import model_state
    from training.core.crossfit import cross_fit
    from training.core.lgbm import default_trial_params, suggest_lgbm_params
    from training.core.native_boosters import booster_texts
    from training.core.pyfunc_base import InputSpec

    data = from_features_dir(write_features_dir(synthetic_features(1500, seed=0), tmp_path / "f"))
    parts = prepare(data, seed=0)
    rows, x = parts.fit_rows.copy(), parts.test[data.features]
    rows.loc[rows.index[0], "plan"] = "legacy"  # in the training rows of 3 folds of 4, not of the 4th
    params = suggest_lgbm_params(optuna.trial.FixedTrial(default_trial_params("binary")), "binary")
    fit_trees = _lgbm_refit(data, params, best_iteration=40, tuned_rows=len(rows), fit_rows=rows)
    trees = cross_fit(lambda idx: fit_trees(rows.iloc[idx]), lambda m, idx: m.raw_proba(rows.iloc[idx][data.features]),
                      rows["churned"].to_numpy(), 4, seed=0)
    assert len(trees.members) == 4 and np.isfinite(trees.oof).all()
    merged = ensemble_of(trees.members)
    assert merged.booster.num_trees() == sum(m.booster.num_trees() for m in trees.members) >= 4 * 29

    def logit(p):
        return np.log(p / (1 - p))

    member_z = np.column_stack([logit(m.raw_proba(x)) for m in trees.members])
    assert not np.allclose(member_z[:, 0], member_z[:, 1])  # the members are different models
    np.testing.assert_allclose(logit(merged.raw_proba(x)), member_z.mean(axis=1), atol=1e-6)
    # reasons: the mean of the members' contributions; with the expected value they add up to the log-odds
    member_contrib = sum(m.contributions(x) for m in trees.members) / 4
    np.testing.assert_allclose(merged.contributions(x).to_numpy(), member_contrib.to_numpy(), atol=1e-9)
    base = np.mean([lgbm_contrib.path_table(m.booster).expected_value for m in trees.members])
    np.testing.assert_allclose(merged.contributions(x).sum(axis=1) + base, logit(merged.raw_proba(x)), atol=1e-6)

    linear, _ = fit_baseline((parts.train[data.features], parts.train["churned"]),
                             (parts.valid[data.features], parts.valid["churned"]),
                             features=data.features, categorical=data.categorical, seed=0)
    blend = BlendScorer(merged.booster, linear, 0.75, data.features, data.categorical)
    p = blend.raw_proba(x)
    np.testing.assert_allclose(logit(p), member_z @ np.full(4, 0.75 / 4) + 0.25 * logit(linear.raw_proba(x)),
                               atol=1e-6)
    model = ChurnModel(InputSpec(tuple(data.features), frozenset(data.categorical)), blend,
                       Calibrator("none", None))
    assert list(booster_texts(model)) == ["scorer"]  # one booster, exported as text
    restored = model_state.load(model_state.save(model, tmp_path / "state"))
    np.testing.assert_allclose(restored.scorer.raw_proba(x), p)
    pd.testing.assert_frame_equal(restored.scorer.contributions(x), blend.contributions(x))

    # a version logged before the merge (its scorer an EnsembleScorer of the members) still loads and scores
    # as it did: the members' log-odds average, and the same reasons as the blend this version registers
    from training.churn.legacy import EnsembleScorer

    legacy = EnsembleScorer([*trees.members, linear], [0.75 / 4] * 4 + [0.25], data.features, data.categorical)
    old = model_state.load(model_state.save(ChurnModel(model.spec, legacy, Calibrator("none", None)),
                                            tmp_path / "legacy")).scorer
    assert isinstance(old, EnsembleScorer) and isinstance(old.scorer, BlendScorer)
    np.testing.assert_allclose(logit(old.raw_proba(x)), logit(p), atol=1e-6)
    pd.testing.assert_frame_equal(old.contributions(x), blend.contributions(x), atol=1e-9)


def test_out_of_fold_scores_of_a_time_based_split_do_not_credit_a_memorised_customer():
    """A customer has a row at each of three cutoffs and one label, and the only feature identifies the
    customer: the cross-fit must score every customer with a model that never saw any of their rows."""
    from training.churn.inputs import ChurnData
    from training.churn.train import _lgbm_refit, refit_everywhere

    rng = np.random.default_rng(11)
    customers = np.repeat(np.arange(600), 3)
    frame = pd.DataFrame({"customer_id": customers.astype(str),
                          "code": customers + rng.normal(scale=0.01, size=len(customers)),
                          "churned": (rng.random(600) < 0.4)[customers].astype(int)})
    data = ChurnData(frame=frame, raw=frame, features=["code"], categorical=[], source="memorised")
    params = {"num_leaves": 64, "min_child_samples": 1, "learning_rate": 0.2, "lambda_l2": 0.0, "seed": 0}
    fit_on = _lgbm_refit(data, params, best_iteration=100, tuned_rows=len(frame), fit_rows=frame)
    candidate = refit_everywhere("lightgbm", fit_on, data, frame, seed=0)
    assert candidate.valid_auc < 0.6  # no skill out of fold: nothing here generalises to a new customer
    in_sample = fit_on(frame).raw_proba(frame[["code"]])
    assert roc_auc_score(frame["churned"], in_sample) > 0.8  # while the model does memorise
