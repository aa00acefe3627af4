"""The one lifecycle (``train_family``) on a tiny family, the families table and the shared LightGBM search."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import optuna
import pandas as pd
import pytest
import yaml

from training.core import model_state
from training.core.families import FAMILIES, all_families, family
from training.core.family import (
    REFERENCE_ROWS,
    Fitted,
    ModelCard,
    ModelFamily,
    MonitoringSpec,
    RunContext,
    SourceUsageError,
    TrainResult,
)
from training.core.gate_spec import GateSpec
from training.core.lifecycle import study_name, train_family
from training.core.pyfunc_base import InputSpec, ValidatedPyfunc
from training.settings import get_settings

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _loggable_test_model(monkeypatch):
    """A test's own pyfunc class, named in the table of classes a model logged from code may hold."""
    monkeypatch.setitem(model_state.CLASSES, "test.Threshold", f"{__name__}:Threshold")


class Threshold(ValidatedPyfunc):
    def __init__(self, cut: float) -> None:
        super().__init__(InputSpec(("x",), required=frozenset({"x"})))
        self.cut = cut

    def predict_frame(self, features: pd.DataFrame, params=None) -> pd.DataFrame:
        return pd.DataFrame({"flag": (features["x"] > self.cut).astype(int)}, index=features.index)


class ToyFamily:
    """A family in a few lines: tunes one threshold with the core loop; everything else is the lifecycle's."""

    name = "toy"
    default_model_name = "toy"
    summary = "Flags x above a tuned threshold."
    source_options = ()
    monitoring = MonitoringSpec(task="binary", numeric_outputs=("flag",), label="y", score="flag")
    profile = None
    input_errors = ()

    def gate(self) -> GateSpec:
        return GateSpec(per_row_loss=lambda out, hold: (out["flag"] != hold["y"]).astype(float).to_numpy(),
                        checks=lambda out, hold: {}, tolerance=0.01)

    def load(self, source, settings) -> pd.DataFrame:
        if "rows" not in source:
            raise SourceUsageError("give --rows")
        rng = np.random.default_rng(0)
        x = rng.normal(size=int(source["rows"]))
        return pd.DataFrame({"x": x, "y": (x > 0.3).astype(int)})

    def fingerprint(self, data: pd.DataFrame) -> pd.DataFrame:
        return data

    def fit(self, data: pd.DataFrame, run: RunContext) -> Fitted:
        from training.core.tuning import run_study

        train, test = data.iloc[: len(data) // 2], data.iloc[len(data) // 2:]

        def objective(trial: optuna.Trial) -> float:
            cut = trial.suggest_float("cut", -1, 1)
            return float(((train["x"] > cut).astype(int) != train["y"]).mean())

        study = run_study(objective, study_name=run.study_name, direction="minimize", trials=run.trials,
                          timeout=run.timeout, seed=run.seed, storage=run.storage, settings=run.settings)
        model = Threshold(study.best_params["cut"])
        error = float((model.predict_frame(test)["flag"] != test["y"]).mean())
        (run.plots_dir / "nothing.txt").write_text("a plot would go here")
        card = ModelCard(predicts="Whether x is large.", data_window=f"{len(data)} generated rows",
                         test_metrics={"error": error})
        return Fitted(model=model, input_spec=model.spec, input_example=test[["x"]].head(3), holdout=test,
                      reference=test.head(50).assign(flag=model.predict_frame(test.head(50))["flag"]),
                      card=card, metrics={"test_error": error}, version_metrics={"error": error},
                      importance=pd.Series({"x": 1.0}), trials=len(study.trials), details={"cut": model.cut})


def test_a_family_is_trained_registered_and_described_by_the_lifecycle():
    toy = ToyFamily()
    assert isinstance(toy, ModelFamily)
    result = train_family(toy, {"rows": 400}, trials=3, seed=1, settings=get_settings())
    assert isinstance(result, TrainResult) and result.version == "1" and result.trials == 3
    assert result.metrics["test_error"] < 0.1  # the tuned threshold is near the truth (0.3)
    client = mlflow.MlflowClient()
    files = {a.path for a in client.list_artifacts(result.run_id)}
    assert {"model_card.md", "reference.parquet", "feature_importance.csv", "holdout.parquet", "plots"} <= files
    version = client.get_model_version("toy", result.version)
    assert version.description.startswith("Whether x is large.") and "error" in version.description
    assert "generated rows" in client.get_registered_model("toy").description
    assert version.tags["crmlab.family"] == "toy" and version.tags["optuna.study"] == result.study_name
    assert version.tags["required_features"] == "x"

    again = train_family(toy, {"rows": 400}, trials=2, seed=1, settings=get_settings())
    assert again.study_name == result.study_name and again.trials == 5  # the same study, resumed
    other = train_family(toy, {"rows": 401}, trials=1, seed=1, settings=get_settings())
    assert other.study_name != result.study_name  # other data, other study


def test_lifecycle_refuses_a_reference_sample_with_ids_or_too_many_rows():
    class Leaky(ToyFamily):
        def fit(self, data, run):
            fitted = super().fit(data, run)
            fitted.reference = fitted.reference.assign(customer_id="c")
            return fitted

    with pytest.raises(ValueError, match="customer_id"):
        train_family(Leaky(), {"rows": 100}, trials=1, settings=get_settings())
    assert REFERENCE_ROWS == 5_000


def test_study_name_rule():
    assert study_name("churn", "churn", "0123456789abcdef", 42) == "churn-churn-0123456789-s42"


def test_families_table_feeds_cli_mlproject_monitoring_and_profile():
    from click.testing import CliRunner

    from crmlab.cli import cli
    from monitoring.families import FAMILIES as MONITORED
    from serving.profile_model import COMPONENTS, OUTPUT_COLUMNS

    families = all_families()
    assert [f.name for f in families] == list(FAMILIES)
    assert all(isinstance(f, ModelFamily) for f in families)
    entries = yaml.safe_load((REPO / "MLproject").read_text())["entry_points"]
    for row in FAMILIES.values():
        assert entries[row.mlproject_entry]["command"].startswith(f"crmlab train {row.name} ")
    listed = CliRunner().invoke(cli, ["train", "--help"])
    assert all(name in listed.output for name in FAMILIES)
    assert set(MONITORED) == {f.name for f in families if f.monitoring}
    assert MONITORED["churn"].label == family("churn").monitoring.label
    assert [c.family for c in COMPONENTS] == [f.name for f in families if f.profile]
    assert all(o in OUTPUT_COLUMNS for f in families if f.profile for o in f.profile.outputs)
    with pytest.raises(ValueError, match="known families: churn"):
        family("nope")


def test_composite_gate_is_promote_on_build_with_real_checks():
    from serving.profile_model import COMPOSITE_GATES, FAMILY, OUTPUT_COLUMNS

    gate = COMPOSITE_GATES[FAMILY]
    assert gate.per_row_loss is None
    good = pd.DataFrame({c: [None] for c in OUTPUT_COLUMNS}).assign(customer_id=["a"], churn_probability=[0.2])
    assert all(gate.checks(good, pd.DataFrame({"customer_id": ["a"]})).values())
    bad = good.assign(churn_probability=[1.7])
    assert not gate.checks(bad, pd.DataFrame({"customer_id": ["a"]}))["probabilities_valid"]


def test_shared_lightgbm_search_refits_the_best_trial_of_a_resumed_study(tmp_path):
    from training.core.lgbm_search import tune_lightgbm

    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.normal(size=600), "b": rng.normal(size=600)})
    y = pd.Series((x["a"] + 0.5 * rng.normal(size=600) > 0).astype(int))
    train, valid = (x.iloc[:400], y.iloc[:400]), (x.iloc[400:], y.iloc[400:])

    def run(trials: int, seed: int) -> RunContext:  # kfold_max_rows=0: one validation split at any size
        return RunContext(family="t", model_name="t", seed=seed, trials=trials, timeout=None,
                          storage=f"sqlite:///{tmp_path / 'o.db'}", study_name="t-study",
                          settings=get_settings(kfold_max_rows=0), plots_dir=tmp_path, files_dir=tmp_path)

    with mlflow.start_run():
        first = tune_lightgbm(train, valid, task="binary", run=run(4, 0), max_rounds=200)
        second = tune_lightgbm(train, valid, task="binary", run=run(1, 0), max_rounds=200)
    assert len(second.study.trials) == 5
    assert second.value == pytest.approx(first.study.best_value) or second.value < first.study.best_value
    # whichever trial is best, the returned booster is that trial's (refitted if it is an older one)
    assert float(second.booster.best_score["valid"]["binary_logloss"]) == pytest.approx(second.value)


