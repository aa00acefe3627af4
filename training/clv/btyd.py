"""BG/NBD + Gamma-Gamma ("buy till you die") baseline, written on scipy.

No maintained library fits our stack (``lifetimes`` is unmaintained), so the two likelihoods live here,
checked against the published CDNOW estimates (tests/training/clv/test_clv_bgnbd.py).

Conventions (Fader, Hardie & Lee 2005): purchases are counted per day (several purchases on one day are
one transaction, amounts summed); ``frequency`` = repeat purchase days in calibration, ``recency`` = time
from the first to the last purchase, ``T`` = time from the first purchase to the end of calibration,
``monetary_value`` = mean amount of the repeat days (0 when there are none). Time unit: weeks
(days / 7) by default.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, expit, gammaln, hyp2f1

from training.clv.transactions import AMOUNT, DATE, ID, ClvInputError, validate_transactions

SUMMARY_COLUMNS = ["frequency", "recency", "T", "monetary_value"]
# The same four values as scoring inputs, prefixed so they never collide with crmlab feature names.
BTYD_INPUTS = {c: f"btyd_{c}" for c in SUMMARY_COLUMNS}
_DAYS_PER_UNIT = {"W": 7.0, "D": 1.0}


def rfm_summary(
    transactions: pd.DataFrame, id_col: str, date_col: str, amount_col: str,
    calibration_end: str | pd.Timestamp, freq: Literal["W", "D"] = "W", *, date_format: str | None = None,
) -> pd.DataFrame:
    """Per-customer ``frequency, recency, T, monetary_value`` from purchases on or before ``calibration_end``.

    Customers whose first purchase falls after ``calibration_end`` do not exist yet and are absent.
    Index: customer id (str).
    """
    tx = validate_transactions(transactions, id_col, date_col, amount_col, date_format=date_format)
    return summary_from_clean(tx, calibration_end, freq)


def summary_from_clean(tx: pd.DataFrame, calibration_end: str | pd.Timestamp,
                       freq: Literal["W", "D"] = "W") -> pd.DataFrame:
    """``rfm_summary`` on an already validated frame (``customer_id, date, amount``)."""
    unit = _unit(freq)
    end = pd.Timestamp(calibration_end).normalize()
    days = daily_purchases(tx[tx[DATE] <= end])
    if days.empty:
        raise ClvInputError(f"calibration end {end.date()}: no purchase on or before it; pick a later date.")
    grouped = days.groupby(ID, sort=True)
    first, last, n_days = grouped[DATE].min(), grouped[DATE].max(), grouped[DATE].size()
    total, first_amount = grouped[AMOUNT].sum(), grouped[AMOUNT].first()
    frequency = (n_days - 1).astype("float64")
    repeat_spend = total - first_amount
    monetary = np.where(frequency > 0, repeat_spend / frequency.where(frequency > 0, 1.0), 0.0)
    summary = pd.DataFrame({
        "frequency": frequency,
        "recency": (last - first).dt.days / unit,
        "T": (end - first).dt.days / unit,
        "monetary_value": monetary,
    })
    summary.index.name = ID
    return summary


def as_inputs(summary: pd.DataFrame) -> pd.DataFrame:
    """Summary columns renamed to their ``btyd_*`` input names."""
    return summary[SUMMARY_COLUMNS].rename(columns=BTYD_INPUTS)


def from_inputs(frame: pd.DataFrame) -> pd.DataFrame:
    """The summary back from ``btyd_*`` input columns."""
    return frame[list(BTYD_INPUTS.values())].rename(columns={v: k for k, v in BTYD_INPUTS.items()})


def daily_purchases(tx: pd.DataFrame) -> pd.DataFrame:
    """One row per (customer, day) with the day's summed amount, sorted by customer then day."""
    return (tx.groupby([ID, DATE], sort=True, as_index=False)[AMOUNT].sum()
            .sort_values([ID, DATE], kind="stable").reset_index(drop=True))


def _unit(freq: str) -> float:
    if freq not in _DAYS_PER_UNIT:
        raise ClvInputError(f"freq={freq!r}: use 'W' (weeks, days/7) or 'D' (days).")
    return _DAYS_PER_UNIT[freq]


def _check_summary(summary: pd.DataFrame, columns: list[str]) -> None:
    missing = [c for c in columns if c not in summary.columns]
    if missing:
        raise ClvInputError(f"RFM summary: missing column(s) {missing}; build it with rfm_summary().")


