"""One model, one batch: build the Evidently report (drift + calibration or estimate), read it back, judge it.

Everything numeric the verdict uses comes out of the one snapshot (per-column drift verdicts and the
custom metrics), so the HTML a person reads and the JSON the policy judged cannot disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from monitoring.data import Champion
from monitoring.drift import DriftSummary, split_columns, summarize
from monitoring.families import NON_FEATURES, population_mask
from monitoring.policy import Crossing, Observations, Policy, evaluate


@dataclass
class Assessment:
    """What monitoring measured for one model on one batch, and which thresholds that crossed."""

    model_name: str
    version: str
    family: str
    rows: int
    labels: bool
    drift: DriftSummary
    observations: Observations
    crossings: list[Crossing]
    metrics: dict[str, float]
    snapshot: object  # evidently Snapshot
    calibration: object | None = None  # CalibrationSummary
    notes: list[str] = field(default_factory=list)


def assess(champion: Champion, current: pd.DataFrame, outputs: pd.DataFrame, policy: Policy, *,
           labels: bool, plot_path: Path | None = None, active_window_days: int = 365) -> Assessment:
    """Run the model's monitoring report on ``current`` (features) with its ``outputs``."""
    from threadpoolctl import threadpool_limits

    spec = champion.spec
    notes: list[str] = list(champion.notes)
    frame = pd.concat([current.drop(columns=[c for c in outputs.columns if c in current.columns]), outputs],
                      axis=1)
    population = population_mask(spec, frame, active_window_days)
    if population is not None and not population.all():
        notes.append(f"{int((~population).sum())} row(s) outside the {spec.family} population (no order in the "
                     f"last {active_window_days} days) are left out, as in training")
        frame = frame.loc[population]
    reference = champion.reference
    if labels:
        frame, dropped = _labelled_rows(frame, spec.label, "current batch")
        if dropped:
            notes.append(f"{dropped} row(s) of the batch have no {spec.label!r} label (outside the model's "
                         "population) and are left out of this labelled run")
        if spec.label in reference.columns:
            reference, _ = _labelled_rows(reference, spec.label, "reference sample")
    if len(frame) < policy.min_rows:
        raise ValueError(f"{champion.model_name}: the batch has {len(frame)} usable rows, fewer than the "
                         f"policy's min_rows={policy.min_rows}: monitor a larger window")

    listed = champion.feature_list()
    if listed and not any(c in frame.columns for c in listed):  # e.g. BG/NBD inputs, derived when scoring
        notes.append(f"the model's inputs ({', '.join(listed[:4])}) are derived at scoring time, not carried by "
                     "the batch: drift is measured on the feature columns the batch and reference share")
        listed = None
    candidates = listed or [c for c in reference.columns if c not in NON_FEATURES and c not in spec.outputs]
    num_f, cat_f, skipped = split_columns(reference, frame, candidates)
    features = num_f + cat_f
    if not features:
        raise ValueError(f"{champion.model_name}: no feature column is shared by the batch and the reference "
                         f"sample; batch columns: {', '.join(map(str, frame.columns[:20]))}")
    num_o, cat_o, skipped_o = split_columns(reference, frame, list(spec.numeric_outputs + spec.categorical_outputs))
    skipped.update(skipped_o)
    important = important_features(policy, features, champion.importance)
    items, definition = _report_items(champion, policy, labels, reference, frame, num_f, cat_f, num_o, cat_o,
                                      important)
    cols = list(dict.fromkeys(features + num_o + cat_o + ([spec.label] if labels else [])))
    cur = _prepared(frame, cols, cat_f + cat_o)
    ref = _prepared(reference, [c for c in cols if c in reference.columns], cat_f + cat_o)

    from evidently import Dataset, Report

    with threadpool_limits(limits=1, user_api="blas"):
        snapshot = Report(items, include_tests=True, tags=[champion.model_name],
                          metadata={"model": champion.model_name, "version": champion.version,
                                    "family": spec.family, "labels": str(labels).lower()}).run(
            Dataset.from_pandas(cur, data_definition=definition(cur)),
            Dataset.from_pandas(ref, data_definition=definition(ref)),
        )
    snap = snapshot.dict()
    drift = summarize(snap, features, num_o, important, skipped)
    metrics = _custom_values(snap)
    obs = Observations(
        important_share=drift.important_share, drifted_important=tuple(drift.drifted_important),
        important_count=len(important),
        prediction_scores={c.column: c.score for c in drift.prediction()},
        share_changes=drift.share_shift or None,
        ece=metrics.get("ExpectedCalibrationError"), labelled_rows=len(cur) if labels else 0,
        auc_drop=metrics.get("RocAucDrop"), auc_how="measured" if labels else "estimated",
    )
    calibration = None
    if labels and spec.task == "binary":
        from monitoring.calibration import calibration_summary

        groups = frame[spec.group] if spec.group in frame.columns else None
        calibration = calibration_summary(cur[spec.label].to_numpy(), cur[spec.score].to_numpy(), groups,
                                          plot_path)
    if labels and spec.label not in reference.columns:
        notes.append(f"the reference sample has no {spec.label!r}: performance is shown for the batch only")
    summary_metrics = {
        "rows": float(len(cur)), "feature_drift_share": drift.feature_share,
        **({"important_drift_share": drift.important_share} if drift.important_share is not None else {}),
        **{f"prediction_drift.{k}": v for k, v in (obs.prediction_scores or {}).items()},
        **{f"share_shift.{k}": v for k, v in drift.share_shift.items()},
        **{_snake(k): v for k, v in metrics.items()},
    }
    return Assessment(champion.model_name, champion.version, spec.family, len(cur), labels, drift, obs,
                      evaluate(policy, obs), summary_metrics, snapshot, calibration, notes)


