"""The churn gate on real churn models: first version, a broken challenger, and a recorded force."""

from __future__ import annotations

import mlflow
import numpy as np

from training.churn.gate import TOLERANCE
from training.churn.train import train_churn
from training.core.promotion import promote
from training.settings import get_settings
from training.world.churn_features import synthetic_features, write_features_dir


def test_first_version_promoted_shuffled_label_challenger_refused_force_recorded(tmp_path):
    settings = get_settings()
    client = mlflow.MlflowClient()
    frame = synthetic_features(4000, seed=11)
    shuffled = frame.assign(churned=np.random.default_rng(0).permutation(frame["churned"].to_numpy()))

    trusted = synthetic_features(3000, seed=12).dropna(subset=["churned"])  # unseen rows, true labels
    first = train_churn(write_features_dir(frame, tmp_path / "good"), trials=2, seed=0, promote=True,
                        settings=settings)
    # A first version passes the same absolute checks as any other: promoted exactly when all of them pass
    # on its own test split; a refused one passes on the larger trusted holdout.
    assert "first version" in first.promotion.reason and first.promotion.checks
    assert first.promotion.promoted == all(first.promotion.checks.values())
    if not first.promotion.promoted:
        promoted = promote("churn", holdout=trusted, settings=settings)
        assert promoted.promoted and "first version" in promoted.reason and all(promoted.checks.values())
    assert str(client.get_model_version_by_alias("churn", "champion").version) == first.version

    broken = train_churn(write_features_dir(shuffled, tmp_path / "bad"), trials=2, seed=0, settings=settings)
    refused = promote("churn", holdout=trusted, settings=settings)
    assert not refused.promoted and not refused.forced
    assert refused.mean_diff > 0.02 and refused.ci_high >= TOLERANCE and refused.rows == len(trusted)
    assert refused.checks["probabilities_valid"]
    tags = client.get_model_version("churn", broken.version).tags
    assert tags["gate.decision"] == "refused" and tags["gate.forced"] == "false"
    assert float(tags["gate.mean_loss_diff"]) > 0.02
    assert str(client.get_model_version_by_alias("churn", "champion").version) == first.version

    forced = promote("churn", holdout=trusted, force=True, settings=settings)
    assert forced.promoted and forced.forced and forced.reason.startswith("forced despite the gate")
    tags = client.get_model_version("churn", broken.version).tags
    assert tags["gate.decision"] == "promoted" and tags["gate.forced"] == "true"
    assert str(client.get_model_version_by_alias("churn", "champion").version) == broken.version


def test_calibration_check_allows_sampling_noise_but_refuses_miscalibration():
    """A calibrated model passes on small holdouts (where chance alone gives ECE ~0.05); a shifted one fails."""
    import pandas as pd

    from training.churn.gate import checks

    ece_check = "ece_at_most_0.05_plus_noise"
    for seed in range(20):
        rng = np.random.default_rng(seed)
        p = rng.beta(2, 5, size=400)
        holdout = pd.DataFrame({"churned": rng.random(400) < p})
        assert checks(pd.DataFrame({"churn_probability": p}), holdout)[ece_check], seed
        shifted = np.clip(p + 0.15, 0, 1)
        assert not checks(pd.DataFrame({"churn_probability": shifted}), holdout)[ece_check], seed
