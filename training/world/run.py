"""Generate a world, write it, and track it as an MLflow run: what ``crmlab generate`` does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from training.settings import Settings
from training.world.config import WorldConfig
from training.world.generate import World, generate_world
from training.world.store import write_world


def generate_tracked(config: WorldConfig, out: Path, fmt: str, settings: Settings,
                     progress: Callable[[str], None] | None = None) -> tuple[World, dict[str, Path]]:
    """One MLflow run ("generate"): parameters, row and dirt counts, and world.json.

    Customer tables (names, emails, phones) are never logged: only counts and the world's metadata.
    """
    import mlflow

    from training.tracking import tracked_run

    with tracked_run(settings, run_name="generate", tags={"crmlab.command": "generate"}):
        mlflow.log_params({
            "customers": config.n_customers, "seed": config.seed, "start": config.start.isoformat(),
            "end": config.end.isoformat(), "drift": config.drift,
            "drift_start": config.drift_start_date.isoformat(), "dirt_rate": config.dirt_rate, "format": fmt,
        })
        world = generate_world(config, progress=progress)
        if progress is not None:
            progress(f"writing {fmt} to {out}")
        paths = write_world(world, out, fmt=fmt)
        mlflow.log_metrics({f"rows.{name}": float(n) for name, n in world.meta["rows"].items()})
        mlflow.log_metrics(flatten_counts("dirt", {k: v for k, v in world.meta["dirt"].items() if k != "rate"}))
        mlflow.log_artifact(str(paths["world"]))
    return world, paths


def flatten_counts(prefix: str, value: object) -> dict[str, float]:
    """Nested dirt counts -> flat MLflow metric names (``dirt.transactions.duplicates``)."""
    if isinstance(value, dict):
        out: dict[str, float] = {}
        for key, inner in value.items():
            out.update(flatten_counts(f"{prefix}.{key}", inner))
        return out
    return {prefix: float(value)}


def dirty_rows(counts: dict) -> int:
    """Rows a table's dirt touched (kinds never share a row)."""
    missing = counts.get("missing_values", {})
    return int(sum(missing.values()) + sum(v for k, v in counts.items() if k != "missing_values"))
