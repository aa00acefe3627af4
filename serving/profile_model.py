"""``customer_profile``: churn risk, value and segment of each customer from one call.

The composite is built from concrete versions: ``models:/<family>@champion`` is resolved when the
profile is built and those versions are packaged inside it as artifacts, so a profile version always
answers with the same component versions (reproducible), and promoting a new churn champion changes
nothing served until a new profile is built. churn is required; clv and segments join when registered.

Input: one row per customer, ``customer_id`` (required) plus the union of the components' features.
Each component validates its own features (``training.core.pyfunc_base``); its error comes back
prefixed with its family name. Columns no component uses are dropped before any model sees them.

Output, same rows and order: ``customer_id``, ``churn_probability``, ``risk_band``, ``top_reasons``,
``predicted_spend``, ``clv_tier``, ``segment_id``, ``segment_name``, ``next_best_products`` (the
recommender's top 3 product ids, comma-separated) and the component versions that
produced them (``churn_version``, ``clv_version``, ``segments_version``, ``recs_version``). A component not packaged in
this profile answers null in its columns (the same columns every time).

Inference parameters ``reasons`` (default true) and ``reasons_method`` (``path``, the default, or
``shap`` for exact tree SHAP) go to churn: ``reasons`` false leaves ``top_reasons`` null and skips the
contribution pass, the most expensive part of a profile (``crmlab score --reasons false``).
Components are called directly (``direct_predictor``): each validates its own input, and MLflow's
cell-by-cell check of their optional inputs would only repeat the work.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import mlflow
import numpy as np
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from training.core.families import all_families
from training.core.gate_spec import GateSpec
from training.core.lgbm_contrib import PATH
from training.core.model_state import restore
from training.core.pyfunc_base import (
    InputSpec,
    InvalidModelInput,
    declared_params,
    direct_predictor,
    invalid_input,
    plain_validation,
    python_model_of,
    validate_frame,
)
from training.core.registry import CHAMPION
from training.core.scoring_guard import install_scoring_guard, safe_message
from training.settings import Settings

MODEL_NAME = "customer_profile"
FAMILY = "profile"
ID = "customer_id"
EXAMPLE_ROWS = 5
_ID_SPEC = InputSpec((ID,), categorical=frozenset({ID}), required=frozenset({ID}))
_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Component:
    family: str
    outputs: tuple[str, ...]
    required: bool
    registered: str = ""  # default registered model name, when it is not the family name
    params: dict[str, Any] = field(default_factory=dict)  # inference parameters the profile sends it


# From the families table: every family with a ``profile`` spec, in table order.
COMPONENTS: tuple[Component, ...] = tuple(
    Component(f.name, f.profile.outputs, f.profile.required, f.default_model_name, dict(f.profile.params))
    for f in all_families() if f.profile)
OUTPUT_COLUMNS: list[str] = [ID, *(o for c in COMPONENTS for o in c.outputs),
                              *(f"{c.family}_version" for c in COMPONENTS)]
# Column types for stored scores (a component absent from a profile answers None, typed here).
OUTPUT_DTYPES: dict[str, str] = {"churn_probability": "float64", "predicted_spend": "float64",
                                 "segment_id": "Int64"}


class CustomerProfileModel(mlflow.pyfunc.PythonModel):
    """Scores each packaged component on the same rows and joins their outputs per customer."""

    PARAMS: ClassVar[dict[str, Any]] = {"reasons": True, "reasons_method": PATH}
    validates_inputs: ClassVar[bool] = True  # ids here, features in each component: see ``direct_predictor``

    def __init__(self, versions: dict[str, str], inputs: dict[str, list[str]],
                 models: dict[str, Any] | None = None) -> None:
        self.versions = dict(versions)          # family -> registered version it was built from
        self.inputs = {k: list(v) for k, v in inputs.items()}  # family -> its input columns
        self._models = dict(models or {})       # family -> loaded pyfunc (rebuilt in load_context)

    def __getstate__(self) -> dict:
        # the components travel as artifacts, not in the logged state
        return {**self.__dict__, "_models": {}, "_shared": None}

    def load_context(self, context) -> None:
        restore(self, context)  # logged from code: versions and inputs come from the state artifact
        install_scoring_guard()  # inside `mlflow models serve`: no payload echo in error answers
        self._models = {family: mlflow.pyfunc.load_model(context.artifacts[family])
                        for family in self.versions}
        self._shared = None

    @property
    def input_columns(self) -> list[str]:
        """Every column some component reads, plus ``customer_id`` (the profile's input contract)."""
        return list(dict.fromkeys([ID, *(c for cols in self.inputs.values() for c in cols)]))

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        frame = _ids_as_text(_as_frame(model_input))
        validated = self._validate_once(frame)
        ids = validated[ID] if validated is not None else validate_frame(frame, _ID_SPEC)[ID]
        columns: dict[str, Any] = {ID: ids.to_numpy()}
        for component in COMPONENTS:
            scored = self._score(component.family, frame, validated, {**component.params, **(params or {})})
            for column in component.outputs:
                columns[column] = scored[column].to_numpy() if scored is not None else np.full(len(frame), None)
        for component in COMPONENTS:
            columns[f"{component.family}_version"] = np.full(len(frame), self.versions.get(component.family))
        return pd.DataFrame(columns, index=frame.index)[OUTPUT_COLUMNS]

    def _validate_once(self, frame: pd.DataFrame) -> pd.DataFrame | None:
        """The rows checked once against every component's contract (None: let each component check).

        On a refusal the components check again, one by one, so the error names the model it concerns.
        """
        shared = self._shared_spec()
        if shared is None:
            return None
        try:
            return validate_frame(frame, shared)
        except InvalidModelInput:
            return None

    def _shared_spec(self) -> InputSpec | None:
        """The ids' and the components' input contracts in one, when each is a plain ``ValidatedPyfunc``."""
        if getattr(self, "_shared", None) is None:
            specs = [_ID_SPEC, *(_plain_spec(model) for model in self._models.values())]
            self._shared = (_union(specs) if specs and all(s is not None for s in specs) else None) or False
        return self._shared or None

    def _score(self, family: str, frame: pd.DataFrame, validated: pd.DataFrame | None,
               params: dict | None) -> pd.DataFrame | None:
        model = self._models.get(family)
        if model is None:
            return None
        if validated is not None:  # already validated: straight to the component's scoring
            python_model = python_model_of(model)
            scored = python_model.predict_frame(validated[list(python_model.spec.columns)],
                                                declared_params(model, params))
            return scored.set_axis(frame.index)
        columns = [c for c in self.inputs[family] if c in frame.columns]
        if self.inputs[family] and not columns:
            raise invalid_input(f"{family} model: none of its input columns was sent; it reads "
                                   f"{', '.join(self.inputs[family])} (see the model card)")
        try:
            scored = direct_predictor(model)(frame[columns], params)
        except Exception as err:
            raise invalid_input(f"{family} model: {safe_message(err)}") from None
        return scored.set_axis(frame.index) if isinstance(scored, pd.DataFrame) else pd.DataFrame(scored)


def _plain_spec(model: Any) -> InputSpec | None:
    """A component's ``InputSpec`` when the core rules are all its validation (see ``plain_validation``)."""
    python_model = python_model_of(model)
    return python_model.spec if plain_validation(python_model) else None


def _union(specs: list[InputSpec]) -> InputSpec | None:
    """One contract for all components; None when a column is categorical for one and numeric for another."""
    columns = list(dict.fromkeys(c for spec in specs for c in spec.columns))
    categorical = frozenset().union(*(spec.categorical for spec in specs))
    for spec in specs:
        if any(c in categorical for c in spec.columns if c not in spec.categorical):
            return None
    return InputSpec(tuple(columns), categorical, frozenset().union(*(spec.required for spec in specs)))


def _ids_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with whole-number ids as text; any other non-text id (a list, an object) is refused."""
    kind = pd.api.types.infer_dtype(frame[ID], skipna=True) if ID in frame.columns else "string"
    if kind not in ("string", "empty"):  # the common case needs no Python call per row
        ids = frame[ID]
        whole = ids.map(lambda v: isinstance(v, int | np.integer) and not isinstance(v, bool))
        bad = ~whole & ~ids.map(lambda v: isinstance(v, str)) & ids.notna().to_numpy()
        if bad.any():
            raise invalid_input(f"column {ID!r} must hold text (or integer) ids but {int(bad.sum())} row(s) "
                                f"hold another type (first at row position {int(np.flatnonzero(bad)[0])})")
        frame = frame.assign(**{ID: ids.where(~whole, ids.map(str, na_action="ignore"))})
    return frame


def _as_frame(model_input: Any) -> pd.DataFrame:
    if isinstance(model_input, pd.DataFrame):
        return model_input
    try:
        return pd.DataFrame(model_input)
    except (ValueError, TypeError):
        raise invalid_input("payload is not a table: send one record per customer") from None


# --- promotion gate: promote on build ------------------------------------------------------------------
# A composite learns nothing itself: each component passed its own gate. So there is no loss to compare
# with the previous profile (``per_row_loss=None``); a new build becomes champion when these checks pass
# on the example rows it was built with. ``crmlab promote customer_profile`` runs the same checks.

def _checks(output: pd.DataFrame, holdout: pd.DataFrame) -> dict[str, bool]:
    p = pd.to_numeric(output["churn_probability"], errors="coerce").to_numpy(dtype=float)
    ids_kept = ID not in holdout.columns or list(output[ID]) == list(holdout[ID].astype(str).str.strip())
    return {
        "every_row_scored": bool(len(output) == len(holdout) and np.isfinite(p).all()),
        "probabilities_valid": bool(np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()),
        "customer_ids_kept": bool(ids_kept),
        "all_columns": list(output.columns) == OUTPUT_COLUMNS,
    }


GATE = GateSpec(per_row_loss=None, checks=_checks, tolerance=0.0)
# Composite family -> gate, handed to ``training.core.promotion.promote`` explicitly (no registration).
COMPOSITE_GATES: dict[str, GateSpec] = {FAMILY: GATE}


# --- build ------------------------------------------------------------------------------------------

def build_customer_profile(settings: Settings, *, model_name: str = MODEL_NAME, alias: str = CHAMPION,
                           names: dict[str, str] | None = None, sample: pd.DataFrame | None = None,
                           promote: bool = True, rebuild: bool = False) -> ModelVersion:
    """Package the current ``@alias`` versions of churn (+ clv, segments) as a new ``model_name`` version.

    ``names`` maps a family to its registered model name (default: the family name). ``sample`` gives
    the input example (rows of features with ``customer_id``); by default the components' own examples.
    The new version becomes ``challenger`` and, with ``promote``, ``champion`` through the core gate
    (checks: every row scored, probabilities in [0, 1], ids kept). Without ``rebuild``, a champion
    profile already built from exactly these versions is returned as it is.
    """
    from training.core.promotion import promote as run_gate
    from training.core.registry import log_and_register
    from training.tracking import configure_mlflow, tracked_run

    configure_mlflow(settings)
    client = mlflow.MlflowClient()
    resolved = resolve_components(client, alias=alias, names=names)
    versions = {family: str(version.version) for family, version in resolved.items()}
    current = _alias_version(client, model_name, CHAMPION)
    if current is not None and not rebuild and _built_from(current) == _described(resolved):
        _logger.info("%s v%s already packages %s", model_name, current.version, _described(resolved))
        return current
    with tempfile.TemporaryDirectory() as tmp:
        artifacts, models = {}, {}
        for family, version in resolved.items():
            uri = f"models:/{version.name}/{version.version}"
            artifacts[family] = mlflow.artifacts.download_artifacts(uri, dst_path=str(Path(tmp) / family))
            models[family] = mlflow.pyfunc.load_model(artifacts[family])
        inputs = {family: model.metadata.get_input_schema().input_names() for family, model in models.items()}
        profile = CustomerProfileModel(versions, inputs, models)
        example = _example(sample, artifacts, profile)
        tags = {"profile.components": _described(resolved), "profile.alias": alias,
                **{f"profile.{family}": f"{v.name}/{v.version}" for family, v in resolved.items()}}
        with tracked_run(settings, f"build-{model_name}", tags={"crmlab.family": FAMILY}):
            mlflow.log_params({f"{family}_version": f"{v.name}/{v.version}"
                               for family, v in resolved.items()})
            version = log_and_register(profile, model_name=model_name, family=FAMILY, artifacts=artifacts,
                                       input_example=example, tags=tags, metrics={}, settings=settings,
                                       code_paths=(str(Path(__file__).resolve().parent),))
    if promote:
        decision = run_gate(model_name, holdout=example, settings=settings, extra_gates=COMPOSITE_GATES)
        _logger.info(decision.summary())
    return client.get_model_version(model_name, version.version)


def resolve_components(client: mlflow.MlflowClient, *, alias: str = CHAMPION,
                       names: dict[str, str] | None = None) -> dict[str, ModelVersion]:
    """family -> the concrete version ``<name>@alias`` points at now; churn must exist, others may not."""
    names = names or {}
    resolved = {}
    for component in COMPONENTS:
        name = names.get(component.family, component.registered or component.family)
        version = _alias_version(client, name, alias)
        if version is None and component.required:
            raise ValueError(f"no {name}@{alias} to build {MODEL_NAME} from: train and promote it first "
                             f"(crmlab train {component.family}; crmlab promote {name})")
        if version is not None:
            resolved[component.family] = version
    return resolved


def _alias_version(client: mlflow.MlflowClient, name: str, alias: str) -> ModelVersion | None:
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def _described(resolved: dict[str, ModelVersion]) -> str:
    return json.dumps({family: f"{v.name}/{v.version}" for family, v in sorted(resolved.items())})


def _built_from(version: ModelVersion) -> str | None:
    return version.tags.get("profile.components")


def _example(sample: pd.DataFrame | None, artifacts: dict[str, str], profile: CustomerProfileModel
             ) -> pd.DataFrame:
    """Input example with ``customer_id``: the given sample's rows, completed with the components' examples.

    A component whose inputs the sample lacks altogether (a BG/NBD CLV reads ``btyd_*``, which crmlab
    features do not carry) contributes its own example columns, so the example (and the gate's holdout)
    covers every component.
    """
    if sample is not None and ID not in sample.columns:
        raise ValueError(f"the sample needs a {ID!r} column (one row per customer)")
    parts = []
    if sample is not None:
        keep = [c for c in profile.input_columns if c in sample.columns]
        parts.append(sample[keep].head(EXAMPLE_ROWS).reset_index(drop=True))
    for family, path in artifacts.items():
        if sample is not None and any(c in sample.columns for c in profile.inputs.get(family, [])):
            continue
        example = mlflow.models.Model.load(path).load_input_example(path)
        if isinstance(example, pd.DataFrame):
            parts.append(example.head(EXAMPLE_ROWS).reset_index(drop=True))
    if not parts:
        raise ValueError("the components carry no input example: pass sample= (features with customer_id)")
    rows = min(len(p) for p in parts)
    combined = pd.concat([p.head(rows) for p in parts], axis=1)
    combined = combined.loc[:, ~combined.columns.duplicated()]
    if ID not in combined.columns:
        combined.insert(0, ID, [f"example-{i}" for i in range(rows)])
    return combined
