"""Synthetic monitoring inputs with a known truth, for tests and ``bench/bench_monitor.py``.

A churn-like world: numeric features ``f00..``, two categorical ones, a true logistic link, labels drawn
from it. The "model" outputs the true probability (so it is calibrated by construction) unless asked to
be miscalibrated; drift shifts chosen features' means (covariate shift: P(y|x) unchanged).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from monitoring.data import Champion
from monitoring.families import family_spec

BANDS = (0.2, 0.5)


def churn_batch(n: int, *, features: int = 8, seed: int = 0, shift: dict[str, float] | None = None,
                miscalibrate: float = 1.0, cutoff: str = "2024-06-30") -> pd.DataFrame:
    """Features, ``churn_probability``, ``risk_band``, ``churned`` for ``n`` customers.

    ``shift`` moves a feature's mean by that many standard deviations; ``miscalibrate`` multiplies the
    model's logit (1 = calibrated, 2 = overconfident).
    """
    rng = np.random.default_rng(seed)
    cols = [f"f{i:02d}" for i in range(features)]
    x = rng.normal(0.0, 1.0, size=(n, features))
    for name, delta in (shift or {}).items():
        x[:, cols.index(name)] += delta
    frame = pd.DataFrame(x, columns=cols)
    frame["plan"] = rng.choice(["basic", "plus", "premium"], size=n, p=[0.5, 0.3, 0.2])
    frame["region"] = rng.choice(["north", "south", "east", "west"], size=n)
    logit = -1.0 + x @ weights(features)
    truth = 1.0 / (1.0 + np.exp(-logit))
    frame["churned"] = rng.random(n) < truth
    frame["churn_probability"] = 1.0 / (1.0 + np.exp(-miscalibrate * logit))
    frame["risk_band"] = np.select([frame["churn_probability"] < BANDS[0], frame["churn_probability"] < BANDS[1]],
                                   ["low", "medium"], "high")
    frame.insert(0, "customer_id", [f"C{seed:02d}{i:07d}" for i in range(n)])
    frame.insert(1, "cutoff", pd.Timestamp(cutoff))
    return frame


def weights(features: int) -> np.ndarray:
    """True coefficients: the first features matter most (importance decays geometrically)."""
    return 1.2 * 0.7 ** np.arange(features)


def fake_champion(reference: pd.DataFrame, *, model_name: str = "churn", family: str = "churn",
                  tags: dict[str, str] | None = None) -> Champion:
    """A champion whose reference sample is ``reference`` and whose importance is the true weights."""
    features = [c for c in reference.columns if c.startswith("f") and c[1:].isdigit()]
    importance = pd.Series(weights(len(features)), index=features)
    return Champion(model_name, "1", "run-synthetic", family_spec(family), dict(tags or {}), reference, importance)


class SyntheticChurnModel:
    """Factory for a pyfunc that outputs the synthetic world's true probability (see :func:`churn_batch`)."""

    @staticmethod
    def build(features: int, miscalibrate: float = 1.0):
        import mlflow

        class _Model(mlflow.pyfunc.PythonModel):
            def __init__(self) -> None:
                self.features, self.miscalibrate = features, miscalibrate

            def predict(self, context, model_input, params=None):
                cols = [f"f{i:02d}" for i in range(self.features)]
                logit = -1.0 + model_input[cols].to_numpy(dtype=float) @ weights(self.features)
                p = 1.0 / (1.0 + np.exp(-self.miscalibrate * logit))
                band = np.select([p < BANDS[0], p < BANDS[1]], ["low", "medium"], "high")
                return pd.DataFrame({"churn_probability": p, "risk_band": band}, index=model_input.index)

        return _Model()


def register_synthetic_champion(reference: pd.DataFrame, settings, *, model_name: str = "churn",
                                features: int = 8, miscalibrate: float = 1.0) -> str:
    """Register a synthetic churn model as ``model_name@champion`` with its reference sample; returns the version."""
    import tempfile
    from pathlib import Path

    import mlflow

    from training.tracking import configure_mlflow

    configure_mlflow(settings)
    mlflow.set_experiment(settings.experiment)
    with mlflow.start_run(run_name=f"synthetic {model_name}") as run, tempfile.TemporaryDirectory() as tmp:
        ref_path = Path(tmp) / "reference.parquet"
        reference.to_parquet(ref_path, index=False)
        cols = [f"f{i:02d}" for i in range(features)]
        importance = pd.DataFrame({"feature": cols, "importance": weights(features)})
        imp_path = Path(tmp) / "feature_importance.csv"
        importance.to_csv(imp_path, index=False)
        mlflow.log_artifact(str(ref_path))
        mlflow.log_artifact(str(imp_path))
        info = mlflow.pyfunc.log_model(name="model", python_model=SyntheticChurnModel.build(features, miscalibrate),
                                       pip_requirements=["mlflow", "pandas", "numpy"])  # no slow inference
    client = mlflow.MlflowClient()
    version = mlflow.register_model(info.model_uri, model_name, tags={"crmlab.family": "churn"})
    client.set_model_version_tag(model_name, version.version, "crmlab.family", "churn")
    client.set_model_version_tag(model_name, version.version, "run_id", run.info.run_id)
    client.set_registered_model_alias(model_name, "champion", version.version)
    return str(version.version)
