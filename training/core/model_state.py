"""A served crmlab model's state as plain files, so a logged model holds data, not pickled crmlab objects.

crmlab's pyfuncs are logged as MLflow "models from code" (see ``training.core.from_code``): the model
directory carries the entry file, crmlab's source (``code_paths``) and this state folder (an artifact).
Loading builds an empty instance of the class named in ``model_config`` and fills it here, in
``load_context``; no ``python_model.pkl`` exists, nothing is unpickled.

Folder layout (``STATE_ARTIFACT``):

- ``state.json``: the object tree. Scalars and text as JSON; containers, numpy scalars, pandas indexes,
  SciPy sparse matrices and crmlab objects as tagged nodes ``{"$": kind, ...}``;
- ``arrays.npz``: every numeric numpy array (``allow_pickle=False`` on both sides; text arrays go to
  the JSON);
- ``lightgbm_<n>.txt``: boosters in LightGBM's own text format;
- ``sklearn_<n>.skops``: scikit-learn estimators (calibration maps, the logistic baseline, a Gaussian
  mixture) in skops' format, loaded with skops' default trusted types plus ``SKOPS_TRUSTED`` (no pickle).

crmlab objects are stored as their attribute dictionaries and rebuilt only for the classes named in
``CLASSES`` (stable name -> ``module:qualname``, imported when a model needs it): a renamed or moved
class is one line here, and a state naming anything else is refused. Anything the encoder does not know
raises ``TypeError`` naming the attribute path, at logging time rather than at serving time.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import numpy as np

STATE_ARTIFACT = "crmlab_state"
CONFIG_KEY = "crmlab_model"  # model_config key: the CLASSES name of the logged pyfunc
FORMAT = 1
_STATE_FILE = "state.json"
_ARRAYS_FILE = "arrays.npz"

#: Every crmlab class a logged model's state may contain (stable name -> ``module:qualname``).
CLASSES: dict[str, str] = {
    "core.InputSpec": "training.core.pyfunc_base:InputSpec",
    "core.TableSchema": "training.core.tabular:TableSchema",
    "core.ColumnRule": "training.core.tabular:ColumnRule",
    "churn.ChurnModel": "training.churn.model:ChurnModel",
    "churn.LgbmScorer": "training.churn.scorers:LgbmScorer",
    "churn.LinearScorer": "training.churn.scorers:LinearScorer",
    "churn.BlendScorer": "training.churn.scorers:BlendScorer",
    "churn.EnsembleScorer": "training.churn.legacy:EnsembleScorer",  # read-only: versions logged before the merge
    "churn.Calibrator": "training.churn.calibration:Calibrator",
    "clv.ClvModel": "training.clv.pyfunc:ClvModel",
    "segments.SegmentsModel": "training.segments.model:SegmentsModel",
    "segments.FittedSegmenter": "training.segments.pipeline:FittedSegmenter",
    "segments.Preprocessor": "training.segments.pipeline:Preprocessor",
    "segments.SegmenterConfig": "training.segments.pipeline:SegmenterConfig",
    "segments.FeatureSpec": "training.segments.inputs:FeatureSpec",
    "recs.RecommenderModel": "training.recs.pyfunc:RecommenderModel",
    "recs.Recommender": "training.recs.model:Recommender",
    "recs.Catalog": "training.recs.data:Catalog",
    "profile.CustomerProfileModel": "serving.profile_model:CustomerProfileModel",
}
_SPARSE = ("csr_matrix", "csc_matrix", "csr_array", "csc_array")
# Types skops does not trust by default but crmlab's estimators hold: the one-hot encoder's ``dtype``.
SKOPS_TRUSTED: tuple[str, ...] = ("numpy.dtype",)


def class_name(obj: Any) -> str:
    """The ``CLASSES`` name of ``obj``'s class; ``TypeError`` for a class not in the table."""
    target = f"{type(obj).__module__}:{type(obj).__qualname__}"
    for name, path in CLASSES.items():
        if path == target:
            return name
    raise TypeError(f"{target} is not in training.core.model_state.CLASSES: add it to log it from code")


def resolve(name: str) -> type:
    """The class a ``CLASSES`` name stands for (its module is imported now)."""
    if name not in CLASSES:
        raise ValueError(f"unknown crmlab model class {name!r}; known: {', '.join(sorted(CLASSES))}")
    module, qualname = CLASSES[name].split(":")
    return getattr(importlib.import_module(module), qualname)


def empty_model(name: str) -> Any:
    """An instance of the named class with no attributes yet (``restore`` fills it in ``load_context``)."""
    cls = resolve(name)
    return cls.__new__(cls)


