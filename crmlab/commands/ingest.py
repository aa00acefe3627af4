"""``crmlab ingest``: raw export -> pseudonymised, contract-checked clean tables (thin wrapper)."""

from __future__ import annotations

from pathlib import Path

import click

from crmlab.commands.options import demo_option


@click.command("ingest")
@click.option("--source", required=True, metavar="SCHEMA.yaml|DIR",
              help="The schema file describing the export (docs/SCHEMA.md; files, folders or database "
                   "tables), or a directory holding schema.yaml (as `crmlab generate` writes).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the clean tables, quarantine.parquet and dq_report.{json,md}.")
@demo_option
def command(source: str, out_dir: Path, demo: bool | None) -> None:
    """Pseudonymise, check the data contracts, quarantine bad rows, drop opted-out customers.

    PII is pseudonymised with CRMLAB_PII_KEY (or the public demo key with --demo) before any check, so
    nothing written or logged holds a raw name, e-mail or phone. An MLflow run "ingest" records counts
    and the data-quality report.
    """
    from rich.console import Console
    from rich.table import Table

    from training.ingest import IngestError, ingest
    from training.settings import get_settings

    try:
        result = ingest(source, out_dir, get_settings(demo=demo))
    except IngestError as exc:
        raise click.ClickException(str(exc)) from exc

    table = Table(title=f"crmlab ingest -> {result.out_dir}")
    for heading in ("table", "rows in", "kept", "quarantined", "excluded (no consent)", "quarantine by rule"):
        table.add_column(heading, justify="left" if heading in ("table", "quarantine by rule") else "right")
    for name, counts in result.counts.items():
        rules = ", ".join(f"{rule} {n}" for rule, n in result.quarantine_by_rule[name].items()) or "-"
        table.add_row(name, f"{counts.rows_in:,}", f"{counts.rows_kept:,}", f"{counts.rows_quarantined:,}",
                      f"{counts.rows_excluded_no_consent:,}", rules)
    console = Console()
    console.print(table)
    console.print(f"report: {result.paths['dq_report_md']}   quarantine: {result.paths['quarantine']}   "
                  f"MLflow run: {result.run_id}")
