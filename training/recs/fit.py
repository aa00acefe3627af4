"""Fitting the recommender's parts on the history before a cutoff: ALS, TF-IDF, popularity, segments.

Confidence weighting (implicit feedback, Hu, Koren & Volinsky 2008): a customer's confidence in a
product is ``alpha * log(1 + purchase count)``; the log keeps a weekly coffee buyer's 150 lines from
drowning every other product of theirs, and ``alpha`` is tuned with the ALS parameters.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta

import numpy as np
import pandas as pd
import scipy.sparse as sp

from training.recs.data import Catalog, RecsData, count_matrix, window
from training.recs.model import Recommender


@dataclass(frozen=True)
class AlsParams:
    """The tuned ALS hyper-parameters (names as in ``implicit.als.AlternatingLeastSquares``)."""

    factors: int = 32
    regularization: float = 0.05
    alpha: float = 10.0
    iterations: int = 15

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def fit_als(counts: sp.csr_matrix, params: AlsParams, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Customer and product factors (float32) from a customers x products count matrix."""
    from implicit.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    confidence = counts.astype(np.float32).tocsr(copy=True)
    confidence.data = np.log1p(confidence.data)
    # implicit's own threads do the work; BLAS threads only contend (the constructor checks, and warns)
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(factors=params.factors, regularization=params.regularization,
                                        alpha=params.alpha, iterations=params.iterations, random_state=seed,
                                        use_gpu=False, calculate_training_loss=False)
        model.fit(confidence, show_progress=False)
    users = np.asarray(model.user_factors, dtype=np.float32)
    items = np.asarray(model.item_factors, dtype=np.float32)
    # A product no customer bought has no evidence: zero factors (ALS leaves its random start otherwise).
    unseen = np.asarray(counts.sum(axis=0)).ravel() == 0
    items[unseen] = 0.0
    return users, items


def fit_tfidf(catalog: Catalog) -> sp.csr_matrix | None:
    """Products x terms over name, description and a category token; None without a catalogue."""
    if not catalog.has_content:
        return None
    from sklearn.feature_extraction.text import TfidfVectorizer

    tokens = pd.Series(catalog.categories, dtype=object).astype(str).str.replace(r"\W+", "_", regex=True)
    docs = pd.Series(catalog.text, dtype=object).astype(str) + " category_" + tokens
    vectorizer = TfidfVectorizer(sublinear_tf=True, token_pattern=r"(?u)\b\w[\w-]+\b")
    try:
        return vectorizer.fit_transform(docs.to_numpy()).astype(np.float32).tocsr()
    except ValueError:  # every document empty: no usable text
        return None


def popularity(history: pd.DataFrame, cutoff: pd.Timestamp, days: int, products: pd.Index) -> np.ndarray:
    """Distinct buyers per product in the last ``days`` before the cutoff, scaled to max 1."""
    recent = window(history, cutoff - timedelta(days=days), cutoff)
    if recent.empty:
        recent = history
    buyers = recent.drop_duplicates(["customer_id", "product_id"])["product_id"].value_counts()
    counts = buyers.reindex(products, fill_value=0).to_numpy(dtype=np.float32)
    return counts / max(float(counts.max()), 1.0)


def segment_popularity(history: pd.DataFrame, cutoff: pd.Timestamp, days: int, products: pd.Index,
                       customers: pd.Index, profiles: pd.DataFrame | None, column: str | None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(segment code per customer row, segments x products popularity) for one profile column."""
    codes = np.full(len(customers), -1, dtype=np.int64)
    if profiles is None or column is None or column not in profiles:
        return codes, np.zeros((0, len(products)), dtype=np.float32)
    values = profiles.set_index("customer_id")[column].reindex(customers)
    labels, uniques = pd.factorize(values, use_na_sentinel=True)
    codes[:] = labels
    recent = window(history, cutoff - timedelta(days=days), cutoff)
    rows = customers.get_indexer(recent["customer_id"])
    table = np.zeros((len(uniques), len(products)), dtype=np.float32)
    cols = products.get_indexer(recent["product_id"])
    ok = (rows >= 0) & (cols >= 0)
    seg = codes[rows[ok]]
    good = seg >= 0
    pairs = pd.DataFrame({"s": seg[good], "p": cols[ok][good], "c": rows[ok][good]}).drop_duplicates()
    np.add.at(table, (pairs["s"].to_numpy(), pairs["p"].to_numpy()), 1.0)
    peak = table.max(axis=1, keepdims=True)
    return codes, np.divide(table, peak, out=np.zeros_like(table), where=peak > 0)


def known_customers(history: pd.DataFrame, profiles: pd.DataFrame | None) -> pd.Index:
    """Customers with purchases before the cutoff, then profile-only customers (cold start, in segment)."""
    ids = pd.Index(pd.unique(history["customer_id"].to_numpy()))
    if profiles is not None:
        ids = ids.append(pd.Index(profiles["customer_id"].to_numpy()).difference(ids))
    return ids


def build_recommender(data: RecsData, history: pd.DataFrame, cutoff: pd.Timestamp, *, params: AlsParams,
                      weights: dict[str, dict[str, float]], segment_column: str | None, min_history: int,
                      popularity_days: int, seed: int, tfidf: sp.csr_matrix | None = None) -> Recommender:
    """Fit every part on ``history`` (purchases before ``cutoff``) and assemble the recommender."""
    products = pd.Index(data.catalog.product_ids)
    customers = known_customers(history, data.profiles)
    counts = count_matrix(history, customers, products)
    users, items = fit_als(counts, params, seed)
    segment_of, seg_pop = segment_popularity(history, cutoff, popularity_days, products, customers,
                                             data.profiles, segment_column)
    return Recommender(
        catalog=data.catalog, customers=customers, history=counts, user_factors=users, item_factors=items,
        tfidf=fit_tfidf(data.catalog) if tfidf is None else tfidf,
        popularity=popularity(history, cutoff, popularity_days, products),
        segment_of=segment_of, segment_popularity=seg_pop, segment_column=segment_column,
        weights=weights, min_history=min_history,
    )
