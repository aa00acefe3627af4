"""One model, one batch: calibrate, build the Evidently report, read it back, judge it.

The reference is the same season a year earlier when the data covers it, else the champion's held-out
sample (``monitoring.reference``); each column's threshold comes from the data (``monitoring.normal``).
Every policy check is one Evidently test in the report (and nothing else is), and the verdict is read
back from those tests' metrics, so the HTML a person reads and the JSON the policy judged cannot disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from monitoring.data import Champion
from monitoring.drift import DriftSummary, read_scores, share_threshold, split_columns
from monitoring.families import NON_FEATURES, population_mask
from monitoring.normal import ColumnNorm, calibrate, correlated_groups
from monitoring.policy import Crossing, Policy, PolicyCheck


@dataclass
class Comparison:
    """What the batch is compared with, already scored by the champion: features, outputs, labels."""

    name: str
    why: str
    frame: pd.DataFrame
    earlier: pd.DataFrame | None = None


@dataclass
class Assessment:
    """What monitoring measured for one model on one batch, and which thresholds that crossed."""

    model_name: str
    version: str
    family: str
    rows: int
    labels: bool
    drift: DriftSummary
    checks: list[PolicyCheck]
    metrics: dict[str, float]
    snapshot: object  # evidently Snapshot
    reference: dict = field(default_factory=dict)
    calibration: object | None = None  # CalibrationSummary
    notes: list[str] = field(default_factory=list)

    @property
    def crossings(self) -> list[Crossing]:
        return [c for c in self.checks if c.crossed]


def assess(champion: Champion, current: pd.DataFrame, outputs: pd.DataFrame, policy: Policy, *,
           labels: bool, plot_path: Path | None = None, active_window_days: int = 365,
           comparison: Comparison | None = None, seed: int = 0) -> Assessment:
    """Judge ``current`` (features) with its ``outputs`` against ``comparison`` (default: the champion's
    logged held-out sample)."""
    from threadpoolctl import threadpool_limits

    spec = champion.spec
    notes: list[str] = list(champion.notes)
    if labels and spec.label is None:
        notes.append(f"the {spec.family} family has no label: --labels-available changes nothing for it")
        labels = False
    comparison = comparison or Comparison("latest training cutoff (held-out rows)",
                                          "the champion's logged held-out sample", champion.reference)
    frame = pd.concat([current.drop(columns=[c for c in outputs.columns if c in current.columns]), outputs], axis=1)
    frame = _population(spec, frame, active_window_days, notes, "batch")
    reference = _population(spec, comparison.frame, active_window_days, [], "reference")
    earlier = None if comparison.earlier is None else _population(spec, comparison.earlier, active_window_days,
                                                                   [], "earlier")
    if labels:
        frame, dropped = _labelled_rows(frame, spec.label, "current batch")
        if dropped:
            notes.append(f"{dropped} row(s) of the batch have no {spec.label!r} label (outside the model's "
                         "population) and are left out of this labelled run")
        if spec.label in reference.columns and reference[spec.label].notna().any():
            reference, _ = _labelled_rows(reference, spec.label, "reference")
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
    # Watched inputs need not be model inputs (segments may not cluster on the channel mix it still watches).
    others = [c for c in reference.columns if c not in NON_FEATURES and c not in spec.outputs and c not in features]
    num_w, cat_w, _ = split_columns(reference, frame, spec.watched_columns(others))
    watched = spec.watched_columns(features + num_w + cat_w)
    from monitoring.watch import watch_groups

    wgroups = watch_groups(watched)
    nm = policy.normal
    norms = calibrate(reference, earlier, len(frame), num_f + num_o + num_w, cat_f + cat_w, margin=nm.margin,
                      year_weight=nm.year_weight, floor=nm.floor, draws=nm.draws, seed=seed,
                      groups={n: m for n, m in wgroups.items() if len(m) > 1})
    weights = feature_weights(policy, features, champion.importance)
    groups = correlated_groups(reference, features, policy.feature_drift.group_correlation)
    group_of = {c: i for i, g in enumerate(groups) for c in g}
    share_thr = {c: share_threshold(frame[c], reference[c], earlier[c] if earlier is not None and c in earlier
                                    else None, margin=nm.margin, floor=policy.share_shift.min_change)
                 for c in cat_o}
    plan = _Plan(champion, policy, labels, reference, frame, num_f, cat_f, num_o, cat_o, norms, weights, group_of,
                 watched, share_thr, num_w, cat_w, wgroups)
    items, definition = plan.items()
    label_cols = [spec.label] if labels else []
    cols = list(dict.fromkeys(features + num_w + cat_w + num_o + cat_o + label_cols))
    cur = _prepared(frame, cols, cat_f + cat_w + cat_o)
    ref = _prepared(reference, [c for c in cols if c in reference.columns], cat_f + cat_w + cat_o)

    from evidently import Dataset, Report

    with threadpool_limits(limits=1, user_api="blas"):
        snapshot = Report(items, include_tests=True, tags=[champion.model_name],
                          metadata={"model": champion.model_name, "version": champion.version,
                                    "family": spec.family, "labels": str(labels).lower(),
                                    "reference": comparison.name}).run(
            Dataset.from_pandas(cur, data_definition=definition(cur)),
            Dataset.from_pandas(ref, data_definition=definition(ref)),
        )
    snap = snapshot.dict()
    drift = _drift_summary(snap, norms, num_f + cat_f, num_w + cat_w, num_o, weights, group_of, groups, watched,
                           policy, skipped, wgroups)
    values = _custom_values(snap)
    drift.share_shift = {c: v for c, v in values.get("CategoryShareShift", {}).items()}
    drift.share_thresholds = share_thr
    checks = plan.checks(drift, values)
    calibration = None
    if labels and spec.task == "binary":
        from monitoring.calibration import calibration_summary

        groups_col = frame[spec.group] if spec.group in frame.columns else None
        calibration = calibration_summary(cur[spec.label].to_numpy(), cur[spec.score].to_numpy(), groups_col,
                                          plot_path)
    summary_metrics = {
        "rows": float(len(cur)), "reference_rows": float(len(ref)), "feature_drift_share": drift.feature_share,
        **({"weighted_drift_share": drift.weighted_share} if drift.weighted_share is not None else {}),
        **{f"prediction_drift.{c.column}": c.score for c in drift.prediction()},
        **{f"share_shift.{k}": v for k, v in drift.share_shift.items()},
        **{_snake(k): v for k, v in values.items() if isinstance(v, float)},
    }
    reference_info = {"name": comparison.name, "why": comparison.why, "rows": len(reference),
                      "earlier_rows": None if earlier is None else len(earlier)}
    return Assessment(champion.model_name, champion.version, spec.family, len(cur), labels, drift, checks,
                      summary_metrics, snapshot, reference_info, calibration, notes)


def feature_weights(policy: Policy, features: list[str], importance: pd.Series | None) -> dict[str, float]:
    """Policy list (equal weights, others 0), else the champion's importance (normalised), else equal."""
    chosen = policy.feature_drift.important_features
    if chosen is not None:
        unknown = [c for c in chosen if c not in features]
        if unknown:
            raise ValueError(f"policy feature_drift.important_features names {', '.join(unknown)}, which the batch "
                             f"and the reference sample do not share; known features: {', '.join(features)}")
        return {c: (1.0 / len(chosen) if c in chosen else 0.0) for c in features}
    if importance is not None:
        known = importance.reindex(features).fillna(0.0).clip(lower=0.0)
        if known.sum() > 0:
            return (known / known.sum()).to_dict()
    return {c: 1.0 / len(features) for c in features}


