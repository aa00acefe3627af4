"""Transaction logs drawn from the BG/NBD + Gamma-Gamma story with known parameters.

For tests (parameter recovery, both input shapes) and benches: small, seeded, no external data.
Time runs in weeks from ``start``; first purchases are spread uniformly over ``cohort_weeks``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.clv.btyd import BGNBD, GammaGamma


def simulate_transactions(n_customers: int, *, bgnbd: BGNBD, gamma_gamma: GammaGamma, weeks: float,
                          cohort_weeks: float = 12.0, start: str = "2020-01-01",
                          seed: int = 0) -> pd.DataFrame:
    """``customer_id, date, amount`` (one row per purchase, at most one per customer and day)."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(bgnbd.r, 1.0 / bgnbd.alpha, n_customers)
    drop = rng.beta(bgnbd.a, bgnbd.b, n_customers)
    nu = rng.gamma(gamma_gamma.q, 1.0 / gamma_gamma.v, n_customers)
    first = rng.uniform(0, cohort_weeks, n_customers)
    rows: list[tuple[str, float, float]] = []
    for i in range(n_customers):
        cid, t = f"S{i:06d}", first[i]
        repeat = False
        while t <= weeks:
            rows.append((cid, t, rng.gamma(gamma_gamma.p, 1.0 / nu[i])))
            if repeat and rng.random() < drop[i]:  # BG/NBD: dropout only after a repeat purchase
                break
            repeat = True
            t += rng.exponential(1.0 / lam[i]) if lam[i] > 0 else np.inf
    frame = pd.DataFrame(rows, columns=["customer_id", "week", "amount"])
    frame["date"] = pd.Timestamp(start) + pd.to_timedelta(np.floor(frame["week"] * 7), unit="D")
    frame["amount"] = frame["amount"].round(2)
    # One purchase per customer and day, as the model counts them.
    frame = frame.groupby(["customer_id", "date"], as_index=False)["amount"].sum()
    return frame[["customer_id", "date", "amount"]]
