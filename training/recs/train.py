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

from training.recs.data import RecsData, TimeSplit, as_timestamp, read_recs_data, time_split
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

    def value(self, ranker: str, name: str, k: int = 10) -> float:
        return metric(self.table, ranker, name, k)


@dataclass
class RecsResult(RecsFit):
    """A registered recommender: the fit plus where it went."""

    model_name: str = MODEL_NAME
    version: str = ""
    run_id: str = ""
    decision: Any = None  # training.core.promotion.PromotionDecision with promote=True


def load_split(data_dir: str | Path, cutoff: date | str, horizon_days: int) -> tuple[RecsData, TimeSplit]:
    """The clean folder's purchases, catalogue and profiles, split at the cutoff."""
    data = read_recs_data(data_dir)
    return data, time_split(data.purchases, as_timestamp(cutoff), horizon_days)


def fit_recs(data: RecsData, split: TimeSplit, *, settings: Settings, trials: int, timeout: float | None,
             seed: int, study_name: str, storage: str | None, model_name: str, plots_dir: Path,
             files_dir: Path) -> RecsFit:
    """Tune on validation, refit before the cutoff, test on the horizon; plots and files into the folders.

    Needs an active MLflow run only because the shared tuning loop logs one nested run per trial.
    """
    from training.core.registry import data_hash
    from training.recs import plots

    horizon = split.horizon_days
    _console.log(f"recs: {len(split.history):,} purchase lines before {split.cutoff.date()}, "
                 f"{len(data.catalog.product_ids):,} products, catalogue text: {data.catalog.has_content}")
    tuned = tune(data, split.history, split.cutoff, horizon, settings=settings, trials=trials, timeout=timeout,
                 seed=seed, study_name=study_name, storage=storage)
    _console.log(f"recs: ALS {tuned.params.as_dict()}, segment column {tuned.segment_column}, "
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
    holdout = holdout_frame(test_customers(split, HOLDOUT_CUSTOMERS, seed), split.future)
    return RecsFit(model, tuned, table, summary, holdout, input_example(model.customers.to_numpy()), card,
                   metrics, version_metrics, tags)


def train_recs(data_dir: str | Path, *, cutoff: date | str, settings: Settings, horizon_days: int | None = None,
               trials: int | None = None, timeout: float | None = None, model_name: str = MODEL_NAME,
               seed: int | None = None, storage: str | None = None, promote: bool = False) -> RecsResult:
    """Tune, test and register a recommender from a clean data folder (see the module docstring)."""
    import mlflow

    from training.core.promotion import log_holdout
    from training.core.promotion import promote as core_promote
    from training.core.registry import log_and_register
    from training.tracking import tracked_run

    seed = settings.seed if seed is None else seed
    horizon = horizon_days or settings.horizon_days
    data, split = load_split(data_dir, cutoff, horizon)
    with tracked_run(settings, run_name=f"train-{model_name}", tags={"crmlab.family": FAMILY}) as run, \
            tempfile.TemporaryDirectory() as tmp:
        mlflow.log_params({"cutoff": str(split.cutoff.date()), "horizon_days": horizon, "seed": seed,
                           "products": len(data.catalog.product_ids), "history_lines": len(split.history),
                           "catalogue_text": data.catalog.has_content, "min_history": settings.recs_min_history,
                           "popularity_days": settings.recs_popularity_days,
                           "blend_step": settings.recs_blend_step})
        out = Path(tmp)
        fitted = fit_recs(data, split, settings=settings, trials=trials or settings.trials,
                          timeout=timeout if timeout is not None else settings.timeout_s, seed=seed,
                          study_name=f"{model_name}-{run.info.run_id[:8]}",
                          storage=storage or settings.optuna_storage, model_name=model_name,
                          plots_dir=out, files_dir=out)
        (out / "model_card.md").write_text(fitted.card)
        mlflow.log_params({f"als.{k}": v for k, v in fitted.tuned.params.as_dict().items()}
                          | {"segment_column": fitted.tuned.segment_column or "none"})
        mlflow.log_metrics(fitted.metrics)
        mlflow.log_artifacts(tmp, artifact_path="recs")
        log_holdout(fitted.holdout)
        version = log_and_register(RecommenderModel(fitted.recommender), model_name=model_name, family=FAMILY,
                                   artifacts={}, input_example=fitted.example, tags=fitted.tags,
                                   metrics=fitted.version_metrics, settings=settings)
        run_id = run.info.run_id
    decision = core_promote(model_name, settings=settings) if promote else None
    return RecsResult(**vars(fitted), model_name=model_name, version=str(version.version), run_id=run_id,
                      decision=decision)


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
