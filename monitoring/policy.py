"""The monitoring policy: which thresholds raise an alarm (and may trigger a retrain), from a YAML file.

Every field has a documented default (docs/MONITORING.md lists them); a file only names what it changes.
Unknown keys and out-of-range values are refused with the field's dotted path, so a typo such as
``calibraton:`` cannot silently fall back to the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

# Distance-type Evidently methods: a larger score means more drift (p-value methods would invert that).
DistanceMethod = Literal["wasserstein", "psi", "jensenshannon", "hellinger", "kl_div"]
CHECKS = ("feature_drift", "prediction_drift", "calibration", "auc_drop", "share_shift")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeatureDrift(_Section):
    max_share: float = Field(0.3, ge=0, le=1, description=(
        "Alarm when more than this share of the important features drifted (per-column verdicts are "
        "Evidently's, see `method`)."))
    important_features: list[str] | None = Field(None, description=(
        "Features that count for `max_share`; default: the champion's `top_k` most important features, "
        "or every feature when the model logged no importance."))
    top_k: int = Field(10, ge=1, description="How many of the most important features count.")
    method: str | None = Field(None, description=(
        "Evidently drift method for every feature; default: Evidently's choice per column (K-S / "
        "chi-square up to 1000 reference rows, normed Wasserstein / Jensen-Shannon above)."))
    threshold: float | None = Field(None, gt=0,
                                    description="Per-column threshold for `method`; default: the method's own.")

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from evidently.legacy.calculations import stattests  # noqa: F401  (registers every method)
        from evidently.legacy.calculations.stattests.registry import _registered_stat_tests

        import monitoring  # noqa: F401  (DO_NOT_TRACK before Evidently loads)

        if value not in _registered_stat_tests:
            known = ", ".join(sorted(_registered_stat_tests))
            raise ValueError(f"unknown Evidently drift method; choose one of {known}")
        return value


class PredictionDrift(_Section):
    method: DistanceMethod = Field("wasserstein", description=(
        "Evidently method for numeric model outputs (churn probability, predicted spend, distance)."))
    max_score: float = Field(0.1, gt=0, description=(
        "Alarm when any numeric output's drift score reaches this (normed Wasserstein: shift in units of "
        "the reference standard deviation)."))


class Calibration(_Section):
    max_ece: float = Field(0.05, gt=0, le=1, description="Alarm when the measured ECE (10 fixed bins) exceeds this.")
    min_rows: int = Field(1000, ge=1, description=(
        "Fewer labelled rows than this: ECE is reported, not judged (with 10 bins it is noisy below ~1000 rows)."))


class AucDrop(_Section):
    max_drop: float = Field(0.05, gt=0, le=1, description=(
        "Alarm when ROC AUC falls by more than this below the reference AUC (measured with labels, "
        "estimated from calibrated probabilities without)."))


class ShareShift(_Section):
    max_change: float = Field(0.1, gt=0, le=1, description=(
        "Alarm when any segment's (or risk band's, CLV tier's) share changes by more than this, in "
        "absolute terms (0.1 = ten percentage points)."))


class Retrain(_Section):
    triggers: list[Literal["feature_drift", "prediction_drift", "calibration", "auc_drop", "share_shift"]] = Field(
        default_factory=lambda: list(CHECKS), description="Which crossed checks start a retrain (with --retrain).")
    trials: int = Field(20, ge=1, description="Optuna trials for the retraining run.")


class Policy(_Section):
    feature_drift: FeatureDrift = Field(default_factory=FeatureDrift)
    prediction_drift: PredictionDrift = Field(default_factory=PredictionDrift)
    calibration: Calibration = Field(default_factory=Calibration)
    auc_drop: AucDrop = Field(default_factory=AucDrop)
    share_shift: ShareShift = Field(default_factory=ShareShift)
    retrain: Retrain = Field(default_factory=Retrain)
    min_rows: int = Field(100, ge=1, description="Refuse to judge a batch with fewer rows than this.")


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the field and the fix."""


