"""Issue 14, churn: the registered model is never worse than a default, on small real-shaped tables.

Two tables built by ``crmlab main``'s own chain (ingest -> cutoff rule -> features): a generated world of
3,000 customers and the shared CDNOW sample (churn = no purchase within the horizon). On three seeds each,
the registered model's test AUC is at least the better of the two baselines trained on the same rows
(default ``LGBMClassifier``, logistic regression) minus 0.005, i.e. the gate's checks pass; and a model
fitted on half the rows is refused by the same check.
"""

from __future__ import annotations

from pathlib import Path

import lightgbm
import mlflow
import numpy as np
import pandas as pd
import pytest
from module_store import module_store
from sklearn.metrics import roc_auc_score

from training.churn.gate import BASELINE_AUC_MARGIN, BASELINE_PREFIX, checks
from training.churn.inputs import LABEL, ChurnData, from_features_dir, synthetic_features, write_features_dir
from training.churn.train import prepare, train_churn
from training.core.lgbm import as_lgbm_frame
from training.features.from_source import features_from_source
from training.settings import get_settings

REPO = Path(__file__).resolve().parents[3]
SEEDS = (0, 1, 2)
TRIALS = 4


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> dict:
    """Both tables' churn data and one module-wide tracking store; trained runs are cached per (table, seed)."""
    from training.world import WorldConfig, generate_world, write_world

    home = tmp_path_factory.mktemp("churn_quality")
    with module_store(home):
        write_world(generate_world(WorldConfig(n_customers=3000, seed=4)), home / "world" / "raw")
        world = features_from_source(home / "world" / "raw", home / "world", get_settings())
        cdnow = features_from_source(REPO / "examples" / "cdnow" / "schema.yaml", home / "cdnow", get_settings())
        yield {"home": home, "data": {"world": from_features_dir(world), "cdnow": from_features_dir(cdnow)},
               "runs": {}}


def _trained(tables: dict, table: str, seed: int):
    """(result, holdout, registered probabilities) of one training run, trained once per module."""
    key = (table, seed)
    if key not in tables["runs"]:
        with module_store(tables["home"]):
            result = train_churn(data=tables["data"][table], trials=TRIALS, timeout=None, seed=seed,
                                 model_name=f"churn-{table}-{seed}", settings=get_settings())
            holdout = pd.read_parquet(mlflow.artifacts.download_artifacts(run_id=result.run_id,
                                                                           artifact_path="holdout.parquet"))
            p = mlflow.pyfunc.load_model(result.model_uri).predict(holdout, params={"reasons": False})
        tables["runs"][key] = (result, holdout, p)
    return tables["runs"][key]


@pytest.mark.parametrize("table", ["world", "cdnow"])
@pytest.mark.parametrize("seed", SEEDS)
def test_registered_model_is_not_worse_than_the_better_default(tables, table, seed):
    result, holdout, out = _trained(tables, table, seed)
    y = holdout[LABEL].to_numpy()
    registered = roc_auc_score(y, out["churn_probability"])
    assert registered == pytest.approx(result.metrics["test_roc_auc"], abs=1e-6)  # served = measured
    baselines = {c: roc_auc_score(y, holdout[c]) for c in holdout.columns if c.startswith(BASELINE_PREFIX)}
    assert set(baselines) == {"baseline_default_lightgbm", "baseline_logistic"}
    assert registered >= max(baselines.values()) - BASELINE_AUC_MARGIN, (result.chosen, registered, baselines)
    verdict = checks(out, holdout)
    assert verdict["auc_not_below_default_lightgbm"] and verdict["auc_not_below_logistic"]
    assert any("tuned by 5-fold cross-validation" in n for n in result.notes)  # small: K-fold (settings)


def _default_lightgbm(data: ChurnData, rows: pd.DataFrame, x: pd.DataFrame) -> np.ndarray:
    model = lightgbm.LGBMClassifier(random_state=0, verbose=-1, n_jobs=1)
    model.fit(as_lgbm_frame(rows[data.features], data.categorical), rows[LABEL])
    return model.predict_proba(as_lgbm_frame(x[data.features], data.categorical))[:, 1]


def test_a_model_fitted_on_half_the_rows_is_refused_by_the_check(tmp_path):
    """The failure issue 14 found: a model fitted on half the rows, never refitted. Where the rows matter
    (a 2,000-customer table with interactions to learn), the gate's check refuses it next to the same model
    fitted on all non-test rows; a 20,000-row holdout of the same world keeps AUC noise far below the
    margin (halving cost 0.012-0.020 AUC on this seed's four halves, 0.001-0.028 over other seeds)."""
    data = from_features_dir(write_features_dir(synthetic_features(2000, seed=1, kind="nonlinear"),
                                                tmp_path / "features"))
    rows = prepare(data, seed=1).fit_rows
    fresh = synthetic_features(20_000, seed=99, kind="nonlinear")
    fresh = fresh[fresh[LABEL].notna()].reset_index(drop=True)
    holdout = pd.DataFrame({LABEL: fresh[LABEL].astype(int),
                            f"{BASELINE_PREFIX}default_lightgbm": _default_lightgbm(data, rows, fresh)})
    half = _default_lightgbm(data, rows.sample(frac=0.5, random_state=0), fresh)
    verdict = checks(pd.DataFrame({"churn_probability": half}), holdout)
    assert verdict["auc_not_below_default_lightgbm"] is False, verdict
    refit = _default_lightgbm(data, rows.sample(frac=1.0, random_state=0), fresh)  # all rows, shuffled
    assert checks(pd.DataFrame({"churn_probability": refit}), holdout)["auc_not_below_default_lightgbm"]
