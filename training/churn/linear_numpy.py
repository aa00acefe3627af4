"""The logistic baseline's fitted scikit-learn pipeline mirrored in numpy, for serving without its overhead.

Why: scikit-learn validates, copies and dispatches on every ``transform`` / ``predict_proba`` call; on one
row that is about 10 ms per call, against a few tens of microseconds of arithmetic. ``LinearMirror`` is
derived once from the pipeline's public fitted attributes (``SimpleImputer.statistics_``,
``indicator_.features_``, ``StandardScaler.mean_`` / ``scale_``, ``OneHotEncoder.categories_``,
``coef_``, ``intercept_``, ``get_feature_names_out``) and recomputes the same design matrix, probability
and contributions with numpy (vectorised: one row or a million). The pipeline stays the fitted and stored
object; the mirror is never persisted.

Only the configuration crmlab fits (``scorers._pipeline``) is mirrored: ``mirror_of`` raises
``UnsupportedPipeline`` for anything else (a ``drop``, infrequent categories, ``keep_empty_features``,
another imputer ``missing_values``, multiclass...), and the scorer then keeps using scikit-learn.
Input conversion follows scikit-learn: numbers as float64 (float32 when every numeric column is float32,
as ``check_array`` keeps it), pandas ``NA`` / ``None`` as NaN, infinity refused; categories as the strings
``scorers.linear_frame`` makes, unknown ones all-zero (``handle_unknown="ignore"``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

MISSING = "missing"  # what a missing category becomes
_FLOAT_DTYPES = (np.dtype(np.float64), np.dtype(np.float32), np.dtype(np.float16))  # sklearn's FLOAT_DTYPES
_FEW_ROWS = 32  # up to this many rows, categories are looked up in a dict rather than a pandas Index
CHUNK_ROWS = 65_536  # rows scored at once (the design matrix of a chunk: ~40 MB for 80 columns)


class UnsupportedPipeline(ValueError):
    """The fitted pipeline uses an option the mirror does not reproduce: score with scikit-learn."""


def category_strings(column: pd.Series) -> np.ndarray:
    """A categorical column as ``linear_frame`` gives it to the encoder: strings, missing as ``MISSING``.

    Plain text columns (the usual case) skip pandas' element-wise ``astype(str)``; anything else (numbers,
    booleans, pandas categoricals or string dtypes) goes through exactly that expression.
    """
    if column.dtype == object:
        values = column.to_numpy()
        if pd.api.types.infer_dtype(values, skipna=False) == "string":
            return values  # nothing missing (only read from here on)
        if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
            missing = pd.isna(values)
            values = values.copy()
            values[missing] = MISSING
            return values
    return as_category_strings(column).to_numpy(dtype=object)


def as_category_strings(column: pd.Series) -> pd.Series:
    """Categories as strings with an explicit ``MISSING`` (scikit-learn's imputers do not see ``None``)."""
    return column.astype(object).where(column.notna(), MISSING).astype(str)


@dataclass(frozen=True)
class NumericBlock:
    """Median imputation (+ missing indicators) then standardisation, as ``SimpleImputer`` + ``StandardScaler``."""

    columns: list[str]
    fill: np.ndarray        # imputer statistics of the kept columns
    kept: np.ndarray        # input columns the imputer keeps (the others had no value in training)
    indicator: np.ndarray   # input columns with a missing indicator (after the kept ones)
    mean: np.ndarray | None  # scaler, over kept + indicator columns (None: with_mean=False)
    scale: np.ndarray | None  # (None: with_std=False)

    @property
    def width(self) -> int:
        return len(self.kept) + len(self.indicator)

    def fill_into(self, x: pd.DataFrame, out: np.ndarray) -> None:
        values = _numbers(x, self.columns)
        missing = np.isnan(values)
        # computed in the data's dtype (float32 stays float32 until the blocks are joined, as in scikit-learn)
        block = out if values.dtype == out.dtype else np.empty(out.shape, dtype=values.dtype, order="F")
        imputed = block[:, :len(self.kept)]
        imputed[:] = values if len(self.kept) == values.shape[1] else values[:, self.kept]
        np.copyto(imputed, self.fill.astype(values.dtype), where=missing[:, self.kept])
        block[:, len(self.kept):] = missing[:, self.indicator]
        if self.mean is not None:
            block -= self.mean.astype(block.dtype)  # the scaler casts its mean and scale to the data's dtype
        if self.scale is not None:
            block /= self.scale.astype(block.dtype)
        if block is not out:
            out[:] = block


@dataclass(frozen=True)
class CategoricalBlock:
    """One-hot encoding with unknown categories all-zero, as ``OneHotEncoder(handle_unknown="ignore")``."""

    columns: list[str]
    lookups: list[pd.Index]  # each column's fitted categories
    offsets: np.ndarray      # first output column of each input column
    codes: list[dict[str, int]]  # the same lookups as dictionaries, for a few rows (no pandas overhead)

    @property
    def width(self) -> int:
        return int(self.offsets[-1] + len(self.lookups[-1])) if self.lookups else 0

    def fill_into(self, x: pd.DataFrame, out: np.ndarray) -> None:
        out[:] = 0.0
        rows = np.arange(len(x))
        for column, lookup, table, offset in zip(self.columns, self.lookups, self.codes, self.offsets, strict=True):
            values = category_strings(x[column])
            if len(values) <= _FEW_ROWS:
                codes = np.array([table.get(v, -1) for v in values], dtype=np.intp)
            else:
                codes = lookup.get_indexer(values)
            known = codes >= 0
            out[rows[known], offset + codes[known]] = 1.0


@dataclass(frozen=True)
class LinearMirror:
    """The fitted pipeline as arrays: design matrix, probability and per-feature log-odds contributions."""

    blocks: list[NumericBlock | CategoricalBlock]
    coef: np.ndarray
    intercept: float

    @property
    def width(self) -> int:
        return len(self.coef)

    def design(self, x: pd.DataFrame) -> np.ndarray:
        """What ``pipeline["prep"].transform`` returns (dense float64), for the same rows."""
        z = np.empty((len(x), self.width), order="F")  # filled block by block, column by column
        start = 0
        for block in self.blocks:
            block.fill_into(x, z[:, start:start + block.width])
            start += block.width
        return z

    def proba(self, x: pd.DataFrame) -> np.ndarray:
        """``pipeline.predict_proba(x)[:, 1]``: the expit of the linear score, as scikit-learn computes it."""
        return _by_chunks(x, lambda part: expit(self.design(part) @ self.coef + self.intercept))

    def contributions(self, x: pd.DataFrame, train_mean: np.ndarray, to_features: FeatureSum) -> np.ndarray:
        """coef x (z - training mean) per output column, summed into each column's input feature."""
        def chunk(part: pd.DataFrame) -> np.ndarray:
            z = self.design(part)
            z -= train_mean
            z *= self.coef
            return to_features(z)

        return _by_chunks(x, chunk)


def _by_chunks(x: pd.DataFrame, compute) -> np.ndarray:
    """``compute`` over ``CHUNK_ROWS`` rows at a time: a million rows never hold their whole design matrix."""
    if len(x) <= CHUNK_ROWS:
        return compute(x)
    return np.concatenate([compute(x.iloc[i:i + CHUNK_ROWS]) for i in range(0, len(x), CHUNK_ROWS)])


@dataclass(frozen=True)
class FeatureSum:
    """Sums output columns into their source features: columns grouped by feature, one ``reduceat``.

    (A 0/1 matrix product does the same but costs columns x features per row: 5x slower on 100k rows.)
    """

    order: np.ndarray    # output columns, grouped by feature
    starts: np.ndarray   # where each present feature's group starts in ``order``
    present: np.ndarray  # the features with at least one output column
    n_features: int

    def __call__(self, per_column: np.ndarray) -> np.ndarray:
        sums = np.add.reduceat(per_column[:, self.order], self.starts, axis=1)
        if len(self.present) == self.n_features:
            return sums
        out = np.zeros((len(per_column), self.n_features))
        out[:, self.present] = sums
        return out


def feature_sum(column_feature: list[str], features: list[str]) -> FeatureSum:
    """The ``FeatureSum`` for output columns whose source features are ``column_feature``."""
    index = {f: j for j, f in enumerate(features)}
    of_column = np.array([index[f] for f in column_feature], dtype=np.intp)
    order = np.argsort(of_column, kind="stable")
    present, starts = np.unique(of_column[order], return_index=True)
    return FeatureSum(order, starts, present, len(features))


def mirror_of(pipeline) -> LinearMirror:
    """The mirror of a fitted ``Pipeline([("prep", ColumnTransformer), ("model", LogisticRegression)])``."""
    prep, model = pipeline.named_steps["prep"], pipeline.named_steps["model"]
    if len(pipeline.steps) != 2 or type(model).__name__ != "LogisticRegression" or len(model.classes_) != 2:
        raise UnsupportedPipeline("only a ColumnTransformer + binary LogisticRegression pipeline is mirrored")
    blocks: list[NumericBlock | CategoricalBlock] = []
    for name, transformer, columns in prep.transformers_:
        if transformer == "drop" or len(columns) == 0:
            continue
        block = _numeric(transformer, list(columns)) if name == "num" else _categorical(transformer, list(columns))
        if prep.output_indices_[name].stop - prep.output_indices_[name].start != block.width:
            raise UnsupportedPipeline(f"{name}: the mirror gives {block.width} columns, the pipeline more or fewer")
        blocks.append(block)
    coef = np.asarray(model.coef_, dtype=float).ravel()
    if sum(b.width for b in blocks) != len(coef) or len(prep.get_feature_names_out()) != len(coef):
        raise UnsupportedPipeline("the mirrored blocks do not cover the model's columns")
    return LinearMirror(blocks, coef, float(np.asarray(model.intercept_).ravel()[0]))


def _numeric(transformer, columns: list[str]) -> NumericBlock:
    steps = dict(getattr(transformer, "named_steps", {}))
    imputer, scaler = steps.get("impute"), steps.get("scale")
    if (list(steps) != ["impute", "scale"] or type(imputer).__name__ != "SimpleImputer"
            or type(scaler).__name__ != "StandardScaler"):
        raise UnsupportedPipeline("numeric part: only SimpleImputer + StandardScaler is mirrored")
    if not _is_nan(imputer.missing_values) or imputer.keep_empty_features:
        raise UnsupportedPipeline("numeric part: only missing_values=NaN without keep_empty_features")
    statistics = np.asarray(imputer.statistics_, dtype=float)
    kept = np.flatnonzero(~np.isnan(statistics))
    indicator = imputer.indicator_
    if indicator is not None and (not _is_nan(indicator.missing_values) or indicator.error_on_new):
        raise UnsupportedPipeline("numeric part: the missing indicator must look for NaN, never raising")
    flagged = np.asarray(indicator.features_, dtype=int) if indicator is not None else np.array([], dtype=int)
    return NumericBlock(columns, statistics[kept], kept, flagged,
                        scaler.mean_ if scaler.with_mean else None, scaler.scale_ if scaler.with_std else None)


def _categorical(encoder, columns: list[str]) -> CategoricalBlock:
    if (type(encoder).__name__ != "OneHotEncoder" or encoder.drop is not None or encoder.handle_unknown != "ignore"
            or encoder.min_frequency is not None or encoder.max_categories is not None):
        raise UnsupportedPipeline("categorical part: only OneHotEncoder(handle_unknown='ignore'), no drop, "
                                  "no infrequent categories")
    categories = list(encoder.categories_)
    if any(c.dtype != object or not all(isinstance(v, str) for v in c) for c in categories):
        raise UnsupportedPipeline("categorical part: categories must be the strings linear_frame makes")
    sizes = [len(c) for c in categories]
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
    return CategoricalBlock(columns, [pd.Index(c, dtype=object) for c in categories], offsets,
                            [{v: i for i, v in enumerate(c)} for c in categories])


def _numbers(x: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """The numeric columns as scikit-learn's ``check_array`` makes them: float, NaN for missing, no infinity."""
    if len(x) == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape=(0, {len(columns)})) while a minimum of 1 is required.")
    series = [x[c] for c in columns]  # column by column: a multi-column selection costs more than the maths
    dtype = _float_dtype([s.dtype for s in series])
    values = np.empty((len(x), len(columns)), dtype=dtype, order="F")  # filled column by column
    for j, s in enumerate(series):
        # pandas' own NA only in its nullable dtypes: in an object column scikit-learn refuses it (TypeError)
        values[:, j] = s.to_numpy(dtype=dtype) if isinstance(s.dtype, np.dtype) else s.to_numpy(dtype, na_value=np.nan)
    if np.isinf(values).any():
        raise ValueError("Input X contains infinity or a value too large for dtype('float64').")
    return values


def _float_dtype(dtypes: list) -> np.dtype:
    """``check_array(dtype=FLOAT_DTYPES)`` on a frame: numpy columns keep their common float type, else float64."""
    if all(isinstance(d, np.dtype) for d in dtypes):
        common = np.result_type(*dtypes)
        if common in _FLOAT_DTYPES:
            return common
    return np.dtype(np.float64)


def _is_nan(value) -> bool:
    return isinstance(value, float) and np.isnan(value)