def load_policy(path: str | Path | None) -> Policy:
    """The policy in ``path`` (YAML), or the defaults when no path is given."""
    if path is None or str(path) == "":
        return Policy()
    import yaml

    path = Path(path)
    if not path.exists():
        raise PolicyError(f"policy file {path} does not exist: give an existing YAML file or omit --policy "
                          "to use the defaults (docs/MONITORING.md)")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise PolicyError(f"policy file {path} is not valid YAML: {err}") from None
    return parse_policy(data, source=str(path))


def parse_policy(data: Any, source: str = "policy") -> Policy:
    """Validate a mapping as a policy; errors name each offending field by its dotted path."""
    if not isinstance(data, dict):
        raise PolicyError(f"{source}: the policy must be a mapping of sections (feature_drift, "
                          f"prediction_drift, ...), got {type(data).__name__}")
    try:
        return Policy.model_validate(data)
    except ValidationError as err:
        lines = [f"- {'.'.join(str(p) for p in e['loc'])}: {_explain(e)}" for e in err.errors()]
        raise PolicyError(f"{source}: {len(lines)} invalid field(s):\n" + "\n".join(lines)
                          + "\nFix or delete these lines (deleted fields take their documented defaults; "
                          "see docs/MONITORING.md).") from None


def _explain(error: dict) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown field (check the spelling against docs/MONITORING.md)"
    given = error.get("input")
    shown = "" if isinstance(given, dict | list) else f" (got {given!r})"
    return f"{error['msg']}{shown}"


@dataclass(frozen=True)
class Crossing:
    """One threshold the batch crossed, with the numbers and the reason in words."""

    check: str
    value: float
    threshold: float
    reason: str

    def to_dict(self) -> dict:
        return {"check": self.check, "value": self.value, "threshold": self.threshold, "reason": self.reason}


@dataclass
class Observations:
    """What one model's monitoring run measured; None = not measured in this run."""

    important_share: float | None = None
    drifted_important: tuple[str, ...] = ()
    important_count: int = 0
    prediction_scores: dict[str, float] | None = None
    ece: float | None = None
    labelled_rows: int = 0
    auc_drop: float | None = None
    auc_how: str = "estimated"
    share_changes: dict[str, float] | None = None


def evaluate(policy: Policy, obs: Observations) -> list[Crossing]:
    """The thresholds ``obs`` crossed, each with a sentence saying why."""
    out: list[Crossing] = []
    fd = policy.feature_drift
    if obs.important_share is not None and obs.important_share > fd.max_share:
        names = ", ".join(obs.drifted_important)
        out.append(Crossing("feature_drift", obs.important_share, fd.max_share,
                            f"{len(obs.drifted_important)} of {obs.important_count} important features drifted "
                            f"({names}): share {obs.important_share:.2f} > {fd.max_share:g}"))
    pd_ = policy.prediction_drift
    for column, score in (obs.prediction_scores or {}).items():
        if score >= pd_.max_score:
            out.append(Crossing("prediction_drift", score, pd_.max_score,
                                f"{column} drifted: {pd_.method} score {score:.3f} >= {pd_.max_score:g}"))
    cal = policy.calibration
    if obs.ece is not None and obs.labelled_rows >= cal.min_rows and obs.ece > cal.max_ece:
        out.append(Crossing("calibration", obs.ece, cal.max_ece,
                            f"miscalibrated: ECE {obs.ece:.3f} > {cal.max_ece:g} on {obs.labelled_rows} "
                            "labelled rows"))
    if obs.auc_drop is not None and obs.auc_drop > policy.auc_drop.max_drop:
        out.append(Crossing("auc_drop", obs.auc_drop, policy.auc_drop.max_drop,
                            f"ROC AUC ({obs.auc_how}) fell {obs.auc_drop:.3f} below the reference "
                            f"(> {policy.auc_drop.max_drop:g})"))
    for column, change in (obs.share_changes or {}).items():
        if change > policy.share_shift.max_change:
            out.append(Crossing("share_shift", change, policy.share_shift.max_change,
                                f"a {column} share changed by {change:.3f} (> {policy.share_shift.max_change:g})"))
    return out


def verdict(crossings: list[Crossing]) -> str:
    """One line for the index: OK, or ALERT with the crossed checks."""
    if not crossings:
        return "OK: no threshold crossed"
    return f"ALERT: {'; '.join(c.reason for c in crossings)}"
