"""Expected failures of crmlab commands end in one line and a non-zero exit, never a traceback."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from crmlab.cli import cli


def _one_line_failure(args: list[str]) -> str:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # not an uncaught error
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


@pytest.mark.parametrize(("name", "content", "words"), [
    ("customers.parquet", "customer_id,churned\nA,yes\n", ["cannot be read as Parquet", "customers.parquet"]),
    ("empty.csv", "", ["empty.csv is empty"]),
    ("header_only.csv", "customer_id,churned\n", ["has no rows"]),
    ("broken.csv", 'a,b\n1,"unclosed\n', ["cannot be read as CSV"]),
    ("tiny.csv", "customer_id,plan,churned\nA,x,yes\nB,y,no\nC,x,no\n",
     ["3 labelled rows (1 churned, 2 retained) are too few to split"]),
])
def test_train_churn_refuses_unreadable_tables_in_one_line(tmp_path, name, content, words):
    (tmp_path / name).write_text(content)
    line = _one_line_failure(["train", "churn", "--table", str(tmp_path / name), "--target", "churned",
                              "--id", "customer_id"])
    for word in words:
        assert word in line


@pytest.mark.parametrize("name", ["features.parquet", "features.csv"])
def test_score_refuses_unreadable_feature_files_in_one_line(tmp_path, name):
    (tmp_path / name).write_text("")
    line = _one_line_failure(["score", "--features", str(tmp_path / name), "--out", str(tmp_path / "o.parquet")])
    assert name in line
