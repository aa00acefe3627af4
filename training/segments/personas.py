"""Personas: what each segment looks like, a readable name for it, and a Markdown persona sheet.

A segment's profile is its size, its share of historical revenue (``monetary_total``) and, per feature,
the z-score of the segment mean against the whole population on the model's (log-)scale: how many
population standard deviations the average member sits above or below the average customer.

Names come from a fixed, ordered rule on a few profile dimensions (``NAME_RULES``: first match wins),
so the same profile always gets the same name. When two segments of one model share a rule name, each
gets the qualifier of the feature that sets it most apart from its namesakes ("high app share");
a still-remaining tie gets " #2", " #3", ... by segment id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from training.segments.inputs import NOMINAL_PROFILE, FeatureSpec
from training.segments.pipeline import ASSIGN_CHUNK, Preprocessor

REVENUE = "monetary_total"
NOTABLE_Z = 0.2  # |z| below this is "average" in the persona sheet
Z_PREFIX = "z_"
# profile dimension -> how it is read from the z-scores (missing columns count as 0 = average)
Dims = Mapping[str, float]
NAME_RULES: tuple[tuple[str, Callable[[Dims], bool]], ...] = (
    ("Lapsing big spenders", lambda d: d["recency"] >= 0.5 and d["value"] >= 0.25),
    ("High-value loyal", lambda d: d["value"] >= 0.5 and d["frequency"] >= 0.25),
    ("New low-engagement", lambda d: d["tenure"] <= -0.75 and d["engagement"] < 0.25),
    ("New engaged", lambda d: d["tenure"] <= -0.75),
    ("Window shoppers", lambda d: d["recency"] >= 0.5 and d["engagement"] >= 0.5),
    ("Lapsing low-value", lambda d: d["recency"] >= 0.5),
    ("Bargain hunters", lambda d: d["frequency"] >= 0.25 and d["basket"] <= -0.5),
    ("Big-basket occasionals", lambda d: d["basket"] >= 0.5),
    ("Browsers", lambda d: d["engagement"] >= 0.5 and d["value"] < 0),
    ("Steady mid-value", lambda d: d["value"] >= 0.25),
    ("Occasional low-value", lambda d: True),
)


def segment_profiles(frame: pd.DataFrame, segment_ids: np.ndarray, prep: Preprocessor) -> pd.DataFrame:
    """One row per segment id: customers, share, revenue_share, medians of RFM, z_<feature> columns."""
    spec = prep.spec
    ids = np.unique(segment_ids)
    sums = np.zeros((len(ids), len(spec.columns)))
    pop_sum, pop_sq = np.zeros(len(spec.columns)), np.zeros(len(spec.columns))
    position = np.searchsorted(ids, segment_ids)
    for start in range(0, len(frame), ASSIGN_CHUNK):
        z = prep.standardised(frame.iloc[start:start + ASSIGN_CHUNK])
        pos = position[start:start + ASSIGN_CHUNK]
        for i in range(len(ids)):
            sums[i] += z[pos == i].sum(axis=0)
        pop_sum += z.sum(axis=0)
        pop_sq += (z**2).sum(axis=0)
    counts = np.bincount(position, minlength=len(ids)).astype(float)
    n = len(frame)
    pop_mean = pop_sum / n
    pop_std = np.sqrt(np.maximum(pop_sq / n - pop_mean**2, 1e-12))
    z_means = (sums / counts[:, None] - pop_mean) / pop_std
    profile = pd.DataFrame({"segment_id": ids, "customers": counts.astype(np.int64), "share": counts / n})
    revenue = pd.Series(frame[REVENUE].to_numpy(dtype=float)).groupby(segment_ids).sum()
    profile["revenue_share"] = revenue.reindex(ids).to_numpy() / max(revenue.sum(), 1e-12)
    medians = frame[[c for c in ("recency_days", "frequency", "monetary_total") if c in frame.columns]]
    medians = medians.groupby(segment_ids).median().reindex(ids).add_prefix("median_").reset_index(drop=True)
    modes = _modes(frame, segment_ids, ids)
    z_frame = pd.DataFrame(z_means, columns=[Z_PREFIX + c for c in spec.columns])
    return pd.concat([profile, medians, modes, z_frame], axis=1)


def _modes(frame: pd.DataFrame, segment_ids: np.ndarray, ids: np.ndarray) -> pd.DataFrame:
    """Most common region / acquisition channel per segment (described, not clustered on)."""
    out = pd.DataFrame(index=range(len(ids)))
    for col in NOMINAL_PROFILE:
        if col in frame.columns:
            values = frame[col].astype("string").fillna("missing")
            out[f"top_{col}"] = values.groupby(segment_ids).agg(lambda s: s.value_counts().idxmax()) \
                .reindex(ids).to_numpy()
    return out


def dimensions(row: pd.Series, spec: FeatureSpec) -> dict[str, float]:
    """The few readable dimensions the naming rule looks at, from a profile row's z-scores."""

    def z(*cols: str) -> float:
        """The first of ``cols`` the model used (annualised rate, else lifetime total); 0 if none."""
        return next((float(row[Z_PREFIX + c]) for c in cols if Z_PREFIX + c in row), 0.0)

    engagement = spec.groups.get("engagement", ())
    return {
        "value": z("spend_per_year", "monetary_total"),
        "frequency": z("orders_per_year", "frequency"),
        "recency": z("recency_days"),
        "tenure": z("tenure_days"),
        "basket": z("monetary_mean"),
        "engagement": float(np.mean([z(c) for c in engagement])) if engagement else 0.0,
    }


