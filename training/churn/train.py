"""Train, select, calibrate, explain and register the churn model.

Data use (each row has one job; the test split is scored once, after every choice is made):

- train: fits LightGBM (every Optuna trial) and the logistic baseline;
- validation, *selection* half: early stopping and the Optuna objective, the baseline's C;
- validation, *calibration* half: calibration-method choice (cross-fitted), the calibration fit, and the
  LightGBM-vs-baseline decision (cross-fitted calibrated log loss);
- test: final metrics, before and after calibration; logged as ``holdout.parquet`` for the gate.

Objective: validation **log loss** (minimised). It scores the probabilities the CRM acts on, not only
their order, it is smooth on a few thousand rows where AUC moves in steps, and it is what early
stopping already watches. Class-weighted trials compete on the same objective (their shifted
probabilities are penalised; calibration could undo a shift but not every distortion).

Never worse than the baseline: the registered model is whichever candidate has the lower calibrated
validation log loss; the baseline wins unless LightGBM is at least as good.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from training.churn.calibration import Calibrator, choose_calibrator
from training.churn.inputs import ID, LABEL, ChurnData, ChurnInputError, from_features_dir, from_table
from training.churn.model import OUTPUT_COLUMNS, ChurnModel
from training.churn.scorers import LgbmScorer, LinearScorer, fit_baseline
from training.core.evaluation import binary_metrics
from training.core.pyfunc_base import InputSpec
from training.settings import Settings, get_settings

FAMILY = "churn"
TASK = "binary"
OBJECTIVE = "validation log loss"
METRIC_NAMES = ("roc_auc", "pr_auc", "log_loss", "brier", "ece")
# Random splits: train 50% / validation 30% (selection 15 + calibration 15) / test 20%; calibration
# and the baseline decision need enough rows of their own.
VALID_FRAC, TEST_FRAC = 0.3, 0.2
MAX_ROUNDS = 1000  # with learning_rate >= 0.01 and early stopping, churn data never needs more
INPUT_EXAMPLE_ROWS = 5


@dataclass
class ChurnParts:
    train: pd.DataFrame
    select: pd.DataFrame
    calib: pd.DataFrame
    test: pd.DataFrame
    description: str


@dataclass
class Candidate:
    name: str
    scorer: object
    calibrator: Calibrator
    calibration_losses: dict[str, float]
    valid_auc: float

    @property
    def valid_log_loss(self) -> float:
        """Cross-fitted calibrated log loss on the calibration half (the selection score)."""
        return min(self.calibration_losses.values())


@dataclass
class ChurnResult:
    model_name: str
    version: str
    run_id: str
    chosen: str                       # "lightgbm" or "logistic"
    calibration: str                  # "none", "isotonic" or "sigmoid"
    study_name: str
    trials: int                       # trials in the study (cumulative when a study is resumed)
    split: str
    metrics: dict[str, float]         # flat metrics as logged on the run
    table: pd.DataFrame               # test metrics: rows = metrics, columns = model variants
    notes: list[str] = field(default_factory=list)
    promotion: object | None = None   # training.core.promotion.PromotionDecision with promote=True

    @property
    def model_uri(self) -> str:
        return f"models:/{self.model_name}/{self.version}"


def load_churn_data(features_dir: str | Path | None = None, *, table: str | Path | None = None,
                    target: str | None = None, id_col: str | None = None,
                    positive: str | None = None) -> ChurnData:
    """Exactly one source: a features directory, or a table with its target and id columns."""
    if (features_dir is None) == (table is None):
        raise ChurnInputError("give exactly one input: a features directory or a table")
    if features_dir is not None:
        return from_features_dir(features_dir)
    if not target or not id_col:
        raise ChurnInputError("a table needs --target COL and --id COL")
    return from_table(table, target=target, id_col=id_col, positive=positive)


def prepare(data: ChurnData, seed: int) -> ChurnParts:
    """Honest split (core ``make_splits``), then validation halved into selection and calibration."""
    from training.core.splits import make_splits, split_in_two

    splits = make_splits(data.frame, label=LABEL, seed=seed, id_col=ID, time_col=data.time_col,
                         horizon_days=data.horizon_days, valid_frac=VALID_FRAC, test_frac=TEST_FRAC)
    select, calib = split_in_two(splits.valid, label=LABEL, seed=seed + 2)
    parts = ChurnParts(splits.train, select, calib, splits.test,
                       f"{splits.describe()}; validation halved: selection {len(select)} / "
                       f"calibration {len(calib)} rows")
    for name in ("train", "select", "calib", "test"):
        counts = getattr(parts, name)[LABEL].value_counts()
        if len(counts) < 2 or counts.min() < 5:
            raise ChurnInputError(f"the {name} part has fewer than 5 churned or 5 retained customers "
                                  f"({parts.description}): use more customers or more cutoffs")
    return parts


def tune_lightgbm(data: ChurnData, parts: ChurnParts, *, trials: int, timeout: float | None, seed: int,
                  storage: str | None, study_name: str, settings: Settings):
    """Core ``run_study`` over the core LightGBM space; returns (LgbmScorer, study)."""
    import optuna

    from training.core.lgbm import default_trial_params, fit_lgbm, suggest_lgbm_params
    from training.core.tuning import run_study

    train = (parts.train[data.features], parts.train[LABEL])
    select = (parts.select[data.features], parts.select[LABEL])
    best: dict = {}

    def fit(trial) -> object:
        params = {**suggest_lgbm_params(trial, TASK), "seed": seed}
        pruning = trial if isinstance(trial, optuna.Trial) else None
        return fit_lgbm(params, train, select, task=TASK, trial=pruning, categorical=data.categorical,
                        max_rounds=MAX_ROUNDS)

    def objective(trial: optuna.Trial) -> float:
        booster = fit(trial)
        value = float(booster.best_score["valid"]["binary_logloss"])
        trial.set_user_attr("best_iteration", int(booster.best_iteration))
        if not best or value < best["value"]:
            best.update(value=value, number=trial.number, booster=booster)
        return value

    study = run_study(objective, study_name=study_name, direction="minimize", trials=trials, timeout=timeout,
                      seed=seed, storage=storage, settings=settings, warm_start=default_trial_params(TASK))
    booster = best.get("booster")
    if best.get("number") != study.best_trial.number:  # the best trial came from an earlier, resumed run
        booster = fit(optuna.trial.FixedTrial(study.best_trial.params))
    return LgbmScorer(booster, data.features, data.categorical), study


def calibrate(name: str, scorer, data: ChurnData, parts: ChurnParts, seed: int) -> Candidate:
    """Choose and fit the calibration map on the calibration half; scores the candidate there."""
    from sklearn.metrics import roc_auc_score

    p = scorer.raw_proba(parts.calib[data.features])
    y = parts.calib[LABEL].to_numpy()
    calibrator, losses = choose_calibrator(p, y, seed=seed)
    return Candidate(name, scorer, calibrator, losses, float(roc_auc_score(y, p)))


def required_features(data: ChurnData) -> frozenset[str]:
    """Numeric features never missing in any row (labelled or not) are required; the rest is optional.

    Unlabelled rows count too: customers without a recent order are scored in production, so a feature
    that is null for them (e.g. recency) must stay optional.
    """
    numeric = [f for f in data.features if f not in data.categorical]
    complete = data.complete_in_all_rows
    return frozenset(f for f in numeric if data.frame[f].notna().all() and (complete is None or f in complete))


def train_churn(features_dir: str | Path | None = None, *, table: str | Path | None = None,
                target: str | None = None, id_col: str | None = None, positive: str | None = None,
                data: ChurnData | None = None, trials: int | None = None, timeout: float | None = None,
                model_name: str = "churn", seed: int | None = None, storage: str | None = None,
                promote: bool = False, settings: Settings | None = None) -> ChurnResult:
    """Train the churn family end to end and register the winner as ``model_name@challenger``.

    Input: ``features_dir``, or ``table`` + ``target`` + ``id_col`` (+ ``positive``), or a ready
    ``data``. ``trials``/``timeout``/``seed`` default to the settings; ``timeout`` 0 or None = no limit.
    With ``promote``, the churn gate runs afterwards (``ChurnResult.promotion``).
    """
    from training.churn.artifacts import write_artifacts
    from training.core.promotion import log_holdout
    from training.core.registry import data_hash, log_and_register
    from training.tracking import tracked_run

    settings = settings or get_settings()
    seed = settings.seed if seed is None else seed
    trials = trials or settings.trials
    timeout = settings.timeout_s if timeout is None else timeout
    if data is None:
        data = load_churn_data(features_dir, table=table, target=target, id_col=id_col, positive=positive)
    parts = prepare(data, seed)
    fingerprint = data_hash(data.frame)
    study_name = f"{FAMILY}-{model_name}-{fingerprint[:10]}-s{seed}"
    notes = [*data.notes, parts.description]

    import mlflow

    with tracked_run(settings, f"train-{model_name}", tags={"crmlab.family": FAMILY}) as run:
        mlflow.log_params({"source": data.source[:500], "split": parts.description[:500], "seed": seed,
                           "trials": trials, "timeout_s": timeout or 0, "objective": OBJECTIVE,
                           "n_features": len(data.features), "rows": len(data.frame)})
        lgbm, study = tune_lightgbm(data, parts, trials=trials, timeout=timeout, seed=seed, storage=storage,
                                    study_name=study_name, settings=settings)
        baseline, c_losses = fit_baseline((parts.train[data.features], parts.train[LABEL]),
                                          (parts.select[data.features], parts.select[LABEL]),
                                          features=data.features, categorical=data.categorical, seed=seed)
        candidates = {c.name: c for c in (calibrate("lightgbm", lgbm, data, parts, seed),
                                          calibrate("logistic", baseline, data, parts, seed))}
        chosen = _choose(candidates)
        notes.append(f"registered {chosen.name}: calibrated validation log loss "
                     + ", ".join(f"{c.name} {c.valid_log_loss:.4f}" for c in candidates.values()))
        _log_baseline_run(baseline, candidates["logistic"], c_losses)

        test_x, test_y = parts.test[data.features], parts.test[LABEL].to_numpy()
        table_, metrics = _test_metrics(candidates, chosen, test_x, test_y)
        metrics |= {f"valid_log_loss_{c.name}": c.valid_log_loss for c in candidates.values()}
        metrics |= {f"valid_roc_auc_{c.name}": c.valid_auc for c in candidates.values()}
        metrics |= {"valid_log_loss": chosen.valid_log_loss, "lgbm_best_select_log_loss": study.best_value}
        mlflow.log_metrics(metrics)

        spec = InputSpec(tuple(data.features), frozenset(data.categorical), required_features(data))
        model = ChurnModel(spec, chosen.scorer, chosen.calibrator, table_schema=data.schema,
                           labels=data.labels)
        holdout = data.raw.loc[parts.test.index].assign(**{LABEL: test_y})
        log_holdout(holdout.reset_index(drop=True))
        done_trials = len(study.trials)
        with tempfile.TemporaryDirectory() as tmp:
            files = write_artifacts(Path(tmp), model=model, data=data, parts=parts, chosen=chosen,
                                    candidates=candidates, table=table_, notes=notes, study_name=study_name,
                                    trials=done_trials, seed=seed)
            mlflow.log_artifacts(str(files.plots), "plots")
            mlflow.log_artifact(str(files.model_card))
            mlflow.log_artifact(str(files.reference))
            mlflow.log_artifact(str(files.importance))
            example = data.raw.loc[parts.train.index[:INPUT_EXAMPLE_ROWS]].reset_index(drop=True)
            version = log_and_register(
                model, model_name=model_name, family=FAMILY,
                artifacts={"model_card": str(files.model_card), "reference": str(files.reference)},
                input_example=example,
                tags={"data_hash": fingerprint, "features": ",".join(data.features),
                      "required_features": ",".join(sorted(spec.required)), "optuna.study": study_name,
                      "model_kind": chosen.name, "calibration": chosen.calibrator.method,
                      "split": parts.description, "data_window": data.window,
                      "outputs": ",".join(OUTPUT_COLUMNS)},
                metrics={k: metrics[f"test_{k}"] for k in METRIC_NAMES}
                | {"valid_log_loss": chosen.valid_log_loss},
                settings=settings,
            )
        result = ChurnResult(model_name, str(version.version), run.info.run_id, chosen.name,
                             chosen.calibrator.method, study_name, done_trials, parts.description, metrics,
                             table_, notes)
    if promote:
        from training.core.promotion import promote as run_gate

        result.promotion = run_gate(model_name, settings=settings)
    return result


def _choose(candidates: dict[str, Candidate]) -> Candidate:
    """LightGBM only when its calibrated validation log loss is not worse than the baseline's."""
    lgbm, baseline = candidates["lightgbm"], candidates["logistic"]
    return lgbm if lgbm.valid_log_loss <= baseline.valid_log_loss else baseline


