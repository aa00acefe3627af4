"""``crmlab train segments``: the thin CLI over train_segments."""

from __future__ import annotations

import mlflow
from click.testing import CliRunner

from crmlab.cli import cli
from training.world.segment_features import synthetic_features


def test_cli_trains_registers_and_promotes(tmp_path):
    frame, _ = synthetic_features(500, seed=4)
    (tmp_path / "feats").mkdir()
    frame.to_parquet(tmp_path / "feats" / "features.parquet")
    result = CliRunner().invoke(cli, ["train", "segments", "--features", str(tmp_path / "feats"), "--trials", "6",
                                      "--model-name", "seg_cli", "--seed", "3", "--promote"])
    assert result.exit_code == 0, result.output
    assert "registered seg_cli v1 as challenger" in result.output
    assert "PROMOTED" in result.output and "High-value loyal" in result.output
    assert str(mlflow.MlflowClient().get_model_version_by_alias("seg_cli", "champion").version) == "1"


def test_cli_reports_bad_input_without_traceback(tmp_path):
    frame, _ = synthetic_features(50, seed=4)
    (tmp_path / "feats").mkdir()
    frame.drop(columns="frequency").to_parquet(tmp_path / "feats" / "features.parquet")
    result = CliRunner().invoke(cli, ["train", "segments", "--features", str(tmp_path / "feats")])
    assert result.exit_code == 1
    assert "lack required column(s) ['frequency']" in result.output and "Traceback" not in result.output
    missing = CliRunner().invoke(cli, ["train", "segments", "--features", str(tmp_path / "none")])
    assert missing.exit_code == 1 and "crmlab features" in missing.output
