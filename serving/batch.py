"""Batch scoring: a registered model over a features table, chunk by chunk, to a file and/or PostgreSQL.

The features are read with ``pyarrow.dataset`` in batches of ``chunk_size`` rows, so memory stays flat
whatever the number of customers. When the features hold several cutoffs (``crmlab features`` writes
one row per customer and cutoff), only the latest cutoff is scored: a CRM wants today's score, one row
per customer. Customers without consent (see ``serving.consent``) are skipped and counted; in the
database, their earlier scores for this model are deleted (they may have opted out since the last run).

Each output row: ``customer_id``, ``model_name``, ``model_version`` (the concrete version the URI
resolved to), ``scored_at`` (UTC, one value per run), then the model's output columns (for
``customer_profile`` these include each component's version). Files are written to a temporary name
and renamed at the end, so a failed run never leaves a complete-looking partial file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from serving.consent import ConsentFilter, ListSource, load_consent_filter
from serving.model_ref import resolve_version
from serving.score_store import DEFAULT_TABLE, ScoreTable
from training.features.output import FEATURES_FILE, META_FILE
from training.settings import Settings, get_settings

ID = "customer_id"
CUTOFF = "cutoff"
DEFAULT_CHUNK = 50_000
FILE_SUFFIXES = (".parquet", ".pq", ".csv")


@dataclass
class ScoreResult:
    model_uri: str
    model_name: str
    model_version: str | None
    scored_at: datetime
    rows_in: int               # rows in the features table
    rows_scored: int
    rows_no_consent: int
    rows_excluded: int
    rows_other_cutoffs: int    # rows of earlier cutoffs, not scored
    seconds: float
    out_path: Path | None = None
    table: str | None = None
    cutoff: str | None = None
    rows_deleted: int = 0      # earlier scores of now-skipped customers removed from the table

    def summary(self) -> str:
        version = f" v{self.model_version}" if self.model_version else ""
        targets = ", ".join(str(t) for t in (self.out_path, self.table) if t)
        rate = self.rows_scored / self.seconds if self.seconds > 0 else float("nan")
        cutoff = f" at cutoff {self.cutoff}" if self.cutoff else ""
        return (f"scored {self.rows_scored:,} of {self.rows_in:,} rows{cutoff} with "
                f"{self.model_name}{version} in {self.seconds:.1f} s ({rate:,.0f} rows/s) -> {targets}; "
                f"skipped: "
                f"{self.rows_no_consent:,} without consent, {self.rows_excluded:,} excluded, "
                f"{self.rows_other_cutoffs:,} of earlier cutoffs"
                + (f"; {self.rows_deleted:,} earlier score(s) of skipped customers deleted" if self.rows_deleted
                   else ""))


def score_batch(model_uri: str, features: str | Path | pd.DataFrame, out_path: str | Path | None = None,
                chunk_size: int = DEFAULT_CHUNK, settings: Settings | None = None, *, to: str | None = None,
                table: str = DEFAULT_TABLE, schema: str | None = None, consent: ListSource | None = None,
                exclude: ListSource | None = None, progress: bool = True,
                params: dict | None = None, clean_data: str | Path | None = None) -> ScoreResult:
    """Score every (consenting) customer of ``features`` with ``model_uri``; write ``out_path`` and/or ``to``.

    ``features``: a features directory (``features.parquet`` inside, or a folder of Parquet files), a
    .parquet/.csv file, or a DataFrame; it needs a ``customer_id`` column. ``to``: a PostgreSQL URL; the
    ``table`` (in ``schema``) is upserted on (customer_id, model_name). ``params``: inference
    parameters for the model, e.g. ``{"reasons": False}`` to skip churn's explanations. ``clean_data``:
    the clean data folder for derived inputs (see ``derived_inputs``); by default the one the features
    were built from (features_meta.json).
    """
    import mlflow

    from training.core.pyfunc_base import direct_predictor
    from training.tracking import configure_mlflow

    if out_path is None and to is None:
        raise ValueError("nowhere to write: give an output file (--out PATH) and/or a database (--to URL)")
    if chunk_size < 1:
        raise ValueError(f"chunk size must be at least 1 (got {chunk_size})")
    settings = settings or get_settings()
    configure_mlflow(settings)
    source = FeatureSource.open(features)
    gate = load_consent_filter(consent, exclude)
    name, version = resolve_version(model_uri)
    # Load the concrete version: the alias may move while a long run is going.
    model = mlflow.pyfunc.load_model(f"models:/{name}/{version}" if version else model_uri)
    predict = direct_predictor(model)
    derive = derived_inputs(model, name, source.columns, source.meta, clean_data)
    scored_at = datetime.now(UTC)
    sinks: list = []
    if out_path is not None:
        sinks.append(file_sink(Path(out_path)))
    store = ScoreTable(to, table, schema) if to else None
    if store is not None:
        sinks.append(store)
    result = ScoreResult(model_uri, name, version, scored_at, source.rows_in, 0, 0, 0,
                         source.rows_other_cutoffs, 0.0, Path(out_path) if out_path else None,
                         store.qualified_name if store else None, source.cutoff)
    start = time.perf_counter()
    ok = False
    try:
        with _progress(progress, source.rows_to_score, name) as advance:
            seen: set[str] = set()
            for offset, chunk in source.batches(chunk_size):
                rows, skipped = _consenting(chunk, gate, result)
                if store is not None and skipped:
                    result.rows_deleted += store.forget(skipped, name)
                if not rows.empty:
                    rows = derive(rows) if derive is not None else rows
                    scores = _score_rows(predict, rows, offset, seen, params)
                    scores.insert(1, "model_name", name)
                    scores.insert(2, "model_version", version)
                    scores.insert(3, "scored_at", scored_at)
                    for sink in sinks:
                        sink.upsert(scores)
                    result.rows_scored += len(scores)
                advance(len(chunk))
        ok = True
    finally:
        for sink in sinks:
            sink.close(ok)
    result.seconds = time.perf_counter() - start
    return result


def derived_inputs(model, name: str, columns: list[str], meta: dict, clean_data: str | Path | None = None
                   ) -> Callable[[pd.DataFrame], pd.DataFrame] | None:
    """Adds the BG/NBD inputs (``btyd_*``) when the model reads them and the features lack them.

    A CLV champion that is BG/NBD or stacks its outputs (or a profile built on one) reads per-customer repeat-purchase
    summaries that crmlab features do not carry; they are computed from the clean transactions the
    features were built from, with the same code and cleaning training used (``BtydInputs``).
    ``columns``: the features' columns; ``meta``: their features_meta.json (``features_meta``).
    """
    from training.clv.btyd import BTYD_INPUTS
    from training.clv.inputs import BtydInputs

    needed = [c for c in BTYD_INPUTS.values() if c in _model_inputs(model)]
    if not needed or set(needed) <= set(columns):
        return None
    data_dir = clean_data or meta.get("data_dir")
    if not data_dir:
        raise ValueError(f"{name} reads BG/NBD inputs ({', '.join(needed)}) that these features do not carry "
                         "(repeat-purchase summaries the CLV model reads): score a features directory written by "
                         "`crmlab features` (its features_meta.json names the clean data), or give the clean data "
                         "with --data DIR")
    if CUTOFF not in columns:
        raise ValueError(f"{name} reads BG/NBD inputs, computed as of each row's {CUTOFF!r}: the features have "
                         f"no {CUTOFF} column; add the date the features describe")
    return BtydInputs(Path(data_dir), meta.get("cleaning")).add


def _model_inputs(model) -> set[str]:
    """Columns a loaded pyfunc reads: its own list (crmlab models, the profile) and its signature."""
    from training.core.pyfunc_base import python_model_of

    schema = model.metadata.get_input_schema()
    names = set(schema.input_names()) if schema is not None else set()
    return names | set(getattr(python_model_of(model), "input_columns", []))


def _consenting(chunk: pd.DataFrame, gate: ConsentFilter, result: ScoreResult) -> tuple[pd.DataFrame, list[str]]:
    """(rows that may be scored, ids skipped for consent or exclusion); counts go to ``result``."""
    if ID not in chunk.columns:
        raise ValueError(f"the features have no {ID!r} column: batch scores are keyed by customer")
    keep, no_consent, excluded = gate.split(chunk[ID])
    result.rows_no_consent += no_consent
    result.rows_excluded += excluded
    if keep.all():
        return chunk, []  # the usual case: no copy of the chunk
    return chunk.loc[keep], chunk.loc[~keep, ID].astype(str).tolist()


def _score_rows(predict: Callable[..., object], rows: pd.DataFrame, offset: int, seen: set[str],
                params: dict | None) -> pd.DataFrame:
    from mlflow.exceptions import MlflowException

    from serving.profile_model import OUTPUT_DTYPES

    ids = rows[ID].astype(str)
    _check_unique(ids, offset, seen)
    try:
        out = predict(rows, params)
    except MlflowException as err:
        raise ValueError(f"the model refused the chunk starting at input row {offset} (row positions count "
                         f"the consenting rows of that chunk): {err.message}") from None
    out = out if isinstance(out, pd.DataFrame) else pd.DataFrame({"prediction": np.asarray(out)})
    out = out.drop(columns=[ID], errors="ignore").reset_index(drop=True)
    out = out.astype({c: t for c, t in OUTPUT_DTYPES.items() if c in out.columns})
    return pd.concat([pd.DataFrame({ID: ids.to_numpy()}), out], axis=1)


def _check_unique(ids: pd.Series, offset: int, seen: set[str]) -> None:
    values = ids.tolist()
    within = ids.duplicated()
    if within.any() or not seen.isdisjoint(values):  # set lookups in C; positions only on failure
        repeated = within | ids.isin(seen)
        first = int(np.flatnonzero(repeated.to_numpy())[0])
        raise ValueError(f"{int(repeated.sum())} customer id(s) appear more than once (first in the chunk "
                         f"starting at input row {offset}, position {first}): give one row per customer")
    seen.update(values)


# --- features in ------------------------------------------------------------------------------------

@dataclass
class FeatureSource:
    """Rows to score, in batches; only the latest cutoff when there are several."""

    dataset: object | None           # pyarrow.dataset.Dataset, or None for a DataFrame
    frame: pd.DataFrame | None
    rows_in: int
    rows_to_score: int
    cutoff: str | None
    filter: object | None = None
    meta: dict = field(default_factory=dict)  # features_meta.json beside a crmlab features table

    @property
    def columns(self) -> list[str]:
        return list(self.frame.columns) if self.frame is not None else list(self.dataset.schema.names)

    @property
    def rows_other_cutoffs(self) -> int:
        return self.rows_in - self.rows_to_score

    @classmethod
    def open(cls, features: str | Path | pd.DataFrame) -> FeatureSource:
        if isinstance(features, pd.DataFrame):
            return cls._from_frame(features)
        return cls._from_path(Path(features))

    @classmethod
    def _from_frame(cls, frame: pd.DataFrame) -> FeatureSource:
        cutoff = None
        rows_in = len(frame)
        if CUTOFF in frame.columns and frame[CUTOFF].nunique() > 1:
            latest = frame[CUTOFF].max()
            frame = frame.loc[frame[CUTOFF] == latest]
            cutoff = _cutoff_label(latest)
        if not frame.index.is_unique:  # rows are joined by index later (derived inputs)
            frame = frame.reset_index(drop=True)
        return cls(None, frame, rows_in, len(frame), cutoff)

    @classmethod
    def _from_path(cls, path: Path) -> FeatureSource:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.dataset as ds

        if path.is_dir() and (path / FEATURES_FILE).exists():
            path = path / FEATURES_FILE
        meta = features_meta(path)
        if not path.exists():
            raise ValueError(f"features {path} do not exist: give a features directory or a .parquet/.csv "
                             "file")
        if path.is_file() and path.suffix.lower() == ".csv":
            fmt = ds.CsvFileFormat(convert_options=_csv_options({ID: pa.string()}))
        elif path.is_dir() or path.suffix.lower() in {".parquet", ".pq"}:
            fmt = "parquet"
        else:
            raise ValueError(f"unsupported features file {path.name}: give .parquet or .csv")
        dataset = ds.dataset(str(path), format=fmt)
        rows_in = dataset.count_rows()
        if CUTOFF not in dataset.schema.names:
            return cls(dataset, None, rows_in, rows_in, None, meta=meta)
        cutoffs = dataset.to_table(columns=[CUTOFF])[CUTOFF]
        if pc.count_distinct(cutoffs).as_py() <= 1:
            return cls(dataset, None, rows_in, rows_in, None, meta=meta)
        latest = pc.max(cutoffs)
        filt = ds.field(CUTOFF) == latest
        return cls(dataset, None, rows_in, dataset.count_rows(filter=filt), _cutoff_label(latest.as_py()),
                   filt, meta)

    def batches(self, chunk_size: int) -> Iterator[tuple[int, pd.DataFrame]]:
        """(offset of the first row, rows) for each batch, in input order."""
        if self.frame is not None:
            for start in range(0, len(self.frame), chunk_size):
                yield start, self.frame.iloc[start:start + chunk_size]
            return
        offset = 0
        for batch in self.dataset.to_batches(batch_size=chunk_size, filter=self.filter):
            if batch.num_rows:
                yield offset, batch.to_pandas()
                offset += batch.num_rows


def features_meta(path: Path) -> dict:
    """features_meta.json of a crmlab features table (beside the file or in the folder), else {}."""
    import json

    meta = (path if path.is_dir() else path.parent) / META_FILE
    try:
        return json.loads(meta.read_text()) if meta.is_file() else {}
    except (OSError, ValueError):
        return {}


def _csv_options(types: dict):
    import pyarrow.csv as pv

    return pv.ConvertOptions(column_types=types)


def _cutoff_label(value: object) -> str:
    return str(value.date()) if isinstance(value, datetime) else str(value)


# --- files out --------------------------------------------------------------------------------------

class _FileSink:
    """Writes to ``<name>.partial`` and renames on success (same ``upsert`` interface as ScoreTable)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.partial = path.with_name(path.name + ".partial")
        self.rows = 0

    def close(self, ok: bool) -> None:
        self._finish()
        if ok and self.partial.exists():
            self.partial.replace(self.path)
        else:
            self.partial.unlink(missing_ok=True)

    def _finish(self) -> None:
        pass


