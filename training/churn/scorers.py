"""The two candidate models behind one interface: raw probability and per-feature log-odds contributions.

- ``LgbmScorer``: the tuned LightGBM booster; contributions are path-based (Saabas, about 2x a
  prediction) by default, or LightGBM's exact tree SHAP values (``pred_contrib``, about 15x) on request:
  see ``training.core.lgbm_contrib``.
- ``LinearScorer``: the baseline, a scikit-learn pipeline (median imputation with missing indicators +
  standardisation for numbers, "missing" + one-hot for categories, L2 logistic regression). Its
  contributions are coefficient x (value - training mean) in the transformed space, summed back to the
  original feature, which for a linear model is exactly its SHAP value (whatever method is asked). Served
  through a numpy mirror of the fitted pipeline (``training.churn.linear_numpy``; one row's probability
  and contributions in 0.5 ms instead of scikit-learn's 16 ms, bench/bench_churn_merge.py); the pipeline
  stays the stored object.
- ``BlendScorer``: both, averaged in log-odds with a weight chosen on out-of-fold predictions. Trees and a
  linear model make different errors; on small tables neither dominates (issue 14: the better of the two
  changes from table to table), and their blend is usually at least as good as the better one. Its
  contributions are the same weighted average of both parts' (attributions are linear in the log-odds).
- Cross-fit (``ensemble_of``; served unless ``settings.churn_served`` is "refit"): the K cross-fitted LightGBM
  fold models averaged in log-odds (``training.core.crossfit``), where the calibration map was fitted on
  exactly these models' out-of-fold predictions. Served as one ``LgbmScorer`` whose booster holds every fold
  model's trees with leaf values divided by K (``training.core.lgbm_merge``): the same raw score, one
  prediction and one explanation per request instead of K (measured in bench/bench_churn_merge.py).
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from training.churn import linear_numpy
from training.churn.linear_numpy import as_category_strings
from training.core import lgbm_contrib, lgbm_predict
from training.core.crossfit import log_odds_average

logger = logging.getLogger(__name__)
BASELINE_C_GRID = (0.01, 0.1, 1.0, 10.0)
_FAST = "_fast_linear"  # LinearScorer attribute caching its numpy mirror (derived, never stored)


@dataclass
class LgbmScorer:
    booster: object
    features: list[str]
    categorical: list[str]
    kind: str = "lightgbm"

    def raw_proba(self, x: pd.DataFrame) -> np.ndarray:
        return lgbm_predict.predict(self.booster, self._matrix(x))

    def contributions(self, x: pd.DataFrame, method: str = lgbm_contrib.PATH) -> pd.DataFrame:
        """Per-feature raw log-odds contributions: ``method`` "path" (fast) or "shap" (exact tree SHAP)."""
        contrib = lgbm_contrib.contributions(self.booster, self._matrix(x), method)
        return pd.DataFrame(contrib[:, :-1], columns=self.features, index=x.index)

    def prepare_explainer(self) -> None:
        """Build the path-contribution table now (at model load) rather than on the first request."""
        lgbm_contrib.path_table(self.booster)

    def _matrix(self, x: pd.DataFrame) -> np.ndarray:
        return lgbm_predict.booster_matrix(self.booster, x, self.features, self.categorical)


@dataclass
class LinearScorer:
    pipeline: object
    features: list[str]
    categorical: list[str]
    kind: str = "logistic"

    def raw_proba(self, x: pd.DataFrame) -> np.ndarray:
        fast = self._fast()
        if fast is not None:
            return fast.mirror.proba(x)
        return self.pipeline.predict_proba(linear_frame(x[self.features], self.categorical))[:, 1]

    def contributions(self, x: pd.DataFrame, method: str = lgbm_contrib.PATH) -> pd.DataFrame:
        """Exact per-feature contributions of the logistic model (``method`` changes nothing here)."""
        fast = self._fast()
        if fast is not None:
            values = fast.mirror.contributions(x, self.train_mean_, fast.to_features)
            return pd.DataFrame(values, index=x.index, columns=self.features)
        return self.pipeline_contributions(x)

    def pipeline_contributions(self, x: pd.DataFrame) -> pd.DataFrame:
        """The contributions from scikit-learn's own transform (the reference the numpy mirror is tested on)."""
        prep = self.pipeline.named_steps["prep"]
        coef = self.pipeline.named_steps["model"].coef_.ravel()
        z = prep.transform(linear_frame(x[self.features], self.categorical))
        z = z.toarray() if hasattr(z, "toarray") else np.asarray(z)
        per_column = (z - self.train_mean_) * coef
        out = pd.DataFrame(0.0, index=x.index, columns=self.features)
        for j, feature in enumerate(self.column_feature_):
            out[feature] += per_column[:, j]
        return out

    def prepare_explainer(self) -> None:
        """Derive the numpy mirror now (at model load, also for models logged before it existed)."""
        self._fast()

    def fit_explainer(self, x_train: pd.DataFrame) -> LinearScorer:
        """Remember the transformed training means and which input feature each output column came from."""
        prep = self.pipeline.named_steps["prep"]
        z = prep.transform(linear_frame(x_train[self.features], self.categorical))
        z = z.toarray() if hasattr(z, "toarray") else np.asarray(z)
        self.train_mean_ = z.mean(axis=0)
        self.column_feature_ = [_source_feature(name, self.features) for name in prep.get_feature_names_out()]
        self.__dict__.pop(_FAST, None)
        self._fast()  # derived now, with the explainer's columns (a model logged before derives it on load)
        return self

    def without_mirror(self) -> LinearScorer:
        """A copy scoring through scikit-learn's pipeline (what the mirror replaces; for comparisons)."""
        other = copy.copy(self)
        other.__dict__[_FAST] = None
        return other

    def __getstate__(self) -> dict:
        """The stored state: the pipeline and explainer; never the derived mirror (rebuilt on load)."""
        return {k: v for k, v in self.__dict__.items() if k != _FAST}

    def _fast(self) -> _FastLinear | None:
        """The numpy mirror of the fitted pipeline, derived once; None if the pipeline cannot be mirrored."""
        if _FAST not in self.__dict__:
            self.__dict__[_FAST] = _fast_linear(self)
        return self.__dict__[_FAST]


