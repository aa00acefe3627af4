"""WorldConfig refuses impossible worlds with a message naming the field."""

from __future__ import annotations

from datetime import date

import pytest

from training.world import WorldConfig


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n_customers": 0}, "n_customers"),
        ({"n_customers": 2.5}, "n_customers"),
        ({"drift": 1.5}, "drift"),
        ({"dirt_rate": 0.3}, "dirt_rate"),
        ({"start": "2025-01-01", "end": "2024-01-01"}, "end"),
        ({"drift_start": 1.2}, "drift_start"),
        ({"drift_start": "2030-01-01"}, "drift_start"),
        ({"start": "01/02/2023"}, "start"),
    ],
)
def test_invalid_settings_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        WorldConfig(**kwargs)


def test_drift_start_as_fraction_or_date():
    config = WorldConfig(start="2023-01-01", end="2023-12-31", drift_start="0.5")
    assert config.drift_start_date == date(2023, 7, 2) and config.drift_start_day == 182
    assert WorldConfig(drift_start="2024-06-01").drift_start_date == date(2024, 6, 1)
    assert WorldConfig().n_days == 1096
