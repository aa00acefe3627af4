"""One trained registry for the serving tests, built once per session and copied into each test.

churn is trained with the real family entry point (``train_churn``, 2 trials) on the family's synthetic
features. clv and segments use their real served classes (``ClvModel``, ``SegmentsModel``) fitted
directly (one LightGBM fit, one k-means fit) instead of their searches, which would add minutes. All
three are registered through the core (``log_and_register`` + ``promote``), and a ``customer_profile``
is built from them. Each test gets a private copy of the tracking database, so registrations made by
one test never reach another.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

N_CUSTOMERS = 1000
SEED = 7


@dataclass(frozen=True)
class SessionRegistry:
    root: Path
    db: Path
    features: pd.DataFrame  # the synthetic features (customer_id, cutoff, features, labels)
    features_dir: Path


@pytest.fixture(scope="session")
def session_registry(tmp_path_factory) -> SessionRegistry:
    root = tmp_path_factory.mktemp("serving-registry")
    db = root / "mlflow.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{db}")
        mp.setenv("CRMLAB_DEMO", "1")
        mp.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        mp.delenv("MLFLOW_RUN_ID", raising=False)
        features, features_dir = _train_all(root, db)
    return SessionRegistry(root, db, features, features_dir)


@pytest.fixture(scope="session")
def profile_server(session_registry, tmp_path_factory):
    """The real model server on customer_profile@champion, shared by the HTTP test modules.

    At the end its log must hold none of the payload values the tests sent.
    """
    from serving_server_start import SECRET_MAIL, SECRET_NAME, serve_from_registry

    log = tmp_path_factory.mktemp("server") / "server.log"
    process = serve_from_registry(session_registry, "models:/customer_profile@champion", log, workers=2,
                                  timeout=30)
    yield process
    process.stop()
    assert process.process.poll() is not None
    leaked = [s for s in (SECRET_MAIL, SECRET_NAME) if s in log.read_text(errors="replace")]
    assert not leaked, f"the server log holds payload values: {leaked}"


@pytest.fixture()
def registry(session_registry, tmp_path, monkeypatch) -> SessionRegistry:
    """This test's own copy of the trained tracking store (the current tracking URI points at it)."""
    db = tmp_path / "registry.db"
    shutil.copyfile(session_registry.db, db)
    uri = f"sqlite:///{db}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    return SessionRegistry(session_registry.root, db, session_registry.features, session_registry.features_dir)


def _train_all(root: Path, db: Path) -> tuple[pd.DataFrame, Path]:
    from serving.profile_model import build_customer_profile
    from training.churn.train import train_churn
    from training.core.promotion import promote
    from training.settings import get_settings
    from training.world.churn_features import synthetic_features, write_features_dir

    settings = get_settings()  # MLFLOW_TRACKING_URI and CRMLAB_DEMO are set by the caller
    assert settings.tracking_uri == f"sqlite:///{db}"
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.create_experiment(settings.experiment, artifact_location=str(root / "artifacts"))
    features = synthetic_features(N_CUSTOMERS, seed=SEED)
    features_dir = write_features_dir(features, root / "features")
    churn = train_churn(features_dir, trials=2, seed=SEED, promote=True, settings=settings)
    if not churn.promotion.promoted:  # 1,000 synthetic rows: the gate may refuse v1; serving is tested here
        assert promote("churn", force=True, settings=settings).promoted
    _register_clv(features, settings)
    _register_segments(features, settings)
    build_customer_profile(settings, sample=features)
    return features, features_dir


def _register_clv(features: pd.DataFrame, settings) -> None:
    from training.clv.pyfunc import ClvModel
    from training.clv.tiers import fit_tier_thresholds
    from training.core.lgbm import fit_lgbm
    from training.core.pyfunc_base import InputSpec

    columns = ["recency_days", "frequency", "monetary_total", "tenure_days", "region"]
    x, y = features[columns].copy(), features["future_spend"]
    train, valid = np.arange(len(x)) % 4 != 0, np.arange(len(x)) % 4 == 0
    booster = fit_lgbm({"num_leaves": 8, "learning_rate": 0.1, "seed": SEED}, (x[train], y[train]),
                       (x[valid], y[valid]), task="regression", categorical=["region"], max_rounds=60)
    spec = InputSpec(tuple(columns), frozenset({"region"}), frozenset(columns[:4]))
    model = ClvModel(spec, kind="lightgbm", horizon_days=90, thresholds={},
                     booster_text=booster.model_to_string(), categorical=["region"])
    spend, _ = model.predict_spend(x)
    model.thresholds = fit_tier_thresholds(spend)
    _register(model, "clv", features[columns].head(5), settings, holdout=features[valid])


def _register_segments(features: pd.DataFrame, settings) -> None:
    from training.segments.inputs import select_features
    from training.segments.model import SegmentsModel, required_inputs
    from training.segments.pipeline import SegmenterConfig, fit_segmenter
    from training.segments.train import input_example
    from training.world.segment_features import AGE_BANDS, PLANS

    frame = features.drop(columns=["churned", "future_spend"])
    # ranked profile attributes, as a schema file declares them (customers.ordinal) and features carry them
    frame.attrs["features_meta"] = {"ordinal": {"plan": list(PLANS), "age_band": list(AGE_BANDS)}}
    spec = select_features(frame)
    segmenter = fit_segmenter(frame, spec, SegmenterConfig("kmeans", 3), seed=SEED)
    names = {1: "Loyal", 2: "Lapsing", 3: "New"}
    model = SegmentsModel(segmenter, {0: 1, 1: 2, 2: 3}, names, high_water=3,
                          required=required_inputs(frame, segmenter))
    _register(model, "segments", input_example(frame, spec), settings, holdout=frame)


def _register(model, family: str, example: pd.DataFrame, settings, *, holdout: pd.DataFrame) -> None:
    from training.core.promotion import log_holdout, promote
    from training.core.registry import log_and_register
    from training.tracking import tracked_run

    with tracked_run(settings, f"test-{family}"):
        log_holdout(holdout.reset_index(drop=True))  # a first version passes the gate's checks on it
        log_and_register(model, model_name=family, family=family, artifacts={}, input_example=example,
                         tags={}, metrics={}, settings=settings)
    assert promote(family, settings=settings).promoted

