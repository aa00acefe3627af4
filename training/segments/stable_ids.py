"""Stable segment IDs across retrainings: a retrained model keeps the champion's IDs and names.

Matching is on co-assignment: the champion and the new model both assign the same customers, and the
Hungarian algorithm (``scipy.optimize.linear_sum_assignment``) pairs new segments with champion segments
to maximise the number of customers who keep their segment. This needs no shared feature space, so it
survives a changed feature set, scaler or algorithm. A pair only counts as the *same* segment when most
of the new segment (``MIN_OVERLAP``) came from that champion segment; otherwise the new segment gets a
fresh ID above every ID ever issued (``high_water``), so a retired ID is never reused for another group.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

MIN_OVERLAP = 0.5


@dataclass
class MatchResult:
    """How new internal labels map onto segment IDs, and what changed against the champion."""

    label_to_id: dict[int, int]
    kept_names: dict[int, str]
    table: pd.DataFrame
    kept_share: float
    new_ids: list[int] = field(default_factory=list)
    vanished_ids: list[int] = field(default_factory=list)
    high_water: int = 0

    def tags(self, champion_version: str | None) -> dict[str, str]:
        """Version tags recording the match (read by people and by the promotion check's reviewers)."""
        return {
            "segments.matched_to": champion_version or "none",
            "segments.kept_share": f"{self.kept_share:.4f}",
            "segments.new_ids": ",".join(map(str, self.new_ids)) or "none",
            "segments.vanished_ids": ",".join(map(str, self.vanished_ids)) or "none",
        }


def initial_ids(labels: np.ndarray, revenue: np.ndarray, k: int) -> MatchResult:
    """First model (no champion): IDs 1..k by descending share of revenue, so ID 1 is the most valuable."""
    totals = np.bincount(labels, weights=revenue, minlength=k)
    order = sorted(range(k), key=lambda lab: (-totals[lab], lab))
    mapping = {lab: i + 1 for i, lab in enumerate(order)}
    sizes = np.bincount(labels, minlength=k)
    table = pd.DataFrame({"new_label": order, "segment_id": [mapping[lab] for lab in order],
                          "customers": sizes[order], "status": "new"})
    return MatchResult(mapping, {}, table, kept_share=float("nan"), new_ids=sorted(mapping.values()),
                       high_water=k)


def unmatched(labels: np.ndarray, k: int, *, high_water: int, vanished: list[int]) -> MatchResult:
    """No usable champion assignment (it cannot score these features): every segment gets a fresh ID."""
    sizes = np.bincount(labels, minlength=k)
    order = sorted(range(k), key=lambda lab: (-sizes[lab], lab))
    mapping = {lab: high_water + 1 + i for i, lab in enumerate(order)}
    table = pd.DataFrame({"new_label": order, "segment_id": [mapping[lab] for lab in order],
                          "customers": sizes[order], "status": "new"})
    return MatchResult(mapping, {}, table, kept_share=0.0, new_ids=sorted(mapping.values()),
                       vanished_ids=list(vanished), high_water=high_water + k)


def match_to_champion(champion_ids: np.ndarray, champion_names: dict[int, str], labels: np.ndarray, k: int,
                      *, high_water: int, min_overlap: float = MIN_OVERLAP) -> MatchResult:
    """Pair new labels 0..k-1 with champion segment IDs by maximum co-assignment of the same customers."""
    from scipy.optimize import linear_sum_assignment

    if len(champion_ids) != len(labels):
        raise ValueError("champion and new assignments must cover the same customers, in the same order")
    old_ids = np.unique(champion_ids)
    old_pos = np.searchsorted(old_ids, champion_ids)
    overlap = np.zeros((k, len(old_ids)), dtype=np.int64)
    np.add.at(overlap, (labels, old_pos), 1)
    new_sizes, old_sizes = overlap.sum(axis=1), overlap.sum(axis=0)
    rows, cols = linear_sum_assignment(-overlap)
    mapping: dict[int, int] = {}
    records = []
    for r, c in zip(rows, cols, strict=True):
        if new_sizes[r] and overlap[r, c] >= min_overlap * new_sizes[r]:
            sid = int(old_ids[c])
            mapping[int(r)] = sid
            records.append(_record(int(r), sid, sid, champion_names, overlap[r, c], new_sizes[r],
                                   old_sizes[c], "matched"))
    next_id = max(high_water, int(old_ids.max()) if len(old_ids) else 0)
    for lab in sorted(set(range(k)) - set(mapping), key=lambda lab: (-new_sizes[lab], lab)):
        next_id += 1
        mapping[lab] = next_id
        best = int(overlap[lab].argmax()) if len(old_ids) else None
        records.append(_record(lab, next_id, None if best is None else int(old_ids[best]), champion_names,
                               0 if best is None else overlap[lab, best], new_sizes[lab],
                               0 if best is None else old_sizes[best], "new"))
    vanished = sorted(int(i) for i in old_ids if int(i) not in mapping.values())
    for sid in vanished:
        c = int(np.searchsorted(old_ids, sid))
        records.append(_record(None, None, sid, champion_names, 0, 0, old_sizes[c], "vanished"))
    old_set = {int(i) for i in old_ids}
    kept = sum(int(overlap[lab, np.searchsorted(old_ids, sid)])
               for lab, sid in mapping.items() if sid in old_set)
    kept_names = {sid: champion_names[sid] for sid in mapping.values() if sid in champion_names}
    return MatchResult(mapping, kept_names, pd.DataFrame.from_records(records),
                       kept_share=kept / max(len(labels), 1),
                       new_ids=sorted(sid for sid in mapping.values() if sid not in old_set),
                       vanished_ids=vanished, high_water=next_id)


def _record(label: int | None, sid: int | None, champion_id: int | None, names: dict[int, str], overlap: int,
            new_size: int, old_size: int, status: str) -> dict:
    union = new_size + old_size - overlap
    return {"new_label": label, "segment_id": sid, "champion_id": champion_id,
            "champion_name": names.get(champion_id) if champion_id is not None else None,
            "overlap": int(overlap), "customers": int(new_size), "champion_customers": int(old_size),
            "jaccard": overlap / union if union else 0.0, "status": status}
