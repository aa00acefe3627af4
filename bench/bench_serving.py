"""Serving benchmark: the model server over HTTP vs in-process predict, batch scoring vs raw LightGBM.

Measures, for one registered model (default ``customer_profile@champion``):

- HTTP ``POST /invocations`` with 1-row and 1,000-row payloads at 1, 8 and 32 concurrent clients
  (threads, a bounded number of requests each, loopback only): p50/p99 latency, requests/s, rows/s;
- ``pyfunc.predict`` in this process on the same payloads (no HTTP, no JSON);
- batch scoring of N customers (``serving.batch.score_batch`` to Parquet) of the churn champion and of
  the profile, with and without ``top_reasons`` (tree SHAP), vs raw ``Booster.predict`` of the churn
  LightGBM on the same feature matrix (the floor: no validation, calibration, explanations, output).

Usage (from the activated venv):

    python bench/bench_serving.py --features data/features --n 20000          # a running store
    python bench/bench_serving.py --url http://127.0.0.1:5001 --features ...   # an already running server
    python bench/bench_serving.py --demo --n 1000000                           # self-contained

``--demo`` trains a small churn model on synthetic features (at most 20,000 rows, repeated to N for
the batch part) in a temporary tracking store and builds a customer_profile from it. Without ``--url``
the script starts its own server and stops it at the end.
Results go to stdout and to ``--out`` as a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pandas as pd

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
CLIENTS = (1, 8, 32)
BIG = 1000
DEMO_TRAIN_ROWS = 20_000


@dataclass
class Row:
    scenario: str
    clients: str
    rows_per_call: int
    calls: int
    p50_ms: float
    p99_ms: float
    calls_per_s: float

    @property
    def rows_per_s(self) -> float:
        return self.calls_per_s * self.rows_per_call


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000.0, q))


def http_level(url: str, body: str, rows: int, clients: int, calls: int) -> Row:
    """``calls`` requests split over ``clients`` threads (each with its own session); latency per call."""
    import requests

    per_client = max(1, calls // clients)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        session = requests.Session()
        mine = []
        for _ in range(per_client):
            start = time.perf_counter()
            response = session.post(f"{url}/invocations", data=body,
                                     headers={"Content-Type": "application/json"}, timeout=120)
            mine.append(time.perf_counter() - start)
            if response.status_code != 200:
                errors.append(f"HTTP {response.status_code}: {response.text[:200]}")
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    wall = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - wall
    if errors:
        raise RuntimeError(f"{len(errors)} request(s) failed, first: {errors[0]}")
    return Row("HTTP /invocations", str(clients), rows, len(latencies), percentile(latencies, 50),
               percentile(latencies, 99), len(latencies) / wall)


def in_process(model, frame: pd.DataFrame, calls: int) -> Row:
    model.predict(frame)  # warm-up
    latencies = []
    for _ in range(calls):
        start = time.perf_counter()
        model.predict(frame)
        latencies.append(time.perf_counter() - start)
    return Row("in-process pyfunc.predict", "-", len(frame), calls, percentile(latencies, 50),
               percentile(latencies, 99), calls / sum(latencies))


def payload(frame: pd.DataFrame) -> str:
    return '{"dataframe_split": ' + frame.to_json(orient="split", index=False) + "}"


def churn_booster(model):
    """(booster, features, categorical) of the churn LightGBM inside ``model`` (a profile or churn)."""
    python_model = model.unwrap_python_model()
    churn = getattr(python_model, "_models", {}).get("churn")
    scorer = (churn.unwrap_python_model() if churn is not None else python_model).scorer
    if getattr(scorer, "kind", "") != "lightgbm":
        return None
    return scorer.booster, scorer.features, scorer.categorical


def raw_lightgbm(model, frame: pd.DataFrame, repeats: int = 3) -> tuple[float, str]:
    """Seconds for raw ``Booster.predict`` on ``frame``; a reference booster when churn chose logistic."""
    from training.core.lgbm import as_lgbm_frame, fit_lgbm

    found = churn_booster(model)
    note = "the churn champion's booster"
    if found is None:
        features = [c for c in ("recency_days", "frequency", "monetary_total", "sessions_90d", "tenure_days",
                                "region", "acquisition_channel", "age_band", "plan") if c in frame.columns]
        categorical = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c])]
        label = frame["churned"].fillna(False).astype(int) if "churned" in frame else (
            pd.Series(np.random.default_rng(0).integers(0, 2, len(frame))))
        half = len(frame) // 2
        booster = fit_lgbm({"num_leaves": 31, "learning_rate": 0.05}, (frame[features][:half], label[:half]),
                           (frame[features][half:], label[half:]), task="binary", categorical=categorical,
                           max_rounds=300)
        found = (booster, features, categorical)
        note = "a reference LightGBM (the champion is the logistic baseline)"
    booster, features, categorical = found
    matrix = as_lgbm_frame(frame[features], categorical)
    best = min(_timed(lambda: booster.predict(matrix)) for _ in range(repeats))
    return best, note


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def demo_store(root: Path, n: int) -> pd.DataFrame:
    """Train churn (2 trials) on synthetic features and build a customer_profile, in ``root``."""
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
    os.environ.setdefault("CRMLAB_DEMO", "1")
    import mlflow

    from serving.profile_model import build_customer_profile
    from training.churn.inputs import synthetic_features, write_features_dir
    from training.churn.train import train_churn
    from training.settings import get_settings

    settings = get_settings()
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.create_experiment(settings.experiment, artifact_location=str(root / "artifacts"))
    frame = synthetic_features(min(max(n, 2000), DEMO_TRAIN_ROWS), seed=0)
    train_churn(write_features_dir(frame, root / "features"), trials=2, promote=True, settings=settings)
    build_customer_profile(settings, sample=frame)
    return frame


def load_features(path: str, n: int) -> pd.DataFrame:
    from serving.batch import FeatureSource

    source = FeatureSource.open(path)
    parts, rows = [], 0
    for _, chunk in source.batches(min(n, 100_000)):
        parts.append(chunk)
        rows += len(chunk)
        if rows >= n:
            break
    return pd.concat(parts, ignore_index=True).head(n)


def markdown(rows: list[Row], batch: list[tuple[str, int, float, str]]) -> str:
    lines = ["| scenario | clients | rows/call | calls | p50 ms | p99 ms | calls/s | rows/s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r.scenario} | {r.clients} | {r.rows_per_call:,} | {r.calls} | {r.p50_ms:.1f} | "
                     f"{r.p99_ms:.1f} | {r.calls_per_s:.1f} | {r.rows_per_s:,.0f} |")
    lines += ["", "| batch | rows | seconds | rows/s | note |", "|---|---:|---:|---:|---|"]
    for name, n, seconds, note in batch:
        lines.append(f"| {name} | {n:,} | {seconds:.3f} | {n / seconds:,.0f} | {note} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="customer_profile", help="registered name (with --alias) or URI")
    parser.add_argument("--alias", default="champion")
    parser.add_argument("--churn-model", default="churn", help="registered churn model for the batch rows")
    parser.add_argument("--features", help="features dir or file (customer_id + the model's features)")
    parser.add_argument("--demo", action="store_true", help="train a small model in a temporary store")
    parser.add_argument("--url", help="an already running server on loopback (default: start one)")
    parser.add_argument("--n", type=int, default=10_000, help="customers for the batch comparison")
    parser.add_argument("--single-calls", type=int, default=64, help="1-row requests per concurrency level")
    parser.add_argument("--big-calls", type=int, default=32, help="1,000-row requests per concurrency level")
    parser.add_argument("--workers", type=int, default=2, help="server workers when the script starts one")
    parser.add_argument("--out", default="bench/results/serving.md")
    args = parser.parse_args()
    if not args.demo and not args.features:
        parser.error("give --features PATH (or --demo)")
    if args.url and urlparse(args.url).hostname not in LOOPBACK:
        parser.error("--url must be a loopback address: this benchmark loads the server it measures")

    with tempfile.TemporaryDirectory() as tmp:
        frame = demo_store(Path(tmp), args.n) if args.demo else load_features(args.features, args.n)
        run(args, frame, Path(tmp))


def run(args: argparse.Namespace, frame: pd.DataFrame, tmp: Path) -> None:
    import mlflow

    from serving.batch import score_batch
    from serving.model_ref import model_uri, resolve_version
    from serving.server import start_server
    from training.settings import get_settings

    settings = get_settings()
    mlflow.set_tracking_uri(settings.tracking_uri)
    name, version = resolve_version(model_uri(args.model, args.alias))
    uri = f"models:/{name}/{version}" if version else name
    model = mlflow.pyfunc.load_model(uri)
    inputs = frame.drop(columns=[c for c in ("churned", "future_spend", "cutoff") if c in frame.columns])
    one, big = inputs.head(1), pd.concat([inputs] * (BIG // len(inputs) + 1), ignore_index=True).head(BIG)
    server = None if args.url else start_server(uri, settings=settings, workers=args.workers,
                                                log_path=tmp / "server.log")
    url = args.url or server.url
    rows: list[Row] = []
    try:
        for sample, calls in ((one, args.single_calls), (big, args.big_calls)):
            body = payload(sample)
            http_level(url, body, len(sample), 1, 2)  # warm-up (each worker loads lazily)
            rows.append(in_process(model, sample, max(5, calls // 4)))
            rows += [http_level(url, body, len(sample), c, max(calls, c)) for c in CLIENTS]
    finally:
        if server is not None:
            server.stop()
    batch_frame = pd.concat([inputs] * (args.n // len(inputs) + 1), ignore_index=True).head(args.n)
    batch_frame["customer_id"] = [f"B{i:08d}" for i in range(len(batch_frame))]
    batch = []
    churn_uri = f"models:/{args.churn_model}@{args.alias}"
    for target in dict.fromkeys([churn_uri, uri]):
        for reasons in (False, True):
            scored = score_batch(target, batch_frame, tmp / "scores.parquet", settings=settings, progress=False,
                                 params={"reasons": reasons})
            what = "validation, calibration, " + ("top_reasons (tree SHAP), " if reasons else "no reasons, ")
            batch.append((f"score_batch {scored.model_name} v{scored.model_version} reasons={str(reasons).lower()}"
                          " -> Parquet", scored.rows_scored, scored.seconds, what + "every component, write"))
    raw_s, note = raw_lightgbm(model, batch_frame)
    batch.append(("raw LightGBM Booster.predict", len(batch_frame), raw_s, note))
    table = markdown(rows, batch)
    header = (f"Serving benchmark, {name} v{version}, {os.cpu_count()} CPU(s), server workers "
              f"{args.workers if server else 'external'}; p50/p99 over the calls listed.\n\n")
    print(header + table)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(header + table + "\n")
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
