"""The served recommender (registered as ``recommender``): customers in, one row per recommendation out.

Input rows: ``customer_id`` (required), ``k`` (optional whole number 1..100, default 10) and
``exclude_categories`` (optional: categories not to recommend, comma-separated text or a list).
Output: ``customer_id, rank, product_id, score, reason``, customers in input order, ranks from 1;
``score`` is the tuned blend (comparable within one customer's list only). A customer the model has
never seen gets popular products (cold start).

Inference parameter ``next_best`` (default 0): when above 0, the answer is one row per input customer
instead, with ``next_best_products``, that many product ids best first, comma-separated (what the
``customer_profile`` composite asks for, with 3). Validation follows ``training.core.pyfunc_base``: a bad
field is a 400 naming it, never quoting the payload.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from training.core.pyfunc_base import InputSpec, ValidatedPyfunc, invalid_input
from training.recs.model import Recommender

ID = "customer_id"
K = "k"
EXCLUDE = "exclude_categories"
DEFAULT_K = 10
MAX_K = 100
NEXT_BEST = "next_best_products"
SPEC = InputSpec((ID, K, EXCLUDE), categorical=frozenset({ID, EXCLUDE}), required=frozenset({ID}))


class RecommenderModel(ValidatedPyfunc):
    """``mlflow.pyfunc`` wrapper of a fitted :class:`~training.recs.model.Recommender`."""

    PARAMS: ClassVar[dict[str, Any]] = {"next_best": 0}

    def __init__(self, recommender: Recommender) -> None:
        super().__init__(SPEC)
        self.recommender = recommender

    def preprocess(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Lists of categories (JSON arrays) become comma-separated text before validation."""
        if EXCLUDE in frame.columns and frame[EXCLUDE].map(lambda v: isinstance(v, list | tuple | np.ndarray)).any():
            frame = frame.assign(**{EXCLUDE: frame[EXCLUDE].map(
                lambda v: ",".join(map(str, v)) if isinstance(v, list | tuple | np.ndarray) else v)})
        if ID in frame.columns:
            bad = frame[ID].map(lambda v: isinstance(v, float | bool | dict | list)) & frame[ID].notna()
            if bad.any():
                raise ValueError(f"column {ID!r} must hold text (or integer) ids but {int(bad.sum())} row(s) hold "
                                 f"another type (first at row position {int(np.flatnonzero(bad)[0])})")
        return frame

    def predict_frame(self, features: pd.DataFrame, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        next_best = _next_best(params)
        if next_best:
            lists = self.recommender.top_products(features[ID].to_numpy(dtype=object), next_best)
            return pd.DataFrame({NEXT_BEST: [",".join(p) for p in lists]}, index=features.index)
        ks = _ks(features[K])
        exclude = _exclusions(features[EXCLUDE], set(self.recommender.catalog.categories) - {""})
        return self.recommender.recommend(features[ID].to_numpy(dtype=object), ks, exclude)

    def top_products(self, customer_ids, k: int) -> list[list[str]]:
        """The ``k`` best product ids per customer (the customer profile's ``next_best_products``)."""
        return self.recommender.top_products(customer_ids, k)


def _next_best(params: Mapping[str, Any] | None) -> int:
    value = (params or {}).get("next_best", 0)
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not 0 <= value <= MAX_K:
        raise invalid_input(f"parameter 'next_best' must be a whole number from 0 to {MAX_K}")
    return int(value)


def _ks(values: pd.Series) -> np.ndarray:
    ks = values.fillna(DEFAULT_K).to_numpy(dtype=float)
    bad = (ks != np.round(ks)) | (ks < 1) | (ks > MAX_K)
    if bad.any():
        raise invalid_input(f"column {K!r} must be a whole number from 1 to {MAX_K} but {int(bad.sum())} row(s) "
                            f"hold another value (first at row position {int(np.flatnonzero(bad)[0])})")
    return ks.astype(np.int64)


def _exclusions(values: pd.Series, known: set[str]) -> list[frozenset[str]] | None:
    if values.isna().all():
        return None
    sets = [frozenset(p.strip() for p in str(v).split(",") if p.strip()) if v is not None else frozenset()
            for v in values]
    unknown = [i for i, s in enumerate(sets) if s - known]
    if unknown and known:
        raise invalid_input(f"column {EXCLUDE!r} names categories the catalogue does not have in {len(unknown)} "
                            f"row(s) (first at row position {unknown[0]}); known categories: "
                            f"{', '.join(sorted(known))}")
    return sets


def input_example(customer_ids: np.ndarray) -> pd.DataFrame:
    """A few request rows (logged with the model; also the signature's column list)."""
    ids = [str(c) for c in customer_ids[:3]]
    return pd.DataFrame({ID: ids, K: [float(DEFAULT_K)] * len(ids), EXCLUDE: [""] * len(ids)})
