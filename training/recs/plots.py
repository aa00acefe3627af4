"""Evaluation plots: each ranker's metrics at k = 10, and precision / recall / NDCG as k grows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from training.recs.evaluate import RANKERS


def metrics_bar(table: pd.DataFrame, path: Path, k: int = 10) -> None:
    """Grouped bars: one group per metric, one bar per ranker (popularity is the baseline)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    at_k = table[(table["k"] == k) & table["ranker"].isin(RANKERS)]
    wide = at_k.pivot(index="metric", columns="ranker", values="value")[list(RANKERS)]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    wide.plot.bar(ax=ax, rot=0)
    ax.set_title(f"Test metrics at k={k} (purchases in the horizon after the cutoff)")
    ax.set_ylabel("value")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def metrics_by_k(table: pd.DataFrame, path: Path) -> None:
    """One panel per metric, one line per ranker, k = 1..MAX_K."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ("precision", "recall", "ndcg", "coverage")
    fig, axes = plt.subplots(1, len(names), figsize=(16, 4))
    for ax, name in zip(axes, names, strict=True):
        for ranker in RANKERS:
            part = table[(table["ranker"] == ranker) & (table["metric"] == name)].sort_values("k")
            ax.plot(part["k"], part["value"], marker=".", label=ranker)
        ax.set_title(f"{name}@k")
        ax.set_xlabel("k")
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
