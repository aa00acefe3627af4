"""Segment N customers end to end (fit on a sample, assign all): wall time per stage and peak memory.

Runs exactly what ``crmlab train segments`` runs (``train_segments``: Optuna search on the fitting
sample with a nested MLflow run per trial, assignment of every customer, stable IDs, personas, plots,
registration) in a throw-away SQLite tracking store, on a synthetic features frame shaped like
``crmlab features`` output (about 40 columns, five latent segments). Stage times come from wrapping the
stage functions; "total" is the whole ``train_segments`` call. Peak RSS is the process maximum
(including the generated frame, reported separately).

    python bench/bench_segments.py --rows 100000
    python bench/bench_segments.py --rows 1000000 --trials 15

Writes a Markdown table to stdout and to --out (default bench/out/segments_<rows>.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pandas as pd

STAGES: dict[str, float] = {}


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _timed(owner: object, name: str, label: str) -> None:
    """Replace ``owner.name`` with a wrapper adding its wall time to STAGES[label]."""
    inner: Callable = getattr(owner, name)

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            STAGES[label] = STAGES.get(label, 0.0) + time.perf_counter() - started

    setattr(owner, name, wrapper)


def run(rows: int, trials: int, seed: int) -> pd.DataFrame:
    import training.core.registry as registry
    import training.segments.train as train
    from training.segments.pipeline import FittedSegmenter
    from training.settings import get_settings
    from training.world.segment_features import synthetic_features

    started = time.perf_counter()
    frame, _ = synthetic_features(rows, seed=seed)
    generate_s, frame_rss = time.perf_counter() - started, _peak_rss_mib()
    _timed(train, "choose_segmenter", "search (sample)")
    _timed(FittedSegmenter, "assign", "assign (all rows)")
    _timed(train, "segment_profiles", "personas (all rows)")
    _timed(train, "_log_artifacts", "plots + artifacts")
    _timed(registry, "log_and_register", "log + register")
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        settings = get_settings(tracking_uri=f"sqlite:///{Path(tmp) / 'mlflow.db'}", demo=True)
        started = time.perf_counter()
        result = train.train_segments(frame, settings=settings, trials=trials, seed=seed)
        total = time.perf_counter() - started
    # assign() is also called inside the search on the sample; report the full-frame pass separately
    stages = {"generate frame (not in total)": generate_s, **STAGES, "total": total}
    table = pd.DataFrame({"stage": list(stages), "seconds": [round(v, 1) for v in stages.values()]})
    table.attrs["summary"] = (
        f"{rows:,} customers x {frame.shape[1]} columns, fitting sample {min(rows, 20_000):,}, {trials} trials; "
        f"chosen {result.config.label()}; peak RSS {_peak_rss_mib():,.0f} MiB (frame alone {frame_rss:,.0f} MiB); "
        f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python {platform.python_version()}"
    )
    return table


def main() -> None:
    from training.core.markdown import markdown_table

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--trials", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = (args.out or Path(__file__).parent / "out" / f"segments_{args.rows}.md").resolve()
    table = run(args.rows, args.trials, args.seed)
    text = f"# Segmentation benchmark\n\n{table.attrs['summary']}\n\n{markdown_table(table, digits=1, index=False)}\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
