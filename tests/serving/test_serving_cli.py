"""`crmlab serve` builds the stock server command and refuses unknown models before starting anything."""

from __future__ import annotations

from click.testing import CliRunner

from crmlab.commands.serve import command


def test_dry_run_prints_the_stock_server_command():
    result = CliRunner().invoke(command, ["--model", "churn", "--alias", "challenger", "--port", "5055",
                                          "--workers", "3", "--timeout", "9", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("models serve -m models:/churn@challenger --env-manager local "
                                          "-h 127.0.0.1 -p 5055 --workers 3 --timeout 9")
    uri = CliRunner().invoke(command, ["--model", "models:/clv/4", "--dry-run"])
    assert "-m models:/clv/4 " in uri.output


def test_unknown_model_is_refused_with_what_to_do():
    result = CliRunner().invoke(command, ["--model", "customer_profile"])
    assert result.exit_code != 0
    assert "no version of 'customer_profile' has the alias 'champion'" in result.output
    assert "build_customer_profile" in result.output
