"""The recommender's promotion gate (``GATE``; ``training.recs.family`` hands it to the lifecycle).

Holdout: the training run's test customers (``customer_id``) with what each bought in the horizon
(``bought``: comma-separated product ids). Per-row loss = 1 - precision@10 of the model's list for that
customer, so the paired bootstrap compares challenger and champion on the same customers and the same
future purchases. ``TOLERANCE`` 0.01: the challenger's precision@10 may be at most one point lower
(upper 95% bound). Checks: every holdout customer gets a list; the answer has the documented columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.core.gate_spec import GateSpec
from training.recs.model import OUTPUT_COLUMNS

FAMILY = "recs"
TOLERANCE = 0.01
GATE_K = 10
BOUGHT = "bought"


def holdout_frame(customer_ids: np.ndarray, future: pd.DataFrame) -> pd.DataFrame:
    """One row per test customer: id and the products bought in the horizon (the gate's ground truth)."""
    bought = (future[future["customer_id"].isin(customer_ids)].drop_duplicates(["customer_id", "product_id"])
              .groupby("customer_id")["product_id"].agg(lambda s: ",".join(sorted(s))))
    return pd.DataFrame({"customer_id": customer_ids, BOUGHT: bought.reindex(customer_ids).fillna("").to_numpy()})


def per_row_loss(output: pd.DataFrame, holdout: pd.DataFrame) -> np.ndarray:
    top = output[output["rank"] <= GATE_K]
    recommended = top.groupby("customer_id")["product_id"].agg(set)
    loss = np.ones(len(holdout))
    for i, (customer, bought) in enumerate(zip(holdout["customer_id"].astype(str), holdout[BOUGHT], strict=True)):
        truth = set(str(bought).split(",")) - {""}
        loss[i] = 1.0 - len(recommended.get(customer, set()) & truth) / GATE_K
    return loss


def checks(output: pd.DataFrame, holdout: pd.DataFrame) -> dict[str, bool]:
    answered = set(output["customer_id"].astype(str))
    return {
        "every_customer_answered": bool(set(holdout["customer_id"].astype(str)) <= answered),
        "all_columns": list(output.columns) == OUTPUT_COLUMNS,
    }


GATE = GateSpec(per_row_loss=per_row_loss, checks=checks, tolerance=TOLERANCE)