def rule_name(dims: Dims) -> str:
    return next(name for name, test in NAME_RULES if test(dims))


def name_segments(profiles: pd.DataFrame, spec: FeatureSpec,
                  fixed: Mapping[int, str] | None = None) -> dict[int, str]:
    """Unique names per segment id; ``fixed`` names (kept from the champion) are never changed."""
    fixed = dict(fixed or {})
    by_id = profiles.set_index("segment_id")
    names = {int(sid): fixed.get(int(sid), rule_name(dimensions(row, spec))) for sid, row in by_id.iterrows()}
    z_cols = [c for c in by_id.columns if c.startswith(Z_PREFIX)]
    for base in sorted(set(names.values())):
        group = sorted(sid for sid, name in names.items() if name == base)
        free = [sid for sid in group if sid not in fixed]
        if len(group) < 2 or not free:
            continue
        centre = by_id.loc[group, z_cols].mean()
        for sid in free:
            diff = by_id.loc[sid, z_cols] - centre
            col = str(diff.abs().idxmax())
            names[sid] = f"{base} ({'high' if diff[col] > 0 else 'low'} {readable(col)})"
    return _number_duplicates(names, fixed)


def _number_duplicates(names: dict[int, str], fixed: Mapping[int, str]) -> dict[int, str]:
    seen: dict[str, int] = {}
    for sid in sorted(names, key=lambda s: (s not in fixed, s)):
        base = names[sid]
        seen[base] = seen.get(base, 0) + 1
        if seen[base] > 1:
            candidate, n = base, seen[base]
            while candidate in names.values():
                candidate, n = f"{base} #{n}", n + 1
            names[sid] = candidate
    return names


def readable(z_column: str) -> str:
    """``z_channel_share_app`` -> ``app share``; ``z_sessions_90d`` -> ``sessions 90d``."""
    col = z_column.removeprefix(Z_PREFIX)
    for prefix in ("category_share_", "channel_share_", "share_"):
        if col.startswith(prefix):
            return f"{col.removeprefix(prefix).replace('_', ' ')} share"
    return col.replace("_", " ")


def persona_sheet(profiles: pd.DataFrame, names: Mapping[int, str], *, title: str, top: int = 3) -> str:
    """Markdown: an overview table, then per segment what sets it apart (largest |z| features)."""
    lines = [f"# {title}", "", "| id | segment | customers | share | revenue share | median recency (d) "
             "| median orders | median spend |", "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for _, row in profiles.sort_values("segment_id").iterrows():
        sid = int(row["segment_id"])
        lines.append(f"| {sid} | {names[sid]} | {int(row['customers']):,} | {row['share']:.1%} | "
                     f"{row['revenue_share']:.1%} | {_fmt(row, 'median_recency_days')} | "
                     f"{_fmt(row, 'median_frequency')} | {_fmt(row, 'median_monetary_total')} |")
    z_cols = [c for c in profiles.columns if c.startswith(Z_PREFIX)]
    for _, row in profiles.sort_values("segment_id").iterrows():
        sid = int(row["segment_id"])
        z = row[z_cols].astype(float)
        high = [_z_text(z, c) for c in z.sort_values(ascending=False).index[:top] if z[c] > NOTABLE_Z]
        low = [_z_text(z, c) for c in z.sort_values().index[:top] if z[c] < -NOTABLE_Z]
        lines += ["", f"## {sid}. {names[sid]}", "",
                  f"- {int(row['customers']):,} customers ({row['share']:.1%}), "
                  f"{row['revenue_share']:.1%} of revenue",
                  f"- above average: {', '.join(high) or 'nothing notable'}",
                  f"- below average: {', '.join(low) or 'nothing notable'}"]
        tops = [f"{c.removeprefix('top_').replace('_', ' ')} mostly {row[c]}" for c in profiles.columns
                if c.startswith("top_")]
        if tops:
            lines.append(f"- {'; '.join(tops)}")
    lines += ["", "z-scores: segment mean vs all customers, in population standard deviations, on the "
              "model's scale (log for money and counts).", ""]
    return "\n".join(lines)


def _z_text(z: pd.Series, col: str) -> str:
    return f"{readable(col)} ({z[col]:+.1f} sd)"


def _fmt(row: pd.Series, col: str) -> str:
    return f"{row[col]:,.0f}" if col in row and pd.notna(row[col]) else "-"
