"""The model-family protocol: what a family provides; ``train_family`` (``lifecycle``) does the rest.

A family is one module exposing ``FAMILY`` (an object satisfying :class:`ModelFamily`) plus one row in
``training.core.families.FAMILIES``. The family knows its data and its model: how to load its training
data, how to split, tune and fit it (using the core's tuning loop), its pyfunc and input spec, its gate,
what monitoring watches and its monitoring reference sample. It never opens an MLflow run, names a
study, writes an artifact path, registers or promotes: the lifecycle does that the same way for all.

Interface stability: this module is read by other families in flight; change it by adding optional
fields with defaults, never by renaming or removing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import pandas as pd

from training.core.gate_spec import GateSpec
from training.core.pyfunc_base import InputSpec
from training.settings import Settings

# Rows in every family's monitoring reference sample (``reference.parquet``): enough for stable drift
# tests on every feature, small enough to log with each run.
REFERENCE_ROWS = 5_000

MonitoringTask = Literal["binary", "regression", "segments", "ranking"]


class FamilyInputError(ValueError):
    """Expected bad input (missing column, too few rows, ...): one clear line, no traceback in the CLI."""


class SourceUsageError(FamilyInputError):
    """A wrong combination of source options (``--features`` with ``--table``): the CLI's usage error."""


@dataclass(frozen=True)
class MonitoringSpec:
    """What ``crmlab monitor`` watches for a family: its outputs, its label and its task."""

    task: MonitoringTask
    numeric_outputs: tuple[str, ...]            # prediction-drift columns (numeric outputs)
    categorical_outputs: tuple[str, ...] = ()   # share-shift columns (bands, tiers, segments)
    label: str | None = None                    # ground truth, once the window has elapsed
    score: str | None = None                    # the output compared with the label
    group: str | None = None                    # output to break calibration down by
    ignored_outputs: tuple[str, ...] = ()       # outputs not monitored (free text, ids)
    active_population: bool = False             # only customers with an order in the active window
    # Inputs watched on their own (model inputs or not): where this family's drift shows first.
    # A name ending in "_" is a prefix (``cat_share_`` = every category share).
    watched: tuple[str, ...] = ()

    @property
    def outputs(self) -> tuple[str, ...]:
        return self.numeric_outputs + self.categorical_outputs + self.ignored_outputs

    def watched_columns(self, columns: list[str]) -> list[str]:
        """The watched inputs among ``columns``, in ``columns`` order."""
        return [c for c in columns if any(c == w or (w.endswith("_") and c.startswith(w)) for w in self.watched)]


@dataclass(frozen=True)
class ProfileSpec:
    """What the ``customer_profile`` composite takes from this family's champion."""

    outputs: tuple[str, ...]   # columns of the family's answer copied into the profile answer
    required: bool = False     # the profile cannot be built without this family
    # inference parameters the profile sends this family (e.g. the recommender's ``next_best``)
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceOption:
    """One CLI/MLproject input option of a family (``--features DIR``, ``--table PATH``, ...).

    ``dest`` is the key the option's value has in the ``source`` mapping given to ``ModelFamily.load``.
    """

    flag: str                                  # e.g. "--features"
    dest: str                                  # e.g. "features_dir"
    help: str
    kind: Literal["dir", "file", "text", "int", "flag"] = "text"


# The input most families read: a crmlab features directory.
FEATURES_OPTION = SourceOption("--features", "features_dir", "Features folder (features.parquet + "
                               "features_meta.json) from `crmlab features`.", "dir")


@dataclass
class ModelCard:
    """A model's card: the summary becomes the registry description, the body ``model_card.md``."""

    predicts: str                              # one sentence: what the model predicts, for whom
    data_window: str                           # the data it was trained and tested on (dates, rows)
    test_metrics: Mapping[str, float]          # the headline test metrics, as registered
    body: str = ""                             # the full markdown card (limits, selection, inputs)

    def summary(self) -> str:
        """Plain text for the MLflow registry UI (model and version description)."""
        metrics = ", ".join(f"{k} {v:.4g}" for k, v in self.test_metrics.items())
        return f"{self.predicts}\nData: {self.data_window}.\nTest metrics: {metrics or 'none'}."

    def markdown(self) -> str:
        return self.body or f"# Model card\n\n{self.summary()}\n"


