"""`crmlab train churn --table ...` and `crmlab promote` from the command line, on a messy user table."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from mlflow.exceptions import MlflowException

from crmlab.cli import cli
from training.world.churn_features import synthetic_features


def _messy_table(n: int, seed: int) -> pd.DataFrame:
    """A CRM export: numbers as text with separators and padding, yes/no flags, dates, a PII column."""
    f = synthetic_features(n, seed=seed).dropna(subset=["churned"]).reset_index(drop=True)
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "Customer No": [f"K-{i:06d}" for i in range(len(f))],
        "email": [f"person{i}@example.com" for i in range(len(f))],
        "days_since_order": [f" {int(v)} " for v in f["recency_days"]],
        "orders": f["frequency"].astype(int).astype(str),
        "total_spend": [f"{v:,.2f}" for v in f["monetary_total"]],
        "sessions": f["sessions_90d"].map(lambda v: "" if np.isnan(v) else str(int(v))),
        "tenure": f["tenure_days"],
        "newsletter": rng.choice(["yes", "no"], len(f)),
        "last_login": (pd.Timestamp("2024-12-31") - pd.to_timedelta(rng.integers(0, 300, len(f)), unit="D"))
        .strftime("%Y-%m-%d"),
        "plan": f["plan"],
        "status": np.where(f["churned"].astype(bool), "lost", "active"),
    })


def test_train_from_a_messy_table_promote_and_score_raw_rows(tmp_path):
    table = _messy_table(4000, seed=21)
    path = tmp_path / "export.csv"
    table.to_csv(path, index=False)
    runner = CliRunner()
    result = runner.invoke(cli, ["train", "churn", "--table", str(path), "--target", "status",
                                 "--id", "Customer No", "--positive", "lost", "--trials", "2",
                                 "--timeout", "0", "--model-name", "churn_table", "--seed", "4", "--promote"])
    assert result.exit_code == 0, result.output
    assert "roc_auc" in result.output and "ece" in result.output
    assert "total_spend: numeric (stored as text)" in result.output
    assert "email: dropped (looks like a direct identifier" in result.output
    assert "PROMOTED" in result.output and "first version" in result.output

    model = mlflow.pyfunc.load_model("models:/churn_table@champion")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False).head(20)
    out = model.predict(raw)  # the model parses text numbers, flags and dates as training did
    assert list(out.columns) == ["churn_probability", "risk_band", "top_reasons"]
    assert out["churn_probability"].between(0, 1).all()
    with pytest.raises(MlflowException) as err:
        model.predict(raw.assign(total_spend="ask Jane Roe"))
    assert "column 'total_spend' expects numeric values" in err.value.message
    assert "Jane" not in err.value.message

    again = runner.invoke(cli, ["promote", "churn_table"])
    assert again.exit_code == 0 and "already champion" in again.output


@pytest.mark.parametrize(("args", "message"), [
    (["--features", "f", "--table", "t.csv"], "exactly one input"),
    (["--table", "t.csv", "--target", "y"], "--table needs --target COL and --id COL"),
    (["--features", "f", "--target", "y"], "go with --table"),
])
def test_usage_errors(args, message):
    result = CliRunner().invoke(cli, ["train", "churn", *args])
    assert result.exit_code == 2 and message in result.output


def test_bad_inputs_are_clear_errors_not_tracebacks(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(cli, ["train", "churn", "--features", str(tmp_path)])
    assert missing.exit_code == 1 and "no features.parquet there" in missing.output
    (tmp_path / "t.csv").write_text("id,x,y\n1,2,a\n2,3,a\n")
    one_class = runner.invoke(cli, ["train", "churn", "--table", str(tmp_path / "t.csv"), "--target", "y",
                                    "--id", "id", "--positive", "a"])
    assert one_class.exit_code == 1 and "only one class" in one_class.output
    no_model = runner.invoke(cli, ["promote", "nope"])
    assert no_model.exit_code == 1 and "has no 'challenger' version" in no_model.output