def _test_metrics(candidates: dict[str, Candidate], chosen: Candidate, x: pd.DataFrame, y: np.ndarray
                  ) -> tuple[pd.DataFrame, dict[str, float]]:
    """The single test evaluation: chosen raw/calibrated, and the other candidate calibrated."""
    raw = chosen.scorer.raw_proba(x)
    columns = {f"{chosen.name} raw": binary_metrics(y, raw),
               f"{chosen.name} calibrated (registered)": binary_metrics(y, chosen.calibrator.apply(raw))}
    for other in candidates.values():
        if other is not chosen:
            other_p = other.calibrator.apply(other.scorer.raw_proba(x))
            columns[f"{other.name} calibrated"] = binary_metrics(y, other_p)
    table = pd.DataFrame(columns).loc[list(METRIC_NAMES)].rename_axis("metric")
    metrics = {f"test_{k}": v for k, v in columns[f"{chosen.name} calibrated (registered)"].items()}
    metrics |= {f"test_raw_{k}": v for k, v in columns[f"{chosen.name} raw"].items() if k in METRIC_NAMES}
    for other in candidates.values():
        if other is not chosen:
            metrics |= {f"test_{other.name}_{k}": v for k, v in columns[f"{other.name} calibrated"].items()
                        if k in METRIC_NAMES}
    return table, metrics


def _log_baseline_run(baseline: LinearScorer, candidate: Candidate, c_losses: dict[str, float]) -> None:
    """The baseline's own nested run: its C grid, chosen C, calibration and validation scores."""
    import mlflow

    model = baseline.pipeline.named_steps["model"]
    with mlflow.start_run(run_name="baseline-logistic", nested=True):
        mlflow.set_tag("crmlab.candidate", "logistic")
        mlflow.log_params({"C": model.C, "calibration": candidate.calibrator.method,
                           "pipeline": "median impute + indicators, scale, one-hot, L2 logistic"})
        mlflow.log_metrics({f"select_log_loss_{k}": v for k, v in c_losses.items()}
                           | {"valid_log_loss": candidate.valid_log_loss,
                              "valid_roc_auc": candidate.valid_auc})
