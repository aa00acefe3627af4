"""Every LightGBM booster inside a crmlab model, written in LightGBM's own text format.

``registry.log_and_register`` calls this for every family, so each logged version carries
``artifacts/lightgbm_booster.txt`` (or ``lightgbm_<attribute>.txt`` when a model holds several) among
its files: load it with ``lightgbm.Booster(model_file=...)`` anywhere, without crmlab,
e.g. to serve it with another stack or to compare against a stock ``mlflow.lightgbm`` model. The MLmodel
metadata key ``crmlab_lightgbm_boosters`` maps each name to its path inside the model.

Boosters are found by looking through the model's public attributes (``booster_texts``): a
``lightgbm.Booster``, or a model text (a string starting ``tree\\nversion=``), as the churn scorer (a
cross-fit merged into one booster, ``training.core.lgbm_merge``) and the CLV model hold them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ARTIFACT_PREFIX = "lightgbm"
METADATA_KEY = "crmlab_lightgbm_boosters"
_TEXT_START = "tree\nversion="
_DEPTH = 3  # model -> scorer -> members -> member -> booster
BOOSTER_PATH = f"artifacts/{ARTIFACT_PREFIX}_booster.txt"  # a model holding one booster


def booster_texts(python_model: Any) -> dict[str, str]:
    """name -> LightGBM model text, for each booster the model holds.

    Searched: the model's public attributes, and inside them (objects' public attributes, lists and tuples)
    down to ``_DEPTH`` levels. An attribute holding one booster is named after itself (``scorer``); one
    holding several (a cross-fitted ensemble's members) gives ``scorer_0``, ``scorer_1``, ...
    """
    found: dict[str, str] = {}
    for name, value in sorted(_public(python_model).items()):
        texts = [t for t in dict.fromkeys(_texts_in(value, _DEPTH)) if t not in found.values()]
        for i, text in enumerate(texts):
            found[name if len(texts) == 1 else f"{name}_{i}"] = text
    return found


def _public(obj: Any) -> dict[str, Any]:
    """Public attributes (not caches such as a booster rebuilt from its text, or packaged components)."""
    return {k: v for k, v in getattr(obj, "__dict__", {}).items() if not k.startswith("_")}


def _texts_in(value: Any, depth: int) -> list[str]:
    text = _text(value)
    if text is not None:
        return [text]
    if depth == 0 or isinstance(value, type | str | bytes | dict):
        return []
    if isinstance(value, list | tuple):
        return [t for v in value for t in _texts_in(v, depth - 1)]
    if hasattr(value, "__dict__"):
        return [t for _, v in sorted(_public(value).items()) for t in _texts_in(v, depth - 1)]
    return []


def write_boosters(python_model: Any, folder: Path) -> dict[str, str]:
    """Write each booster as ``<folder>/<artifact key>.txt``; returns ``log_model`` artifacts (key -> file)."""
    texts = booster_texts(python_model)
    files = {}
    for name, text in texts.items():
        key = f"{ARTIFACT_PREFIX}_booster" if len(texts) == 1 else f"{ARTIFACT_PREFIX}_{name}"
        path = Path(folder) / f"{key}.txt"
        path.write_text(text)
        files[key] = str(path)
    return files


def model_paths(artifacts: dict[str, str]) -> dict[str, str]:
    """artifact key -> path inside the logged model (MLflow copies artifacts to ``artifacts/<file>``)."""
    return {key: f"artifacts/{Path(path).name}" for key, path in artifacts.items()}


def card_line(python_model: Any) -> str:
    """The model-card sentence naming the booster file(s); empty for a model without LightGBM."""
    texts = booster_texts(python_model)
    if not texts:
        return ""
    names = [f"`artifacts/{ARTIFACT_PREFIX}_booster.txt`"] if len(texts) == 1 else [
        f"`artifacts/{ARTIFACT_PREFIX}_{n}.txt`" for n in texts]
    return (f"- LightGBM booster in LightGBM's text format: {', '.join(names)} among the model's files "
            "(`mlflow.artifacts.download_artifacts('models:/<name>/<version>')`); load it with "
            "`lightgbm.Booster(model_file=...)`.")


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value if value.startswith(_TEXT_START) else None
    if type(value).__name__ == "Booster" and hasattr(value, "model_to_string"):
        return value.model_to_string()
    return None
