"""Keep customer data and stack traces out of the model server's answers to bad requests.

MLflow's stock scoring server (``mlflow models serve``, read in mlflow 3.17
``mlflow/pyfunc/scoring_server/__init__.py`` and checked against a running server) answers:

- a body that is not JSON with a 400 that echoes the body (``Input: b'...'``);
- any ``MlflowException`` raised in ``predict`` with a 400 whose message starts with the payload's
  DataFrame repr (``Failed to predict data '...'``), crmlab's own clean validation errors included;
- CSV parse failures and unexpected errors with a ``stack_trace`` field;
- a request without a Content-Type header with a 500; and it reads bodies of any size.

``install_scoring_guard`` wraps the server's request handler (``scoring_server.invocations``) once per
worker process. crmlab's served models call it from ``load_context``, which runs inside the server while
the model loads, so the stock command line stays as it is. The wrapper answers an oversized body with
413, a missing or unsupported content type (or parameter) with 415 and a fixed text, and every other
failure with a 400 whose message is either written by crmlab code (which never quotes payload values,
see ``training.core.pyfunc_base``) or a fixed text naming the problem, raised as the core's
``InvalidModelInput`` (its message cannot be rewritten by the server). Nothing from the payload, and no
traceback, is returned or logged. Describing a body that failed (e.g. JSON nested beyond Python's
recursion limit) can never itself fail: the answer stays a 400 and the kept-alive connection stays up.

Media types are matched case-insensitively (``APPLICATION/JSON``), as HTTP defines them. A JSON
request to a crmlab model (``validates_inputs``) takes a shorter path than the stock handler: the body
is decoded once (the stock handler decodes it twice), the rows are built by MLflow's own parser without
the per-cell casting against the ``Any`` schema, and the model is called directly, since its own
validation checks the same things once, vectorised.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import BAD_REQUEST

from training.core.pyfunc_base import InvalidModelInput, direct_predictor, invalid_input, python_model_of

MAX_BODY_BYTES = 5_000_000  # about 5,000 customers of features per request; batch scoring has no limit
CRMLAB_MODULES = ("training.", "serving.")
FORMAT_HINT = ('send JSON such as {"dataframe_records": [{"column": value, ...}, ...]} or '
               '{"dataframe_split": {"columns": [...], "data": [[...], ...]}}')
JSON_KEYS = ("dataframe_records", "dataframe_split", "instances", "inputs")
JSON_MIME = "application/json"
_MARK = "_crmlab_scoring_guard"
_logger = logging.getLogger(__name__)


def safe_message(err: BaseException) -> str:
    """The message to show for an error raised while scoring: crmlab's own text, else a fixed one."""
    if isinstance(err, InvalidModelInput):
        return err.message
    if isinstance(err, MlflowException) and raised_by_crmlab(err):
        return err.message
    if isinstance(err, MlflowException):
        return ("the payload does not fit the model's inputs: check the column names and types against "
                "the model card")
    return (f"the model could not score this payload ({type(err).__name__}): check the column names and "
            "types against the model card")


def raised_by_crmlab(err: BaseException) -> bool:
    """True when the innermost frame that raised ``err`` belongs to crmlab's ``training``/``serving`` code."""
    tb = err.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return str(tb.tb_frame.f_globals.get("__name__", "")).startswith(CRMLAB_MODULES)


def install_scoring_guard(max_body_bytes: int = MAX_BODY_BYTES) -> bool:
    """Wrap the stock scoring server's handler (idempotent); False when no scoring server is loaded."""
    server = sys.modules.get("mlflow.pyfunc.scoring_server")
    if server is None:
        return False
    current = server.invocations
    if getattr(current, _MARK, False):
        return True

    def guarded(data: bytes, content_type: str | None, model: Any, input_schema: Any):
        content_type = normalised_content_type(content_type)
        refused = _refuse_early(server, data, content_type, max_body_bytes)
        if refused is not None:
            return refused
        try:
            guarded_model = _GuardedModel(model)
            if guarded_model.validates_inputs and _mime(content_type) == JSON_MIME:
                return _score_json(server, data, guarded_model)
            return current(data, content_type, guarded_model, input_schema)
        except InvalidModelInput:
            raise
        except Exception as err:  # request parsing failed before the model saw the rows
            try:
                message = _request_message(data, content_type)
            except Exception:  # describing the body must never turn a 400 into a 500
                message = "the payload could not be read as a table of customers: " + FORMAT_HINT
            _logger.warning("scoring request refused (%s): %s", type(err).__name__, message)
            raise InvalidModelInput(message, error_code=BAD_REQUEST) from None

    setattr(guarded, _MARK, True)
    server.invocations = guarded
    return True


def normalised_content_type(content_type: str | None) -> str | None:
    """The media type in lower case (HTTP media types are case-insensitive), parameters kept as sent."""
    if content_type is None:
        return None
    mime, sep, rest = content_type.partition(";")
    return mime.strip().lower() + sep + rest


