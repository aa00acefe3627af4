"""The served segments model names the column when a profile field is not text (an outside probe's find)."""

from __future__ import annotations

import mlflow
import pytest

from training.core.pyfunc_base import InvalidModelInput


@pytest.mark.parametrize("value", [["basic"], {"plan": "basic"}, 3, True])
def test_segments_refuses_a_non_text_profile_field_naming_it(registry, value):
    model = mlflow.pyfunc.load_model("models:/segments@champion")
    rows = registry.features.head(3).drop(columns=["churned", "future_spend"]).astype(object)
    rows.at[rows.index[1], "plan"] = value
    with pytest.raises(InvalidModelInput, match=r"column 'plan' expects text categories .* row position 1"):
        model.predict(rows)
