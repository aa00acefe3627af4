"""What a family's promotion gate is made of; the gate itself runs in ``training.core.promotion``.

Apart from the gate so that a family can declare its gate without importing the registry code that runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class GateSpec:
    """A family's gate. ``per_row_loss`` None: no comparison with the champion (a composite that learns
    nothing itself is promoted on build when its ``checks`` pass); ``tolerance`` is then unused."""

    per_row_loss: Callable[[pd.DataFrame, pd.DataFrame], np.ndarray] | None  # (output, holdout) -> loss/row
    checks: Callable[[pd.DataFrame, pd.DataFrame], dict[str, bool]]          # extra bounds, e.g. calibration
    tolerance: float                                                          # allowed mean-loss increase
    relative_checks: frozenset[str] = frozenset()  # checks that need a champion: skipped for a first version