def _fit_log_params(negll, starts: list[np.ndarray]) -> np.ndarray:
    """Minimise on log-parameters from several starts (L-BFGS-B, Nelder-Mead fallback); best wins."""
    best = None
    for start in starts:
        for method in ("L-BFGS-B", "Nelder-Mead"):
            res = minimize(negll, start, method=method,
                           options={"maxiter": 5000} if method == "Nelder-Mead" else {"maxiter": 2000})
            if np.isfinite(res.fun) and (best is None or res.fun < best.fun - 1e-12):
                best = res
            if res.success:
                break
    if best is None:
        raise RuntimeError("BTYD fit: the likelihood was not finite from any start; check the summary.")
    return best.x


def _compress(columns: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    """Unique rows and their counts: the likelihood depends on the data only through them."""
    stacked = np.column_stack(columns)
    unique, counts = np.unique(stacked, axis=0, return_counts=True)
    return [unique[:, i] for i in range(unique.shape[1])], counts.astype("float64")


@dataclass(frozen=True)
class BGNBD:
    """BG/NBD purchase model: purchases Poisson(lambda ~ Gamma(r, alpha)), dropout after each purchase
    with probability p ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float

    @staticmethod
    def log_likelihood(params: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
        """Per-customer log-likelihood (FHL 2005 eq. 6), in log space so large ``x`` cannot overflow."""
        r, alpha, a, b = params
        ln_a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        ln_a2 = betaln(a, b + x) - betaln(a, b)
        ln_a3 = -(r + x) * np.log(alpha + T)
        with np.errstate(divide="ignore", invalid="ignore"):
            ln_a4 = np.where(x > 0, np.log(a) - np.log(b + x - 1) - (r + x) * np.log(alpha + tx), -np.inf)
        return ln_a1 + ln_a2 + np.logaddexp(ln_a3, ln_a4)

    @classmethod
    def fit(cls, summary: pd.DataFrame) -> BGNBD:
        """Maximum likelihood from several starts on log-parameters."""
        _check_summary(summary, ["frequency", "recency", "T"])
        (x, tx, T), w = _compress([summary[c].to_numpy(float) for c in ("frequency", "recency", "T")])
        n = w.sum()

        def negll(log_params: np.ndarray) -> float:
            value = -(cls.log_likelihood(np.exp(np.clip(log_params, -20, 20)), x, tx, T) * w).sum() / n
            return float(value) if np.isfinite(value) else 1e12

        scale = max(float(np.average(T, weights=w)), 1e-3)
        starts = [np.log([1.0, scale / 4, 1.0, 1.0]), np.zeros(4),
                  np.log([0.2, scale / 10, 0.5, 2.0]), np.log([2.0, scale, 2.0, 5.0])]
        return cls(*np.exp(_fit_log_params(negll, starts)))

    def _inputs(self, summary: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        _check_summary(summary, ["frequency", "recency", "T"])
        return tuple(summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))  # type: ignore[return-value]

    def _log_odds_dead(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
        """log of a/(b+x-1) * ((alpha+T)/(alpha+tx))^(r+x); -inf when x = 0 (nobody dies before buying)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            value = (np.log(self.a) - np.log(self.b + x - 1)
                     + (self.r + x) * (np.log(self.alpha + T) - np.log(self.alpha + tx)))
        return np.where(x > 0, value, -np.inf)

    def p_alive(self, summary: pd.DataFrame) -> np.ndarray:
        """P(still active at the end of calibration | history)."""
        return expit(-self._log_odds_dead(*self._inputs(summary)))

    def expected_purchases(self, summary: pd.DataFrame, t: float) -> np.ndarray:
        """E[repeat purchases in the next ``t`` time units | history] (FHL 2005 eq. 10).

        The hypergeometric term uses Euler's transformation, so its parameters do not grow with x.
        """
        x, tx, T = self._inputs(summary)
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = t / (alpha + T + t)
        tail = (1 - z) ** (a - 1) * hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
        expected_if_alive = (a + b + x - 1) / (a - 1) * (1 - tail)
        return expected_if_alive * expit(-self._log_odds_dead(x, tx, T))

    def expected_purchases_new(self, t: np.ndarray | float) -> np.ndarray:
        """E[repeat purchases in (0, t]] for a customer who has just made a first purchase (eq. 9)."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        t = np.asarray(t, dtype=float)
        z = t / (alpha + t)
        return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))


@dataclass(frozen=True)
class GammaGamma:
    """Spend per transaction ~ Gamma(p, nu) with nu ~ Gamma(q, v) across customers, independent of buying."""

    p: float
    q: float
    v: float

    @staticmethod
    def log_likelihood(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Per-customer log-likelihood of the mean repeat spend ``m`` over ``x`` repeat transactions."""
        p, q, v = params
        px = p * x
        return (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(v)
                + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * np.log(px / p * m + v))

    @classmethod
    def fit(cls, summary: pd.DataFrame) -> GammaGamma:
        """Fit on customers with at least one repeat purchase and a positive mean repeat spend.

        Customers whose repeat days all cost 0 carry no spend information (log 0); they are left out of
        the fit only and still get a conditional spend (the population mean) when scored.
        """
        _check_summary(summary, ["frequency", "monetary_value"])
        used = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
        if len(used) < 3:
            raise ClvInputError(
                f"Gamma-Gamma: only {len(used)} customer(s) with a repeat purchase and positive spend; "
                "it needs several. Use a longer calibration period.")
        (x, m), w = _compress([used["frequency"].to_numpy(float), used["monetary_value"].to_numpy(float)])
        n = w.sum()

        def negll(log_params: np.ndarray) -> float:
            value = -(cls.log_likelihood(np.exp(np.clip(log_params, -20, 20)), x, m) * w).sum() / n
            return float(value) if np.isfinite(value) else 1e12

        mean_m = float(np.average(m, weights=w))
        starts = [np.log([1.0, 2.0, mean_m]), np.log([5.0, 3.0, mean_m]), np.zeros(3)]
        fitted = cls(*np.exp(_fit_log_params(negll, starts)))
        if fitted.q <= 1:
            raise ClvInputError(f"Gamma-Gamma: fitted q={fitted.q:.3f} <= 1, so the mean spend is "
                                "infinite; the spend data is too heavy-tailed for this model "
                                "(check for absurd amounts).")
        return fitted

    def population_mean_spend(self) -> float:
        return self.p * self.v / (self.q - 1)

    def conditional_expected_spend(self, summary: pd.DataFrame) -> np.ndarray:
        """E[spend per transaction | x, mean repeat spend]: shrinks each mean towards the population."""
        _check_summary(summary, ["frequency", "monetary_value"])
        x = summary["frequency"].to_numpy(float)
        m = summary["monetary_value"].to_numpy(float)
        return self.p * (self.v + x * m) / (self.p * x + self.q - 1)


@dataclass(frozen=True)
class BTYDModel:
    """The baseline: BG/NBD for how many purchases, Gamma-Gamma for how much each."""

    bgnbd: BGNBD
    gamma_gamma: GammaGamma
    freq: Literal["W", "D"] = "W"

    @classmethod
    def fit(cls, summary: pd.DataFrame, freq: Literal["W", "D"] = "W") -> BTYDModel:
        return cls(BGNBD.fit(summary), GammaGamma.fit(summary), freq)

    def predicted_spend(self, summary: pd.DataFrame, horizon: float) -> np.ndarray:
        """Expected spend in the next ``horizon`` time units (same unit as the summary)."""
        return (self.bgnbd.expected_purchases(summary, horizon)
                * self.gamma_gamma.conditional_expected_spend(summary))

    def horizon_units(self, horizon_days: float) -> float:
        return horizon_days / _unit(self.freq)

    def params(self) -> dict[str, float]:
        return {**{f"bgnbd_{k}": float(v) for k, v in asdict(self.bgnbd).items()},
                **{f"gg_{k}": float(v) for k, v in asdict(self.gamma_gamma).items()}}

    @classmethod
    def from_params(cls, params: dict[str, float], freq: Literal["W", "D"] = "W") -> BTYDModel:
        return cls(BGNBD(*(params[f"bgnbd_{k}"] for k in ("r", "alpha", "a", "b"))),
                   GammaGamma(*(params[f"gg_{k}"] for k in ("p", "q", "v"))), freq)


def predict_from_inputs(model: BTYDModel, frame: pd.DataFrame, horizon_days: float) -> tuple[np.ndarray,
                                                                                            np.ndarray]:
    """(spend over ``horizon_days``, p_alive) from ``btyd_*`` columns; all-null rows (no purchase yet)
    get spend 0 and p_alive NaN: BG/NBD describes repeat buying after a first purchase."""
    summary = from_inputs(frame)
    no_history = summary.isna().all(axis=1).to_numpy()
    filled = summary.fillna(0.0)
    spend = model.predicted_spend(filled, model.horizon_units(horizon_days))
    return np.where(no_history, 0.0, spend), np.where(no_history, np.nan, model.bgnbd.p_alive(filled))
