"""The monitoring policy: which thresholds raise an alarm (and may trigger a retrain), from a YAML file.

Every field has a documented default (docs/MONITORING.md lists them); a file only names what it changes.
Unknown keys and out-of-range values are refused with the field's dotted path, so a typo such as
``calibraton:`` cannot silently fall back to the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

CHECKS = ("feature_drift", "watched_inputs", "prediction_drift", "share_shift", "auc_drop", "calibration",
          "clv_quality")
# Checks that predict a loss of quality (the model's own inputs by importance, its outputs, measured or
# estimated performance): the default retrain triggers. Watched inputs alone only alert.
DEFAULT_TRIGGERS = ("feature_drift", "prediction_drift", "share_shift", "auc_drop", "calibration", "clv_quality")
Check = Literal["feature_drift", "watched_inputs", "prediction_drift", "share_shift", "auc_drop", "calibration",
                "clv_quality"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Normal(_Section):
    margin: float = Field(1.5, gt=0, description=(
        "Per-column threshold = max(floor, margin x sampling noise, year_weight x year-over-year change), "
        "both measured from the data (docs/MONITORING.md \"What normal change looks like\")."))
    year_weight: float = Field(0.75, ge=0, description=(
        "Weight of the change from two years back to one year back (it overstates this year's normal "
        "change in a growing customer base)."))
    floor: float = Field(0.05, ge=0, description="No column threshold is below this score.")
    draws: int = Field(50, ge=2, description="Bootstrap draws for the sampling noise of each column's score.")


class FeatureDrift(_Section):
    max_weight: float = Field(0.3, ge=0, le=1, description=(
        "Alarm when the drifted feature groups carry more than this share of the model's importance "
        "(correlated features form one group, weighted by its most important member)."))
    important_features: list[str] | None = Field(None, description=(
        "Features that count (equal weights); default: every model input, weighted by the champion's "
        "logged importance (equal weights when it logged none)."))
    top_k: int = Field(10, ge=1, description="How many of the most important features the report lists first.")
    group_correlation: float = Field(0.8, gt=0, le=1, description=(
        "Numeric features whose |Spearman correlation| on the reference reaches this are one group."))


class WatchedInputs(_Section):
    max_drifted: int = Field(0, ge=0, description=(
        "Alarm when more than this many of the family's watched inputs (channel and category mix for "
        "segments, spend for CLV, activity for churn; monitoring/families.py) drifted beyond their "
        "calibrated thresholds."))


class Calibration(_Section):
    interval_z: float = Field(3.0, gt=0, description=(
        "Alarm when the observed positive rate (e.g. churn) lies outside expected rate +- z binomial "
        "standard errors (sum of p(1-p), plus the reference's own miss); 3 = 99.7%."))
    max_ece: float = Field(0.05, gt=0, le=1, description="Alarm when the measured ECE (10 fixed bins) exceeds this.")
    min_rows: int = Field(1000, ge=1, description=(
        "Fewer labelled rows than this: ECE is reported, not judged (with 10 bins it is noisy below ~1000 rows)."))


class AucDrop(_Section):
    max_drop: float = Field(0.05, gt=0, le=1, description=(
        "Alarm when ROC AUC falls by more than this below the reference's measured AUC (measured on the "
        "batch with labels, estimated from calibrated probabilities without)."))


class ShareShift(_Section):
    min_change: float = Field(0.05, gt=0, le=1, description=(
        "A category's share (segment, risk band, CLV tier) must move by at least this much, and by more "
        "than margin x max(3 binomial standard errors, its year-over-year change), to alarm."))


class ClvQuality(_Section):
    max_bias: float = Field(0.2, gt=0, description=(
        "With labels: alarm when total predicted spend misses total actual spend by more than this share "
        "(beyond the reference's own miss)."))
    max_rank_drop: float = Field(0.1, gt=0, le=1, description=(
        "With labels: alarm when the Spearman rank correlation of predicted and actual spend falls by "
        "more than this below the reference's."))


class Retrain(_Section):
    triggers: list[Check] = Field(default_factory=lambda: list(DEFAULT_TRIGGERS), description=(
        "Which crossed checks start a retrain (with --retrain)."))
    trials: int = Field(20, ge=1, description="Optuna trials for the retraining run.")
    min_labelled_rows: int = Field(200, ge=1, description=(
        "Retrain only on features with at least this many labelled rows for the family (never on an "
        "unlabelled batch)."))


class Policy(_Section):
    normal: Normal = Field(default_factory=Normal)
    feature_drift: FeatureDrift = Field(default_factory=FeatureDrift)
    watched_inputs: WatchedInputs = Field(default_factory=WatchedInputs)
    calibration: Calibration = Field(default_factory=Calibration)
    auc_drop: AucDrop = Field(default_factory=AucDrop)
    share_shift: ShareShift = Field(default_factory=ShareShift)
    clv_quality: ClvQuality = Field(default_factory=ClvQuality)
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
class PolicyCheck:
    """One check the policy ran: its value, its threshold, and whether it crossed."""

    check: str
    value: float
    threshold: float
    crossed: bool
    reason: str

    def to_dict(self) -> dict:
        return {"check": self.check, "value": self.value, "threshold": self.threshold, "crossed": self.crossed,
                "reason": self.reason}


Crossing = PolicyCheck  # a crossed check (kept name: reports and retraining speak of crossings)


def verdict(checks: list[PolicyCheck]) -> str:
    """One line for the index: OK, or ALERT with the crossed checks (each with its value and threshold)."""
    crossed = [c for c in checks if c.crossed]
    if not crossed:
        return f"OK: none of {len(checks)} checks crossed its threshold"
    return f"ALERT: {'; '.join(c.reason for c in crossed)}"
