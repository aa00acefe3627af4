"""Base class for crmlab's served models: input validation inside ``predict``, without echoing data.

Rules every family's pyfunc follows (the churn, CLV and segment models subclass ``ValidatedPyfunc``):

- Required features must be present and non-null in every row; a missing column, a non-numeric value
  in a numeric feature, a NaN in a required feature or an empty payload raise ``MlflowException`` with
  ``INVALID_PARAMETER_VALUE``. The message names the column, the count and the first row *position*,
  never a value from the payload (customer data must not travel back in error messages or logs).
- Optional features may be absent or null: they are scored as missing (the model learned a branch for
  missing values). Categorical values never seen in training are scored like missing values.
- Extra columns are ignored.

Inference parameters (``PARAMS``, e.g. churn's ``reasons``) are logged in the signature's params schema,
so ``mlflow models serve`` accepts ``{"params": {"reasons": false}}`` beside the rows.

For batch work, ``direct_predictor`` calls a crmlab model without MLflow's own schema enforcement: the
inputs are logged as optional ``Any`` (see ``training.core.registry``), which MLflow checks cell by cell
in Python (about 30 us per row and model); the model's ``validate_frame`` checks the same rules per
column. The HTTP server keeps MLflow's path.

Which features are required is each family's decision, written into its model card; churn's rule is
"numeric features that were never missing in training are required, everything else is optional".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE


class InvalidModelInput(MlflowException):
    """Bad scoring input (HTTP 400, ``INVALID_PARAMETER_VALUE``) whose message cannot be rewritten.

    MLflow's scoring server catches an ``MlflowException`` from ``predict`` and rewrites its message to
    ``"Failed to predict data '<the payload>'. Error: ..."``, sending customer rows back to the caller
    and into logs. This exception keeps the first message it was given; later assignments are ignored.
    """

    @property
    def message(self) -> str:
        return self.__dict__.get("_first_message", "")

    @message.setter
    def message(self, value: str) -> None:
        self.__dict__.setdefault("_first_message", value)


def invalid_input(message: str) -> MlflowException:
    """The one error type bad scoring input raises (HTTP 400 from the model server)."""
    return InvalidModelInput(message, error_code=INVALID_PARAMETER_VALUE)


@dataclass(frozen=True)
class InputSpec:
    """The model's input contract: feature order, which are categorical, which are required."""

    columns: tuple[str, ...]
    categorical: frozenset[str] = field(default_factory=frozenset)
    required: frozenset[str] = field(default_factory=frozenset)

    @property
    def numeric(self) -> list[str]:
        return [c for c in self.columns if c not in self.categorical]

    @property
    def optional(self) -> list[str]:
        return [c for c in self.columns if c not in self.required]

    def describe(self) -> str:
        """Markdown lines for a model card."""
        def names(cols) -> str:
            return ", ".join(cols) or "none"

        return (f"- required (must be present and non-null): {names(sorted(self.required))}\n"
                f"- optional (absent/null scored as missing): {names(self.optional)}\n"
                f"- categorical (unseen values scored as missing): {names(sorted(self.categorical))}")