def save(obj: Any, folder: Path) -> Path:
    """Write ``obj``'s state under ``folder`` (created); returns the folder (a ``log_model`` artifact)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    writer = _Writer(folder)
    tree = {"format": FORMAT, "model": writer.encode(obj, "model")}
    np.savez(folder / _ARRAYS_FILE, **writer.arrays)
    (folder / _STATE_FILE).write_text(json.dumps(tree))
    return folder


def load(folder: Path) -> Any:
    """The object ``save`` wrote (a fresh instance)."""
    folder = Path(folder)
    tree = json.loads((folder / _STATE_FILE).read_text())
    if tree.get("format") != FORMAT:
        raise ValueError(f"{folder / _STATE_FILE}: state format {tree.get('format')!r}, this crmlab reads {FORMAT}")
    with np.load(folder / _ARRAYS_FILE, allow_pickle=False) as arrays:
        return _Reader(folder, dict(arrays)).decode(tree["model"])


def restore(model: Any, context: Any) -> None:
    """Fill an instance built by ``empty_model`` from the state artifact; no-op for a pickled model.

    Called first thing in ``load_context`` (``ValidatedPyfunc``, ``CustomerProfileModel``).
    """
    artifacts = getattr(context, "artifacts", None) or {}
    if STATE_ARTIFACT not in artifacts:
        return
    saved = load(Path(artifacts[STATE_ARTIFACT]))
    if type(saved) is not type(model):
        raise TypeError(f"the model's state holds a {type(saved).__name__}, the entry built a {type(model).__name__}")
    model.__dict__.update(saved.__dict__)


class _Writer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.arrays: dict[str, np.ndarray] = {}
        self.files = 0

    def encode(self, value: Any, path: str) -> Any:
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if isinstance(value, np.generic):
            return {"$": "np_scalar", "dtype": value.dtype.str, "v": value.item()}
        if isinstance(value, list | tuple | set | frozenset):
            items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
            return {"$": type(value).__name__, "v": [self.encode(v, f"{path}[{i}]") for i, v in enumerate(items)]}
        if isinstance(value, dict):
            return {"$": "dict", "v": [[self.encode(k, f"{path}.key"), self.encode(v, f"{path}[{k!r}]")]
                                       for k, v in value.items()]}
        if isinstance(value, np.ndarray):
            return self._array(value, path)
        module = type(value).__module__
        if module.startswith("pandas") and type(value).__name__ == "Index":
            return {"$": "pd_index", "name": self.encode(value.name, path), "dtype": str(value.dtype),
                    "v": self._array(value.to_numpy(), path)}
        if module.startswith("scipy.sparse") and type(value).__name__ in _SPARSE:
            return {"$": "sparse", "kind": type(value).__name__, "shape": list(value.shape),
                    **{part: self._array(getattr(value, part), f"{path}.{part}")
                       for part in ("data", "indices", "indptr")}}
        if module.startswith("lightgbm") and type(value).__name__ == "Booster":
            text = value.model_to_string()
            return {"$": "lightgbm", "file": self._file("lightgbm", "txt", lambda p: p.write_text(text))}
        if module.startswith("sklearn"):
            import skops.io

            return {"$": "sklearn", "file": self._file("sklearn", "skops", lambda p: skops.io.dump(value, p))}
        if f"{module}:{type(value).__qualname__}" in CLASSES.values():
            state = value.__getstate__()
            if not isinstance(state, dict):
                raise TypeError(f"cannot store {path}: {type(value).__qualname__} state is not a dict")
            return {"$": "obj", "class": class_name(value),
                    "v": {k: self.encode(v, f"{path}.{k}") for k, v in state.items()}}
        raise TypeError(f"cannot store {path}: a {module}.{type(value).__qualname__} "
                        "(see training.core.model_state for the types a logged model may hold)")

    def _array(self, value: np.ndarray, path: str) -> dict:
        if value.dtype == object or value.dtype.kind in "USO":
            return {"$": "text_array", "dtype": "object" if value.dtype == object else value.dtype.str,
                    "shape": list(value.shape), "v": [self.encode(v, path) for v in value.ravel().tolist()]}
        key = f"a{len(self.arrays)}"
        self.arrays[key] = value
        return {"$": "array", "key": key}

    def _file(self, prefix: str, suffix: str, write) -> str:
        name = f"{prefix}_{self.files}.{suffix}"
        self.files += 1
        write(self.folder / name)
        return name


class _Reader:
    def __init__(self, folder: Path, arrays: dict[str, np.ndarray]) -> None:
        self.folder = folder
        self.arrays = arrays

    def decode(self, node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        kind = node["$"]
        if kind in ("list", "tuple", "set", "frozenset"):
            items = [self.decode(v) for v in node["v"]]
            return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[kind](items)
        if kind == "dict":
            return {self.decode(k): self.decode(v) for k, v in node["v"]}
        if kind == "np_scalar":
            return np.dtype(node["dtype"]).type(node["v"])
        if kind == "array":
            return self.arrays[node["key"]]
        if kind == "text_array":
            values = [self.decode(v) for v in node["v"]]
            out = np.empty(len(values), dtype=object) if node["dtype"] == "object" else None
            if out is None:
                return np.array(values, dtype=node["dtype"]).reshape(node["shape"])
            out[:] = values
            return out.reshape(node["shape"])
        if kind == "pd_index":
            import pandas as pd

            return pd.Index(self.decode(node["v"]), dtype=node["dtype"], name=self.decode(node["name"]))
        if kind == "sparse":
            import scipy.sparse

            cls = getattr(scipy.sparse, node["kind"])
            parts = (self.decode(node["data"]), self.decode(node["indices"]), self.decode(node["indptr"]))
            return cls(parts, shape=tuple(node["shape"]))
        if kind == "lightgbm":
            import lightgbm

            return lightgbm.Booster(model_file=str(self.folder / node["file"]))
        if kind == "sklearn":
            import skops.io

            return skops.io.load(self.folder / node["file"], trusted=list(SKOPS_TRUSTED))
        if kind == "obj":
            obj = empty_model(node["class"])
            state = {k: self.decode(v) for k, v in node["v"].items()}
            if hasattr(type(obj), "__setstate__"):
                obj.__setstate__(state)
            else:
                obj.__dict__.update(state)
            return obj
        raise ValueError(f"{self.folder / _STATE_FILE}: unknown node kind {kind!r}")
