"""Search, describe and name a segmentation (``fit``); the core lifecycle registers and promotes it.

Flow: latest-cutoff features -> fitting sample -> Optuna search (core ``run_study``) -> assign every
customer -> stable IDs against the champion (or IDs by revenue for a first model) -> personas and
plots -> ``Fitted`` for ``train_family``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console

from training.core.family import REFERENCE_ROWS, Fitted, ModelCard, RunContext, TrainResult
from training.segments import plots
from training.segments.inputs import (
    ANNUALISED,
    FeatureSpec,
    SegmentationInputError,
    latest_cutoff,
    read_features,
    select_features,
)
from training.segments.model import SegmentsModel, required_inputs
from training.segments.personas import REVENUE, Z_PREFIX, name_segments, persona_sheet, segment_profiles
from training.segments.pipeline import FittedSegmenter, SegmenterConfig, sample_rows
from training.segments.quality import Quality
from training.segments.search import SearchData, SearchResult, SearchSpace, choose_segmenter, k_sweep
from training.segments.stable_ids import MatchResult, initial_ids, match_to_champion, unmatched
from training.settings import Settings

FAMILY = "segments"
HOLDOUT_ROWS = 5_000
EXAMPLE_ROWS = 5
_console = Console(stderr=True)


@dataclass
class Champion:
    version: str
    segment_ids: np.ndarray | None  # champion's assignment of the current customers (None: cannot score)
    names: dict[int, str]
    high_water: int
    error: str = ""


@dataclass
class SegmentsData:
    """The latest cutoff's customers, the search space and the fitting sample (``SegmentsFamily.load``).

    Built before any run opens, so degenerate inputs (too few or identical customers) fail without one.
    """

    frame: pd.DataFrame
    spec: FeatureSpec
    space: SearchSpace
    fit_rows: np.ndarray
    sample: pd.DataFrame
    search: SearchData

    @classmethod
    def build(cls, features: str | Path | pd.DataFrame, space: SearchSpace | None = None, *,
              seed: int) -> SegmentsData:
        space = space or SearchSpace()
        frame = latest_cutoff(features) if isinstance(features, pd.DataFrame) else read_features(features)
        spec = select_features(frame)
        if len(frame) < space.k_min:
            raise SegmentationInputError(
                f"{len(frame)} customer(s) cannot form {space.k_min} or more segments: segmentation needs "
                "at least a few hundred customers; check the features dir."
            )
        fit_rows = sample_rows(len(frame), space.fit_rows, seed)
        sample = frame.iloc[fit_rows].reset_index(drop=True)
        return cls(frame, spec, space, fit_rows, sample, SearchData.build(sample, spec, space, seed))

    def fingerprint(self) -> pd.DataFrame:
        return self.frame[[c for c in ("customer_id", *self.spec.inputs) if c in self.frame]]


@dataclass
class SegmentsDetails:
    """Segments' own part of ``TrainResult``; ``assignments`` holds every customer's segment (in memory)."""

    config: SegmenterConfig
    quality: Quality
    names: dict[int, str]
    profiles: pd.DataFrame
    match: MatchResult
    assignments: pd.DataFrame


def train_segments(features: str | Path | pd.DataFrame, *, settings: Settings, trials: int | None = None,
                   timeout: float | None = None, model_name: str = FAMILY, seed: int | None = None,
                   storage: str | None = None, promote: bool = False,
                   space: SearchSpace | None = None) -> TrainResult:
    """``train_family`` for segments; ``features`` is a features dir or its frame."""
    from training.core.lifecycle import train_family

    seed = settings.seed if seed is None else seed
    return train_family(FAMILY, data=SegmentsData.build(features, space, seed=seed), model_name=model_name,
                        trials=trials, timeout=timeout, seed=seed, storage=storage, promote=promote,
                        settings=settings)


def fit(data: SegmentsData, run: RunContext) -> Fitted:
    """Search, assign every customer, keep IDs stable against the champion, name and describe."""
    import mlflow

    frame, spec, space, seed = data.frame, data.spec, data.space, run.seed
    fit_rows, sample, search_data = data.fit_rows, data.sample, data.search
    run.log(f"segments: {len(frame):,} customers, fitting sample {len(sample):,}, "
            f"{len(spec.columns)} features in {len(spec.groups)} groups")
    mlflow.log_params({"customers": len(frame), "fit_rows": len(sample), "eval_rows": len(search_data.eval_rows),
                       "resamples": space.resamples, "k_range": f"{space.k_min}-{search_data.k_max}",
                       "min_segment_share": space.min_share, "feature_columns": ",".join(spec.columns)[:6000]})
    search = choose_segmenter(search_data, space, trials=run.trials, timeout=run.timeout, seed=seed,
                              study_name=run.study_name, storage=run.storage, settings=run.settings)
    best = search.best
    run.log(f"segments: chose {best.config.label()} (objective "
            f"{best.quality.objective(space.min_share):.3f}); assigning every customer")
    labels, distance = best.model.assign(frame)
    champion = load_champion(run.model_name, frame)
    match = _match(champion, labels, frame, best.config.k)
    ids = np.array([match.label_to_id[lab] for lab in range(best.config.k)], dtype=np.int64)[labels]
    profiles = segment_profiles(frame, ids, best.model.preprocessor)
    names = name_segments(profiles, spec, fixed=match.kept_names)
    profiles.insert(1, "segment_name", profiles["segment_id"].map(names))
    _write_files(run, search, search_data, best.model, profiles, names, match, ids, fit_rows, space, seed,
                 title=f"Segments of {run.model_name}")
    metrics = _metrics(best.quality, space, len(frame), match, champion)
    imputed = best.model.preprocessor.missing_counts(frame)  # reported, never silent
    model = SegmentsModel(best.model, match.label_to_id, names, high_water=match.high_water,
                          required=required_inputs(sample, best.model))
    tags = {"segments.algorithm": best.config.algorithm, "segments.k": str(best.config.k),
            "segments.pca": str(best.config.use_pca).lower(), "segments.names": json.dumps(names),
            **match.tags(champion.version if champion else None)}
    if champion and champion.error:
        tags["segments.match_error"] = champion.error
    q = best.quality
    notes = [f"chosen: {best.config.label()}  silhouette {q.silhouette:.3f}  Davies-Bouldin "
             f"{q.davies_bouldin:.3f}  stability (ARI) {q.stability:.3f}  smallest segment {q.min_share:.1%}"]
    if match.kept_share == match.kept_share:  # not NaN: a champion was matched
        notes.append(f"IDs vs champion: {match.kept_share:.1%} of customers keep their segment; "
                     f"new {match.new_ids or 'none'}, vanished {match.vanished_ids or 'none'}")
    assignments = pd.DataFrame({"customer_id": frame["customer_id"].to_numpy() if "customer_id" in frame else
                                np.arange(len(frame)), "segment_id": ids,
                                "segment_name": pd.Series(ids).map(names).to_numpy(), "distance": distance})
    card = ModelCard(
        predicts=f"Segment of each customer ({best.config.label()}): segment_id (stable across versions), "
                 "segment_name (persona) and distance to the segment centre.",
        data_window=_window(frame), test_metrics={k: metrics[k] for k in ("silhouette", "stability")
                                                  if k in metrics},
        body=persona_sheet(profiles, names, title=f"Segments of {run.model_name}"))
    return Fitted(
        model=model, input_spec=model.spec, input_example=input_example(sample, spec),
        holdout=_holdout(frame, spec, fit_rows, champion, seed),
        reference=monitoring_reference(frame, spec, ids, names, distance, seed), card=card,
        metrics=metrics | {f"imputed_rows.{c}": float(n) for c, n in imputed.items()}, version_metrics=metrics,
        importance=between_segment_share(profiles, spec), tags=tags, trials=search.trials,
        table=profiles.set_index("segment_id")[["segment_name", "customers", "share", "revenue_share"]],
        notes=notes, details=SegmentsDetails(best.config, best.quality, names, profiles, match, assignments))


def _window(frame: pd.DataFrame) -> str:
    cutoff = f"cutoff {pd.Timestamp(frame['cutoff'].iloc[0]).date()}; " if "cutoff" in frame.columns else ""
    return f"{cutoff}{len(frame)} customers (latest cutoff of the features)"


def load_champion(model_name: str, frame: pd.DataFrame) -> Champion | None:
    """The current champion's assignment of ``frame`` (None when the model has no champion yet)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from training.core.registry import CHAMPION

    client = mlflow.MlflowClient()
    try:
        version = client.get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException:
        return None
    loaded = mlflow.pyfunc.load_model(f"models:/{model_name}/{version.version}")
    inner = loaded.unwrap_python_model()
    names = dict(getattr(inner, "names", {}))
    high_water = int(getattr(inner, "high_water", max(names, default=0)))
    spec = getattr(inner, "spec", None)
    columns = [c for c in spec.columns if c in frame.columns] if spec is not None else list(frame.columns)
    try:
        out = loaded.predict(frame[columns])
    except MlflowException as err:
        _console.log(f"segments: champion v{version.version} cannot score these features; all IDs are new")
        return Champion(str(version.version), None, names, high_water, error=err.message[:500])
    ids = out["segment_id"].to_numpy(dtype=np.int64)
    seen = out[["segment_id", "segment_name"]].drop_duplicates("segment_id")
    names = {int(k): str(v) for k, v in zip(seen["segment_id"], seen["segment_name"], strict=True)} | names
    return Champion(str(version.version), ids, names, max(high_water, int(ids.max())))


