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

Large exports are screened in chunks of raw rows (bounded memory). Only what a later chunk needs is
carried over: first occurrences of keys (``SeenKeys``), opted-out customer ids (read in a first pass
over customers), accepted/quarantined keys of referenced tables, counts and the rule of each quarantined
row. Clean and quarantined rows are appended to their parquet files per chunk; the report profiles the
written clean files column by column.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import astuple, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from training.ingest.consent import excluded_for_consent, opted_out_ids
from training.ingest.contracts import SPECS, TABLES, check_contract, contract
from training.ingest.integrity import SeenKeys, unknown_references
from training.ingest.output import (
    QUARANTINE_SCHEMA,
    arrow_schema,
    clean_arrow,
    fill_missing_categories,
    quarantine_arrow,
    read_clean_column,
)
from training.ingest.parse import parse_table
from training.ingest.quarantine import combine, counts_by_rule, drop_covered, quarantine_rows
from training.ingest.report import TableCounts, build_report, profile_columns, render_markdown
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
    """One chunk of one table, screened."""

    clean: pd.DataFrame
    quarantine: pd.DataFrame
    counts: TableCounts


@dataclass
class _TableState:
    """What must outlive a chunk: keys for duplicates/references, counts, quarantine rules."""

    seen: SeenKeys
    rules: list[pd.Series] = field(default_factory=list)
    counts: TableCounts = field(default_factory=lambda: TableCounts(0, 0, 0, 0))
    accepted: list[pd.Index] = field(default_factory=list)
    quarantined: list[pd.Index] = field(default_factory=list)


@dataclass
class _Screening:
    """Per-table results and the keys later tables check their references against."""

    rules: dict[str, pd.Series] = field(default_factory=dict)   # table -> rule of each quarantined row
    counts: dict[str, TableCounts] = field(default_factory=dict)
    accepted_keys: dict[str, pd.Index] = field(default_factory=dict)
    quarantined_keys: dict[str, pd.Index] = field(default_factory=dict)


DEFAULT_CHUNK_ROWS = 1_000_000
# Tables whose keys other tables reference: only their accepted/quarantined keys are kept.
_REFERENCED = {target for spec in SPECS.values() for target in spec.refs.values()}


