"""The real chain: generated world -> ingest -> crmlab features -> CLV comparison -> registered model.

The features CLI is not the point here (``build_feature_set`` is what it runs); this checks that the
CLV family reads the features' contract (feature list, categorical list, per-cutoff cleaning) and that
its BG/NBD inputs agree with the features computed from the same clean data.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pytest

from training.clv.inputs import problem_from_features
from training.clv.pyfunc import OUTPUT_COLUMNS
from training.clv.train import train_clv
from training.features.build import build_feature_set
from training.ingest.pipeline import ingest
from training.settings import get_settings
from training.world import WorldConfig, generate_world, write_world


@pytest.fixture(scope="module")
def features_dirs(tmp_path_factory) -> tuple[Path, Path]:
    home = tmp_path_factory.mktemp("clv_chain")
    # Module fixtures run outside the per-test isolation: give ingest its own store and working folder.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'ingest.db'}")
        patch.setenv("CRMLAB_DEMO", "1")
        patch.chdir(home)
        settings = get_settings()
        world = generate_world(WorldConfig(n_customers=600, seed=5, start="2023-01-01", end="2024-12-31",
                                           dirt_rate=0.01))
        write_world(world, home / "world")
        ingest(home / "world", home / "clean", settings, progress=False)
        built = build_feature_set(home / "clean", ["2024-04-01", "2024-07-01"], 90, settings)
    (home / "features").mkdir()
    built.frame.to_parquet(home / "features" / "features.parquet", index=False)
    (home / "features" / "features_meta.json").write_text(json.dumps(built.meta, default=str))
    return home / "features", home / "clean"


def test_btyd_inputs_agree_with_the_crmlab_features(features_dirs):
    features_dir, clean_dir = features_dirs
    problem = problem_from_features(features_dir, data_dir=clean_dir, seed=0)
    assert set(problem.categorical) == {"region", "acquisition_channel", "age_band", "plan"}
    holdout = problem.holdout
    bought = holdout["frequency"] > 0
    # Same history: a customer has BG/NBD inputs exactly when the features saw an order.
    assert holdout.loc[bought, "btyd_T"].notna().all() and holdout.loc[~bought, "btyd_T"].isna().all()
    # Purchase days <= orders; first purchase age in weeks = days_since_first_order / 7 (minus the day
    # the cutoff convention shifts: features count to the cutoff date, BG/NBD to the day before).
    assert (holdout.loc[bought, "btyd_frequency"] + 1 <= holdout.loc[bought, "frequency"]).all()
    first_order_days = holdout.loc[bought, "days_since_first_order"]
    np.testing.assert_allclose(holdout.loc[bought, "btyd_T"] * 7 + 1, first_order_days)


def test_features_chain_registers_a_model_that_scores_its_holdout(features_dirs):
    features_dir, clean_dir = features_dirs
    settings = get_settings()
    problem = problem_from_features(features_dir, data_dir=clean_dir, seed=0)
    result = train_clv(problem, trials=2, timeout=None, model_name="clv", seed=0, storage=None, promote=False,
                       settings=settings)
    assert set(result.comparison.index) == {"btyd", "lightgbm"}
    assert (result.comparison["normalized_gini"] > 0.3).all()  # both models rank real signal
    out = mlflow.pyfunc.load_model("models:/clv@challenger").predict(problem.holdout)
    assert list(out.columns) == OUTPUT_COLUMNS and len(out) == len(problem.holdout)