def _match(champion: Champion | None, labels: np.ndarray, frame: pd.DataFrame, k: int) -> MatchResult:
    if champion is None:
        return initial_ids(labels, frame[REVENUE].to_numpy(dtype=float), k)
    if champion.segment_ids is None:
        return unmatched(labels, k, high_water=champion.high_water, vanished=sorted(champion.names))
    return match_to_champion(champion.segment_ids, champion.names, labels, k, high_water=champion.high_water)


def input_example(sample: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """A few rows of the model's input columns; numbers as float so integer features accept decimals."""
    example = sample[list(spec.inputs)].head(EXAMPLE_ROWS).copy()
    for col in example.columns:
        if col in spec.ordinal:
            example[col] = example[col].astype("string").astype(object)
        else:
            example[col] = example[col].astype("float64")
    return example


def _holdout(frame: pd.DataFrame, spec: FeatureSpec, fit_rows: np.ndarray, champion: Champion | None,
             seed: int) -> pd.DataFrame:
    """Up to ``HOLDOUT_ROWS`` customers outside the fitting sample (any customers when all were fitted),
    with the champion's IDs for the gate's stability check. No customer_id: the gate needs none."""
    unused = np.setdiff1d(np.arange(len(frame)), fit_rows)
    if len(unused) == 0:
        unused = np.arange(len(frame))
    rows = np.sort(np.random.default_rng(seed + 11).choice(unused, size=min(len(unused), HOLDOUT_ROWS),
                                                           replace=False))
    holdout = frame.iloc[rows][list(spec.inputs)].copy()
    if champion is not None and champion.segment_ids is not None:
        holdout["champion_segment_id"] = champion.segment_ids[rows]
    return holdout.reset_index(drop=True)


def monitoring_reference(frame: pd.DataFrame, spec: FeatureSpec, ids: np.ndarray, names: dict[int, str],
                         distance: np.ndarray, seed: int) -> pd.DataFrame:
    """Up to core ``REFERENCE_ROWS`` customers' model inputs and outputs (no customer_id): what ``crmlab monitor``
    compares a batch's inputs and segment shares with."""
    rows = np.sort(np.random.default_rng(seed + 17).choice(len(frame), size=min(len(frame), REFERENCE_ROWS),
                                                           replace=False))
    reference = frame.iloc[rows][list(spec.inputs)].reset_index(drop=True)
    return reference.assign(segment_id=ids[rows], segment_name=pd.Series(ids[rows]).map(names).to_numpy(),
                            distance=distance[rows])


def between_segment_share(profiles: pd.DataFrame, spec: FeatureSpec) -> pd.Series:
    """Per input feature, the share of its (standardised) variance lying between segments, i.e. how much the
    segmentation rests on it: sum over segments of share x squared z-mean; annualised rates count for
    their lifetime total."""
    z = profiles[[Z_PREFIX + c for c in spec.columns]].to_numpy(dtype=float)
    share = (profiles["share"].to_numpy(dtype=float)[:, None] * z**2).sum(axis=0)
    named = pd.Series(share, index=[ANNUALISED.get(c, c) for c in spec.columns])
    return named.groupby(level=0).max().sort_values(ascending=False)


def _metrics(quality: Quality, space: SearchSpace, customers: int, match: MatchResult,
             champion: Champion | None) -> dict[str, float]:
    metrics = {k: float(v) for k, v in vars(quality).items() if np.isfinite(v)}
    metrics |= {"objective": quality.objective(space.min_share), "customers": float(customers)}
    if champion is not None:
        metrics["kept_share"] = match.kept_share
        metrics["new_segments"] = float(len(match.new_ids))
        metrics["vanished_segments"] = float(len(match.vanished_ids))
    return metrics


def _write_files(run: RunContext, search: SearchResult, data: SearchData, model: FittedSegmenter,
                 profiles: pd.DataFrame, names: dict[int, str], match: MatchResult, ids: np.ndarray,
                 fit_rows: np.ndarray, space: SearchSpace, seed: int, *, title: str) -> None:
    """Persona sheet and tables (logged under ``segments/``) and plots (under ``plots/``)."""
    k = model.config.k
    sweep = k_sweep(data, range(space.k_min, data.k_max + 1), seed=seed)
    sample_space = data.spaces[model.config.use_pca]
    sample_ids = ids[fit_rows]
    out, figures = run.files_dir, run.plots_dir
    (out / "personas.md").write_text(persona_sheet(profiles, names, title=title))
    profiles.to_csv(out / "personas.csv", index=False)
    match.table.to_csv(out / "id_match.csv", index=False)
    search.table().to_csv(out / "candidates.csv", index=False)
    sweep.to_csv(out / "k_sweep.csv", index=False)
    plots.elbow_plot(sweep, k, figures / "elbow.png")
    plots.silhouette_by_k_plot(sweep, search.table(), k, figures / "silhouette_by_k.png")
    plots.segment_map(sample_space, sample_ids, names, figures / "map_pca.png", method="pca", seed=seed)
    plots.segment_map(sample_space, sample_ids, names, figures / "map_tsne.png", method="tsne", seed=seed)
    if model.linkage is not None:
        plots.dendrogram_plot(model.linkage, k, figures / "dendrogram.png")