def test_small_tables_are_tuned_by_k_fold_and_the_booster_never_sees_the_validation_rows(tmp_path):
    from training.core.lgbm import suggest_lgbm_params
    from training.core.lgbm_search import cv_lgbm, fit_rounds, scaled_rounds, tune_lightgbm

    rng = np.random.default_rng(1)
    x = pd.DataFrame({"a": rng.normal(size=900), "b": rng.normal(size=900)})
    y = pd.Series((x["a"] * x["b"] + 0.5 * rng.normal(size=900) > 0).astype(int))
    train, valid = (x.iloc[:600], y.iloc[:600]), (x.iloc[600:], y.iloc[600:])

    def run(settings) -> RunContext:
        return RunContext(family="t", model_name="t", seed=0, trials=3, timeout=None,
                          storage=f"sqlite:///{tmp_path / 'o.db'}", study_name=f"k{settings.kfold_max_rows}",
                          settings=settings, plots_dir=tmp_path, files_dir=tmp_path)

    with mlflow.start_run():
        kfold = tune_lightgbm(train, valid, task="binary", run=run(get_settings(kfold_max_rows=900)), max_rounds=300)
        split = tune_lightgbm(train, valid, task="binary", run=run(get_settings(kfold_max_rows=899)), max_rounds=300)
    assert (kfold.folds, split.folds) == (5, 0) and "5-fold" in kfold.how
    assert split.tuned_rows == 600 and kfold.tuned_rows == 900 - 900 // 5
    # the objective is the cross-validated metric of the best configuration, recomputable from its params
    params = {**suggest_lgbm_params(optuna.trial.FixedTrial(kfold.study.best_params), "binary"), "seed": 0}
    assert kfold.params == params
    rounds, value, _ = cv_lgbm(params, train, valid, task="binary", folds=5, metric="binary_logloss", seed=0,
                               max_rounds=300)
    assert (rounds, value) == (kfold.best_iteration, pytest.approx(kfold.value))
    # the booster is that configuration on the train rows only, with the rounds scaled to them
    expected = fit_rounds(params, *train, task="binary", rounds=scaled_rounds(rounds, kfold.tuned_rows, 600))
    assert kfold.booster.current_iteration() == expected.current_iteration() == kfold.booster.best_iteration
    np.testing.assert_allclose(kfold.booster.predict(valid[0]), expected.predict(valid[0]))


