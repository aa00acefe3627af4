"""The recommender family object (row ``recs`` of ``training.core.families.FAMILIES``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from training.core.family import Fitted, ModelCard, ProfileSpec, RunContext, SourceOption, SourceUsageError
from training.core.gate_spec import GateSpec
from training.recs import gate, train
from training.recs.data import RecsData, RecsInputError, TimeSplit
from training.recs.pyfunc import NEXT_BEST, SPEC, RecommenderModel
from training.settings import Settings

PROFILE_PRODUCTS = 3  # next_best_products in customer_profile


class RecsFamily:
    name = "recs"
    default_model_name = train.MODEL_NAME
    summary = "Next-product recommendations: ALS, TF-IDF content and popularity, blend tuned on validation."
    source_options = (
        SourceOption("--data", "data_dir", "Clean data folder from `crmlab ingest` (transactions.parquet; "
                     "products.parquet and customers.parquet when present).", "dir"),
        SourceOption("--cutoff", "cutoff", "Train on purchases before this date (YYYY-MM-DD); test on the "
                     "horizon after it.", "text"),
        SourceOption("--horizon-days", "horizon_days", "Test (and validation) window in days "
                     "(default CRMLAB_HORIZON_DAYS).", "int"),
    )
    # Ranking quality needs the horizon's purchases, which a scoring batch does not carry: not monitored yet.
    monitoring = None
    profile = ProfileSpec(outputs=(NEXT_BEST,), params={"next_best": PROFILE_PRODUCTS})
    input_errors = (RecsInputError,)

    def gate(self) -> GateSpec:
        return gate.GATE

    def load(self, source: Mapping[str, Any], settings: Settings) -> tuple[RecsData, TimeSplit]:
        if not source.get("data_dir") or not source.get("cutoff"):
            raise SourceUsageError("give the input: --data CLEAN_DIR --cutoff YYYY-MM-DD")
        return train.load_split(source["data_dir"], source["cutoff"],
                                int(source.get("horizon_days") or settings.horizon_days))

    def fingerprint(self, data: tuple[RecsData, TimeSplit]) -> pd.DataFrame:
        split = data[1]
        return split.history[["customer_id", "product_id", "order_ts"]].assign(cutoff=split.cutoff,
                                                                              horizon=split.horizon_days)

    def fit(self, data: tuple[RecsData, TimeSplit], run: RunContext) -> Fitted:
        recs_data, split = data
        fitted = train.fit_recs(recs_data, split, settings=run.settings, trials=run.trials, timeout=run.timeout,
                                seed=run.seed, study_name=run.study_name, storage=run.storage,
                                model_name=run.model_name, plots_dir=run.plots_dir, files_dir=run.files_dir,
                                log=run.log)
        card = ModelCard(
            predicts="The next products each customer is likely to buy, one row per product with a reason.",
            data_window=(f"purchases before {split.cutoff.date()} ({len(split.history):,} lines), tested on the "
                         f"{split.horizon_days} days after"),
            test_metrics=fitted.version_metrics, body=fitted.card)
        return Fitted(model=RecommenderModel(fitted.recommender), input_spec=SPEC, input_example=fitted.example,
                      holdout=fitted.holdout, reference=fitted.reference, card=card, metrics=fitted.metrics,
                      version_metrics=fitted.version_metrics, tags=fitted.tags, trials=fitted.tuned.trials,
                      table=fitted.summary_table(), details=fitted)


FAMILY = RecsFamily()
