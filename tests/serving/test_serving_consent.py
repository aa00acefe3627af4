"""Consent and exclusion lists: only explicit consent exports; opt-out wins; PII columns never loaded."""

from __future__ import annotations

import pandas as pd
import pytest

from serving.consent import load_consent_filter


def test_consent_needs_an_explicit_yes_and_opt_out_wins(tmp_path):
    consent = pd.DataFrame({
        "customer_id": ["C1", "C2", "C3", "C4", "C5", "C1"],
        "marketing_consent": [True, False, None, "yes", "maybe", False],
        "email": ["a@example.com"] * 6,
    })
    consent.to_csv(tmp_path / "consent.csv", index=False)  # True/False/""/yes/maybe as text
    gate = load_consent_filter(tmp_path / "consent.csv", exclude=["C4"])
    assert gate.allowed == frozenset({"C4"}) and gate.excluded == frozenset({"C4"})
    keep, no_consent, excluded = gate.split(pd.Series(["C1", "C2", "C3", "C4", "C5", "C9"]))
    assert list(keep) == [False] * 6 and (no_consent, excluded) == (5, 1)


def test_without_lists_everyone_in_the_clean_data_is_scored():
    keep, no_consent, excluded = load_consent_filter().split(pd.Series(["C1", "C2"]))
    assert list(keep) == [True, True] and (no_consent, excluded) == (0, 0)


def test_missing_columns_and_files_are_named(tmp_path):
    pd.DataFrame({"id": ["C1"]}).to_csv(tmp_path / "x.csv", index=False)
    with pytest.raises(ValueError, match=r"exclusion list has no column\(s\) customer_id"):
        load_consent_filter(exclude=tmp_path / "x.csv")
    with pytest.raises(ValueError, match="does not exist"):
        load_consent_filter(tmp_path / "nope.parquet")
