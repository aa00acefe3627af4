"""The one table of model families: CLI sub-commands, MLproject entries, gates, monitoring and the profile.

A row names the module whose ``FAMILY`` object implements ``training.core.family.ModelFamily``. Modules
are imported when a family is first used (``family(name)``), never to register anything: what a
family provides is read from its object, so nothing depends on which packages happen to be imported.

Adding a family: write ``training/<name>/family.py`` with ``FAMILY = ...`` and add one row here
(plus its ``train_<name>`` entry in ``MLproject``; ``tests/training/core/test_core_families.py``
checks that the two agree).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache

from training.core.family import ModelFamily
from training.core.gate_spec import GateSpec


@dataclass(frozen=True)
class FamilyRow:
    name: str
    module: str  # exposes FAMILY: ModelFamily

    @property
    def mlproject_entry(self) -> str:
        return f"train_{self.name}"


FAMILIES: dict[str, FamilyRow] = {row.name: row for row in (
    FamilyRow("churn", "training.churn.family"),
    FamilyRow("clv", "training.clv.family"),
    FamilyRow("segments", "training.segments.family"),
    FamilyRow("recs", "training.recs.family"),
)}


@cache
def family(name: str) -> ModelFamily:
    """The family object of ``name``; an unknown name is an error listing the known ones."""
    row = FAMILIES.get(name)
    if row is None:
        raise ValueError(f"unknown model family {name!r}; known families: {', '.join(FAMILIES)}")
    obj = importlib.import_module(row.module).FAMILY
    if obj.name != name:
        raise RuntimeError(f"{row.module}.FAMILY is named {obj.name!r}, its row says {name!r}")
    return obj


def all_families() -> list[ModelFamily]:
    """Every family, in table order."""
    return [family(name) for name in FAMILIES]


def gate_for(name: str) -> GateSpec:
    """The promotion gate of a trained family (composites pass theirs to ``promote`` explicitly)."""
    return family(name).gate()