@dataclass(frozen=True)
class _FastLinear:
    mirror: linear_numpy.LinearMirror
    to_features: linear_numpy.FeatureSum | None  # output columns -> features (None before fit_explainer)


def _fast_linear(scorer: LinearScorer) -> _FastLinear | None:
    try:
        mirror = linear_numpy.mirror_of(scorer.pipeline)
    except linear_numpy.UnsupportedPipeline as exc:
        logger.warning("logistic baseline scored with scikit-learn (no numpy mirror): %s", exc)
        return None
    columns = getattr(scorer, "column_feature_", None)
    return _FastLinear(mirror, None if columns is None
                       else linear_numpy.feature_sum(columns, scorer.features))


@dataclass
class BlendScorer:
    booster: object            # the LightGBM part, held directly so its text is exported (native_boosters)
    linear: LinearScorer
    weight: float              # on LightGBM's log-odds; 1 - weight on the logistic model's
    features: list[str]
    categorical: list[str]
    kind: str = "blend"

    def raw_proba(self, x: pd.DataFrame) -> np.ndarray:
        return blend_proba(self._trees().raw_proba(x), self.linear.raw_proba(x), self.weight)

    def contributions(self, x: pd.DataFrame, method: str = lgbm_contrib.PATH) -> pd.DataFrame:
        """The parts' contributions, weighted as their log-odds are (``method`` applies to the trees)."""
        return (self.weight * self._trees().contributions(x, method)
                + (1 - self.weight) * self.linear.contributions(x, method))

    def prepare_explainer(self) -> None:
        """Build the trees' path-contribution table now (at model load) rather than on the first request."""
        self._trees().prepare_explainer()

    def _trees(self) -> LgbmScorer:
        return LgbmScorer(self.booster, self.features, self.categorical)


def ensemble_of(members: list[LgbmScorer]) -> LgbmScorer:
    """The cross-fit of one LightGBM candidate: its fold models averaged in log-odds, as one booster.

    Its raw score is the mean of the members' raw scores exactly; ``log_odds_average`` of their probabilities
    (what the out-of-fold blend and the calibration map were chosen on) differs only where it clips a member's
    probability at ``crossfit.P_CLIP``, i.e. for a member log-odds beyond +-13.8.
    """
    from training.core.lgbm_merge import merge_boosters

    first = members[0]
    merged = merge_boosters([m.booster for m in members], [1 / len(members)] * len(members))
    return LgbmScorer(merged, first.features, first.categorical)


