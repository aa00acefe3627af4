"""Honest train / validation / test splits.

With several cutoffs the split follows time: the model trains on earlier cutoffs and is validated and
tested on the latest one, as it will be used (trained on the past, scoring the present). Validation
and test then hold *different customers* of the latest cutoff. Training cutoffs whose label window
(cutoff + horizon) reaches past the latest cutoff are dropped: their labels would use days that the
test rows' features cannot see yet. With one cutoff (or no time column) the split is a stratified
random one. The test part is for one final evaluation after all tuning and selection.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split


class SplitError(ValueError):
    """Rows that cannot be split honestly; the message says what to change."""


@dataclass
class Splits:
    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    kind: str = "random"
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        sizes = f"train {len(self.train)}, validation {len(self.valid)}, test {len(self.test)} rows"
        return f"{self.kind} split: {sizes}" + "".join(f"; {n}" for n in self.notes)



def make_splits(frame: pd.DataFrame, *, label: str, seed: int, id_col: str | None = "customer_id",
                time_col: str | None = "cutoff", horizon_days: int | None = None,
                valid_frac: float = 0.2, test_frac: float = 0.2) -> Splits:
    """Time-based split when ``time_col`` has several values, else stratified random (by ``label``)."""
    if frame.empty:
        raise SplitError("no labelled rows to split: the features hold no row with a known label")
    if time_col and time_col in frame.columns and frame[time_col].nunique() > 1:
        return _time_split(frame, label=label, seed=seed, id_col=id_col, time_col=time_col,
                           horizon_days=horizon_days)
    train, rest = _stratified(frame, label, valid_frac + test_frac, seed)
    valid, test = _stratified(rest, label, test_frac / (valid_frac + test_frac), seed + 1)
    return Splits(train, valid, test, kind="random (stratified)")


def _time_split(frame: pd.DataFrame, *, label: str, seed: int, id_col: str | None, time_col: str,
                horizon_days: int | None) -> Splits:
    times = pd.to_datetime(frame[time_col])
    latest = times.max()
    notes: list[str] = [f"validation/test at {time_col} {latest.date()}"]
    earlier = times < latest
    if horizon_days:
        overlapping = earlier & (times + pd.Timedelta(days=horizon_days) > latest)
        if overlapping.any():
            notes.append(f"{int(overlapping.sum())} training rows dropped: their {horizon_days}-day label "
                         f"window overlaps the latest {time_col}")
        earlier &= ~overlapping
    train = frame[earlier]
    if train.empty or train[label].nunique() < 2:
        raise SplitError(
            f"time-based split has no usable training rows before the latest {time_col} {latest.date()} "
            "(or only one class there): build features for earlier cutoffs, at least one horizon apart"
        )
    current = frame[~(times < latest)]
    if id_col and id_col in current.columns and current[id_col].duplicated().any():
        raise SplitError(f"{id_col} repeats within {time_col} {latest.date()}: expected one row per customer")
    valid, test = _stratified(current, label, 0.5, seed)
    return Splits(train, valid, test, kind="time-based", notes=notes)


def _stratified(frame: pd.DataFrame, label: str, second_frac: float, seed: int) -> tuple[pd.DataFrame,
                                                                                        pd.DataFrame]:
    """Split by rows (one row per customer here, so customers are disjoint), stratified when possible."""
    counts = frame[label].value_counts()
    stratify = frame[label] if len(counts) > 1 and counts.min() >= 2 else None
    first, second = train_test_split(frame, test_size=second_frac, random_state=seed, stratify=stratify)
    return first, second


def split_in_two(frame: pd.DataFrame, *, label: str, seed: int, second_frac: float = 0.5
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified halves of a labelled set, e.g. a calibration part and a holdout part (``monitoring.recalibrate``)."""
    return _stratified(frame, label, second_frac, seed)


def stratified_folds(y: pd.Series | np.ndarray, k: int, seed: int, groups: pd.Series | np.ndarray | None = None
                     ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cross-fitting folds (positions), stratified by a binary label.

    ``groups`` (a customer id per row): when an id repeats, as it does on a time-based split where a customer
    has a row at every training cutoff, every row of one customer goes to the same fold, for the reason
    ``group_folds`` gives, and customers are stratified by their majority label. (scikit-learn's
    ``StratifiedGroupKFold`` balances folds more exactly but takes about 1 s per 2,400 customers and 6 s per
    20,000, on every call: too slow for a search that builds folds per trial.) Without repeats the folds are
    plain ``StratifiedKFold``, so single-snapshot tables keep their folds.
    """
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(y)
    k = max(2, min(k, int(np.bincount(y.astype(int)).min())))
    if repeats(groups):
        codes = pd.factorize(pd.Series(np.asarray(groups)))[0]
        majority = (np.bincount(codes, weights=y.astype(float)) / np.bincount(codes) >= 0.5).astype(int)
        per_class = np.bincount(majority)
        k = max(2, min(k, int(per_class[per_class > 0].min())))  # a class no customer is mostly in: no cap
        fold_of_group = np.empty(len(majority), int)
        for i, (_, held) in enumerate(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(
                np.zeros(len(majority)), majority)):
            fold_of_group[held] = i
        fold, positions = fold_of_group[codes], np.arange(len(codes))
        return [(positions[fold != i], positions[fold == i]) for i in range(k)]
    return list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


def repeats(groups: pd.Series | np.ndarray | None) -> bool:
    """Whether some group (customer id) has more than one row."""
    return groups is not None and bool(pd.Series(np.asarray(groups)).duplicated().any())


def group_folds(groups: pd.Series | np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cross-fitting folds (positions) that keep every row of one group (a customer) in the same fold.

    A customer appears once per training cutoff: with rows of one customer on both sides of a fold, the
    model would be scored on a customer it has already learned, and out-of-fold scores would flatter it.
    Groups are assigned to folds at random (seeded), so fold sizes are equal up to group sizes.
    """
    codes, uniques = pd.factorize(pd.Series(np.asarray(groups)), sort=True)
    k = max(2, min(k, len(uniques)))
    fold_of_group = np.random.default_rng(seed).permutation(len(uniques)) % k
    fold = fold_of_group[codes]
    positions = np.arange(len(codes))
    return [(positions[fold != i], positions[fold == i]) for i in range(k)]
