"""Fitting the recommender for the lifecycle: load and split, tune, refit, test, plots and model card.

Flow: clean folder -> purchases split at the cutoff (``load_split``) -> tuning on an inner validation
split (``training.recs.tune``) -> refit on all history before the cutoff -> test on the horizon after
it against a popularity baseline (``fit_recs``). ``training.core.lifecycle.train_family`` does the
rest (MLflow run, artifacts, registration as ``challenger``, the gate of ``training.recs.gate``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from training.recs.data import RecsData, TimeSplit, as_timestamp, read_recs_data, time_split
from training.recs.evaluate import evaluate, headline, horizon_customers, metric
from training.recs.fit import build_recommender
from training.recs.gate import holdout_frame
from training.recs.model import Recommender
from training.recs.pyfunc import input_example
from training.recs.tune import Tuned, tune
from training.settings import Settings

MODEL_NAME = "recommender"
HOLDOUT_CUSTOMERS = 2_000
REFERENCE_CUSTOMERS = 500  # x 10 answers = the core's REFERENCE_ROWS


@dataclass
class RecsFit:
    """Everything fitting produced, before any MLflow call (what a family's ``fit`` hands the lifecycle)."""

    recommender: Recommender
    tuned: Tuned
    table: pd.DataFrame  # ranker, k, metric, value on the test horizon
    summary: dict[str, float]
    holdout: pd.DataFrame  # the gate's customers and what they bought in the horizon
    example: pd.DataFrame  # request rows for the signature
    card: str  # model_card.md
    metrics: dict[str, float]  # everything for the run
    version_metrics: dict[str, float]  # headline test metrics for the registered version
    tags: dict[str, str]
    reference: pd.DataFrame  # a sample of answers without customer ids (monitoring reference)

    def summary_table(self) -> pd.DataFrame:
        """Rankers x metrics at k = 10 (what ``crmlab train recs`` prints)."""
        names = ("precision", "recall", "map", "ndcg", "coverage")
        rankers = ("hybrid", "als", "content", "popularity", "hybrid.cold", "hybrid.light", "hybrid.warm")
        return pd.DataFrame({f"{m}@10": [self.value(r, m) for r in rankers] for m in names},
                            index=pd.Index(rankers, name="ranker"))

    def value(self, ranker: str, name: str, k: int = 10) -> float:
        return metric(self.table, ranker, name, k)


def load_split(data_dir: str | Path, cutoff: date | str, horizon_days: int) -> tuple[RecsData, TimeSplit]:
    """The clean folder's purchases, catalogue and profiles, split at the cutoff."""
    data = read_recs_data(data_dir)
    return data, time_split(data.purchases, as_timestamp(cutoff), horizon_days)


def fit_recs(data: RecsData, split: TimeSplit, *, settings: Settings, trials: int, timeout: float | None,
             seed: int, study_name: str, storage: str | None, model_name: str, plots_dir: Path,
             files_dir: Path, log: Callable[[str], None] = print) -> RecsFit:
    """Tune on validation, refit before the cutoff, test on the horizon; plots and files into the folders.

    Needs an active MLflow run only because the shared tuning loop logs one nested run per trial.
    """
    from training.core.registry import data_hash
    from training.recs import plots

    horizon = split.horizon_days
    log(f"recs: {len(split.history):,} purchase lines before {split.cutoff.date()}, "
                 f"{len(data.catalog.product_ids):,} products, catalogue text: {data.catalog.has_content}")
    tuned = tune(data, split.history, split.cutoff, horizon, settings=settings, trials=trials, timeout=timeout,
                 seed=seed, study_name=study_name, storage=storage)
    log(f"recs: ALS {tuned.params.as_dict()}, segment column {tuned.segment_column}, "
                 f"weights {tuned.weights}")
    model = build_recommender(data, split.history, split.cutoff, params=tuned.params, weights=tuned.weights,
                              segment_column=tuned.segment_column, min_history=settings.recs_min_history,
                              popularity_days=settings.recs_popularity_days, seed=seed)
    table, summary = evaluate(model, split, settings.recs_eval_customers, seed)
    metrics = headline(table) | summary | {f"val.{k}": v for k, v in tuned.validation.items()}
    version_metrics = {f"{m}_at_10": metric(table, "hybrid", m) for m in ("precision", "recall", "map", "ndcg")}
    version_metrics["popularity_precision_at_10"] = metric(table, "popularity", "precision")
    card = model_card(table, tuned, summary, model_name, split.cutoff, horizon)
    table.to_csv(files_dir / "metrics_by_k.csv", index=False)
    (files_dir / "tuned.json").write_text(json.dumps({"als": tuned.params.as_dict(), "weights": tuned.weights,
                                                      "segment_column": tuned.segment_column,
                                                      "validation": tuned.validation}, indent=2))
    plots.metrics_bar(table, plots_dir / "metrics_at_10.png")
    plots.metrics_by_k(table, plots_dir / "metrics_by_k.png")
    tags = {"data_hash": data_hash(split.history[["customer_id", "product_id"]]),
            "recs.cutoff": str(split.cutoff.date()), "recs.horizon_days": str(horizon),
            "recs.weights": json.dumps(tuned.weights), "recs.segment_column": tuned.segment_column or "none",
            "recs.als": json.dumps(tuned.params.as_dict())}
    holdout = holdout_frame(horizon_customers(split, HOLDOUT_CUSTOMERS, seed), split.future)
    return RecsFit(model, tuned, table, summary, holdout, input_example(model.customers.to_numpy()), card,
                   metrics, version_metrics, tags, reference_sample(model, seed))


def reference_sample(model: Recommender, seed: int) -> pd.DataFrame:
    """Top-10 answers for a seeded sample of known customers, without ``customer_id``."""
    rng = np.random.default_rng(seed + 17)
    ids = model.customers.to_numpy()[rng.choice(len(model.customers), size=min(len(model.customers),
                                                                              REFERENCE_CUSTOMERS), replace=False)]
    return model.recommend(ids, 10).drop(columns="customer_id")


def model_card(table: pd.DataFrame, tuned: Tuned, summary: dict[str, float], model_name: str,
               cutoff: pd.Timestamp, horizon: int) -> str:
    """Markdown: what the model recommends, from which data, how it was chosen and how it tested."""
    rows = ["| ranker | precision@10 | recall@10 | MAP@10 | NDCG@10 | coverage@10 |", "|---|---|---|---|---|---|"]
    for ranker in ("hybrid", "als", "content", "popularity", "hybrid.cold", "hybrid.light", "hybrid.warm"):
        values = [metric(table, ranker, m) for m in ("precision", "recall", "map", "ndcg", "coverage")]
        if any(v == v for v in values):
            rows.append(f"| {ranker} | " + " | ".join("" if v != v else f"{v:.4f}" for v in values) + " |")
    return "\n".join([
        f"# {model_name}: next products to recommend",
        "",
        f"Trained on purchases before {cutoff.date()}; tested on the purchases of the {horizon} days after it "
        f"({summary['test_customers']:.0f} customers, of whom {summary.get('test_customers.cold', 0):.0f} had "
        "no purchase before the cutoff).",
        "",
        f"- ALS: {tuned.params.as_dict()} (Optuna on the inner validation window)",
        f"- blend weights per tier (tuned on validation): {json.dumps(tuned.weights)}",
        f"- popularity segment column: {tuned.segment_column or 'none (all customers)'}",
        f"- share of horizon purchases that repeat a product bought before: {summary['repeat_share']:.1%} "
        "(products are only filtered when the catalogue marks them not repurchasable)",
        "",
        *rows,
        "",
    ])
