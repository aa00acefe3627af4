"""End to end: both input shapes train, compare, register and serve; the CLI refuses bad input clearly."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from crmlab.commands.train import family_command
from training.clv import train as clv_train
from training.clv.inputs import problem_from_features
from training.clv.pyfunc import OUTPUT_COLUMNS
from training.settings import get_settings


def _artifacts(run_id: str) -> set[str]:
    return {a.path for a in mlflow.MlflowClient().list_artifacts(run_id, "clv")}


def _logged_anywhere(folder: Path, text: str, *, skip: tuple[Path, ...]) -> list[str]:
    """Files under ``folder`` but not in or under ``skip`` (the tracking database, artifacts and registered
    models) that hold ``text``."""
    found = []
    for path in (p for p in folder.rglob("*") if p.is_file() and not {p, *p.parents} & set(skip)):
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
            held = any(text in str(c) or frame[c].astype(str).str.contains(text, regex=False).any()
                       for c in frame.columns)
        else:
            held = text.encode() in path.read_bytes()
        if held:
            found.append(str(path.relative_to(folder)))
    return found


def test_transaction_log_shape_trains_registers_and_promotes_via_cli(tmp_path, sim_log, sim_split):
    calibration_end, horizon = sim_split
    (tmp_path / "input").mkdir()
    path = tmp_path / "input" / "log.csv"
    renamed = sim_log.rename(columns={"customer_id": "cust", "date": "day", "amount": "spend"})
    renamed["cust"] = "person." + renamed["cust"].astype(str) + "@example.com"  # a log keyed by e-mail
    # what a real export carries: a guest purchase, a mistyped date, a refund (data rows 1-3 of the file)
    first = renamed.iloc[0]
    bad = pd.DataFrame({"cust": ["", first["cust"], first["cust"]], "day": [first["day"], "31/02/2020", first["day"]],
                        "spend": [12.0, 5.0, -7.0]})
    pd.concat([bad, renamed], ignore_index=True).to_csv(path, index=False)
    result = CliRunner().invoke(family_command("clv"), [
        "--transactions", str(path), "--id", "cust", "--date", "day", "--amount", "spend",
        "--calibration-end", calibration_end, "--horizon-days", str(horizon), "--trials", "2", "--seed", "3",
        "--promote"])
    assert result.exit_code == 0, result.output
    assert "winner:" in result.output and "PROMOTED" in result.output
    # The three are set aside, counted and kept on this machine with their row and problem, not refused.
    quarantine = tmp_path / "log.quarantine.csv"
    assert f"3 of {len(renamed) + 3:,} log rows quarantined to {quarantine}" in result.output
    kept = pd.read_csv(quarantine, keep_default_na=False)
    assert kept["crmlab_row"].tolist() == [1, 2, 3] and kept["spend"].tolist() == [12.0, 5.0, -7.0]
    assert [p.split(":")[0] for p in kept["crmlab_problem"]] == ["column 'cust'", "column 'day'", "column 'spend'"]
    client = mlflow.MlflowClient()
    version = client.get_model_version_by_alias("clv", "champion")
    assert version.tags["crmlab.family"] == "clv" and version.tags["clv.winner"] in {"btyd", "lightgbm"}
    assert version.tags["clv.shape"] == "transactions"
    assert {"clv/comparison.csv", "clv/comparison.md", "clv/holdout_predictions.parquet",
            "clv/calibration_by_decile.png", "clv/clv_tiers.json"} <= _artifacts(version.run_id)
    predictions = pd.read_parquet(mlflow.artifacts.download_artifacts(
        run_id=version.run_id, artifact_path="clv/holdout_predictions.parquet"))
    assert list(predictions.columns) == ["actual", "btyd", "lightgbm", "btyd_p_alive"]
    # The customer key never reaches the tracking store: not in the database, artifacts or registered model.
    assert (tmp_path / "mlflow.db").exists()
    assert _logged_anywhere(tmp_path, "@example.com", skip=(path.parent, quarantine)) == []
    comparison = pd.read_csv(mlflow.artifacts.download_artifacts(run_id=version.run_id,
                                                                 artifact_path="clv/comparison.csv"))
    assert {"mae", "rmse", "spearman", "normalized_gini", "top_decile_capture"} <= set(comparison.columns)
    # The registered model scores its own holdout with the documented columns.
    holdout = pd.read_parquet(mlflow.artifacts.download_artifacts(run_id=version.run_id,
                                                                  artifact_path="holdout.parquet"))
    out = mlflow.pyfunc.load_model("models:/clv@champion").predict(holdout)
    assert list(out.columns) == OUTPUT_COLUMNS and len(out) == len(holdout)
    assert out["clv_tier"].notna().all() and (out["predicted_spend"] >= 0).all()
    # Served predictions are the ones that were evaluated.
    np.testing.assert_allclose(out["predicted_spend"], predictions[version.tags["clv.winner"]], rtol=1e-9)


def test_features_shape_trains_both_winners_and_the_gate_compares_them(features_world, monkeypatch):
    features_dir, clean_dir = features_world
    settings = get_settings()
    problem = problem_from_features(features_dir, data_dir=clean_dir, seed=0)
    assert problem.categorical == ["region"] and "region" in problem.features
    assert problem.train["cutoff"].max() < problem.holdout["cutoff"].min()  # time-based split
    assert {"btyd_frequency", "btyd_T"} <= set(problem.holdout.columns)
    first = clv_train.train_clv(problem, trials=2, timeout=None, model_name="clv-f", seed=0, storage=None,
                                promote=True, settings=settings)
    # Force the other model to win the second time: both kinds must register and serve.
    other = "btyd" if first.winner == "lightgbm" else "lightgbm"
    monkeypatch.setattr(clv_train, "pick_winner", lambda table: other)
    second = clv_train.train_clv(problem, trials=1, timeout=None, model_name="clv-f", seed=1, storage=None,
                                 promote=True, settings=settings)
    assert (first.version, second.version) == ("1", "2") and second.winner == other
    # The gate compared the two on the challenger's holdout (which carries every model's inputs).
    assert "mean loss diff" in second.promotion.summary()
    tags = mlflow.MlflowClient().get_model_version("clv-f", "2").tags
    assert tags["gate.decision"] in {"promoted", "refused"} and "gate.mean_loss_diff" in tags
    out = mlflow.pyfunc.load_model("models:/clv-f/2").predict(problem.holdout)
    assert list(out.columns) == OUTPUT_COLUMNS
    # Both kinds report p_alive: BG/NBD itself, or the BG/NBD fit the stacked LightGBM carries.
    assert out["p_alive"].notna().any()


def test_features_shape_needs_the_clean_data(features_world):
    features_dir, _ = features_world
    result = CliRunner().invoke(family_command("clv"), ["--features", str(features_dir), "--trials", "1"])
    assert result.exit_code != 0 and "--data CLEAN_DIR" in result.output


@pytest.mark.parametrize(("args", "words"), [
    ([], "exactly one input"),
    (["--features", "f", "--transactions", "t"], "exactly one input"),
    (["--transactions", "t.csv", "--id", "c"], "--date, --amount, --calibration-end"),
    (["--features", "f", "--id", "c"], "go with --transactions"),
])
def test_cli_usage_errors(args, words):
    result = CliRunner().invoke(family_command("clv"), args)
    assert result.exit_code == 2 and words in result.output


def test_cli_refuses_a_log_that_mostly_fails_naming_its_first_bad_row(tmp_path):
    path = tmp_path / "log.csv"
    pd.DataFrame({"c": ["a", "b", "a"], "d": ["2021-01-01", "2021-01-02", "2021-02-01"],
                  "x": [5.0, -3.0, -4.0]}).to_csv(path, index=False)
    result = CliRunner().invoke(family_command("clv"), ["--transactions", str(path), "--id", "c", "--date", "d",
                                          "--amount", "x", "--calibration-end", "2021-01-20"])
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "column 'x', row 2 (and 1 more row(s))" in result.output and "negative" in result.output
    assert "2 of 3 rows fail, more than 50%" in result.output
    assert not (tmp_path / "log.quarantine.csv").exists()


@pytest.mark.parametrize(("name", "content", "words"), [
    ("log.csv", b"", "the file is empty"),
    ("log.parquet", b"not parquet at all", "not a readable CSV, TSV, whitespace-separated or Parquet log"),
])
def test_cli_refuses_an_unreadable_transaction_log_in_one_line(tmp_path, name, content, words):
    path = tmp_path / name
    path.write_bytes(content)
    result = CliRunner().invoke(family_command("clv"), ["--transactions", str(path), "--id", "c", "--date", "d",
                                                        "--amount", "x", "--calibration-end", "2021-01-20"])
    assert result.exit_code == 1 and words in result.output and str(path) in result.output
    assert "Traceback" not in result.output and result.output.count("\n") == 1


def test_a_horizon_longer_than_the_labels_serves_lightgbm_plus_the_bgnbd_tail(sim_log, monkeypatch):
    from training.clv.inputs import problem_from_transactions

    problem = problem_from_transactions(sim_log, id_col="customer_id", date_col="date", amount_col="amount",
                                        calibration_end="2020-09-30", horizon_days=180, seed=0)
    monkeypatch.setattr(clv_train, "pick_winner", lambda table: "lightgbm")
    result = clv_train.train_clv(problem, trials=2, timeout=None, model_name="clv-tail", seed=0, storage=None,
                                 promote=False, settings=get_settings())
    served = mlflow.pyfunc.load_model(result.model_uri)
    assert served.unwrap_python_model().tail_days == 44
    predictions = pd.read_parquet(mlflow.artifacts.download_artifacts(
        run_id=result.run_id, artifact_path="clv/holdout_predictions.parquet"))
    out = served.predict(problem.holdout)
    # What is served is what was evaluated: the label window's spend plus BG/NBD's last 44 days.
    np.testing.assert_allclose(out["predicted_spend"], predictions["lightgbm"], rtol=1e-9)
    card = mlflow.artifacts.load_text(f"runs:/{result.run_id}/model_card.md")
    assert "add the expected spend of the remaining 44" in card