def important_features(policy: Policy, features: list[str], importance: pd.Series | None) -> list[str]:
    """Policy list, else the champion's ``top_k`` by importance, else every feature."""
    chosen = policy.feature_drift.important_features
    if chosen is not None:
        unknown = [c for c in chosen if c not in features]
        if unknown:
            raise ValueError(f"policy feature_drift.important_features names {', '.join(unknown)}, which the batch "
                             f"and the reference sample do not share; known features: {', '.join(features)}")
        return list(chosen)
    if importance is not None:
        ranked = [c for c in importance.sort_values(ascending=False).index if c in features]
        if ranked:
            return ranked[: policy.feature_drift.top_k]
    return list(features)


def reference_auc(champion: Champion, reference: pd.DataFrame, labels: bool) -> tuple[float, str]:
    """The AUC a drop is measured from (see docs/MONITORING.md "AUC drop")."""
    from monitoring.estimate import expected_roc_auc, measured_roc_auc

    spec = champion.spec
    if labels:
        registry = champion.registry_metric("roc_auc", "auc", "test_roc_auc")
        if registry is not None:
            return registry, "champion test split"
        if spec.label in reference.columns:
            ref, _ = _labelled_rows(reference, spec.label, "reference sample")
            auc = measured_roc_auc(ref[spec.label].to_numpy(), ref[spec.score].to_numpy())
            if auc is not None:
                return auc, "reference sample (measured)"
    return expected_roc_auc(reference[spec.score].to_numpy()), "reference sample (estimated)"