class _GuardedModel:
    """The loaded model as the server sees it, with ``predict`` failures turned into safe errors.

    crmlab models validate their own input (``ValidatedPyfunc``), so they are called directly, as batch
    scoring does: MLflow's cell-by-cell check of the optional ``Any`` inputs would repeat the work.
    """

    def __init__(self, model: Any) -> None:
        self._model = model
        python_model = python_model_of(model) if hasattr(model, "unwrap_python_model") else None
        self.validates_inputs = bool(getattr(python_model, "validates_inputs", False))
        self._predict = direct_predictor(model) if self.validates_inputs else None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def predict(self, data: Any, params: dict | None = None) -> Any:
        problem = _params_problem(self._model, params)
        if problem is not None:
            raise invalid_input(problem)
        try:
            if self._predict is not None:
                return self._predict(data, params)
            return self._model.predict(data, params=params)
        except InvalidModelInput:
            raise
        except Exception as err:
            message = safe_message(err)
            if not isinstance(err, MlflowException):
                _logger.warning("model raised %s at %s", type(err).__name__, _where(err))
            raise invalid_input(message) from None


def _params_problem(model: Any, params: dict | None) -> str | None:
    """A message naming the model's parameters when ``params`` do not fit them (values never quoted)."""
    schema = model.metadata.get_params_schema() if params else None
    if schema is None:
        return None
    from mlflow.models.utils import _enforce_params_schema

    try:
        _enforce_params_schema(params, schema)
    except Exception:
        declared = ", ".join(f"{p.name} ({p.dtype.name}, default {json.dumps(p.default)})" for p in schema.params)
        return f"the parameters do not fit the model's: it takes {declared}"
    return None


def _refuse_early(server: Any, data: bytes | None, content_type: str | None, limit: int):
    if data is not None and len(data) > limit:
        return _response(server, 413, f"request body of {len(data):,} bytes exceeds the limit of {limit:,} "
                                      "bytes: split the customers into smaller requests (or use "
                                      "`crmlab score` for batch scoring)")
    if not content_type or not content_type.strip():
        return _response(server, 415, "no Content-Type header: send Content-Type: application/json")
    if _mime(content_type) not in server.CONTENT_TYPES:
        return _response(server, 415, "unsupported Content-Type: the server takes the content types "
                                      "application/json, text/csv and application/vnd.apache.parquet")
    parameters = [part.partition("=") for part in content_type.split(";")[1:] if part.strip()]
    if any(key.strip().lower() != "charset" for key, _, _ in parameters):
        return _response(server, 415, "unsupported Content-Type parameter: only charset=utf-8 is accepted")
    if any(value.strip().strip('"').lower() != "utf-8" for _, _, value in parameters):
        return _response(server, 415, "unsupported charset: send UTF-8 (Content-Type: application/json; "
                                      "charset=utf-8)")
    return None


def _mime(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def _score_json(server: Any, data: bytes, model: _GuardedModel):
    """A JSON request to a crmlab model: parsed once, rows built by MLflow's own parser, then ``predict``.

    The stock handler decodes the body twice and casts every cell against the (``Any``) schema before
    the model validates the same cells again; this path does each step once.
    """
    from io import StringIO

    decoded = json.loads(data)
    if not isinstance(decoded, dict):
        raise ValueError("not a JSON object")
    keys = [k for k in JSON_KEYS if k in decoded]
    if len(keys) != 1:
        raise ValueError("not exactly one input key")
    params = decoded.get("params")
    if params is not None and not isinstance(params, dict):
        raise invalid_input('"params" must be a JSON object, e.g. {"params": {"reasons": false}}')
    frame = server.infer_and_parse_data({keys[0]: decoded[keys[0]]}, None)
    result = StringIO()
    server.predictions_to_json(model.predict(frame, params=params), result)
    return server.InvocationsResponse(response=result.getvalue(), status=200, mimetype="application/json")


def _response(server: Any, status: int, message: str):
    body = json.dumps({"error_code": "BAD_REQUEST", "message": message})
    return server.InvocationsResponse(response=body, status=status, mimetype="application/json")


def _request_message(data: bytes | None, content_type: str | None) -> str:
    """A fixed description of why the body could not be read as a table (no library text quoted)."""
    mime = _mime(content_type)
    if mime == "text/csv":
        return "the CSV body could not be read: crmlab models take JSON or Parquet; " + FORMAT_HINT
    if mime == "application/vnd.apache.parquet":
        return "the Parquet body could not be read as a table: send a file written by DataFrame.to_parquet"
    if not data or not data.strip():
        return "empty request body: " + FORMAT_HINT
    try:
        decoded = json.loads(data)
    except RecursionError:
        return "the JSON body is nested too deeply to be a table: " + FORMAT_HINT
    except (ValueError, UnicodeDecodeError):
        return "the request body is not valid JSON: " + FORMAT_HINT
    if not isinstance(decoded, dict) or len(set(decoded) & set(JSON_KEYS)) != 1:
        keys = ", ".join(JSON_KEYS)
        return f"the JSON body must be an object with exactly one of the keys {keys}: {FORMAT_HINT}"
    return "the payload could not be read as a table of customers: " + FORMAT_HINT


def _where(err: BaseException) -> str:
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return "unknown"
    code = tb.tb_frame.f_code
    return f"{tb.tb_frame.f_globals.get('__name__', '?')}.{code.co_name}:{tb.tb_lineno}"