@dataclass
class _Plan:
    """The report's items and, once it ran, the policy checks read back from it."""

    champion: Champion
    policy: Policy
    labels: bool
    reference: pd.DataFrame
    frame: pd.DataFrame
    num_f: list[str]
    cat_f: list[str]
    num_o: list[str]
    cat_o: list[str]
    norms: dict[str, ColumnNorm]
    weights: dict[str, float]
    group_of: dict[str, int]
    watched: list[str]
    share_thr: dict[str, float]
    num_w: list[str]
    cat_w: list[str]
    watch_groups: dict[str, list[str]] = field(default_factory=dict)

    def items(self):
        from evidently import BinaryClassification, DataDefinition, Regression
        from evidently.tests import lte

        from monitoring.drift import CategoryDrift, CategoryShareShift, WatchedGroups, WeightedDriftShare, value_drift

        spec, policy = self.champion.spec, self.policy
        features = sorted(self.num_f + self.cat_f, key=lambda c: -self.weights.get(c, 0.0))
        thr = {c: self.norms[c].threshold for c in self.norms}
        # Policy checks first (each one test), then per-column drift, most important feature first.
        items: list = [WeightedDriftShare(
            title="Feature drift: importance-weighted share of drifted feature groups", columns=features,
            categorical=self.cat_f, thresholds=[thr[c] for c in features],
            weights=[self.weights.get(c, 0.0) for c in features], groups=[self.group_of[c] for c in features],
            tests=[lte(policy.feature_drift.max_weight)])]
        if self.watched:
            names = list(self.watch_groups)
            items.append(WatchedGroups(
                title=f"Watched inputs of the {spec.family} family: how many groups drifted", columns=self.watched,
                categorical=[c for c in self.watched if c in self.cat_f + self.cat_w],
                thresholds=[thr[c] for c in self.watched], names=names,
                members=[[self.watched.index(c) for c in self.watch_groups[n]] for n in names],
                group_thresholds=[self.group_threshold(n) for n in names],
                tests=[lte(policy.watched_inputs.max_drifted)]))
        items += [value_drift(c, thr[c], judged=True) for c in self.num_o]
        items += [CategoryShareShift(column=c, threshold=self.share_thr[c], tests=[lte(self.share_thr[c])])
                  for c in self.cat_o]
        items += self._performance()
        items += [CategoryDrift(column=c, threshold=thr[c], tests=[]) if c in self.cat_f + self.cat_w
                  else value_drift(c, thr[c]) for c in features + self.num_w + self.cat_w]

        classification = regression = None
        if spec.task == "binary" and self.labels:
            from evidently.presets import ClassificationQuality

            items.append(ClassificationQuality(include_tests=False))
            classification = BinaryClassification(target=spec.label, prediction_probas=spec.score, pos_label=1)
        elif spec.task == "regression" and self.labels and spec.score in self.num_o:
            from evidently.presets import RegressionQuality

            items.append(RegressionQuality(include_tests=False))
            regression = Regression(target=spec.label, prediction=spec.score)
        numeric, categorical = self.num_f + self.num_w + self.num_o, self.cat_f + self.cat_w + self.cat_o

        def definition(df: pd.DataFrame) -> DataDefinition:
            has_label = spec.label is not None and spec.label in df.columns
            return DataDefinition(
                numerical_columns=numeric + ([spec.label] if has_label and spec.task == "regression" else []),
                categorical_columns=categorical + ([spec.label] if has_label and spec.task == "binary" else []),
                classification=[classification] if classification and has_label else None,
                regression=[regression] if regression and has_label else None,
            )

        return items, definition

    def group_threshold(self, name: str) -> float:
        """A group's calibrated threshold (a group of one: its column's)."""
        members = self.watch_groups[name]
        return self.norms[name if len(members) > 1 else members[0]].threshold

    def _performance(self) -> list:
        from evidently.tests import lte

        spec, policy = self.champion.spec, self.policy
        items: list = []
        ref_labelled = spec.label is not None and spec.label in self.reference.columns \
            and self.reference[spec.label].notna().any()
        if spec.task == "binary" and spec.score in self.num_o:
            from monitoring.estimate import EstimatedRocAuc, ExpectedPositiveRate, RocAucDrop

            auc, source = reference_auc(self.champion, self.reference)
            items += [RocAucDrop(probas=spec.score, reference_auc=auc, reference_source=source,
                                 target=spec.label if self.labels else None, tests=[lte(policy.auc_drop.max_drop)]),
                      EstimatedRocAuc(probas=spec.score, tests=[]), ExpectedPositiveRate(probas=spec.score, tests=[])]
            if self.labels:
                from monitoring.calibration import BrierScore, CalibrationInTheLarge, ExpectedCalibrationError

                enough = len(self.frame) >= policy.calibration.min_rows
                group = spec.group if spec.group in self.cat_o else None
                gap, allowed = self.large_threshold(ref_labelled)
                items += [CalibrationInTheLarge(target=spec.label, probas=spec.score, reference_gap=gap,
                                                threshold=allowed, tests=[lte(allowed)]),
                          ExpectedCalibrationError(target=spec.label, probas=spec.score, group=group,
                                                   tests=[lte(policy.calibration.max_ece)] if enough else []),
                          BrierScore(target=spec.label, probas=spec.score, tests=[])]
        elif spec.task == "regression" and self.labels and spec.score in self.num_o and ref_labelled:
            from monitoring.calibration import ClvBias, RankDrop

            q = policy.clv_quality
            items += [ClvBias(target=spec.label, prediction=spec.score, threshold=q.max_bias,
                              tests=[lte(q.max_bias)]),
                      RankDrop(target=spec.label, prediction=spec.score, tests=[lte(q.max_rank_drop)])]
        return items

    def large_threshold(self, ref_labelled: bool) -> tuple[float, float]:
        """(reference's observed-minus-expected gap, allowed |change of that gap|): z binomial errors."""
        spec, z = self.champion.spec, self.policy.calibration.interval_z
        p_cur = self.frame[spec.score].to_numpy(float)
        var = float(np.sum(p_cur * (1 - p_cur))) / len(p_cur) ** 2
        gap = 0.0
        if ref_labelled:
            rows = self.reference[[spec.label, spec.score]].dropna()
            p_ref = rows[spec.score].to_numpy(float)
            gap = float(rows[spec.label].astype(float).mean() - p_ref.mean())
            var += float(np.sum(p_ref * (1 - p_ref))) / len(p_ref) ** 2
        return gap, float(z * np.sqrt(var))

    def checks(self, drift: DriftSummary, values: dict) -> list[PolicyCheck]:
        """Every check the policy ran, crossed or not, with its value and threshold."""
        policy, spec = self.policy, self.champion.spec
        out: list[PolicyCheck] = []
        fd = policy.feature_drift.max_weight
        share = drift.weighted_share or 0.0
        names = ", ".join(drift.drifted_features[:8]) or "none"
        out.append(PolicyCheck("feature_drift", share, fd, share > fd,
                               f"feature drift: drifted groups carry {share:.2f} of the importance (threshold "
                               f"{fd:g}; drifted: {names})"))
        if self.watched:
            n, limit = len(drift.drifted_watched), policy.watched_inputs.max_drifted
            groups = {c.column: c for c in drift.columns if c.role == "watched group"}
            shown = ", ".join(_group_words(groups[g]) for g in drift.drifted_watched)
            out.append(PolicyCheck("watched_inputs", float(n), float(limit), n > limit,
                                   f"watched inputs: {n} of {len(groups)} groups drifted (threshold {limit}; "
                                   f"{shown or 'none'})"))
        for c in drift.prediction():
            out.append(PolicyCheck("prediction_drift", c.score, c.threshold, c.drifted,
                                   f"prediction drift of {c.column}: {c.method} {c.score:.3f} (threshold "
                                   f"{c.threshold:.3f})"))
        for column, change in drift.share_shift.items():
            limit = self.share_thr[column]
            out.append(PolicyCheck("share_shift", change, limit, change > limit,
                                   f"largest {column} share change {change:.3f} (threshold {limit:.3f})"))
        if "RocAucDrop" in values:
            drop, limit = values["RocAucDrop"], policy.auc_drop.max_drop
            how = "measured" if self.labels else "estimated"
            out.append(PolicyCheck("auc_drop", drop, limit, drop > limit,
                                   f"ROC AUC drop ({how}) {drop:.3f} (threshold {limit:g})"))
        if "CalibrationInTheLarge" in values:
            gap_change = values["CalibrationInTheLarge"]
            _, allowed = self.large_threshold(spec.label in self.reference.columns)
            obs, exp = self.frame[spec.label].astype(float).mean(), self.frame[spec.score].mean()
            out.append(PolicyCheck("calibration", gap_change, allowed, gap_change > allowed,
                                   f"calibration in the large: observed {spec.label} rate {obs:.3f} vs expected "
                                   f"{exp:.3f}, change of the gap {gap_change:.3f} (threshold {allowed:.3f}, "
                                   f"{policy.calibration.interval_z:g} binomial SE)"))
        if "ExpectedCalibrationError" in values and len(self.frame) >= policy.calibration.min_rows:
            ece, limit = values["ExpectedCalibrationError"], policy.calibration.max_ece
            out.append(PolicyCheck("calibration", ece, limit, ece > limit, f"ECE {ece:.3f} (threshold {limit:g})"))
        if "ClvBias" in values:
            bias, limit = values["ClvBias"], policy.clv_quality.max_bias
            out.append(PolicyCheck("clv_quality", bias, limit, bias > limit,
                                   f"spend bias change {bias:.3f} (threshold {limit:g})"))
        if "RankDrop" in values:
            drop, limit = values["RankDrop"], policy.clv_quality.max_rank_drop
            out.append(PolicyCheck("clv_quality", drop, limit, drop > limit,
                                   f"rank quality (Spearman) drop {drop:.3f} (threshold {limit:g})"))
        return out


