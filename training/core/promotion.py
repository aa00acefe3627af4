"""The promotion gate: ``challenger`` becomes ``champion`` only if it is not worse on the same holdout.

Both versions score the *same* holdout rows; the per-row loss difference (challenger - champion) is
bootstrapped (paired resampling of rows). The challenger is promoted when the one-sided 95% upper bound
of the mean difference is below the family's ``tolerance`` and every family check passes. The first
version of a model has nothing to beat, but it must pass the same absolute checks (calibration, valid
outputs, ...) on its holdout as any later version; checks that compare with a champion
(``GateSpec.relative_checks``) are skipped for it. A first version that fails stays registered (alias
``challenger``) without becoming champion, and its ``gate.reason`` says which check failed. ``force``
promotes regardless; the decision, the numbers and the force are written as ``gate.*`` tags on the
challenger version.

Which holdout: an explicit frame (``--holdout PATH``) when given, else the challenger's own test split,
logged by its training run as the artifact ``holdout.parquet``. Those rows were never used to fit,
tune, calibrate or select the challenger. The champion may have trained on some of them (when both
were trained on overlapping data), which can only favour the champion: the default is conservative.
The default trusts the challenger's labels: if a pipeline bug corrupted them, its test split is corrupt
too, so after a change to labelling give a trusted holdout explicitly.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from training.core.families import gate_for
from training.core.gate_spec import GateSpec
from training.core.registry import CHALLENGER, CHAMPION
from training.settings import Settings
from training.tracking import configure_mlflow

HOLDOUT_ARTIFACT = "holdout.parquet"
CONFIDENCE = 0.95
RESAMPLES = 2000


@dataclass
class PromotionDecision:
    model_name: str
    challenger_version: str
    champion_version: str | None
    promoted: bool
    forced: bool
    reason: str
    mean_diff: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    tolerance: float | None = None
    rows: int = 0
    holdout_source: str = ""
    checks: dict[str, bool] = field(default_factory=dict)

    def summary(self) -> str:
        verdict = "PROMOTED" if self.promoted else "REFUSED"
        if self.forced:
            verdict += " (forced)"
        champion = f"v{self.champion_version}" if self.champion_version else "none"
        head = f"{self.model_name} v{self.challenger_version} vs champion {champion}"
        parts = [f"{head}: {verdict}: {self.reason}"]
        if self.mean_diff is not None:
            parts.append(f"mean loss diff {self.mean_diff:+.5f} (90% CI {self.ci_low:+.5f} .. "
                         f"{self.ci_high:+.5f}, tolerance {self.tolerance:g}) on {self.rows} rows of "
                         f"{self.holdout_source}")
        elif self.rows:
            parts.append(f"checked on {self.rows} rows of {self.holdout_source}")
        if self.checks:
            checks = ", ".join(f"{k}={'pass' if v else 'FAIL'}" for k, v in self.checks.items())
            parts.append(f"checks: {checks}")
        return "\n".join(parts)


def log_holdout(frame: pd.DataFrame) -> None:
    """Log a family's untouched test split as the run artifact the gate falls back to."""
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / HOLDOUT_ARTIFACT
        frame.to_parquet(path, index=False)
        mlflow.log_artifact(str(path))


def promote(model_name: str, *, holdout: pd.DataFrame | None = None, force: bool = False,
            settings: Settings, extra_gates: Mapping[str, GateSpec] | None = None) -> PromotionDecision:
    """Run the gate on ``model_name@challenger`` vs ``@champion``; move ``champion`` if it passes.

    The gate is the challenger's family's (``crmlab.family`` tag): from ``extra_gates`` (family ->
    gate, given by the caller for composites such as ``customer_profile``), else from ``FAMILIES``.
    """
    import mlflow

    configure_mlflow(settings)
    client = mlflow.MlflowClient()
    challenger = _alias(client, model_name, CHALLENGER)
    if challenger is None:
        raise ValueError(f"model {model_name!r} has no {CHALLENGER!r} version: train one first "
                         f"(e.g. crmlab train churn --model-name {model_name})")
    champion = _alias(client, model_name, CHAMPION)
    decision = PromotionDecision(model_name, str(challenger.version),
                                 str(champion.version) if champion else None, False, force, "")
    if champion is not None and champion.version == challenger.version:
        decision.reason = f"version {challenger.version} is already champion; nothing to do"
        return decision
    family = challenger.tags.get("crmlab.family", "")
    gate = (extra_gates or {}).get(family) or gate_for(family)
    if champion is None:
        _check_first(decision, gate, model_name, challenger, holdout)
    else:
        _compare(decision, gate, model_name, challenger, champion, holdout)
    if force and not decision.promoted:
        decision.promoted, decision.reason = True, f"forced despite the gate: {decision.reason}"
    _record(client, decision)
    if decision.promoted:
        client.set_registered_model_alias(model_name, CHAMPION, challenger.version)
        if champion is not None:
            client.set_model_version_tag(model_name, champion.version, "gate.superseded_by",
                                         str(challenger.version))
    return decision


