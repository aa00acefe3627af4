"""Choosing the algorithm, the number of segments and PCA on/off with Optuna (core ``run_study``).

Every candidate is fitted on the same sample, scored on the same evaluation rows in the same quality
space (see :mod:`training.segments.quality`), and refitted on bootstrap resamples to measure stability.
Candidates whose smallest segment holds fewer than ``min_share`` of the customers are infeasible.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from training.segments.inputs import FeatureSpec, SegmentationInputError
from training.segments.pipeline import (
    ALGORITHMS,
    FittedSegmenter,
    Preprocessor,
    SegmenterConfig,
    fit_in_space,
    sample_rows,
)
from training.segments.quality import (
    INFEASIBLE_SCORE,
    Quality,
    bootstrap_stability,
    cluster_scores,
    inertia,
    shares,
)
from training.settings import Settings


@dataclass(frozen=True)
class SearchSpace:
    """Search bounds and the cost knobs (fit sample, silhouette sample, bootstrap resamples)."""

    k_min: int = 2
    k_max: int = 10
    algorithms: tuple[str, ...] = ALGORITHMS
    min_share: float = 0.02
    fit_rows: int = 20_000
    eval_rows: int = 3_000
    resamples: int = 3


@dataclass
class SearchData:
    """The fitting sample transformed once per PCA setting, plus evaluation rows in the quality space."""

    spec: FeatureSpec
    preps: dict[bool, Preprocessor]
    spaces: dict[bool, np.ndarray]
    quality_space: np.ndarray
    eval_rows: np.ndarray
    k_max: int

    @classmethod
    def build(cls, sample: pd.DataFrame, spec: FeatureSpec, space: SearchSpace, seed: int) -> SearchData:
        plain = Preprocessor(spec).fit(sample)
        weighted = plain.weighted(plain.standardised(sample))
        with_pca = Preprocessor(spec, use_pca=True).fit(sample)
        distinct = len(np.unique(np.round(weighted, 9), axis=0))
        by_share = int(1.0 / space.min_share) if space.min_share > 0 else space.k_max
        k_max = min(space.k_max, distinct - 1, by_share)
        if k_max < space.k_min:
            raise SegmentationInputError(
                f"{len(sample)} customers with {distinct} distinct profile(s) cannot form {space.k_min} or "
                f"more segments of at least {space.min_share:.0%} each: provide more (varied) customers "
                "or lower the minimum number of segments."
            )
        return cls(spec=spec, preps={False: plain, True: with_pca},
                   spaces={False: plain.project(weighted), True: with_pca.transform(sample)},
                   quality_space=weighted,
                   eval_rows=sample_rows(len(sample), space.eval_rows, seed + 7), k_max=k_max)


@dataclass
class Candidate:
    config: SegmenterConfig
    quality: Quality
    model: FittedSegmenter


def evaluate(data: SearchData, config: SegmenterConfig, *, seed: int, resamples: int) -> Candidate:
    """Fit ``config`` on the sample and score it (stability from ``resamples`` bootstrap refits)."""
    space = data.spaces[config.use_pca]
    prep = data.preps[config.use_pca]
    model = fit_in_space(space, prep, config, seed=seed)
    labels, _ = model.assign_space(space)
    ev = data.eval_rows
    sil, db, ch = cluster_scores(data.quality_space[ev], labels[ev])

    def refit_and_label(rows: np.ndarray, refit_seed: int) -> np.ndarray:
        return fit_in_space(space[rows], prep, config, seed=refit_seed).assign_space(space[ev])[0]

    stability = bootstrap_stability(refit_and_label, labels[ev], len(space), resamples=resamples, seed=seed)
    quality = Quality(silhouette=sil, davies_bouldin=db, calinski_harabasz=ch, stability=stability,
                      min_share=float(shares(labels, config.k).min()),
                      inertia=inertia(data.quality_space, labels))
    return Candidate(config, quality, model)


@dataclass
class SearchResult:
    best: Candidate
    candidates: dict[SegmenterConfig, Candidate] = field(default_factory=dict)
    study_name: str = ""
    trials: int = 0  # trials in the study (cumulative when a study is resumed)

    def table(self) -> pd.DataFrame:
        """One row per evaluated candidate (for the trials artifact and the silhouette-by-K plot)."""
        rows = [{"algorithm": c.config.algorithm, "k": c.config.k, "pca": c.config.use_pca,
                 **vars(c.quality)} for c in self.candidates.values()]
        return pd.DataFrame(rows).sort_values(["algorithm", "k", "pca"]).reset_index(drop=True)


def choose_segmenter(data: SearchData, space: SearchSpace, *, trials: int, timeout: float | None, seed: int,
                     study_name: str, storage: str | None, settings: Settings) -> SearchResult:
    """Run the Optuna study; the best feasible candidate (by combined objective) wins."""
    import optuna

    from training.core.tuning import run_study

    cache: dict[SegmenterConfig, Candidate] = {}

    def objective(trial: optuna.Trial) -> float:
        config = SegmenterConfig(
            algorithm=trial.suggest_categorical("algorithm", list(space.algorithms)),
            k=trial.suggest_int("k", space.k_min, data.k_max),
            use_pca=trial.suggest_categorical("pca", [False, True]),
        )
        if config not in cache:  # TPE repeats points in a small space: a refit would give the same score
            cache[config] = evaluate(data, config, seed=seed, resamples=space.resamples)
        quality = cache[config].quality
        for key, value in vars(quality).items():
            trial.set_user_attr(key, value)
        return quality.objective(space.min_share)

    _warm_start(study_name, storage, settings, range(space.k_min, data.k_max + 1))
    study = run_study(objective, study_name=study_name, direction="maximize", trials=trials, timeout=timeout,
                      seed=seed, storage=storage, settings=settings)
    best = study.best_trial.params  # from an earlier run when the study was resumed: refit it here
    config = SegmenterConfig(algorithm=best["algorithm"], k=best["k"], use_pca=best["pca"])
    if config not in cache and space.k_min <= config.k <= data.k_max and config.algorithm in space.algorithms:
        cache[config] = evaluate(data, config, seed=seed, resamples=space.resamples)
    result = pick_best(cache, space, study_name)
    result.trials = len(study.trials)
    return result


def _warm_start(study_name: str, storage: str | None, settings: Settings, k_values: range) -> None:
    """Queue one K-Means trial per K first, so the whole K range is scored before TPE explores.

    With 3 algorithms x 9 K x PCA on/off, a few dozen TPE trials can otherwise miss the right K.
    ``run_study`` loads the same study (``load_if_exists``) and runs the queued trials first.
    """
    import optuna

    study = optuna.create_study(storage=storage or settings.default_optuna_storage(), study_name=study_name,
                                direction="maximize", load_if_exists=True)
    for k in k_values:
        study.enqueue_trial({"algorithm": "kmeans", "k": k, "pca": False}, skip_if_exists=True)


def pick_best(cache: dict[SegmenterConfig, Candidate], space: SearchSpace, study_name: str) -> SearchResult:
    """Highest objective among this run's candidates; ties go to fewer segments (simpler story)."""
    if not cache:
        raise SegmentationInputError("the search evaluated no candidate: raise --trials or --timeout.")
    best = max(cache.values(), key=lambda c: (c.quality.objective(space.min_share), -c.config.k))
    if best.quality.objective(space.min_share) <= INFEASIBLE_SCORE:
        raise SegmentationInputError(
            f"no candidate gives every segment at least {space.min_share:.0%} of the customers: provide more "
            "customers, raise --trials, or lower the maximum number of segments."
        )
    return SearchResult(best=best, candidates=cache, study_name=study_name)


def k_sweep(data: SearchData, k_values: range, *, seed: int) -> pd.DataFrame:
    """K-Means inertia and silhouette for every K (the elbow and silhouette-by-K curves)."""
    rows = []
    for k in k_values:
        q = evaluate(data, SegmenterConfig("kmeans", k), seed=seed, resamples=0).quality
        rows.append({"k": k, "inertia": q.inertia, "silhouette": q.silhouette})
    return pd.DataFrame(rows)
