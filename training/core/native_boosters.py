"""Every LightGBM booster inside a crmlab model, written in LightGBM's own text format.

``registry.log_and_register`` calls this for every family, so each logged version carries
``artifacts/lightgbm_booster.txt`` (or ``lightgbm_<attribute>.txt`` when a model holds several) among
its files: load it with ``lightgbm.Booster(model_file=...)`` anywhere, without crmlab,
e.g. to serve it with another stack or to compare against a stock ``mlflow.lightgbm`` model. The MLmodel
metadata key ``crmlab_lightgbm_boosters`` maps each name to its path inside the model.

Boosters are found by looking at the model's public attributes one level deep: a ``lightgbm.Booster``,
or a model text (a string starting ``tree\\nversion=``), as the churn scorer and the CLV model hold them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ARTIFACT_PREFIX = "lightgbm"
METADATA_KEY = "crmlab_lightgbm_boosters"
_TEXT_START = "tree\nversion="
BOOSTER_PATH = f"artifacts/{ARTIFACT_PREFIX}_booster.txt"  # a model holding one booster (all today)


def booster_texts(python_model: Any) -> dict[str, str]:
    """attribute name -> LightGBM model text, for each booster the model holds (one level deep)."""
    found: dict[str, str] = {}
    for name, value in sorted(getattr(python_model, "__dict__", {}).items()):
        if name.startswith("_"):  # caches (a booster rebuilt from its text) and packaged components
            continue
        text = _text(value)
        if text is None and hasattr(value, "__dict__") and not isinstance(value, type):
            text = next((t for t in map(_text, vars(value).values()) if t is not None), None)
        if text is not None and text not in found.values():
            found[name] = text
    return found


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
