"""``ingest``: raw export -> pseudonymised, contract-checked, typed clean tables + quarantine + report.

Per table, in this order (the order decides which rule a row is counted under):
1. pseudonymise (customers: before anything else reads the rows, so no later artefact holds raw PII);
2. parse to the contract's types (``unparseable_*``);
3. the declared contract (``not_null``, ``allowed_values``, ``min_value``, ``max_value``);
4. duplicate keys among the remaining rows (``duplicate_key``, first kept);
5. consent: rows of opted-out customers are excluded and counted (not quarantined);
6. references to accepted customers/products (``unknown_customer``, ``unknown_product``);
7. row-local cleaning (categorical nulls -> ``"missing"``), write.
No statistic is fitted here (imputation, outlier bounds): those are point-in-time, in features.

Steps 2-7 run on DuckDB (``engine.py``: one typed SELECT per table with a flag per declared rule, joins
for keys, consent and references, ``COPY`` of the kept rows and of the refused rows with their rule,
reason and raw record). Memory stays bounded: DuckDB spills above ``settings.ingest_memory_limit``, and
what streams through pandas (CSV, databases, PII) does so in chunks of ``chunk_rows``. The report
profiles the written clean files column by column.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from training.ingest.contracts import TableSpec
from training.ingest.engine import Screening, screen_all
from training.ingest.report import TableCounts, build_report, profile_parquet, render_markdown
from training.ingest.schema import DataSchema
from training.ingest.sources import IngestError, RawSource, open_source
from training.privacy import pseudonymise, undeclared_pii
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


DEFAULT_CHUNK_ROWS = 1_000_000
ALL_TABLES = ("products", "customers", "transactions", "events")
META_FILE = "ingest_meta.json"
NO_CONSENT_COLUMN = ("assumed: the export has no consent column, so every customer in it is taken as "
                     "consented (export only customers who may be profiled)")


def ingest(source: str | Path | DataSchema, out_dir: Path, settings: Settings, *,
           progress: bool = True, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> IngestResult:
    """Ingest the export a schema file describes into ``out_dir``; logs an MLflow run "ingest".

    ``source`` is a schema file, a directory holding ``schema.yaml`` or a ``DataSchema``.

    Files are processed ``chunk_rows`` raw rows at a time (memory stays bounded on large exports; the
    output does not depend on the chunk size); a database table is read whole.
    """
    if chunk_rows < 1:
        raise IngestError(f"chunk_rows must be a positive number of rows, got {chunk_rows}")
    out_dir = Path(out_dir)
    raw_source = open_source(source)
    key = b""
    if any(getattr(t, "pii", None) is not None and t.pii.hash for t in raw_source.schema.tables().values()):
        try:  # only an export with columns to pseudonymise needs the key
            key = settings.resolved_pii_key()
        except RuntimeError as exc:
            raw_source.close()
            raise IngestError(str(exc)) from exc
    from training.tracking import warm_tracking_store

    warming = warm_tracking_store(settings)  # the run is logged at the end; the store opens meanwhile
    paths = {table: out_dir / f"{table}.parquet" for table in raw_source.specs}
    paths["quarantine"] = out_dir / "quarantine.parquet"
    try:
        _refuse_overwriting_source(raw_source, out_dir)  # before anything below may delete files there
        out_dir.mkdir(parents=True, exist_ok=True)
        for stale in (t for t in ALL_TABLES if t not in raw_source.specs):  # an earlier export's table
            (out_dir / f"{stale}.parquet").unlink(missing_ok=True)
        try:
            screening = _screen_all(raw_source, key, settings, paths, chunk_rows, progress)
        except BaseException:
            _remove_partial(paths)
            raise
    finally:
        raw_source.close()
        warming.join()  # also on failure: never leave the store half-migrated at exit
    return _write_and_log(raw_source, screening, paths, out_dir, settings)


def _remove_partial(paths: dict[str, Path]) -> None:
    """Files are written chunk by chunk: after a failure, leave none that looks like a complete output."""
    for path in paths.values():
        path.unlink(missing_ok=True)


def _refuse_overwriting_source(raw_source: RawSource, out_dir: Path) -> None:
    clean = {out_dir.resolve() / f"{t}.parquet" for t in ALL_TABLES} | {out_dir.resolve() / "quarantine.parquet"}
    for table in raw_source.tables.values():
        if any(p.resolve() in clean for p in table.files):
            raise IngestError(f"--out {out_dir} holds the raw {table.table} file: clean tables would overwrite "
                              "the export. Choose another output directory.")


def _screen_all(raw_source: RawSource, key: bytes, settings: Settings, paths: dict[str, Path],
                chunk_rows: int, show: bool) -> Screening:
    """Screen every table on DuckDB (``engine.py``), with a progress line per step."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = [TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn()]
    with Progress(*columns, disable=not show, transient=False) as bar:
        task = bar.add_task("ingest", total=None)
        screening = screen_all(
            raw_source, settings, paths,
            raw_chunks=lambda table: _raw_chunks(raw_source, table, key, chunk_rows),
            pii_check=partial(_refuse_undeclared_pii, raw_source),
            native=partial(_read_by_engine, raw_source),
            status=lambda text: bar.update(task, description=text))
        bar.update(task, description="ingest: checked all tables")
    return screening