class ValidatedPyfunc(mlflow.pyfunc.PythonModel):
    """Validates and normalises the payload, then calls ``predict_frame`` on a clean feature frame."""

    #: Inference parameters the model understands, with their defaults (logged in the signature).
    PARAMS: ClassVar[dict[str, Any]] = {}
    #: ``predict`` checks its own input, so ``direct_predictor`` may skip MLflow's enforcement.
    validates_inputs: ClassVar[bool] = True

    def __init__(self, spec: InputSpec) -> None:
        self.spec = spec

    @property
    def input_columns(self) -> list[str]:
        """Every column the model reads (read by batch scoring to prepare derived inputs)."""
        return list(self.spec.columns)

    @property
    def optional_inputs(self) -> list[str]:
        """Inputs the logged signature marks as not required (read by ``registry.log_and_register``)."""
        return self.spec.optional

    def load_context(self, context) -> None:
        """Fill a model logged from code from its state; inside `mlflow models serve`, keep payloads and
        tracebacks out of error answers."""
        from training.core.model_state import restore
        from training.core.scoring_guard import install_scoring_guard

        restore(self, context)
        install_scoring_guard()

    def preprocess(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Hook for raw-input parsing (e.g. a user table's text numbers); raise ``ValueError`` to refuse."""
        return frame

    def predict_frame(self, features: pd.DataFrame, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        raise NotImplementedError

    def predict(self, context, model_input: pd.DataFrame, params=None):
        # The DataFrame hint tells MLflow not to validate by type hints: validation happens here.
        frame = _as_frame(model_input)
        try:
            frame = self.preprocess(frame)
        except ValueError as err:
            raise invalid_input(str(err)) from None
        return self.predict_frame(validate_frame(frame, self.spec), params)


def plain_validation(python_model: Any) -> bool:
    """True when ``python_model.predict`` is exactly ``validate_frame`` then ``predict_frame``.

    Then a caller that validated the rows against the model's ``spec`` already (the customer profile,
    once for all its components) may call ``predict_frame`` directly. A model whose ``preprocess`` parses
    or checks the raw rows (a user-table schema, BG/NBD inputs) changes or refuses an empty probe frame.
    """
    if not isinstance(python_model, ValidatedPyfunc):
        return False
    probe = pd.DataFrame()
    try:
        return python_model.preprocess(probe) is probe
    except Exception:
        return False


def param_flag(params: Mapping[str, Any] | None, name: str, default: bool) -> bool:
    """A boolean inference parameter; refuses anything but true/false (HTTP 400 from the server)."""
    value = (params or {}).get(name, default)
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise invalid_input(f"parameter {name!r} must be true or false")


def param_choice(params: Mapping[str, Any] | None, name: str, default: str, choices: Sequence[str]) -> str:
    """A text inference parameter from a fixed list; refuses anything else (HTTP 400 from the server)."""
    value = (params or {}).get(name, default)
    if isinstance(value, str) and value.strip().lower() in choices:
        return value.strip().lower()
    raise invalid_input(f"parameter {name!r} must be one of {', '.join(choices)}")


def python_model_of(model: mlflow.pyfunc.PyFuncModel) -> Any | None:
    """The ``PythonModel`` inside a loaded pyfunc, or None for other flavors (e.g. native sklearn)."""
    try:
        return model.unwrap_python_model()
    except Exception:
        return None


def direct_predictor(model: mlflow.pyfunc.PyFuncModel) -> Callable[..., Any]:
    """``predict(frame, params)`` for batch scoring: straight into a crmlab model (see module docstring).

    Models that do not validate their own input (any other pyfunc) go through ``model.predict``. Only
    the parameters the model declares are passed on, so one call can ask every family for ``reasons``.
    """
    python_model = python_model_of(model)
    if getattr(python_model, "validates_inputs", False):
        return lambda frame, params=None: python_model.predict(None, frame, declared_params(model, params))
    return lambda frame, params=None: model.predict(frame, params=declared_params(model, params))


def declared_params(model: mlflow.pyfunc.PyFuncModel, params: Mapping[str, Any] | None) -> dict | None:
    """The entries of ``params`` that ``model`` declares (its ``PARAMS``, else its signature's schema)."""
    if not params:
        return None
    declared = getattr(python_model_of(model), "PARAMS", None)
    if declared is None:
        schema = model.metadata.get_params_schema()
        declared = {p.name: p.default for p in schema.params} if schema is not None else {}
    return {k: v for k, v in params.items() if k in declared} or None


def validate_frame(frame: pd.DataFrame, spec: InputSpec) -> pd.DataFrame:
    """Check the payload against ``spec``; return the features in model order (numeric as float).

    The numeric columns are converted in one pass (``DataFrame.to_numpy``); only when that pass finds a
    problem does the per-column path run, to name the column, the count and the first row position.
    """
    if len(frame) == 0:
        raise invalid_input("empty payload: send at least one row of features")
    if frame.columns.has_duplicates:
        repeated = [c for c in spec.columns if (frame.columns == c).sum() > 1]
        raise invalid_input(f"column(s) sent more than once: {', '.join(map(str, repeated)) or 'some'}; "
                            "send each column once")
    missing = [c for c in spec.columns if c in spec.required and c not in frame.columns]
    if missing:
        raise invalid_input(
            f"missing required column(s): {', '.join(missing)}. Required features: "
            f"{', '.join(sorted(spec.required))} (see the model card)"
        )
    present = set(frame.columns)
    numeric = [c for c in spec.columns if c not in spec.categorical and c in present]
    block = _numeric_block(frame, numeric, spec.required)
    columns: dict[str, Any] = {}
    for col in spec.columns:
        if col not in present:
            columns[col] = (np.full(len(frame), None, dtype=object) if col in spec.categorical
                            else np.full(len(frame), np.nan))
        elif col in spec.categorical:
            columns[col] = _categorical(col, frame[col]).to_numpy()
            if col in spec.required:
                _no_nulls(col, pd.Series(columns[col]))
        elif block is not None:
            columns[col] = block[:, numeric.index(col)]
        else:
            columns[col] = _numeric(col, frame[col]).to_numpy()
            if col in spec.required:
                _no_nulls(col, pd.Series(columns[col]))
    return pd.DataFrame(columns, index=frame.index)  # one construction: no block merging per column


def _numeric_block(frame: pd.DataFrame, numeric: list[str], required: frozenset[str]) -> np.ndarray | None:
    """All numeric columns as one float matrix, or None when any cell needs the per-column path."""
    if not numeric:
        return None
    try:
        with np.errstate(all="ignore"):
            block = frame[numeric].to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError, OverflowError):
        return None
    if np.isinf(block).any():
        return None
    needed = [j for j, c in enumerate(numeric) if c in required]
    if needed and np.isnan(block[:, needed]).any():
        return None
    return block


def _as_frame(model_input: Any) -> pd.DataFrame:
    if isinstance(model_input, pd.DataFrame):
        return model_input
    if model_input is None:
        raise invalid_input("empty payload: send at least one row of features")
    try:
        return pd.DataFrame(model_input)
    except (ValueError, TypeError):
        raise invalid_input("payload is not a table: send records or a dataframe of features") from None


def _numeric(col: str, values: pd.Series) -> pd.Series:
    try:
        if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            numbers = values.astype(float)
        else:
            numbers = pd.to_numeric(values, errors="coerce").astype(float)
    except OverflowError:  # a whole number beyond float range (JSON allows any number of digits)
        huge = values.map(_beyond_float)
        raise invalid_input(
            f"column {col!r} holds numbers beyond the float range in {int(huge.sum())} row(s) "
            f"(first at row position {_first(huge)}): send finite numbers or null"
        ) from None
    if not (pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values)):
        bad = numbers.isna() & values.notna()
        if bad.any():
            raise invalid_input(
                f"column {col!r} expects numbers but {int(bad.sum())} row(s) hold another type "
                f"(first at row position {_first(bad)}): send numeric values"
            )
    infinite = np.isinf(numbers)
    if infinite.any():
        raise invalid_input(
            f"column {col!r} holds infinite values in {int(infinite.sum())} row(s) "
            f"(first at row position {_first(infinite)}): send finite numbers or null"
        )
    return numbers


def _categorical(col: str, values: pd.Series) -> pd.Series:
    """Text categories, stripped; nulls become None. Anything but text (numbers, lists, objects) is refused.

    The type check is one C pass (``infer_dtype``); stripping runs once per distinct value.
    """
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind == "categorical":
        kind = pd.api.types.infer_dtype(values.cat.categories, skipna=True)
    if kind not in ("string", "empty"):
        present = values.notna() if values.dtype != object else values.map(_present_cell)
        bad = present & ~values.map(lambda v: isinstance(v, str))
        if bad.any():
            raise invalid_input(
                f"column {col!r} expects text categories but {int(bad.sum())} row(s) hold another type "
                f"(first at row position {_first(bad)}): send strings or null"
            )
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    stripped = np.array([str(u).strip() for u in uniques] + [None], dtype=object)
    return pd.Series(stripped[codes], index=values.index, dtype=object)  # code -1 (null) -> the last: None


def _beyond_float(value: Any) -> bool:
    try:
        float(value)
    except OverflowError:
        return True
    except (TypeError, ValueError):
        return False
    return False


def _present_cell(value: Any) -> bool:
    """False for a null cell (None, NaN, NA); lists and dicts count as present (and are refused)."""
    if isinstance(value, str | list | dict | tuple | set):
        return True
    try:
        return not bool(pd.isna(value))
    except (TypeError, ValueError):
        return True


def _no_nulls(col: str, values: pd.Series) -> None:
    nulls = values.isna()
    if nulls.any():
        raise invalid_input(
            f"column {col!r} is required but null/NaN in {int(nulls.sum())} row(s) "
            f"(first at row position {_first(nulls)}): fill it or leave those rows out"
        )


def _first(mask: pd.Series) -> int:
    return int(np.flatnonzero(mask.to_numpy())[0])
