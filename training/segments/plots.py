"""Segmentation plots as PNG files (logged as MLflow artifacts). Headless (Agg backend)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from training.core.plots import save_figure

TSNE_MAX_ROWS = 1_000
MAP_MAX_ROWS = 20_000


def elbow_plot(sweep: pd.DataFrame, chosen_k: int, path: str | Path) -> Path:
    """Within-segment sum of squares vs K (K-Means), chosen K marked."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(sweep["k"], sweep["inertia"], marker="o")
    ax.axvline(chosen_k, ls="--", color="grey", label=f"chosen K = {chosen_k}")
    ax.set(xlabel="number of segments K", ylabel="inertia (within-segment SS)", title="Elbow (K-Means)")
    ax.legend()
    return save_figure(fig, path)


def silhouette_by_k_plot(sweep: pd.DataFrame, candidates: pd.DataFrame, chosen_k: int,
                         path: str | Path) -> Path:
    """Silhouette per K: the K-Means sweep as a line, every searched candidate as a point."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(sweep["k"], sweep["silhouette"], marker="o", color="black", label="K-Means sweep")
    for algorithm, group in candidates.groupby("algorithm"):
        ax.scatter(group["k"], group["silhouette"], alpha=0.7, label=f"searched: {algorithm}")
    ax.axvline(chosen_k, ls="--", color="grey")
    ax.set(xlabel="number of segments K", ylabel="silhouette (evaluation sample)", title="Silhouette by K")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def segment_map(space: np.ndarray, segment_ids: np.ndarray, names: Mapping[int, str], path: str | Path, *,
                method: str = "pca", seed: int = 0) -> Path:
    """2-D map of customers coloured by segment: PCA of the model space, or t-SNE on a small sample."""
    rng = np.random.default_rng(seed)
    limit = TSNE_MAX_ROWS if method == "tsne" else MAP_MAX_ROWS
    rows = np.sort(rng.choice(len(space), size=min(len(space), limit), replace=False))
    coords = _embed(space[rows], method, seed)
    fig, ax = plt.subplots(figsize=(7, 6))
    for sid in sorted(names):
        mask = segment_ids[rows] == sid
        ax.scatter(coords[mask, 0], coords[mask, 1], s=5, alpha=0.6, label=f"{sid}. {names[sid]}")
    ax.set(title=f"Segments ({'t-SNE' if method == 'tsne' else 'PCA'}, {len(rows):,} customers)",
           xticks=[], yticks=[])
    ax.legend(markerscale=3, fontsize=8, loc="best")
    return save_figure(fig, path)


def _embed(space: np.ndarray, method: str, seed: int) -> np.ndarray:
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = float(min(30, max(2, (len(space) - 1) // 3)))
        tsne = TSNE(2, perplexity=perplexity, init="pca", max_iter=500, random_state=seed)
        return tsne.fit_transform(space)
    from sklearn.decomposition import PCA

    if space.shape[1] < 2:
        return np.column_stack([space[:, 0], np.zeros(len(space))])
    return PCA(2, random_state=seed).fit_transform(space)


def dendrogram_plot(linkage: np.ndarray, k: int, path: str | Path) -> Path:
    """Ward dendrogram (last 30 merges), coloured at the height that cuts it into ``k`` segments."""
    from scipy.cluster.hierarchy import dendrogram

    heights = np.sort(linkage[:, 2])
    cut = float((heights[-k] + heights[-k + 1]) / 2) if k > 1 and len(heights) >= k else float(heights[-1])
    fig, ax = plt.subplots(figsize=(9, 4.5))
    dendrogram(linkage, truncate_mode="lastp", p=30, color_threshold=cut, ax=ax, no_labels=True)
    ax.axhline(cut, ls="--", color="grey", label=f"cut into {k} segments")
    ax.set(ylabel="Ward merge distance", title="Hierarchical (Ward) dendrogram, fitting sample")
    ax.legend()
    return save_figure(fig, path)

