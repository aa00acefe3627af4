"""Model references as users type them (a registered name + alias, or a URI) and the version they mean."""

from __future__ import annotations

from pathlib import Path


def model_uri(model: str, alias: str | None = None) -> str:
    """``models:/<name>@<alias>`` for a registered name; a URI (``models:/``, ``runs:/``) or path as given."""
    if ":/" in model or Path(model).exists() or not alias:
        return model
    return f"models:/{model}@{alias}"


def resolve_version(uri: str) -> tuple[str, str | None]:
    """(name, concrete version) of ``models:/name@alias`` or ``models:/name/N``; other URIs: (uri, None).

    Scores record the concrete version, so ``@champion`` moving later never blurs which model wrote them.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    if not uri.startswith("models:/"):
        return uri, None
    ref = uri.removeprefix("models:/").strip("/")
    if "@" not in ref:
        name, _, version = ref.partition("/")
        return name, version or None
    name, alias = ref.split("@", 1)
    try:
        return name, str(mlflow.MlflowClient().get_model_version_by_alias(name, alias).version)
    except MlflowException:
        hint = (" (build it from the family champions with serving.profile_model.build_customer_profile)"
                if name == "customer_profile" else f" (crmlab train ...; crmlab promote {name})")
        raise ValueError(f"no version of {name!r} has the alias {alias!r} in the tracking store: register "
                         f"and promote one first{hint}") from None