class _ParquetSink(_FileSink):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.writer = None
        self.schema = None

    def upsert(self, frame: pd.DataFrame) -> int:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.writer is None:
            # An all-null column in the first chunk would fix its type to null: store such columns as text.
            self.schema = pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type) else f
                                     for f in table.schema])
            self.writer = pq.ParquetWriter(str(self.partial), self.schema)
        self.writer.write_table(table.cast(self.schema))
        self.rows += len(frame)
        return len(frame)

    def _finish(self) -> None:
        if self.writer is not None:
            self.writer.close()


class _CsvSink(_FileSink):
    def upsert(self, frame: pd.DataFrame) -> int:
        frame.to_csv(self.partial, mode="a", header=self.rows == 0, index=False,
                     date_format="%Y-%m-%dT%H:%M:%S%z")
        self.rows += len(frame)
        return len(frame)


def file_sink(path: Path) -> _FileSink:
    suffix = path.suffix.lower()
    if suffix not in FILE_SUFFIXES:
        raise ValueError(f"--out {path.name}: give a .parquet or .csv file name")
    return _CsvSink(path) if suffix == ".csv" else _ParquetSink(path)


@contextmanager
def _progress(enabled: bool, total: int, label: str) -> Iterator[Callable[[int], None]]:
    """Yields ``advance(rows)``: a rich progress bar, or a no-op when disabled."""
    if not enabled:
        yield lambda n: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("[bold]scoring {task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    with Progress(*columns) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)
