"""``ingest``: raw export -> pseudonymised, contract-checked, typed clean tables + quarantine + report.

Per table, in this order (the order decides which rule a row is counted under):
1. pseudonymise (customers: before anything else reads the rows, so no later artefact holds raw PII);
2. parse to the contract's types (``unparseable_*``);
3. pandera contract (``not_null``, ``allowed_values``, ``min_value``, ``max_value``);
4. duplicate keys among the remaining rows (``duplicate_key``, first kept);
5. consent: rows of opted-out customers are excluded and counted (not quarantined);
6. references to accepted customers/products (``unknown_customer``, ``unknown_product``);
7. row-local cleaning (categorical nulls -> ``"missing"``), clean-contract guard, write.
No statistic is fitted here (imputation, outlier bounds): those are point-in-time, in features.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from training.ingest.consent import excluded_for_consent, opted_out_ids
from training.ingest.contracts import SPECS, TABLES, check_contract, contract
from training.ingest.integrity import duplicate_keys, unknown_references
from training.ingest.output import fill_missing_categories, write_clean, write_quarantine
from training.ingest.parse import parse_table
from training.ingest.quarantine import combine, counts_by_rule, drop_covered, quarantine_rows
from training.ingest.report import TableCounts, build_report, profile, render_markdown
from training.ingest.sources import IngestError, RawSource, open_source
from training.privacy import pseudonymise_customers
from training.settings import Settings


@dataclass
class IngestResult:
    """What ``ingest`` wrote and counted."""

    out_dir: Path
    counts: dict[str, TableCounts]
    quarantine_by_rule: dict[str, dict[str, int]]   # table -> rule -> rows
    paths: dict[str, Path]                          # customers, ..., quarantine, dq_report_json, dq_report_md
    run_id: str | None = None
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_quarantined(self) -> int:
        return sum(c.rows_quarantined for c in self.counts.values())


@dataclass
class _Screened:
    clean: pd.DataFrame
    quarantine: pd.DataFrame
    counts: TableCounts
    accepted_keys: pd.Index
    quarantined_keys: pd.Index


def ingest(source: str | Path, out_dir: Path, settings: Settings, *, schema: str | None = None,
           progress: bool = True) -> IngestResult:
    """Ingest a raw export (directory or SQLAlchemy URL) into ``out_dir``; logs an MLflow run "ingest"."""
    try:
        key = settings.resolved_pii_key()
    except RuntimeError as exc:
        raise IngestError(str(exc)) from exc
    out_dir = Path(out_dir)
    raw_source = open_source(source, schema)
    try:
        _refuse_overwriting_source(raw_source, out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        screened = _screen_all(raw_source, key, settings, progress)
    finally:
        raw_source.close()
    return _write_and_log(raw_source, screened, out_dir, settings)


def _refuse_overwriting_source(raw_source: RawSource, out_dir: Path) -> None:
    if raw_source.kind == "directory" and Path(raw_source.location).resolve() == out_dir.resolve():
        raise IngestError(f"--out {out_dir} is the source directory: clean tables would overwrite the raw "
                          "export. Choose another output directory.")


def _screen_all(raw_source: RawSource, key: bytes, settings: Settings, show: bool) -> dict[str, _Screened]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    screened: dict[str, _Screened] = {}
    opted_out = pd.Index([])
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, disable=not show, transient=False) as bar:
        task = bar.add_task("ingest", total=len(TABLES))
        for table in TABLES:
            bar.update(task, description=f"ingest: reading {table}")
            raw = raw_source.read(table)
            if table == "customers":
                raw = pseudonymise_customers(raw, key)
            bar.update(task, description=f"ingest: checking {table} ({len(raw):,} rows)")
            typed, parse_found = parse_table(table, raw)
            if table == "customers":
                opted_out = opted_out_ids(typed)
            screened[table] = _screen_table(table, raw, typed, parse_found, opted_out, screened, settings)
            bar.advance(task)
        bar.update(task, description="ingest: checked all tables")
    return screened


def _screen_table(table: str, raw: pd.DataFrame, typed: pd.DataFrame, parse_found: pd.DataFrame,
                  opted_out: pd.Index, done: dict[str, _Screened], settings: Settings) -> _Screened:
    spec = SPECS[table]
    contract_found = combine([parse_found, drop_covered(check_contract(table, typed, settings), parse_found)])
    passed = typed.drop(index=contract_found["row_number"].unique())
    dup_found = duplicate_keys(table, passed)
    passed = passed.drop(index=dup_found["row_number"])
    excluded = excluded_for_consent(table, passed, opted_out)
    passed = passed[~excluded]
    ref_found = unknown_references(
        table, passed, {t: s.accepted_keys for t, s in done.items()},
        {t: s.quarantined_keys for t, s in done.items()},
    )
    kept = passed.drop(index=ref_found["row_number"].unique())
    found = combine([contract_found, dup_found, ref_found])
    quarantine = quarantine_rows(table, raw, found)
    counts = TableCounts(len(raw), len(kept), len(quarantine), int(excluded.sum()))
    counts.check_identity(table)
    clean = fill_missing_categories(table, kept).reset_index(drop=True)
    contract(table, settings, "clean").validate(clean)  # guard: raises if this module has a bug
    quarantined_keys = pd.Index(typed.loc[quarantine["row_number"], spec.key].dropna().unique())
    return _Screened(clean, quarantine, counts, pd.Index(clean[spec.key]), quarantined_keys)


def _write_and_log(raw_source: RawSource, screened: dict[str, _Screened], out_dir: Path,
                   settings: Settings) -> IngestResult:
    from training.tracking import tracked_run

    paths = {table: out_dir / f"{table}.parquet" for table in TABLES}
    for table, result in screened.items():
        write_clean(table, result.clean, paths[table])
    quarantine = pd.concat([s.quarantine for s in screened.values()], ignore_index=True)
    paths["quarantine"] = out_dir / "quarantine.parquet"
    write_quarantine(quarantine, paths["quarantine"])

    counts = {t: s.counts for t, s in screened.items()}
    by_rule = {t: counts_by_rule(s.quarantine) for t, s in screened.items()}
    source_info = {"kind": raw_source.kind, "location": raw_source.location, "schema": raw_source.schema,
                   "ignored_columns": raw_source.ignored_columns}
    report = build_report(source_info, counts, by_rule, {t: profile(t, s.clean) for t, s in screened.items()},
                          {"absurd_amount": settings.absurd_amount})
    paths["dq_report_json"] = out_dir / "dq_report.json"
    paths["dq_report_json"].write_text(json.dumps(report, indent=2) + "\n")
    paths["dq_report_md"] = out_dir / "dq_report.md"
    paths["dq_report_md"].write_text(render_markdown(report))
    summary = out_dir / "quarantine_summary.csv"
    pd.DataFrame([(t, r, n) for t, rules in by_rule.items() for r, n in rules.items()],
                 columns=["table", "rule", "rows"]).to_csv(summary, index=False)
    paths["quarantine_summary"] = summary

    with tracked_run(settings, "ingest", tags={"crmlab.step": "ingest"}) as run:
        _log_run(raw_source, counts, by_rule, paths, settings)
    return IngestResult(out_dir, counts, by_rule, paths, run.info.run_id, source_info)


def _log_run(raw_source: RawSource, counts: dict[str, TableCounts], by_rule: dict[str, dict[str, int]],
             paths: dict[str, Path], settings: Settings) -> None:
    import mlflow

    mlflow.log_params({"source_kind": raw_source.kind, "source": raw_source.location[:500],
                       "schema": raw_source.schema or "", "absurd_amount": settings.absurd_amount})
    metrics: dict[str, float] = {}
    for table, c in counts.items():
        for name in ("rows_in", "rows_kept", "rows_quarantined", "rows_excluded_no_consent"):
            metrics[f"{table}.{name}"] = getattr(c, name)
        for rule, n in by_rule[table].items():
            metrics[f"{table}.quarantine.{rule}"] = n
    mlflow.log_metrics(metrics)
    for name in ("dq_report_json", "dq_report_md", "quarantine_summary", "quarantine"):
        mlflow.log_artifact(str(paths[name]), artifact_path="data_quality")
