"""Choosing everything on validation, never on the test horizon.

The history before the cutoff is split once more: fit on purchases before ``cutoff - horizon``,
validate on the purchases in the horizon before the cutoff. On that split, in order:

1. ALS hyper-parameters through the shared Optuna loop (``training.core.tuning.run_study``), objective
   NDCG@k of ALS alone for customers with history;
2. the profile column that defines "your segment" for popularity (or none), by NDCG@k of
   popularity alone;
3. the blend weights of each tier (``training.recs.model.TIERS``), by a grid over the simplex with step
   ``Settings.recs_blend_step``, objective NDCG@k of the blend for that tier's customers.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import optuna
import pandas as pd
import scipy.sparse as sp

from training.recs.data import PROFILE_COLUMNS, RecsData, RecsInputError, count_matrix, relevant_matrix, window
from training.recs.fit import AlsParams, build_recommender, fit_als, known_customers, segment_popularity
from training.recs.metrics import ranking_metrics
from training.recs.model import TIERS, Recommender, tier_scorers, top_k
from training.settings import Settings

K = 10


@dataclass
class Tuned:
    """What validation chose, and the validation scores behind each choice."""

    params: AlsParams
    segment_column: str | None
    weights: dict[str, dict[str, float]]
    validation: dict[str, float] = field(default_factory=dict)
    trials: int = 0  # trials in the study (cumulative when resumed)


@dataclass(frozen=True)
class Validation:
    """The inner split: fit before ``start``, judge on purchases in [start, cutoff) of sampled customers."""

    start: pd.Timestamp
    fit: pd.DataFrame
    customers: np.ndarray  # sampled ids with a validation purchase
    relevant: sp.csr_matrix  # those customers x products


def validation_split(data: RecsData, history: pd.DataFrame, cutoff: pd.Timestamp, horizon_days: int,
                     max_customers: int, seed: int) -> Validation:
    start = cutoff - timedelta(days=horizon_days)
    fit, later = window(history, None, start), window(history, start, cutoff)
    if fit.empty or later.empty:
        raise RecsInputError(f"validation needs purchases both before {start.date()} and between then and the "
                             f"cutoff {cutoff.date()}: choose a later --cutoff or a shorter --horizon-days")
    ids = np.sort(pd.unique(later["customer_id"].to_numpy()).astype(str))
    if len(ids) > max_customers:
        ids = np.sort(np.random.default_rng(seed).choice(ids, size=max_customers, replace=False))
    products = pd.Index(data.catalog.product_ids)
    return Validation(start, fit, ids, relevant_matrix(later, pd.Index(ids), products))


def tune(data: RecsData, history: pd.DataFrame, cutoff: pd.Timestamp, horizon_days: int, *, settings: Settings,
         trials: int, timeout: float | None, seed: int, study_name: str, storage: str | None) -> Tuned:
    """Run the three validation steps of the module docstring and return the choices."""
    from training.core.tuning import run_study

    val = validation_split(data, history, cutoff, horizon_days, settings.recs_eval_customers, seed)
    products = pd.Index(data.catalog.product_ids)
    customers = known_customers(val.fit, data.profiles)
    counts = count_matrix(val.fit, customers, products)
    rows = customers.get_indexer(pd.Index(val.customers))
    with_history = (rows >= 0) & (np.diff(counts.indptr)[np.maximum(rows, 0)] > 0)
    if not with_history.any():
        raise RecsInputError("no validation customer bought anything before the validation window: "
                             "the data is too short for collaborative filtering")

    def objective(trial: optuna.Trial) -> float:
        params = AlsParams(factors=trial.suggest_int("factors", 8, 128, log=True),
                           regularization=trial.suggest_float("regularization", 1e-3, 1.0, log=True),
                           alpha=trial.suggest_float("alpha", 1.0, 50.0, log=True),
                           iterations=trial.suggest_int("iterations", 5, 30))
        users, items = fit_als(counts, params, seed)
        idx = rows[with_history]
        scores = users[idx] @ items.T
        return ranking_metrics(top_k(scores, K), val.relevant[np.flatnonzero(with_history)], K)["ndcg"]

    study = run_study(objective, study_name=study_name, direction="maximize", trials=trials, timeout=timeout,
                      seed=seed, storage=storage, settings=settings, warm_start=AlsParams().as_dict())
    params = AlsParams(**study.best_params)
    model = build_recommender(data, val.fit, val.start, params=params, weights={}, segment_column=None,
                              min_history=settings.recs_min_history, popularity_days=settings.recs_popularity_days,
                              seed=seed)
    segment, segment_scores = choose_segment_column(model, data, val, settings)
    weights, blend_scores = choose_weights(model, val, settings.recs_blend_step)
    validation = {"als_ndcg": float(study.best_value), **segment_scores, **blend_scores}
    return Tuned(params, segment, weights, validation, trials=len(study.trials))


def choose_segment_column(model: Recommender, data: RecsData, val: Validation, settings: Settings
                          ) -> tuple[str | None, dict[str, float]]:
    """The profile column whose within-segment popularity ranks validation purchases best (None: global)."""
    candidates: list[str | None] = [None]
    if data.profiles is not None:
        candidates += [c for c in PROFILE_COLUMNS if c in data.profiles.columns]
    products = pd.Index(data.catalog.product_ids)
    rows = model.rows_of(val.customers)
    found: dict[str, float] = {}
    best, best_score = None, -1.0
    for column in candidates:
        model.segment_of, model.segment_popularity = segment_popularity(
            val.fit, val.start, settings.recs_popularity_days, products, model.customers, data.profiles, column)
        model.segment_column = column
        score = ranking_metrics(top_k(model.popularity_scores(rows), K), val.relevant, K)["ndcg"]
        found[f"popularity_ndcg.{column or 'all'}"] = score
        if score > best_score + 1e-9:
            best, best_score = column, score
    model.segment_of, model.segment_popularity = segment_popularity(
        val.fit, val.start, settings.recs_popularity_days, products, model.customers, data.profiles, best)
    model.segment_column = best
    return best, found


def simplex_grid(names: tuple[str, ...], step: float) -> list[dict[str, float]]:
    """Every weight vector over ``names`` with entries in multiples of ``step`` summing to 1."""
    units = round(1.0 / step)
    grid = []
    for combo in itertools.product(range(units + 1), repeat=len(names)):
        if sum(combo) == units:
            grid.append({n: c / units for n, c in zip(names, combo, strict=True)})
    return grid


def choose_weights(model: Recommender, val: Validation, step: float
                   ) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Per tier, the grid weights with the best validation NDCG@k for that tier's customers."""
    rows = model.rows_of(val.customers)
    tiers = model.tiers_of(rows)
    scores = model.scores(rows)
    excluded = model.exclusion(rows)
    has_content = model.tfidf is not None
    weights: dict[str, dict[str, float]] = {}
    found: dict[str, float] = {}
    for t, tier in enumerate(TIERS):
        names = tier_scorers(tier, has_content)
        members = np.flatnonzero(tiers == t)
        grid = simplex_grid(names, step)
        if not len(members) or len(grid) == 1:
            weights[tier] = grid[0] if len(grid) == 1 else {n: 1.0 / len(names) for n in names}
            continue
        part = {n: s[members] for n, s in scores.items()}
        relevant = val.relevant[members]
        best, best_score = grid[0], -1.0
        for candidate in grid:
            total = model.blend(part, np.full(len(members), t), {tier: candidate})
            total[excluded[members]] = -np.inf
            score = ranking_metrics(top_k(total, K), relevant, K)["ndcg"]
            if score > best_score + 1e-9:
                best, best_score = candidate, score
        weights[tier] = best
        found[f"blend_ndcg.{tier}"] = best_score
        found[f"customers.{tier}"] = float(len(members))
    model.weights = weights
    return weights, found
