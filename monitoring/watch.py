"""Watched inputs, grouped by the one change they carry.

A change in how customers behave moves several inputs together: thinner browsing lowers sessions,
page views and cart adds at once; an app push raises the app's share of orders and lowers the others';
a basket tilt moves every category share. Judged one by one, each moves less than its own noise
threshold; judged as a group (the mean of the members' drift scores, against a threshold calibrated the
same way on the same bootstrap draws: ``monitoring.normal.calibrate``), the shared move stands out while
independent noise partly averages away. A watched input that belongs to no group is judged alone.
"""

from __future__ import annotations

# name -> members (a name ending in "_" is a prefix). Order matters: a column joins the first match.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("activity", ("sessions_30d", "sessions_90d", "page_views_30d", "page_views_90d", "cart_adds_30d",
                  "cart_adds_90d")),
    ("channel mix", ("channel_share_",)),
    ("category mix", ("cat_share_",)),
    ("spend", ("spend_30d", "spend_90d", "monetary_mean")),
)


def _matches(column: str, patterns: tuple[str, ...]) -> bool:
    return any(column == p or (p.endswith("_") and column.startswith(p)) for p in patterns)


def watch_groups(watched: list[str]) -> dict[str, list[str]]:
    """Watched columns grouped (group name -> members, in ``watched`` order); ungrouped ones alone."""
    out: dict[str, list[str]] = {}
    for column in watched:
        name = next((n for n, patterns in GROUPS if _matches(column, patterns)), column)
        out.setdefault(name, []).append(column)
    return {(f"{n} ({len(m)} inputs)" if len(m) > 1 else n): m for n, m in out.items()}
