"""Category vocabularies of the raw tables (DATA_MODEL.md), in one place for generator and tests."""

from __future__ import annotations

CATEGORIES = ("electronics", "fashion", "home", "beauty", "grocery", "sports", "books", "toys")
CHANNELS = ("web", "app", "store")
DEVICES = ("web", "app")
REGIONS = ("north", "south", "east", "west", "central")
ACQUISITION_CHANNELS = ("organic", "paid_search", "social", "referral", "affiliate", "store")
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
PLANS = ("basic", "plus", "premium")

PROFILE_VOCAB: dict[str, tuple[str, ...]] = {
    "region": REGIONS,
    "acquisition_channel": ACQUISITION_CHANNELS,
    "age_band": AGE_BANDS,
    "plan": PLANS,
}
