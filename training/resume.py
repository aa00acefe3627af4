"""Resumable chains: a step whose inputs, parameters and code are unchanged reuses its finished run.

As MLflow's multistep example (``_get_or_run``): every step of ``crmlab main`` runs inside a marker run
tagged with a key = hash(previous step's key, step name, parameters, code version, fingerprint of the
input files). Before running a step, a FINISHED run with the same key (and outputs still on disk) is
looked up; if found, the step is skipped and that run is named. A failure in training therefore does
not repeat ingestion; ``--force`` reruns everything. File fingerprints use size and modification time
(cheap on large exports): a rewritten input changes the key of every step after it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

STEP_KEY_TAG = "crmlab.step_key"
_PACKAGES = ("crmlab", "training", "serving", "monitoring")


@lru_cache(maxsize=1)
def code_version() -> str:
    """SHA-256 over crmlab's Python sources (a git commit misses uncommitted edits)."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for package in _PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def fingerprint(paths: Iterable[Path]) -> list[tuple[str, int, int]]:
    """(path, size, mtime_ns) of every file under the given files/directories that exist."""
    out: list[tuple[str, int, int]] = []
    for path in paths:
        path = Path(path)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            if f.exists():
                stat = f.stat()
                out.append((str(f.resolve()), stat.st_size, stat.st_mtime_ns))
    return out


def step_key(previous: str, name: str, params: dict[str, object], inputs: Iterable[Path]) -> str:
    payload = json.dumps({"previous": previous, "step": name, "params": {k: str(v) for k, v in params.items()},
                          "code": code_version(), "inputs": fingerprint(inputs)}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def finished_run(experiment_id: str, key: str) -> str | None:
    """Id of a FINISHED run carrying this step key, newest first; None if there is none."""
    import mlflow

    runs = mlflow.search_runs(experiment_ids=[experiment_id], output_format="list", max_results=1,
                              filter_string=f"tags.`{STEP_KEY_TAG}` = '{key}' and attributes.status = 'FINISHED'",
                              order_by=["attributes.start_time DESC"])
    return runs[0].info.run_id if runs else None