def blend_proba(p_trees: np.ndarray, p_linear: np.ndarray, weight: float) -> np.ndarray:
    """Weighted mean of two probabilities in log-odds."""
    return log_odds_average([p_trees, p_linear], [weight, 1 - weight])


def linear_frame(x: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
    """Categories as strings with an explicit "missing" (scikit-learn's imputers do not see ``None``)."""
    out = x.copy()
    for col in categorical:
        out[col] = as_category_strings(out[col])
    return out


def fit_baseline(train: tuple[pd.DataFrame, pd.Series], select: tuple[pd.DataFrame, pd.Series] | None, *,
                 features: list[str], categorical: list[str], seed: int, folds: int = 0,
                 groups: pd.Series | None = None) -> tuple[LinearScorer, dict[str, float]]:
    """Fit the logistic baseline for each C in the grid; keep the best by log loss on ``select``, or, with
    ``folds``, by ``folds``-fold cross-validated log loss over ``train`` (``select`` unused): the small-table
    rule LightGBM's tuning follows too (``lgbm_search.kfold_count``), because a selection part of a few
    hundred rows picks C by chance (issue 14). ``groups``: a customer id per row of ``train``, whose rows
    stay in one fold (``splits.stratified_folds``).

    Returns the chosen scorer, fitted on ``train``, and the log loss of every C (``"C_0.1": loss``).
    """
    from sklearn.metrics import log_loss
    from sklearn.model_selection import cross_val_predict

    from training.core.splits import stratified_folds

    x = linear_frame(train[0][features], categorical)
    losses: dict[float, float] = {}
    cv = stratified_folds(train[1], folds, seed, groups) if folds else None
    for c in BASELINE_C_GRID:
        pipeline = _pipeline(features, categorical, c, seed)
        if folds:
            p = cross_val_predict(pipeline, x, train[1], cv=cv, method="predict_proba")[:, 1]
            losses[c] = float(log_loss(train[1], p, labels=[0, 1]))
        else:
            pipeline.fit(x, train[1])
            p = pipeline.predict_proba(linear_frame(select[0][features], categorical))[:, 1]
            losses[c] = float(log_loss(select[1], p, labels=[0, 1]))
    best = min(losses, key=losses.__getitem__)
    scorer = LinearScorer(_pipeline(features, categorical, best, seed), features, categorical)
    scorer.pipeline.fit(x, train[1])
    return scorer.fit_explainer(train[0]), {f"C_{c:g}": v for c, v in losses.items()}


def refit_linear(chosen: LinearScorer, x: pd.DataFrame, y: pd.Series, *, seed: int) -> LinearScorer:
    """The chosen baseline (same C) fitted again on other rows, explainer included."""
    c = chosen.pipeline.named_steps["model"].C
    scorer = LinearScorer(_pipeline(chosen.features, chosen.categorical, c, seed), chosen.features,
                          chosen.categorical)
    scorer.pipeline.fit(linear_frame(x[chosen.features], chosen.categorical), y)
    return scorer.fit_explainer(x)


def _pipeline(features: list[str], categorical: list[str], c: float, seed: int):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [f for f in features if f not in categorical]
    prep = ColumnTransformer([
        ("num", Pipeline([("impute", SimpleImputer(strategy="median", add_indicator=True)),
                          ("scale", StandardScaler())]), numeric),
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical),
    ], verbose_feature_names_out=True)
    return Pipeline([("prep", prep), ("model", LogisticRegression(C=c, max_iter=2000, random_state=seed))])


def _source_feature(output_name: str, features: list[str]) -> str:
    """Map 'num__x', 'num__missingindicator_x', 'cat__plan_basic' back to the input feature."""
    name = output_name.split("__", 1)[1]
    if name.startswith("missingindicator_") and name.removeprefix("missingindicator_") in features:
        return name.removeprefix("missingindicator_")
    if name in features:
        return name
    return max((f for f in features if name.startswith(f"{f}_")), key=len)
