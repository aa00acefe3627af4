"""Monitoring's table of family outputs matches what each family's served model returns."""

from __future__ import annotations

import importlib

import pandas as pd
import pytest

from monitoring.families import FAMILIES, family_spec, population_mask

SERVED = {"churn": "training.churn.model", "clv": "training.clv.pyfunc", "segments": "training.segments.model"}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_monitored_outputs_are_the_served_outputs(family):
    served = importlib.import_module(SERVED[family]).OUTPUT_COLUMNS
    assert set(family_spec(family).outputs) == set(served)


def test_unknown_family_lists_the_known_ones():
    with pytest.raises(ValueError, match="known families: churn, clv, segments"):
        family_spec("upsell")


def test_churn_population_is_customers_with_an_order_in_the_active_window():
    frame = pd.DataFrame({"recency_days": [10, 365, 366, None], "churned": [None, None, None, None]})
    mask = population_mask(family_spec("churn"), frame, active_window_days=365)
    assert mask.tolist() == [True, True, False, False]
    assert population_mask(family_spec("clv"), frame, 365) is None
