"""What "normal" change looks like, measured from the data itself, per column.

A fixed effect size (say normed Wasserstein >= 0.1) flags a tenth of a standard deviation whether or
not it is more than the sampling noise or the change a healthy business shows from one year to the
next. Each monitored column therefore gets its own threshold:

- **noise**: the score between two samples drawn from the reference itself, of the batch's and the
  reference's sizes (bootstrap, ``draws`` times; mean + 3 standard deviations of those scores): what no
  change at all looks like;
- **normal change**: the score between the reference and the same season one more year back (when the
  data covers it): ageing of the customer base, yearly growth, anything that happened before too;

``threshold = max(floor, margin x noise, year_weight x normal change)``. The year before is weighted
below 1 because in a growing customer base it overstates this year's normal change (measured on
stationary generated worlds: a 2024->2025 change about twice the 2025->2026 one for activity and
tenure features); see docs/MONITORING.md. The scores are the ones
Evidently reports (normed Wasserstein for numbers, Jensen-Shannon for categories), so the per-column
tests in the HTML and the verdict read the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

NUMERIC_METHOD = "wasserstein"
BOOTSTRAP_ROWS = 2000
CATEGORICAL_METHOD = "jensenshannon"


def drift_score(reference: pd.Series, current: pd.Series, categorical: bool) -> float:
    """Evidently's score: normed Wasserstein (distance / reference std) or Jensen-Shannon distance."""
    ref, cur = reference.dropna(), current.dropna()
    if ref.empty or cur.empty:
        return float("nan")
    if categorical:
        from scipy.spatial.distance import jensenshannon

        ref_s = ref.astype(str).value_counts(normalize=True)
        cur_s = cur.astype(str).value_counts(normalize=True)
        keys = ref_s.index.union(cur_s.index)
        return float(jensenshannon(ref_s.reindex(keys, fill_value=0).to_numpy(),
                                   cur_s.reindex(keys, fill_value=0).to_numpy()))
    return _numeric_score(ref.to_numpy(dtype=float), cur.to_numpy(dtype=float))


@dataclass(frozen=True)
class ColumnNorm:
    """The calibrated threshold of one column and where it came from."""

    column: str
    method: str
    noise: float
    normal: float | None
    threshold: float

    def explain(self) -> str:
        normal = "n/a" if self.normal is None else f"{self.normal:.3f}"
        return f"noise {self.noise:.3f}, year-over-year {normal}"


def calibrate(reference: pd.DataFrame, earlier: pd.DataFrame | None, current_rows: int, numeric: list[str],
              categorical: list[str], *, margin: float, year_weight: float, floor: float, draws: int,
              seed: int, groups: dict[str, list[str]] | None = None) -> dict[str, ColumnNorm]:
    """Per column: noise (bootstrap from ``reference``), normal change (``earlier`` vs ``reference``), threshold.

    ``groups`` (name -> member columns, all among ``numeric + categorical``): also one norm per group for
    the *mean* of its members' scores, its noise from the same bootstrap draws (so the members'
    correlation is in it), its normal change the mean of theirs. Several inputs moved by one change
    (a channel mix, an activity level) each move a little; their mean has less noise than any one of
    them, so a group detects a change spread over its members that no single member shows.
    """
    rng = np.random.default_rng(seed)
    n_ref, n_cur = len(reference), max(current_rows, 1)
    # Large samples: bootstrap at most BOOTSTRAP_ROWS per side and scale the noise by the square root of
    # the ratio of (1/n_ref + 1/n_cur) (sampling noise of these distances shrinks as 1/sqrt(n)).
    m_ref, m_cur = min(n_ref, BOOTSTRAP_ROWS), min(n_cur, BOOTSTRAP_ROWS)
    scale = float(np.sqrt((1 / n_ref + 1 / n_cur) / (1 / m_ref + 1 / m_cur)))
    picks = [(rng.integers(0, n_ref, m_ref), rng.integers(0, n_ref, m_cur)) for _ in range(draws)]
    out: dict[str, ColumnNorm] = {}
    draws_of: dict[str, np.ndarray] = {}
    for column in numeric + categorical:
        is_cat = column in categorical
        score = _categorical_score if is_cat else _numeric_score
        values = _encoded(reference[column], is_cat)
        draws_of[column] = np.array([score(values[a], values[b]) for a, b in picks], dtype=float)
        normal = None
        if earlier is not None and column in earlier.columns:
            change = drift_score(earlier[column], reference[column], is_cat)
            normal = change if np.isfinite(change) else None
        method = CATEGORICAL_METHOD if is_cat else NUMERIC_METHOD
        out[column] = _norm(column, method, draws_of[column], scale, normal, margin, year_weight, floor)
    for name, members in (groups or {}).items():
        with np.errstate(all="ignore"):
            mean_draws = np.nanmean(np.vstack([draws_of[c] for c in members]), axis=0)
        normals = [out[c].normal for c in members]
        normal = float(np.mean(normals)) if normals and all(n is not None for n in normals) else None
        out[name] = _norm(name, f"mean {NUMERIC_METHOD} of {len(members)}", mean_draws, scale, normal, margin,
                          year_weight, floor)
    return out


