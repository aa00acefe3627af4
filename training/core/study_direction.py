"""A resumed Optuna study must optimise the same way as this run: one check, shared by the single-process
tuner (``tuning``) and the distributed one (``distributed``)."""

from __future__ import annotations

from typing import Literal

import optuna

from training.core.family import FamilyInputError


class StudyDirectionError(FamilyInputError):
    """A resumed study was created to optimise its objective the other way (``check_direction``)."""


def check_direction(study: optuna.Study, direction: Literal["minimize", "maximize"]) -> None:
    """Refuse a resumed study whose stored direction is not this run's.

    ``optuna.create_study(load_if_exists=True)`` loads an existing study with its stored direction and ignores
    the one asked for, silently: an objective that changed sense between crmlab versions (a family tuned on a
    loss that moves to a score such as AUC) would then be optimised backwards.
    """
    stored = study.direction.name.lower()
    if stored != direction:
        raise StudyDirectionError(
            f"Optuna study {study.study_name!r} was created to {stored} its objective and this run would "
            f"{direction} it (an older crmlab tuned another metric): train with another --seed, or delete the "
            "study (optuna delete-study --study-name NAME --storage URL)")