def ingest(source: str | Path, out_dir: Path, settings: Settings, *, schema: str | None = None,
           progress: bool = True, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> IngestResult:
    """Ingest a raw export (directory or SQLAlchemy URL) into ``out_dir``; logs an MLflow run "ingest".

    Files are processed ``chunk_rows`` raw rows at a time (memory stays bounded on large exports; the
    output does not depend on the chunk size); a database table is read whole.
    """
    if chunk_rows < 1:
        raise IngestError(f"chunk_rows must be a positive number of rows, got {chunk_rows}")
    try:
        key = settings.resolved_pii_key()
    except RuntimeError as exc:
        raise IngestError(str(exc)) from exc
    out_dir = Path(out_dir)
    raw_source = open_source(source, schema)
    paths = {table: out_dir / f"{table}.parquet" for table in TABLES}
    paths["quarantine"] = out_dir / "quarantine.parquet"
    try:
        _refuse_overwriting_source(raw_source, out_dir)  # before anything below may delete files there
        out_dir.mkdir(parents=True, exist_ok=True)
        try:
            screening = _screen_all(raw_source, key, settings, paths, chunk_rows, progress)
        except BaseException:
            _remove_partial(paths)
            raise
    finally:
        raw_source.close()
    return _write_and_log(raw_source, screening, paths, out_dir, settings)


def _remove_partial(paths: dict[str, Path]) -> None:
    """Files are written chunk by chunk: after a failure, leave none that looks like a complete output."""
    for path in paths.values():
        path.unlink(missing_ok=True)


def _refuse_overwriting_source(raw_source: RawSource, out_dir: Path) -> None:
    if raw_source.kind == "directory" and Path(raw_source.location).resolve() == out_dir.resolve():
        raise IngestError(f"--out {out_dir} is the source directory: clean tables would overwrite the raw "
                          "export. Choose another output directory.")


def _screen_all(raw_source: RawSource, key: bytes, settings: Settings, paths: dict[str, Path],
                chunk_rows: int, show: bool) -> _Screening:
    """Screen every table chunk by chunk, appending clean and quarantined rows to their files as it goes."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    screening = _Screening()
    opted_out = pd.Index([])
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with (Progress(*columns, disable=not show, transient=False) as bar,
          pq.ParquetWriter(paths["quarantine"], QUARANTINE_SCHEMA) as quarantine_writer):
        task = bar.add_task("ingest", total=len(TABLES))
        for table in TABLES:
            if table == "customers":  # opt-out in ANY row counts, so read them all before screening
                bar.update(task, description="ingest: reading consent")
                opted_out = _opted_out(raw_source, key, chunk_rows)
            state = _TableState(SeenKeys(table))
            with pq.ParquetWriter(paths[table], arrow_schema(table)) as writer:
                for raw in _raw_chunks(raw_source, table, key, chunk_rows):
                    bar.update(task, description=f"ingest: checking {table} (rows {raw.index.start:,}+)")
                    typed, parse_found = parse_table(table, raw)
                    chunk = _screen_table(table, raw, typed, parse_found, opted_out, screening, state, settings)
                    writer.write_table(clean_arrow(table, chunk.clean))
                    quarantine_writer.write_table(quarantine_arrow(chunk.quarantine))
            _finish_table(table, state, screening)
            bar.advance(task)
        bar.update(task, description="ingest: checked all tables")
    return screening


def _raw_chunks(raw_source: RawSource, table: str, key: bytes, chunk_rows: int) -> Iterator[pd.DataFrame]:
    for raw in raw_source.read_chunks(table, chunk_rows):
        # customers: pseudonymised before anything else reads the rows, so no later artefact holds raw PII
        yield pseudonymise_customers(raw, key) if table == "customers" else raw


def _opted_out(raw_source: RawSource, key: bytes, chunk_rows: int) -> pd.Index:
    ids = [opted_out_ids(parse_table("customers", raw)[0])
           for raw in _raw_chunks(raw_source, "customers", key, chunk_rows)]
    return pd.Index(pd.unique(pd.concat([i.to_series() for i in ids]))) if ids else pd.Index([])


def _screen_table(table: str, raw: pd.DataFrame, typed: pd.DataFrame, parse_found: pd.DataFrame,
                  opted_out: pd.Index, done: _Screening, state: _TableState, settings: Settings) -> _Screened:
    spec = SPECS[table]
    contract_found = combine([parse_found, drop_covered(check_contract(table, typed, settings), parse_found)])
    passed = typed.drop(index=contract_found["row_number"].unique())
    dup_found = state.seen.duplicate_keys(passed)
    passed = passed.drop(index=dup_found["row_number"])
    excluded = excluded_for_consent(table, passed, opted_out)
    passed = passed[~excluded]
    ref_found = unknown_references(table, passed, done.accepted_keys, done.quarantined_keys)
    kept = passed.drop(index=ref_found["row_number"].unique())
    found = combine([contract_found, dup_found, ref_found])
    quarantine = quarantine_rows(table, raw, found)
    counts = TableCounts(len(raw), len(kept), len(quarantine), int(excluded.sum()))
    counts.check_identity(table)
    clean = fill_missing_categories(table, kept).reset_index(drop=True)
    # guard: raises if this module has a bug (key uniqueness across chunks is SeenKeys' job)
    contract(table, settings, "clean").validate(clean)
    state.rules.append(quarantine["rule"])
    state.counts = TableCounts(*(a + b for a, b in zip(astuple(state.counts), astuple(counts), strict=True)))
    if table in _REFERENCED:
        state.accepted.append(pd.Index(clean[spec.key]))
        state.quarantined.append(pd.Index(typed.loc[quarantine["row_number"], spec.key].dropna().unique()))
    return _Screened(clean, quarantine, counts)


def _finish_table(table: str, state: _TableState, screening: _Screening) -> None:
    screening.rules[table] = pd.concat(state.rules, ignore_index=True)
    screening.counts[table] = state.counts
    if table in _REFERENCED:
        screening.accepted_keys[table] = _union(state.accepted)
        screening.quarantined_keys[table] = _union(state.quarantined)


def _union(parts: list[pd.Index]) -> pd.Index:
    return pd.Index(pd.unique(np.concatenate([p.to_numpy(dtype=object) for p in parts])))


def _write_and_log(raw_source: RawSource, screening: _Screening, paths: dict[str, Path], out_dir: Path,
                   settings: Settings) -> IngestResult:
    from training.tracking import tracked_run

    paths = dict(paths)
    counts = screening.counts
    by_rule = {t: counts_by_rule(rules.to_frame("rule")) for t, rules in screening.rules.items()}
    source_info = {"kind": raw_source.kind, "location": raw_source.location, "schema": raw_source.schema,
                   "ignored_columns": raw_source.ignored_columns}
    profiles = {t: profile_columns(t, partial(read_clean_column, t, paths[t])) for t in TABLES}
    report = build_report(source_info, counts, by_rule, profiles, {"absurd_amount": settings.absurd_amount})
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
