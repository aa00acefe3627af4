"""The fitted recommender: three scorers, a tuned blend per customer tier, top-k with one-line reasons.

Scorers, each normalised per customer to [0, 1] so blend weights are comparable:

- ``als``: collaborative filtering, the dot product of ALS customer and product factors;
- ``content``: cosine between the customer's purchase profile (their products' TF-IDF rows, weighted by
  log purchase counts) and every product's TF-IDF row; a product nobody bought yet scores here;
- ``popularity``: distinct buyers in the recent window, within the customer's profile segment when the
  training chose a segment column, else over all customers.

Tiers (explicit cold start): a customer with at least ``min_history`` distinct products is ``warm``
(every scorer); one with fewer is ``light`` (content + popularity: a few purchases make poor ALS
factors); a customer with no purchase history, known or never seen, is ``cold`` (popularity). The
weights of each tier are tuned on validation (``training.recs.tune``); none is hard-coded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from training.recs.data import Catalog

SCORERS: tuple[str, ...] = ("als", "content", "popularity")
TIERS: tuple[str, ...] = ("cold", "light", "warm")
TIER_SCORERS: dict[str, tuple[str, ...]] = {
    "cold": ("popularity",),
    "light": ("content", "popularity"),
    "warm": ("als", "content", "popularity"),
}


def tier_scorers(tier: str, has_content: bool) -> tuple[str, ...]:
    """Scorers a tier blends; without a catalogue, light customers fall back on ALS + popularity."""
    if has_content:
        return TIER_SCORERS[tier]
    return ("als", "popularity") if tier == "light" else tuple(s for s in TIER_SCORERS[tier] if s != "content")


OUTPUT_COLUMNS = ["customer_id", "rank", "product_id", "score", "reason"]
_TIE_BREAK = 1e-6  # popularity breaks ties between equal blended scores (deterministic answers)
_CHUNK_CELLS = 4_000_000  # customers x products scored at once


@dataclass
class Recommender:
    """Everything needed to recommend, as plain arrays (the served model's logged state)."""

    catalog: Catalog
    customers: pd.Index  # every customer id the model knows (purchases or profile), row order
    history: sp.csr_matrix  # customers x products purchase counts before the cutoff
    user_factors: np.ndarray  # customers x factors (zeros without purchases)
    item_factors: np.ndarray  # products x factors
    tfidf: sp.csr_matrix | None  # products x terms, L2-normalised rows; None without a catalogue
    popularity: np.ndarray  # products, max 1
    segment_of: np.ndarray  # customer row -> segment code, -1 unknown
    segment_popularity: np.ndarray  # segments x products, max 1 per row
    segment_column: str | None
    weights: dict[str, dict[str, float]]  # tier -> scorer -> weight
    min_history: int
    _item_norms: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._item_norms = np.linalg.norm(self.item_factors, axis=1) + 1e-9

    @property
    def n_products(self) -> int:
        return len(self.catalog.product_ids)

    def rows_of(self, customer_ids) -> np.ndarray:
        """Model row of each id, -1 for customers the model has never seen."""
        return self.customers.get_indexer(pd.Index(np.asarray(customer_ids, dtype=object).astype(str)))

    def tiers_of(self, rows: np.ndarray) -> np.ndarray:
        """Tier index (into ``TIERS``) of each row."""
        distinct = np.zeros(len(rows), dtype=np.int64)
        known = rows >= 0
        distinct[known] = np.diff(self.history.indptr)[rows[known]]
        return np.where(distinct >= self.min_history, 2, np.where(distinct > 0, 1, 0))

    def scores(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """Per-scorer normalised scores, customers x products (zeros where a scorer knows nothing)."""
        known = rows >= 0
        out = {name: np.zeros((len(rows), self.n_products), dtype=np.float32) for name in ("als", "content")}
        if known.any():
            idx = rows[known]
            out["als"][known] = _row_max_scaled(self.user_factors[idx] @ self.item_factors.T)
            if self.tfidf is not None:
                out["content"][known] = _row_max_scaled(self._content(idx))
        out["popularity"] = self.popularity_scores(rows)
        return out

    def popularity_scores(self, rows: np.ndarray) -> np.ndarray:
        """Popularity in each customer's segment (global for customers without one), customers x products."""
        out = np.empty((len(rows), self.n_products), dtype=np.float32)
        out[:] = self.popularity
        segments = np.full(len(rows), -1, dtype=np.int64)
        known = rows >= 0
        segments[known] = self.segment_of[rows[known]]
        in_segment = segments >= 0
        if in_segment.any():
            out[in_segment] = self.segment_popularity[segments[in_segment]]
        return out

    def _content(self, rows: np.ndarray) -> np.ndarray:
        profile = self.history[rows].astype(np.float32)
        profile.data = np.log1p(profile.data)
        profile = profile @ self.tfidf
        norms = np.sqrt(np.asarray(profile.multiply(profile).sum(axis=1))).ravel() + 1e-9
        dense = (sp.diags(1.0 / norms) @ profile).toarray()  # customers x terms: small, dense
        return np.asarray((self.tfidf @ dense.T).T, dtype=np.float32)  # sparse @ dense: one pass

    def blend(self, scores: dict[str, np.ndarray], tiers: np.ndarray,
              weights: dict[str, dict[str, float]] | None = None) -> np.ndarray:
        """Weighted sum of the scorers with each row's tier weights, plus a popularity tie-break."""
        weights = weights or self.weights
        total = _TIE_BREAK * scores["popularity"].copy()
        for t, tier in enumerate(TIERS):
            mask = tiers == t
            if not mask.any():
                continue
            for name, weight in weights.get(tier, {}).items():
                if weight:
                    total[mask] += weight * scores[name][mask]
        return total

    def exclusion(self, rows: np.ndarray, exclude_categories: list[frozenset[str]] | None = None) -> np.ndarray:
        """Boolean customers x products: already bought and not repurchasable, or in an excluded category."""
        mask = np.zeros((len(rows), self.n_products), dtype=bool)
        known = np.flatnonzero(rows >= 0)
        once_only = ~self.catalog.repurchasable
        if once_only.any() and len(known):
            bought = self.history[rows[known]].toarray() > 0
            mask[known] = bought & once_only
        if exclude_categories:
            for i, cats in enumerate(exclude_categories):
                if cats:
                    mask[i] |= np.isin(self.catalog.categories, list(cats))
        return mask

    def recommend(self, customer_ids, k: int | np.ndarray = 10,
                  exclude_categories: list[frozenset[str]] | None = None, *, reasons: bool = True) -> pd.DataFrame:
        """One row per recommendation: ``customer_id, rank, product_id, score, reason`` (input order kept)."""
        ids = np.asarray(customer_ids, dtype=object).astype(str)
        ks = np.broadcast_to(np.asarray(k, dtype=np.int64), ids.shape)
        chunk = max(1, _CHUNK_CELLS // max(1, self.n_products))
        parts = []
        for start in range(0, len(ids), chunk):
            stop = min(len(ids), start + chunk)
            excl = exclude_categories[start:stop] if exclude_categories else None
            parts.append(self._recommend_chunk(ids[start:stop], ks[start:stop], excl, reasons))
        if not parts:
            return pd.DataFrame(columns=OUTPUT_COLUMNS)
        return pd.concat(parts, ignore_index=True)

    def top_products(self, customer_ids, k: int) -> list[list[str]]:
        """The ``k`` best product ids per customer, in input order (for the customer profile)."""
        rows = self.rows_of(customer_ids)
        out: list[list[str]] = []
        chunk = max(1, _CHUNK_CELLS // max(1, self.n_products))
        for start in range(0, len(rows), chunk):
            part = rows[start:start + chunk]
            scores = self.scores(part)
            total = self.blend(scores, self.tiers_of(part))
            total[self.exclusion(part)] = -np.inf
            top = top_k(total, k)
            out.extend([list(self.catalog.product_ids[r]) for r in top])
        return out

    def _recommend_chunk(self, ids: np.ndarray, ks: np.ndarray, exclude: list[frozenset[str]] | None,
                         reasons: bool) -> pd.DataFrame:
        rows = self.rows_of(ids)
        tiers = self.tiers_of(rows)
        scores = self.scores(rows)
        total = self.blend(scores, tiers)
        total[self.exclusion(rows, exclude)] = -np.inf
        kmax = int(min(ks.max(), self.n_products))
        top = top_k(total, kmax)
        picked = np.take_along_axis(total, top, axis=1)
        rank = np.broadcast_to(np.arange(1, kmax + 1), top.shape)
        keep = (rank <= ks[:, None]) & np.isfinite(picked)
        r, c = np.nonzero(keep)
        frame = pd.DataFrame({
            "customer_id": ids[r], "rank": rank[r, c].astype(np.int64),
            "product_id": self.catalog.product_ids[top[r, c]], "score": picked[r, c].astype(np.float64),
        })
        frame["reason"] = self._reasons(rows, tiers, scores, top, keep) if reasons else None
        return frame

    def _reasons(self, rows: np.ndarray, tiers: np.ndarray, scores: dict[str, np.ndarray], top: np.ndarray,
                 keep: np.ndarray) -> list[str]:
        """One sentence per kept recommendation, from the scorer that contributed most to its score.

        Ties (all contributions zero) go to popularity. Content anchors come from one sparse product per
        chunk (the recommended x the purchased products), not one per customer.
        """
        weights = np.array([[self.weights.get(tier, {}).get(n, 0.0) for n in SCORERS] for tier in TIERS])
        picked = np.stack([np.take_along_axis(scores[n], top, axis=1) for n in SCORERS])  # scorer x row x k
        contrib = picked * weights[tiers].T[:, :, None]
        contrib[SCORERS.index("popularity")] += 1e-12
        source = np.argmax(contrib, axis=0)
        indptr, indices = self.history.indptr, self.history.indices
        bought_of = [indices[indptr[r]:indptr[r + 1]] if r >= 0 else indices[:0] for r in rows]
        content = _ContentSims(self.tfidf, top[keep & (source == 1)], bought_of) if self.tfidf is not None else None
        out: list[str] = []
        for i in range(len(rows)):
            items, src, bought = top[i][keep[i]], source[i][keep[i]], bought_of[i]
            anchor = np.full(len(items), -1, dtype=np.int64)
            if len(bought):
                for scorer, sims in ((0, self._factor_sims), (1, content.sims if content else None)):
                    mask = src == scorer
                    if mask.any() and sims is not None:
                        anchor[mask] = _closest(items[mask], bought, sims(items[mask], bought))
            in_segment = rows[i] >= 0 and self.segment_of[rows[i]] >= 0
            popular = "popular in your segment" if in_segment else "popular with all customers"
            for item, scorer, near in zip(items, src, anchor, strict=True):
                if near < 0:
                    out.append(popular)
                elif near == item:  # its closest purchase is the product itself
                    out.append("bought before")
                else:
                    out.append(f"{'bought with' if scorer == 0 else 'similar to'} {self.catalog.names[near]}")
        return out

    def _factor_sims(self, items: np.ndarray, bought: np.ndarray) -> np.ndarray:
        return (self.item_factors[items] @ self.item_factors[bought].T) / np.outer(
            self._item_norms[items], self._item_norms[bought])


class _ContentSims:
    """TF-IDF cosine between a chunk's recommended and purchased products, computed once per chunk."""

    def __init__(self, tfidf: sp.csr_matrix, items: np.ndarray, bought_of: list[np.ndarray]) -> None:
        self.items = np.unique(items)
        self.bought = np.unique(np.concatenate(bought_of)) if bought_of else np.empty(0, dtype=np.int64)
        self.table = (np.asarray((tfidf[self.items] @ tfidf[self.bought].T).todense(), dtype=np.float32)
                      if len(self.items) and len(self.bought) else np.zeros((0, 0), dtype=np.float32))

    def sims(self, items: np.ndarray, bought: np.ndarray) -> np.ndarray:
        rows = np.searchsorted(self.items, items)
        cols = np.searchsorted(self.bought, bought)
        return self.table[rows[:, None], cols[None, :]]


def _closest(items: np.ndarray, bought: np.ndarray, sims: np.ndarray) -> np.ndarray:
    """For each item, the purchased product most similar to it (itself only when nothing else was bought)."""
    if len(bought) > 1:
        sims = np.where(items[:, None] == bought[None, :], -np.inf, sims)
    return bought[np.argmax(sims, axis=1)]


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indexes of the ``k`` highest scores per row, best first."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def _row_max_scaled(values: np.ndarray) -> np.ndarray:
    values = np.maximum(np.asarray(values, dtype=np.float32), 0.0)
    peak = values.max(axis=1, keepdims=True)
    return np.divide(values, peak, out=np.zeros_like(values), where=peak > 0)