def test_one_se_keeps_a_start_the_search_does_not_clearly_beat_and_drops_one_it_does(tmp_path):
    """Labels without signal: no trial is better than the regularised start by more than the noise, so it
    stays. A start far below what the data allows (slow, shallow, large leaves) is replaced by the search's best."""
    from training.core.lgbm import conservative_trial_params, suggest_lgbm_params
    from training.core.lgbm_search import tune_lightgbm

    rng = np.random.default_rng(2)
    x = pd.DataFrame({"a": rng.normal(size=900), "b": rng.normal(size=900)})
    noise = pd.Series((rng.normal(size=900) > 0.5).astype(int))
    signal = pd.Series((x["a"] * x["b"] + 0.3 * rng.normal(size=900) > 0).astype(int))

    def tune(y: pd.Series, start: dict, name: str):
        run = RunContext(family="t", model_name="t", seed=0, trials=8, timeout=None,
                         storage=f"sqlite:///{tmp_path / 'o.db'}", study_name=name, settings=get_settings(),
                         plots_dir=tmp_path, files_dir=tmp_path)
        return tune_lightgbm((x.iloc[:600], y.iloc[:600]), (x.iloc[600:], y.iloc[600:]), task="binary", run=run,
                             max_rounds=300, warm_start=[start], one_se=True)

    def params_of(values: dict) -> dict:
        return {**suggest_lgbm_params(optuna.trial.FixedTrial(values), "binary"), "seed": 0}

    start = conservative_trial_params("binary")
    slow = {**start, "learning_rate": 0.01, "min_child_samples": 200, "limit_depth": True, "max_depth": 3}
    with mlflow.start_run():
        kept = tune(noise, start, "noise")
        dropped = tune(signal, slow, "signal")
    # a later trial scored best, by less than its standard error: the start is what is returned, and said
    assert kept.study.best_trial.number != 0 and "one-SE rule" in kept.how
    assert kept.params == params_of(start)
    assert dropped.params == params_of(dropped.study.best_params) != params_of(slow)
    assert dropped.kept_start == "" and dropped.study.best_trial.number != 0


def test_a_score_metric_such_as_auc_is_maximised_in_both_tuning_modes(tmp_path):
    from training.core.lgbm import suggest_lgbm_params
    from training.core.lgbm_search import cv_lgbm, tune_lightgbm

    rng = np.random.default_rng(2)
    x = pd.DataFrame({"a": rng.normal(size=900), "b": rng.normal(size=900)})
    y = pd.Series((x["a"] - x["b"] + rng.normal(size=900) > 0).astype(int))
    train, valid = (x.iloc[:600], y.iloc[:600]), (x.iloc[600:], y.iloc[600:])

    def tune(kfold_max_rows: int):
        run = RunContext(family="t", model_name="t", seed=0, trials=4, timeout=None,
                         storage=f"sqlite:///{tmp_path / 'o.db'}", study_name=f"auc{kfold_max_rows}",
                         settings=get_settings(kfold_max_rows=kfold_max_rows), plots_dir=tmp_path, files_dir=tmp_path)
        return tune_lightgbm(train, valid, task="binary", run=run, max_rounds=200, extra_params={"metric": "auc"})

    with mlflow.start_run():
        kfold, split = tune(900), tune(0)
    for tuned in (kfold, split):
        values = [t.value for t in tuned.study.trials if t.value is not None]
        assert tuned.study.direction == optuna.study.StudyDirection.MAXIMIZE and tuned.metric == "auc"
        assert tuned.value == max(values) > 0.75  # the highest AUC wins, and the signal is found
    # the split mode's booster is the best trial's, scored by its early-stopped (highest) validation AUC
    assert float(split.booster.best_score["valid"]["auc"]) == pytest.approx(split.value)
    # K-fold: the rounds are where the fold-mean AUC peaks
    params = {**suggest_lgbm_params(optuna.trial.FixedTrial(kfold.study.best_params), "binary"), "metric": "auc",
              "seed": 0}
    rounds, value, _ = cv_lgbm(params, train, valid, task="binary", folds=5, metric="auc", seed=0, max_rounds=200)
    assert (rounds, value) == (kfold.best_iteration, pytest.approx(kfold.value))