def _read_by_engine(raw_source: RawSource, table: str) -> bool:
    """Parquet files without PII to pseudonymise are read by DuckDB in place; the rest streams through
    pandas (CSV options, database drivers, and the keyed HMAC before anything else sees the rows)."""
    source = raw_source.tables[table]
    pii = getattr(raw_source.schema.tables()[table], "pii", None)
    return source.kind == "files" and source.fmt == "parquet" and not (pii is not None and pii.hash)


def _raw_chunks(raw_source: RawSource, table: str, key: bytes, chunk_rows: int) -> Iterator[pd.DataFrame]:
    declared = raw_source.schema.tables()[table]
    pii = getattr(declared, "pii", None)
    first = True
    for raw in raw_source.read_chunks(table, chunk_rows):
        # PII is pseudonymised before anything else reads the rows, so no later artefact holds raw PII
        if pii is not None and pii.hash:
            raw = pseudonymise(raw, key, pii.hash)
        if first:
            _refuse_undeclared_pii(raw_source, table, raw)
            first = False
        yield raw


def _refuse_undeclared_pii(raw_source: RawSource, table: str, raw: pd.DataFrame) -> None:
    """A declared column whose values are e-mails/phones must be declared as PII instead."""
    found = undeclared_pii(raw, raw_source.specs[table])
    if found:
        column, what = found
        raw_name = {v: k for k, v in raw_source.tables[table].rename.items()}.get(column, column)
        raise IngestError(
            f"{table}: column {raw_name!r} looks like {what} but is not declared as PII: list it under "
            f"customers.pii.hash (pseudonymised) or pii.drop, or leave it out of the schema")


def _write_and_log(raw_source: RawSource, screening: Screening, paths: dict[str, Path], out_dir: Path,
                   settings: Settings) -> IngestResult:
    from training.tracking import tracked_run

    paths = dict(paths)
    counts = screening.counts
    by_rule = screening.by_rule
    specs = raw_source.specs
    consent = ("column marketing_consent (opted-out customers are excluded with all their rows)"
               if "marketing_consent" in specs.get("customers", TableSpec(None, {})).columns else NO_CONSENT_COLUMN)
    source_info = {"kind": raw_source.kind, "location": raw_source.location, "name": raw_source.schema.name,
                   "tables": {t: raw_source.tables[t].location for t in specs},
                   "ignored_columns": raw_source.ignored_columns, "consent": consent}
    profiles = _profiles(specs, paths, settings)
    report = build_report(source_info, counts, by_rule, profiles, {"absurd_amount": settings.absurd_amount})
    paths["meta"] = out_dir / META_FILE
    paths["meta"].write_text(json.dumps(clean_meta(raw_source), indent=2) + "\n")
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


def _profiles(specs: dict[str, TableSpec], paths: dict[str, Path], settings: Settings) -> dict[str, Any]:
    import duckdb

    with duckdb.connect(config={"memory_limit": settings.ingest_memory_limit}) as con:
        con.execute("SET enable_progress_bar = false")
        return {t: profile_parquet(con, specs[t], paths[t]) for t in specs}


def _log_run(raw_source: RawSource, counts: dict[str, TableCounts], by_rule: dict[str, dict[str, int]],
             paths: dict[str, Path], settings: Settings) -> None:
    import mlflow

    mlflow.log_params({"source_kind": raw_source.kind, "source": raw_source.location[:500],
                       "schema_name": raw_source.schema.name, "tables": ",".join(raw_source.specs),
                       "consent": "column" if "marketing_consent" in raw_source.specs.get(
                           "customers", TableSpec(None, {})).columns else "assumed_all",
                       "absurd_amount": settings.absurd_amount})
    metrics: dict[str, float] = {}
    for table, c in counts.items():
        for name in ("rows_in", "rows_kept", "rows_quarantined", "rows_excluded_no_consent"):
            metrics[f"{table}.{name}"] = getattr(c, name)
        for rule, n in by_rule[table].items():
            metrics[f"{table}.quarantine.{rule}"] = n
    mlflow.log_metrics(metrics)
    for name in ("dq_report_json", "dq_report_md", "quarantine_summary", "quarantine", "meta"):
        mlflow.log_artifact(str(paths[name]), artifact_path="data_quality")


def clean_meta(raw_source: RawSource) -> dict[str, Any]:
    """What the clean directory holds, for the feature build: tables, their columns, customer attributes."""
    customers = raw_source.schema.customers
    return {
        "name": raw_source.schema.name,
        "tables": {t: list(spec.columns) for t, spec in raw_source.specs.items()},
        "attributes": list(customers.attributes) if customers is not None else [],
        "ordinal": ({a: [str(v) for v in customers.allowed_values[a]] for a in customers.ordinal}
                    if customers is not None else {}),
        "consent": "marketing_consent" in raw_source.specs.get("customers", TableSpec(None, {})).columns,
    }