def _group_words(group) -> str:
    """``channel mix 0.105 (threshold 0.106; channel_share_app over its own)``."""
    own = f"; {', '.join(group.members_drifted)} over its own" if group.members_drifted else ""
    return f"{group.column} mean {group.score:.3f} (threshold {group.threshold:.3f}{own})"


def reference_auc(champion: Champion, reference: pd.DataFrame) -> tuple[float, str]:
    """The AUC a drop is measured from: measured on the (out-of-sample) reference rows when they carry
    labels, else the CBPE estimate on them (see docs/MONITORING.md "AUC drop")."""
    from monitoring.estimate import expected_roc_auc, measured_roc_auc

    spec = champion.spec
    if spec.label in reference.columns:
        rows = reference[[spec.label, spec.score]].dropna()
        if len(rows):
            auc = measured_roc_auc(rows[spec.label].astype(int).to_numpy(), rows[spec.score].to_numpy())
            if auc is not None:
                return auc, "reference, measured"
    return expected_roc_auc(reference[spec.score].to_numpy()), "reference, estimated"


def _drift_summary(snap: dict, norms: dict[str, ColumnNorm], features: list[str], extra: list[str],
                   outputs: list[str],
                   weights: dict[str, float], group_of: dict[str, int], groups: list[list[str]], watched: list[str],
                   policy: Policy, skipped: dict[str, str], watch_groups: dict[str, list[str]] | None = None
                   ) -> DriftSummary:
    from monitoring.drift import ColumnDrift, drift_table, weighted_share

    scores = read_scores(snap)
    columns = []
    for role, names in (("feature", features), ("watched", extra), ("prediction", outputs)):
        for c in names:
            method, score, threshold = scores[c]
            norm = norms[c]
            columns.append(ColumnDrift(c, role, method, score, threshold, score >= threshold,
                                       weights.get(c, 0.0) if role == "feature" else 0.0, norm.noise, norm.normal))
    from monitoring.drift import group_table

    names = list(watch_groups or {})
    table = group_table(names, [watch_groups[n] for n in names], [[scores[c][1] for c in watch_groups[n]]
                        for n in names], [norms[n if len(watch_groups[n]) > 1 else watch_groups[n][0]].threshold
                                          for n in names], [[scores[c][2] for c in watch_groups[n]] for n in names])
    for row in table.itertuples():
        norm = norms[row.group if len(watch_groups[row.group]) > 1 else watch_groups[row.group][0]]
        columns.append(ColumnDrift(row.group, "watched group", norm.method, row.score, row.threshold, bool(row.drifted),
                                   0.0, norm.noise, norm.normal, tuple(watch_groups[row.group]),
                                   tuple(m for m in row.members_drifted.split(", ") if m)))
    table = drift_table(features, [scores[c][1] for c in features], [scores[c][2] for c in features],
                        [weights.get(c, 0.0) for c in features], [group_of[c] for c in features])
    important = [c for c in sorted(features, key=lambda c: -weights.get(c, 0.0))][: policy.feature_drift.top_k]
    return DriftSummary(columns, important, weighted_share(table), watched, groups=groups, skipped=skipped)