def _norm(column: str, method: str, draws: np.ndarray, scale: float, normal: float | None, margin: float,
          year_weight: float, floor: float) -> ColumnNorm:
    scores = draws[np.isfinite(draws)]
    noise = scale * float(scores.mean() + 3 * scores.std()) if scores.size else 0.0
    threshold = max(floor, margin * noise, year_weight * (normal or 0.0))
    return ColumnNorm(column, method, noise, normal, threshold)


def _encoded(values: pd.Series, categorical: bool) -> np.ndarray:
    """Numbers as floats (NaN kept), categories as integer codes (-1 = missing): fast to resample."""
    if categorical:
        return pd.factorize(values.astype(object).where(values.notna(), None))[0]
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)


def _numeric_score(ref: np.ndarray, cur: np.ndarray) -> float:
    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    if ref.size == 0 or cur.size == 0:
        return float("nan")
    return wasserstein_1d(ref, cur) / max(float(np.std(ref)), 0.001)


def wasserstein_1d(u: np.ndarray, v: np.ndarray) -> float:
    """First Wasserstein distance of two samples: the area between their empirical CDFs (as SciPy's)."""
    u, v = np.sort(u), np.sort(v)
    both = np.sort(np.concatenate([u, v]))
    u_cdf = np.searchsorted(u, both[:-1], side="right") / u.size
    v_cdf = np.searchsorted(v, both[:-1], side="right") / v.size
    return float(np.sum(np.abs(u_cdf - v_cdf) * np.diff(both)))


def _categorical_score(ref: np.ndarray, cur: np.ndarray) -> float:
    from scipy.spatial.distance import jensenshannon

    ref, cur = ref[ref >= 0], cur[cur >= 0]
    if ref.size == 0 or cur.size == 0:
        return float("nan")
    size = int(max(ref.max(), cur.max())) + 1
    return float(jensenshannon(np.bincount(ref, minlength=size) / ref.size,
                               np.bincount(cur, minlength=size) / cur.size))


def correlated_groups(reference: pd.DataFrame, columns: list[str], min_correlation: float) -> list[list[str]]:
    """Numeric columns whose |Spearman correlation| on the reference reaches ``min_correlation``, grouped
    (connected components); every other column is a group of its own. One underlying change moving six
    correlated activity counts is one piece of evidence, not six."""
    numeric = [c for c in columns if pd.api.types.is_numeric_dtype(reference[c])
               and not pd.api.types.is_bool_dtype(reference[c])]
    parent = {c: c for c in columns}

    def root(c: str) -> str:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    if len(numeric) > 1:
        corr = reference[numeric].rank().corr().abs().to_numpy()
        for i, a in enumerate(numeric):
            for j in range(i + 1, len(numeric)):
                if np.isfinite(corr[i, j]) and corr[i, j] >= min_correlation:
                    parent[root(numeric[j])] = root(a)
    groups: dict[str, list[str]] = {}
    for c in columns:
        groups.setdefault(root(c), []).append(c)
    return list(groups.values())