def paired_bootstrap(diff: np.ndarray, *, resamples: int = RESAMPLES, seed: int = 0,
                     confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Mean of ``diff`` and its two-sided (1 - 2*(1-confidence)) bootstrap interval (rows resampled)."""
    diff = np.asarray(diff, dtype=float)
    if diff.size == 0:
        raise ValueError("the holdout has no rows: the gate cannot compare models on nothing")
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    chunk = max(1, 2_000_000 // diff.size)
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        idx = rng.integers(0, diff.size, size=(stop - start, diff.size))
        means[start:stop] = diff[idx].mean(axis=1)
    alpha = 1.0 - confidence
    return float(diff.mean()), float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


def _check_first(decision: PromotionDecision, gate: GateSpec, model_name: str, challenger,
                 holdout: pd.DataFrame | None) -> None:
    """The first version: no comparison, but the gate's absolute checks on its holdout."""

    try:
        holdout = _holdout_for(decision, challenger, holdout)
    except ValueError as err:
        decision.reason = f"first version, but its absolute checks cannot run: {err}"
        return
    output = _scored(model_name, challenger.version, holdout)
    checks = gate.checks(output, holdout)
    decision.checks = {k: bool(v) for k, v in checks.items() if k not in gate.relative_checks}
    failed = [k for k, ok in decision.checks.items() if not ok]
    if failed:
        decision.reason = (f"first version, but check(s) failed: {', '.join(failed)}; it stays registered as "
                           f"{CHALLENGER!r} (fix the model, or promote with --force)")
    else:
        decision.promoted = True
        decision.reason = "first version: no champion to compare against; all absolute checks pass"


def _scored(model_name: str, version: str, holdout: pd.DataFrame):
    """A version's outputs on the holdout, given only the columns its signature reads.

    The holdout also carries labels and baselines for the gate; passing them to the model would only
    make MLflow warn about extra inputs on every promotion.
    """
    import mlflow

    model = mlflow.pyfunc.load_model(f"models:/{model_name}/{version}")
    schema = model.metadata.get_input_schema()
    if schema is not None and schema.has_input_names():
        holdout = holdout[[c for c in schema.input_names() if c in holdout.columns]]
    return model.predict(holdout)


def _holdout_for(decision: PromotionDecision, challenger, holdout: pd.DataFrame | None) -> pd.DataFrame:
    if holdout is None:
        holdout = _challenger_holdout(challenger.run_id)
        decision.holdout_source = f"the challenger's test split (run {challenger.run_id})"
    else:
        decision.holdout_source = "the given holdout"
    decision.rows = len(holdout)
    return holdout


def _compare(decision: PromotionDecision, gate: GateSpec, model_name: str, challenger, champion,
             holdout: pd.DataFrame | None) -> None:
    from mlflow.exceptions import MlflowException

    holdout = _holdout_for(decision, challenger, holdout)
    decision.tolerance = gate.tolerance
    challenger_out = _scored(model_name, challenger.version, holdout)
    if gate.per_row_loss is None:
        _decide_on_checks(decision, gate, challenger_out, holdout)
        return
    try:
        champion_out = _scored(model_name, champion.version, holdout)
    except MlflowException as err:
        decision.reason = (f"the champion cannot score this holdout ({err.message}); it was trained on other "
                           "features (another export? keep one tracking store per export, MLFLOW_TRACKING_URI); "
                           "to replace it anyway: `crmlab promote` with --force, or compare on --holdout")
        return
    diff = (np.asarray(gate.per_row_loss(challenger_out, holdout), dtype=float)
            - np.asarray(gate.per_row_loss(champion_out, holdout), dtype=float))
    decision.mean_diff, decision.ci_low, decision.ci_high = paired_bootstrap(diff)
    decision.checks = {k: bool(v) for k, v in gate.checks(challenger_out, holdout).items()}
    failed = [k for k, ok in decision.checks.items() if not ok]
    if decision.ci_high >= gate.tolerance:
        decision.reason = (f"challenger may be worse: upper bound of the loss increase "
                           f"{decision.ci_high:+.5f} >= tolerance {gate.tolerance:g}")
    elif failed:
        decision.reason = f"check(s) failed: {', '.join(failed)}"
    else:
        decision.promoted = True
        decision.reason = "not worse than the champion within tolerance, all checks pass"


def _decide_on_checks(decision: PromotionDecision, gate: GateSpec, output: pd.DataFrame,
                      holdout: pd.DataFrame) -> None:
    """Gates without a loss (composites): promote on build when every check passes."""
    decision.checks = {k: bool(v) for k, v in gate.checks(output, holdout).items()}
    failed = [k for k, ok in decision.checks.items() if not ok]
    decision.promoted = not failed
    decision.reason = (f"check(s) failed: {', '.join(failed)}" if failed
                       else "promoted on build: nothing learned to compare, all checks pass")


def _challenger_holdout(run_id: str) -> pd.DataFrame:
    import mlflow

    try:
        path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=HOLDOUT_ARTIFACT)
    except Exception as err:
        raise ValueError(f"the challenger's run {run_id} has no {HOLDOUT_ARTIFACT} artifact: "
                         "pass a holdout file with --holdout PATH") from err
    return pd.read_parquet(path)


def _alias(client, model_name: str, alias: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(model_name, alias)
    except MlflowException:
        return None


def _record(client, decision: PromotionDecision) -> None:
    tags = {
        "gate.decision": "promoted" if decision.promoted else "refused",
        "gate.reason": decision.reason,
        "gate.forced": str(decision.forced).lower(),
        "gate.champion_version": decision.champion_version or "none",
        "gate.decided_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if decision.mean_diff is not None:
        tags |= {
            "gate.mean_loss_diff": f"{decision.mean_diff:.6g}",
            "gate.ci_low": f"{decision.ci_low:.6g}",
            "gate.ci_high": f"{decision.ci_high:.6g}",
            "gate.tolerance": f"{decision.tolerance:g}",
        }
    if decision.rows:
        tags |= {"gate.rows": str(decision.rows), "gate.holdout": decision.holdout_source}
    tags |= {f"gate.check.{k}": "pass" if v else "fail" for k, v in decision.checks.items()}
    for key, value in tags.items():
        client.set_model_version_tag(decision.model_name, decision.challenger_version, key, value[:5000])
