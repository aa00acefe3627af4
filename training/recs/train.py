"""Train, evaluate and register the recommender: the one function behind ``crmlab train recs``.

Flow: clean folder -> purchases split at the cutoff -> tuning on an inner validation split
(``training.recs.tune``) -> refit on all history before the cutoff -> test on the horizon after it
against a popularity baseline -> metrics, plots and model card -> ``log_and_register`` as
``challenger`` -> optional promotion gate (``training.recs.gate``).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

from training.recs.data import as_timestamp, read_recs_data, time_split
from training.recs.evaluate import evaluate, headline, metric, test_customers
from training.recs.fit import build_recommender
from training.recs.gate import FAMILY, holdout_frame
from training.recs.model import Recommender
from training.recs.pyfunc import RecommenderModel, input_example
from training.recs.tune import Tuned, tune
from training.settings import Settings

MODEL_NAME = "recommender"
HOLDOUT_CUSTOMERS = 2_000
_console = Console(stderr=True)


@dataclass
class RecsResult:
    """What a training produced (the long metrics table stays in memory for callers and tests)."""

    model_name: str
    version: str
    run_id: str
    tuned: Tuned
    table: pd.DataFrame  # ranker, k, metric, value on the test horizon
    summary: dict[str, float]
    recommender: Recommender
    decision: Any = None  # training.core.promotion.PromotionDecision with promote=True

    def value(self, ranker: str, name: str, k: int = 10) -> float:
        return metric(self.table, ranker, name, k)


def train_recs(data_dir: str | Path, *, cutoff: date | str, settings: Settings, horizon_days: int | None = None,
               trials: int | None = None, timeout: float | None = None, model_name: str = MODEL_NAME,
               seed: int | None = None, storage: str | None = None, promote: bool = False) -> RecsResult:
    """Tune, test and register a recommender from a clean data folder (see the module docstring)."""
    import mlflow

    from training.core.promotion import log_holdout
    from training.core.promotion import promote as core_promote
    from training.core.registry import data_hash, log_and_register
    from training.tracking import tracked_run

    seed = settings.seed if seed is None else seed
    horizon = horizon_days or settings.horizon_days
    data = read_recs_data(data_dir)
    split = time_split(data.purchases, as_timestamp(cutoff), horizon)
    _console.log(f"recs: {len(split.history):,} purchase lines before {split.cutoff.date()}, "
                 f"{len(data.catalog.product_ids):,} products, catalogue text: {data.catalog.has_content}")
    with tracked_run(settings, run_name=f"train-{model_name}", tags={"crmlab.family": FAMILY}) as run:
        mlflow.log_params({"cutoff": str(split.cutoff.date()), "horizon_days": horizon, "seed": seed,
                           "products": len(data.catalog.product_ids), "history_lines": len(split.history),
                           "catalogue_text": data.catalog.has_content, "min_history": settings.recs_min_history,
                           "popularity_days": settings.recs_popularity_days,
                           "blend_step": settings.recs_blend_step})
        tuned = tune(data, split.history, split.cutoff, horizon, settings=settings, trials=trials or settings.trials,
                     timeout=timeout if timeout is not None else settings.timeout_s, seed=seed,
                     study_name=f"{model_name}-{run.info.run_id[:8]}", storage=storage or settings.optuna_storage)
        _console.log(f"recs: ALS {tuned.params.as_dict()}, segment column {tuned.segment_column}, "
                     f"weights {tuned.weights}")
        model = build_recommender(data, split.history, split.cutoff, params=tuned.params, weights=tuned.weights,
                                  segment_column=tuned.segment_column, min_history=settings.recs_min_history,
                                  popularity_days=settings.recs_popularity_days, seed=seed)
        table, summary = evaluate(model, split, settings.recs_eval_customers, seed)
        metrics = headline(table) | summary | {f"val.{k}": v for k, v in tuned.validation.items()}
        mlflow.log_params({f"als.{k}": v for k, v in tuned.params.as_dict().items()}
                          | {"segment_column": tuned.segment_column or "none"})
        mlflow.log_metrics(metrics)
        _log_artifacts(table, tuned, summary, model_name, split.cutoff, horizon)
        holdout_ids = test_customers(split, HOLDOUT_CUSTOMERS, seed)
        log_holdout(holdout_frame(holdout_ids, split.future))
        registry_metrics = {k: v for k, v in metrics.items() if k.endswith("_at_10") and "." in k[5:]}
        tags = {"data_hash": data_hash(split.history[["customer_id", "product_id"]]),
                "recs.cutoff": str(split.cutoff.date()), "recs.horizon_days": str(horizon),
                "recs.weights": json.dumps(tuned.weights), "recs.segment_column": tuned.segment_column or "none"}
        version = log_and_register(RecommenderModel(model), model_name=model_name, family=FAMILY, artifacts={},
                                   input_example=input_example(model.customers.to_numpy()), tags=tags,
                                   metrics=registry_metrics, settings=settings)
        run_id = run.info.run_id
    decision = core_promote(model_name, settings=settings) if promote else None
    return RecsResult(model_name, str(version.version), run_id, tuned, table, summary, model, decision)


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


def _log_artifacts(table: pd.DataFrame, tuned: Tuned, summary: dict[str, float], model_name: str,
                   cutoff: pd.Timestamp, horizon: int) -> None:
    """``recs/`` artifacts: metrics table, plots, chosen weights, model card."""
    import mlflow

    from training.recs import plots

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        table.to_csv(out / "metrics_by_k.csv", index=False)
        plots.metrics_bar(table, out / "metrics_at_10.png")
        plots.metrics_by_k(table, out / "metrics_by_k.png")
        (out / "tuned.json").write_text(json.dumps({"als": tuned.params.as_dict(), "weights": tuned.weights,
                                                    "segment_column": tuned.segment_column,
                                                    "validation": tuned.validation}, indent=2))
        (out / "model_card.md").write_text(model_card(table, tuned, summary, model_name, cutoff, horizon))
        mlflow.log_artifacts(tmp, artifact_path="recs")