def _report_items(champion, policy, labels, reference, frame, num_f, cat_f, num_o, cat_o, important):
    from evidently import BinaryClassification, DataDefinition, Regression
    from evidently.tests import lte

    from monitoring.drift import CategoryShareShift, DriftedFeatureShare, value_drift

    spec = champion.spec
    fd, pdp = policy.feature_drift, policy.prediction_drift
    items: list = [value_drift(c, fd.method, fd.threshold) for c in num_f + cat_f]
    items.append(DriftedFeatureShare(columns=important, method=fd.method, threshold=fd.threshold,
                                     tests=[lte(fd.max_share)]))
    items += [value_drift(c, pdp.method, pdp.max_score) for c in num_o]
    items += [CategoryShareShift(column=c, tests=[lte(policy.share_shift.max_change)]) for c in cat_o]
    ref_has_label = spec.label is not None and spec.label in reference.columns
    classification = regression = None
    if spec.task == "binary" and spec.score in num_o:
        from monitoring.estimate import EstimatedRocAuc, ExpectedPositiveRate, RocAucDrop

        auc, source = reference_auc(champion, reference, labels)
        items += [EstimatedRocAuc(probas=spec.score), ExpectedPositiveRate(probas=spec.score),
                  RocAucDrop(probas=spec.score, reference_auc=auc, reference_source=source,
                             target=spec.label if labels else None, tests=[lte(policy.auc_drop.max_drop)])]
        if labels:
            from evidently.presets import ClassificationQuality

            from monitoring.calibration import BrierScore, ExpectedCalibrationError

            enough = len(frame) >= policy.calibration.min_rows
            group = spec.group if spec.group in cat_o else None
            items += [ExpectedCalibrationError(target=spec.label, probas=spec.score, group=group,
                                               tests=[lte(policy.calibration.max_ece)] if enough else []),
                      BrierScore(target=spec.label, probas=spec.score, tests=[])]
            if ref_has_label:
                items.append(ClassificationQuality())  # binary: the by-label half would repeat it, 2x the time
                classification = BinaryClassification(target=spec.label, prediction_probas=spec.score, pos_label=1)
    elif spec.task == "regression" and labels and ref_has_label and spec.score in num_o:
        from evidently.presets import RegressionQuality

        items.append(RegressionQuality())
        regression = Regression(target=spec.label, prediction=spec.score)

    numeric = num_f + num_o
    categorical = cat_f + cat_o

    def definition(df: pd.DataFrame) -> DataDefinition:
        has_label = labels and spec.label in df.columns
        return DataDefinition(
            numerical_columns=numeric + ([spec.label] if has_label and spec.task == "regression" else []),
            categorical_columns=categorical + ([spec.label] if has_label and spec.task == "binary" else []),
            classification=[classification] if classification and has_label else None,
            regression=[regression] if regression and has_label else None,
        )

    return items, definition


def _prepared(frame: pd.DataFrame, columns: list[str], categorical: list[str]) -> pd.DataFrame:
    out = frame[columns].copy()
    for col in categorical:  # text categories (None for missing): Evidently's categorical drift expects one type
        values = out[col]
        out[col] = values.astype(str).astype(object).where(values.notna().to_numpy(), None)
    return out.reset_index(drop=True)


def _labelled_rows(frame: pd.DataFrame, label: str | None, what: str) -> tuple[pd.DataFrame, int]:
    if label is None:
        return frame, 0
    if label not in frame.columns:
        raise ValueError(f"--labels-available, but the {what} has no {label!r} column: wait until the outcome "
                         "window has elapsed and rebuild the features, or run without --labels-available")
    keep = frame[label].notna()
    if not keep.any():
        raise ValueError(f"--labels-available, but no row of the {what} has a {label!r} label: its outcome window "
                         "has not elapsed yet; run without --labels-available (estimated performance)")
    out = frame.loc[keep] if not keep.all() else frame
    if pd.api.types.is_bool_dtype(out[label]) or out[label].isin([0, 1, True, False]).all():
        out = out.assign(**{label: out[label].astype(int)})
    return out, int((~keep).sum())


def _custom_values(snap: dict) -> dict[str, float]:
    """Values of crmlab's custom metrics and the presets' headline numbers, keyed by metric type."""
    wanted = {"ExpectedCalibrationError", "BrierScore", "EstimatedRocAuc", "ExpectedPositiveRate", "RocAucDrop",
              "RocAuc", "MAE", "RMSE", "MeanError", "R2Score"}
    out: dict[str, float] = {}
    for metric in snap["metrics"]:
        kind = metric.get("config", {}).get("type", "").rsplit(":", 1)[-1]
        value = metric.get("value")
        if kind in wanted and isinstance(value, int | float) and np.isfinite(value):
            out[kind] = float(value)
        elif kind in wanted and isinstance(value, dict) and "mean" in value:
            out[kind] = float(value["mean"])
    return out


def _snake(name: str) -> str:
    """``RocAuc`` -> ``roc_auc``, ``MAE`` -> ``mae``, ``R2Score`` -> ``r2_score``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
