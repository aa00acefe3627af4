"""Raw export (a schema file or a generated world's folder) -> a features directory, by ``crmlab main``'s rules.

The chain's own steps in one call: ingest, the documented cutoff rule (``cutoffs.plan_for``: up to three
training cutoffs one horizon apart, the latest label window ending where the data ends), features. Tests
and benchmarks use it so that their churn labels are exactly the ones ``crmlab main`` trains on.
"""

from __future__ import annotations

from pathlib import Path

from training.settings import Settings


def features_from_source(source: str | Path, workdir: Path, settings: Settings) -> Path:
    """Ingest ``source`` into ``workdir/clean`` and build training features into ``workdir/features``."""
    from training.features.cutoffs import plan_for
    from training.features.run import run_features
    from training.ingest import ingest

    clean, features = Path(workdir) / "clean", Path(workdir) / "features"
    ingest(source, clean, settings, progress=False)
    plan = plan_for(clean, settings.horizon_days)
    run_features(clean, plan.training, settings.horizon_days, features, settings)
    return features