@dataclass
class RunContext:
    """What the lifecycle hands a family's ``fit``: resolved options, the study name, a scratch folder.

    ``plots_dir`` and ``files_dir`` exist; what the family writes there is logged under ``plots/`` and
    ``<family>/`` respectively. ``study_name`` is the one naming rule (``lifecycle.study_name``): the
    same model name, data and seed resume the same Optuna study.
    """

    family: str
    model_name: str
    seed: int
    trials: int
    timeout: float | None
    storage: str | None
    study_name: str
    settings: Settings
    plots_dir: Path
    files_dir: Path
    log: Callable[[str], None] = print


@dataclass
class Fitted:
    """What a family's ``fit`` returns; the lifecycle logs, writes and registers it at fixed paths."""

    model: Any                                 # the mlflow.pyfunc.PythonModel to register
    input_spec: InputSpec                      # the served input contract (tag ``required_features``)
    input_example: pd.DataFrame                # a few input rows (signature, served example)
    holdout: pd.DataFrame                      # test rows for the gate -> ``holdout.parquet``
    reference: pd.DataFrame                    # monitoring sample <= REFERENCE_ROWS -> ``reference.parquet``
    card: ModelCard                            # -> ``model_card.md`` + registry descriptions
    metrics: dict[str, float]                  # everything logged on the run
    version_metrics: dict[str, float]          # headline test metrics, tagged ``metric.<k>`` on the version
    importance: pd.Series | None = None        # feature -> importance -> ``feature_importance.csv``
    tags: dict[str, str] = field(default_factory=dict)       # extra version tags
    artifacts: dict[str, str] = field(default_factory=dict)  # files packaged with the pyfunc
    trials: int = 0                            # trials in the study (cumulative when resumed)
    table: pd.DataFrame | None = None          # the comparison the CLI prints (rows = metric or model)
    notes: list[str] = field(default_factory=list)
    details: Any = None                        # family-specific result (e.g. chosen candidate, personas)
    code_paths: tuple[str, ...] = ()           # packages beyond training/ the pyfunc needs
    # Reference models trained on the same rows and scored on the same test split: name -> test metrics.
    # The lifecycle logs them as ``baseline.<name>.<metric>`` (run metrics and version tags); a family
    # that gates on them puts their test predictions in ``holdout`` as ``baseline_<name>`` columns.
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)


@runtime_checkable
class ModelFamily(Protocol):
    """What a model family provides. Implement it as a small class with one module-level instance."""

    name: str                                  # family name: CLI sub-command, tag ``crmlab.family``
    default_model_name: str                    # registered model name when none is given
    summary: str                               # one line for ``crmlab train --help``
    source_options: tuple[SourceOption, ...]   # CLI/MLproject inputs, passed to ``load`` as ``source``
    monitoring: MonitoringSpec | None          # what monitoring watches (None: not monitored)
    profile: ProfileSpec | None                # what customer_profile takes from it (None: nothing)
    # Exceptions that are expected bad input: the CLI prints their message as one line (exit 1).
    # ``FamilyInputError`` always is; ``SourceUsageError`` exits 2 like any usage error.
    input_errors: tuple[type[Exception], ...]

    def gate(self) -> GateSpec:
        """The promotion gate (per-row loss vs the champion, checks, tolerance)."""
        ...

    def load(self, source: Mapping[str, Any], settings: Settings) -> Any:
        """Training data from the CLI source options; raise ``FamilyInputError`` (or a subclass of
        ``ValueError`` the family documents) with one clear line on bad input."""
        ...

    def fingerprint(self, data: Any) -> pd.DataFrame:
        """The frame whose content hash names the study and the version's ``data_hash``."""
        ...

    def fit(self, data: Any, run: RunContext) -> Fitted:
        """Split, tune (``training.core.tuning`` / ``lgbm_search``), select, fit and evaluate on test once;
        write plots to ``run.plots_dir`` and extra files to ``run.files_dir``. Runs inside the MLflow run."""
        ...


@dataclass
class TrainResult:
    """One result shape for every family."""

    family: str
    model_name: str
    version: str
    run_id: str
    study_name: str
    trials: int
    metrics: dict[str, float]
    card: ModelCard
    table: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    promotion: Any = None                      # training.core.promotion.PromotionDecision (--promote)
    details: Any = None                        # the family's own result (``Fitted.details``)

    @property
    def model_uri(self) -> str:
        return f"models:/{self.model_name}/{self.version}"

    def __getattr__(self, name: str) -> Any:
        """Family-specific fields (``result.chosen``, ``result.winner``) read through from ``details``."""
        details = self.__dict__.get("details")
        if details is not None and not name.startswith("_") and hasattr(details, name):
            return getattr(details, name)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")