def _population(spec, frame: pd.DataFrame, days: int, notes: list[str], what: str) -> pd.DataFrame:
    population = population_mask(spec, frame, days)
    if population is None or population.all():
        return frame
    notes.append(f"{int((~population).sum())} row(s) of the {what} outside the {spec.family} population (no order "
                 f"in the last {days} days) are left out, as in training")
    return frame.loc[population]


def _prepared(frame: pd.DataFrame, columns: list[str], categorical: list[str]) -> pd.DataFrame:
    out = frame[columns].copy()
    for col in categorical:  # text categories (None for missing): one type per column
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


_WANTED = {"ExpectedCalibrationError", "BrierScore", "EstimatedRocAuc", "ExpectedPositiveRate", "RocAucDrop",
           "CalibrationInTheLarge", "ClvBias", "RankDrop", "RocAuc", "MAE", "RMSE", "MeanError",
           "R2Score"}


def _custom_values(snap: dict) -> dict:
    """Values of crmlab's custom metrics and the presets' headline numbers, keyed by metric type;
    ``CategoryShareShift`` maps column -> value."""
    out: dict = {}
    for metric in snap["metrics"]:
        config = metric.get("config", {})
        kind = config.get("type", "").rsplit(":", 1)[-1]
        value = metric.get("value")
        if kind == "CategoryShareShift":
            out.setdefault(kind, {})[config["column"]] = float(value)
        elif kind in _WANTED and isinstance(value, int | float) and np.isfinite(value):
            out[kind] = float(value)
        elif kind in _WANTED and isinstance(value, dict) and "mean" in value:
            out[kind] = float(value["mean"])
    return out


def _snake(name: str) -> str:
    """``RocAuc`` -> ``roc_auc``, ``MAE`` -> ``mae``, ``R2Score`` -> ``r2_score``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
