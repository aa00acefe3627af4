"""Evaluation plots, each written to a PNG path (to log as MLflow artifacts). Headless (Agg backend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_curve, roc_curve

from training.core.evaluation import reliability_table


def reliability_plot(y: np.ndarray, curves: dict[str, np.ndarray], path: str | Path) -> Path:
    """Reliability curve (fixed 10 bins) for one or more probability vectors, e.g. raw vs calibrated."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], ls="--", color="grey", label="perfectly calibrated")
    for name, p in curves.items():
        table = reliability_table(y, p)
        ax.plot(table["predicted"], table["observed"], marker="o", label=name)
    ax.set(xlabel="mean predicted probability", ylabel="observed rate", xlim=(0, 1), ylim=(0, 1),
           title="Reliability (10 equal-width bins)")
    ax.legend(loc="upper left")
    return save_figure(fig, path)


def roc_pr_plot(y: np.ndarray, p: np.ndarray, path: str | Path) -> Path:
    """ROC and precision-recall curves side by side."""
    fig, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(10, 4.5))
    fpr, tpr, _ = roc_curve(y, p)
    roc_ax.plot(fpr, tpr)
    roc_ax.plot([0, 1], [0, 1], ls="--", color="grey")
    roc_ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    precision, recall, _ = precision_recall_curve(y, p)
    pr_ax.plot(recall, precision)
    pr_ax.axhline(float(np.mean(y)), ls="--", color="grey", label="base rate")
    pr_ax.set(xlabel="recall", ylabel="precision", title="Precision-recall")
    pr_ax.legend()
    return save_figure(fig, path)


def lift_plot(table: pd.DataFrame, path: str | Path) -> Path:
    """Lift per decile (bars) and cumulative gain (line), from ``evaluation.lift_table``."""
    fig, (lift_ax, gain_ax) = plt.subplots(1, 2, figsize=(10, 4.5))
    lift_ax.bar(table["decile"], table["lift"])
    lift_ax.axhline(1.0, ls="--", color="grey")
    lift_ax.set(xlabel="score decile (1 = highest)", ylabel="lift", title="Lift by decile")
    share = np.arange(0, len(table) + 1) / len(table)
    gain_ax.plot(share, np.r_[0.0, table["cumulative_gain"].to_numpy()], marker="o")
    gain_ax.plot([0, 1], [0, 1], ls="--", color="grey")
    gain_ax.set(xlabel="share of customers contacted", ylabel="share of positives captured",
                title="Cumulative gain")
    return save_figure(fig, path)


def importance_plot(importance: pd.Series, path: str | Path, top: int = 20,
                    xlabel: str = "mean |contribution| (log-odds)") -> Path:
    """Horizontal bar chart of the ``top`` largest importances."""
    data = importance.sort_values(ascending=True).tail(top)
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(data) + 1.5))
    ax.barh(data.index.astype(str), data.to_numpy())
    ax.set(xlabel=xlabel, title="Global importance")
    return save_figure(fig, path)


def contribution_summary_plot(contributions: pd.DataFrame, values: pd.DataFrame, path: str | Path,
                              top: int = 15, seed: int = 0) -> Path:
    """SHAP-style summary: per feature, each row's contribution, coloured by the feature's value rank.

    Categorical (non-numeric) values are drawn grey; numeric values from low (blue) to high (red).
    """
    order = contributions.abs().mean().sort_values(ascending=False).head(top).index[::-1]
    rng = np.random.default_rng(seed)
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(order) + 1.5))
    for i, col in enumerate(order):
        contrib = contributions[col].to_numpy()
        jitter = i + rng.uniform(-0.3, 0.3, len(contrib))
        raw = values[col] if col in values.columns else pd.Series(np.nan, index=values.index)
        if pd.api.types.is_numeric_dtype(raw):
            color = raw.rank(pct=True).fillna(0.5).to_numpy()
            ax.scatter(contrib, jitter, c=color, cmap="coolwarm", s=6, vmin=0, vmax=1)
        else:
            ax.scatter(contrib, jitter, color="grey", s=6)
    ax.axvline(0, color="black", lw=0.5)
    ax.set_yticks(range(len(order)), [str(c) for c in order])
    ax.set(xlabel="contribution to log-odds (per customer)",
           title="Contribution summary (blue = low value, red = high)")
    return save_figure(fig, path)


def save_figure(fig: plt.Figure, path: str | Path) -> Path:
    """Write a figure as PNG (folders created) and free it: every crmlab plot ends here."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
