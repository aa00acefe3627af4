"""The test: rank products for customers who bought in the horizon after the cutoff, score four rankers.

Rankers: ``hybrid`` (the tuned blend, cold start included), ``als``, ``content`` (each alone, with
popularity only as tie-break) and the baseline ``popularity`` (the same global ranking for everyone).
Every ranker gets the same exclusions (already bought and not repurchasable). Customers the model has
never seen count too (cold start): the hybrid answers them from popularity, the single scorers cannot.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.recs.data import TimeSplit, relevant_matrix
from training.recs.metrics import coverage, ranking_metrics
from training.recs.model import SCORERS, TIERS, Recommender, top_k

RANKERS: tuple[str, ...] = ("hybrid", "als", "content", "popularity")
MAX_K = 20
REPORT_K: tuple[int, ...] = (5, 10, 20)


def horizon_customers(split: TimeSplit, max_customers: int, seed: int) -> np.ndarray:
    """Customers with a purchase in the horizon (a seeded sample of ``max_customers`` at most)."""
    ids = np.sort(pd.unique(split.future["customer_id"].to_numpy()).astype(str))
    if len(ids) > max_customers:
        ids = np.sort(np.random.default_rng(seed + 1).choice(ids, size=max_customers, replace=False))
    return ids


def rankings(model: Recommender, customer_ids: np.ndarray, k: int = MAX_K) -> dict[str, np.ndarray]:
    """Top-``k`` product indexes per customer for every ranker."""
    rows = model.rows_of(customer_ids)
    tiers = model.tiers_of(rows)
    scores = model.scores(rows)
    excluded = model.exclusion(rows)
    alone = {name: {tier: {name: 1.0} for tier in TIERS} for name in SCORERS}
    global_pop = dict(scores, popularity=np.broadcast_to(model.popularity, scores["popularity"].shape))
    out = {}
    for ranker in RANKERS:
        if ranker == "hybrid":
            total = model.blend(scores, tiers)
        elif ranker == "popularity":
            total = model.blend(global_pop, tiers, alone["popularity"])
        else:
            total = model.blend(scores, tiers, alone[ranker])
        total[excluded] = -np.inf
        out[ranker] = top_k(total, k)
    return out


def evaluate(model: Recommender, split: TimeSplit, max_customers: int, seed: int) -> tuple[pd.DataFrame, dict]:
    """Long table (ranker, k, metric, value) for k = 1..MAX_K, plus a summary of the split."""
    ids = horizon_customers(split, max_customers, seed)
    relevant = relevant_matrix(split.future, pd.Index(ids), pd.Index(model.catalog.product_ids))
    tops = rankings(model, ids)
    rows = []
    for ranker, top in tops.items():
        for k in range(1, MAX_K + 1):
            values = ranking_metrics(top, relevant, k) | {"coverage": coverage(top, model.n_products, k)}
            rows.extend({"ranker": ranker, "k": k, "metric": m, "value": v} for m, v in values.items())
    tiers = model.tiers_of(model.rows_of(ids))
    for t, tier in enumerate(TIERS):
        members = np.flatnonzero(tiers == t)
        if len(members):
            for m, v in ranking_metrics(tops["hybrid"][members], relevant[members], 10).items():
                rows.append({"ranker": f"hybrid.{tier}", "k": 10, "metric": m, "value": v})
    table = pd.DataFrame(rows)
    summary = {"test_customers": float(len(ids)),
               **{f"test_customers.{tier}": float(np.sum(tiers == t)) for t, tier in enumerate(TIERS)},
               "repeat_share": repeat_share(model, split, ids)}
    return table, summary


def repeat_share(model: Recommender, split: TimeSplit, ids: np.ndarray) -> float:
    """Share of horizon (customer, product) pairs already bought before the cutoff: why nothing is filtered
    when the catalogue has no ``repurchasable`` flag."""
    future = split.future[split.future["customer_id"].isin(ids)].drop_duplicates(["customer_id", "product_id"])
    if future.empty:
        return float("nan")
    rows = model.rows_of(future["customer_id"].to_numpy())
    cols = pd.Index(model.catalog.product_ids).get_indexer(future["product_id"])
    ok = (rows >= 0) & (cols >= 0)
    bought = np.zeros(len(future), dtype=bool)
    bought[ok] = np.asarray(model.history[rows[ok], cols[ok]]).ravel() > 0
    return float(bought.mean())


def headline(table: pd.DataFrame, k: int = 10) -> dict[str, float]:
    """Flat metrics for MLflow: ``test.<ranker>.<metric>_at_<k>`` for the report ks (and tiers at 10)."""
    out = {}
    for row in table.itertuples(index=False):
        if row.k in REPORT_K and np.isfinite(row.value):
            out[f"test.{row.ranker}.{row.metric}_at_{row.k}"] = float(row.value)
    return out


def metric(table: pd.DataFrame, ranker: str, name: str, k: int = 10) -> float:
    """One value of the long table."""
    hit = table[(table["ranker"] == ranker) & (table["metric"] == name) & (table["k"] == k)]["value"]
    return float(hit.iloc[0]) if len(hit) else float("nan")

