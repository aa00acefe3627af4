"""What a batch is compared with: the same season a year earlier when the data covers it, else the
champion's held-out sample from its latest training cutoff.

A January batch compared with April and July training rows differs by season (its 30/90-day windows
cover the December peak) and by a quarter of ageing, with nothing wrong. The same features built from
the same clean data at ``cutoff - 365 days`` share the season; built once more at ``cutoff - 730 days``
they show how much a year changes things normally (``monitoring.normal``). Those rows were not
training rows of a model trained on the latest labelled cutoffs, so the champion's predictions on them
are out of sample, and their labels (long elapsed) give a measured reference AUC / error.

When the batch does not name its clean data (``features_meta.json``), or the data does not reach a year
back, the reference is the sample the training run logged: held-out test rows of its latest cutoff
(out of sample, as close in time as the labels allow), with sampling noise as the only calibration.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)
YEAR_DAYS = 365
MIN_ROWS = 200


@dataclass
class Baseline:
    """The comparison rows for one monitoring run (features and labels, not yet scored)."""

    name: str
    why: str
    frame: pd.DataFrame | None = None     # same season a year earlier; None = use the champion's sample
    earlier: pd.DataFrame | None = None   # a further year back: normal year-over-year change
    cutoff: str | None = None

    def to_dict(self) -> dict:
        return {"name": self.name, "why": self.why, "cutoff": self.cutoff,
                "rows": None if self.frame is None else len(self.frame),
                "earlier_rows": None if self.earlier is None else len(self.earlier)}


LOGGED = Baseline("latest training cutoff (held-out rows)",
                  "the batch names no clean data a year back (features_meta.json), so the training run's "
                  "held-out sample is the reference; thresholds are calibrated on sampling noise only")


def seasonal_baseline(batch: pd.DataFrame, source: str | None, settings) -> Baseline:
    """Features at the batch's cutoff minus one and two years, from the clean data the batch was built from."""
    from serving.batch import features_meta

    cutoff = _single_cutoff(batch)
    meta = features_meta(Path(source)) if source else {}
    data_dir = meta.get("data_dir")
    if cutoff is None or not data_dir or not Path(data_dir).is_dir():
        return LOGGED
    horizon = int(meta.get("horizon_days") or settings.horizon_days)
    one, two = cutoff - timedelta(days=YEAR_DAYS), cutoff - timedelta(days=2 * YEAR_DAYS)
    try:
        frames = _build(Path(data_dir), [two, one], horizon, settings)
    except Exception as err:  # (no data that far back, unreadable folder: fall back, say why)
        log.info("no same-season reference for %s: %s", cutoff, err)
        return _fallback(f"building features at {one} failed ({type(err).__name__}: {err})")
    year_ago, earlier = frames.get(one), frames.get(two)
    if year_ago is None or len(year_ago) < MIN_ROWS:
        return _fallback(f"the data holds fewer than {MIN_ROWS} customers at {one}")
    if earlier is not None and len(earlier) < MIN_ROWS:
        earlier = None
    why = (f"same season a year earlier (cutoff {one}): seasonality and one year's normal change are "
           "shared with the batch; " + ("thresholds calibrated on the change from " + str(two) + " to " + str(one)
                                        if earlier is not None else "no data two years back: noise-only thresholds"))
    return Baseline(f"same season a year earlier ({one})", why, year_ago, earlier, one.isoformat())


def _fallback(reason: str) -> Baseline:
    return Baseline(LOGGED.name, f"{reason}; the training run's held-out sample is the reference")


def _single_cutoff(batch: pd.DataFrame) -> date | None:
    if "cutoff" not in batch.columns:
        return None
    values = pd.to_datetime(batch["cutoff"].dropna()).dt.date.unique()
    return values[0] if len(values) == 1 else None


def _build(data_dir: Path, cutoffs: list[date], horizon: int, settings) -> dict[date, pd.DataFrame]:
    from training.features.build import build_feature_set

    frame = build_feature_set(data_dir, cutoffs, horizon, settings).frame
    days = pd.to_datetime(frame["cutoff"]).dt.date
    return {d: frame.loc[days == d].reset_index(drop=True) for d in cutoffs if (days == d).any()}
