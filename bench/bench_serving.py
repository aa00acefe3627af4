"""Serving benchmark: crmlab's served models against a stock ``mlflow.lightgbm`` model, in one run.

The peer: an ``LGBMClassifier`` with the churn champion's number of trees and features (categorical
columns as integer codes, so JSON input works; see STACK-NOTES "Serving against a stock flavor"),
logged with ``mlflow.lightgbm`` and served by the same ``mlflow models serve``, same worker count.
Each server runs alone (one after the other) and is measured the same way:

- single-row ``POST /invocations``, one client, sequential: p50 / p99 latency;
- single-row requests from 32 concurrent clients (threads, loopback): requests/s;
- in this process: ``customer_profile`` single-row ``predict`` with reasons (wall and CPU time);
- batch: ``score_batch`` of N customers with and without ``top_reasons`` vs raw ``Booster.predict`` of
  the churn booster on the same rows (the floor: no validation, calibration, explanations or output);
- reasons: on the first ``--agreement-rows`` batch rows, the default path contributions against exact
  tree SHAP (``reasons_method="shap"``): how often the strongest reason is the same feature, how often
  SHAP's strongest is among the path's three, and each method's time.

Targets (issue 15): churn p50 <= 1.5x stock, customer_profile p50 <= 2.5x stock, churn requests/s at
32 clients >= 0.8x stock, in-process profile row < 10 ms, batch with reasons <= 5x raw predict.

Usage (from the activated venv):

    python bench/bench_serving.py --demo --n 1000000      # self-contained, writes bench/README.md

``--demo`` trains a small churn model (2 trials) on synthetic features in a temporary tracking store
and builds a customer_profile from it; the batch rows are N fresh synthetic customers (no repeats).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

DEMO_TRAIN_ROWS = 20_000
STOCK_NAME = "stock_lightgbm"
LABELS = ("churned", "future_spend", "cutoff")
README = Path(__file__).resolve().parent / "README.md"
START, END = "<!-- bench_serving:start -->", "<!-- bench_serving:end -->"


@dataclass
class Served:
    model: str
    p50_ms: float
    p99_ms: float
    rps_32: float
    p50_32_ms: float
    cpu_ms: float  # server CPU (every process of its group) per single-row request, 1 client


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000.0, q))


def http_level(url: str, body: str, clients: int, calls: int) -> tuple[list[float], float]:
    """``calls`` requests split over ``clients`` threads (each its own kept-alive session): latencies, wall."""
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
    return latencies, wall


def measure_all(uris: dict[str, str], bodies: dict[str, str], args: argparse.Namespace, settings,
                tmp: Path) -> dict[str, Served]:
    """Start every server, then measure them in alternating rounds, so each sees the same background load.

    This machine is shared: a model measured alone for a minute can meet a quiet or a busy minute.
    Interleaving (1 client: one request to each server in turn; 32 clients: short bursts in turn) keeps
    the comparison fair; the server's CPU per request (all its processes) is independent of the load.
    """
    from serving.server import start_server

    servers = {}
    try:
        for i, (name, uri) in enumerate(uris.items()):
            servers[name] = start_server(uri, settings=settings, workers=args.workers, log_path=tmp / f"{i}.log")
        sessions = {name: _session() for name in servers}
        for name, server in servers.items():
            http_level(server.url, bodies[name], args.workers * 2, args.workers * 8)  # warm every worker
        single = {name: [] for name in servers}
        cpu = {name: 0.0 for name in servers}
        for _ in range(args.single_calls):
            for name, server in servers.items():
                before = group_cpu(server.process.pid)
                single[name].append(_post(sessions[name], server.url, bodies[name]))
                cpu[name] += group_cpu(server.process.pid) - before
        crowd = {name: ([], 0.0) for name in servers}
        rounds = 4
        for _ in range(rounds):
            for name, server in servers.items():
                latencies, wall = http_level(server.url, bodies[name], 32, args.crowd_calls // rounds)
                crowd[name] = (crowd[name][0] + latencies, crowd[name][1] + wall)
    finally:
        for server in servers.values():
            server.stop()
    return {name: Served(name, percentile(single[name], 50), percentile(single[name], 99),
                         len(crowd[name][0]) / crowd[name][1], percentile(crowd[name][0], 50),
                         1000.0 * cpu[name] / args.single_calls) for name in uris}


def _session():
    import requests

    return requests.Session()


def _post(session, url: str, body: str) -> float:
    start = time.perf_counter()
    response = session.post(f"{url}/invocations", data=body, headers={"Content-Type": "application/json"},
                            timeout=120)
    elapsed = time.perf_counter() - start
    if response.status_code != 200:
        raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
    return elapsed


def group_cpu(leader: int) -> float:
    """CPU seconds used so far by every process in ``leader``'s process group (uvicorn and its workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == leader:  # pgrp; the server was started in its own session
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def payload(frame: pd.DataFrame) -> str:
    return '{"dataframe_split": ' + frame.to_json(orient="split", index=False) + "}"


def churn_booster(model):
    """(booster, features, categorical) of the churn LightGBM inside ``model`` (a churn pyfunc)."""
    scorer = model.unwrap_python_model().scorer
    if getattr(scorer, "kind", "") != "lightgbm":
        raise SystemExit("the churn champion is the logistic baseline: this benchmark compares LightGBM models")
    return scorer.booster, list(scorer.features), list(scorer.categorical)


def as_codes(frame: pd.DataFrame, features: list[str], categorical: list[str]) -> pd.DataFrame:
    """The features with categorical columns as integer codes (numeric input for the stock model)."""
    out = frame[features].copy()
    for col in categorical:
        out[col] = pd.Categorical(out[col]).codes.astype("int64")
    return out.astype("float64")


def register_stock(frame: pd.DataFrame, booster, features: list[str], categorical: list[str], settings) -> str:
    """The peer: an LGBMClassifier of the churn booster's size, logged with the stock flavor."""
    import lightgbm
    import mlflow

    x = as_codes(frame, features, categorical)
    y = frame["churned"].fillna(False).astype(int)
    stock = lightgbm.LGBMClassifier(n_estimators=booster.num_trees(), num_leaves=31, verbose=-1,
                                    min_child_samples=5).fit(x, y)
    with mlflow.start_run(run_name="bench-stock-lightgbm"):
        mlflow.lightgbm.log_model(stock, name="model", input_example=x.head(3),
                                  registered_model_name=STOCK_NAME)
    assert stock.booster_.num_trees() == booster.num_trees() and stock.n_features_in_ == booster.num_feature()
    return f"models:/{STOCK_NAME}/1"


def in_process_profile(model, row: pd.DataFrame, calls: int) -> tuple[float, float]:
    """(wall p50 ms, CPU p50 ms) of one-row ``predict`` with reasons."""
    model.predict(row)
    wall, cpu = [], []
    for _ in range(calls):
        w, c = time.perf_counter(), time.process_time()
        model.predict(row)
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return percentile(wall, 50), percentile(cpu, 50)


def demo_store(root: Path) -> pd.DataFrame:
    """Train churn (2 trials) on synthetic features and build a customer_profile, in ``root``."""
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
    os.environ.setdefault("CRMLAB_DEMO", "1")
    import mlflow

    from serving.profile_model import build_customer_profile
    from training.churn.train import train_churn
    from training.core.promotion import promote
    from training.settings import get_settings
    from training.world.churn_features import synthetic_features, write_features_dir

    settings = get_settings()
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.create_experiment(settings.experiment, artifact_location=str(root / "artifacts"))
    frame = synthetic_features(DEMO_TRAIN_ROWS, seed=0)
    train_churn(write_features_dir(frame, root / "features"), trials=2, promote=False, settings=settings)
    promote("churn", force=True, settings=settings)  # a benchmark measures speed, not the gate
    build_customer_profile(settings, sample=frame)
    return frame


def batch_rows(n: int) -> pd.DataFrame:
    from training.world.churn_features import synthetic_features

    rows = synthetic_features(n, seed=1).drop(columns=[c for c in LABELS if c != "churned"])
    rows["customer_id"] = [f"B{i:08d}" for i in range(len(rows))]
    return rows


def machine() -> str:
    mem = ""
    try:
        kib = int(next(line for line in Path("/proc/meminfo").read_text().splitlines()
                       if line.startswith("MemTotal")).split()[1])
        mem = f", {kib / 2**20:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{os.cpu_count()} CPU(s){mem}, Python {platform.python_version()}, load average {load:.1f} "
            "at start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo", action="store_true", help="train a small model in a temporary store")
    parser.add_argument("--n", type=int, default=100_000, help="customers for the batch comparison")
    parser.add_argument("--single-calls", type=int, default=200, help="sequential 1-row requests per server")
    parser.add_argument("--crowd-calls", type=int, default=640, help="1-row requests from 32 clients")
    parser.add_argument("--workers", type=int, default=2, help="server workers (every server alike)")
    parser.add_argument("--agreement-rows", type=int, default=10_000,
                        help="batch rows on which path reasons are compared with exact tree SHAP")
    parser.add_argument("--readme", action="store_true", help="write the table into bench/README.md")
    args = parser.parse_args()
    if not args.demo:
        parser.error("only --demo is supported: the stock peer is trained beside a demo churn model")
    with tempfile.TemporaryDirectory() as tmp:
        frame = demo_store(Path(tmp))
        run(args, frame, Path(tmp))


def run(args: argparse.Namespace, frame: pd.DataFrame, tmp: Path) -> None:
    import mlflow

    from serving.batch import score_batch
    from training.core.lgbm import as_lgbm_frame
    from training.core.pyfunc_base import validate_frame
    from training.settings import get_settings

    settings = get_settings()
    mlflow.set_tracking_uri(settings.tracking_uri)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    where = machine()
    churn = mlflow.pyfunc.load_model("models:/churn@champion")
    profile = mlflow.pyfunc.load_model("models:/customer_profile@champion")
    booster, features, categorical = churn_booster(churn)
    stock_uri = register_stock(frame, booster, features, categorical, settings)
    inputs = frame.drop(columns=[c for c in LABELS if c in frame.columns])
    one = inputs.head(1)
    bodies = {"churn": payload(one[features]), "customer_profile": payload(one),
              "stock mlflow.lightgbm": payload(as_codes(one, features, categorical))}
    uris = {"stock mlflow.lightgbm": stock_uri, "churn": "models:/churn@champion",
            "customer_profile": "models:/customer_profile@champion"}
    served = measure_all(uris, bodies, args, settings, tmp)
    wall_ms, cpu_ms = in_process_profile(profile, one, 200)

    rows = batch_rows(args.n)
    matrix = as_lgbm_frame(rows[features], categorical)
    raw = min(_timed(lambda: booster.predict(matrix)) for _ in range(2))
    batch = {}
    for reasons in (False, True):
        result = score_batch("models:/churn@champion", rows, tmp / "scores.parquet", settings=settings,
                             progress=False, params={"reasons": reasons})
        batch[reasons] = result.seconds
    inner = churn.unwrap_python_model()
    agreement = reasons_agreement(inner.scorer, validate_frame(rows.head(args.agreement_rows), inner.spec))
    table = render(served, wall_ms, cpu_ms, raw, batch, args, when, where, booster, agreement)
    print(table)
    if args.readme:
        text = README.read_text()
        if START in text and END in text:
            text = text[:text.index(START)] + START + "\n" + table + "\n" + text[text.index(END):]
        else:
            text += f"\n{START}\n{table}\n{END}\n"
        README.write_text(text)
        print(f"\nwritten to {README}")


@dataclass
class Agreement:
    rows: int
    top1: float         # share of rows whose strongest reason is the same feature
    shap_in_top3: float  # share of rows where SHAP's strongest is among the path's three
    path_s: float
    shap_s: float


def reasons_agreement(scorer, rows: pd.DataFrame) -> Agreement:
    """Path contributions (the default) against exact tree SHAP on the same rows."""
    from training.core.lgbm_contrib import PATH, SHAP

    features = rows[scorer.features]
    start = time.perf_counter()
    path = np.abs(scorer.contributions(features, PATH).to_numpy())
    path_s = time.perf_counter() - start
    start = time.perf_counter()
    shap_top = np.abs(scorer.contributions(features, SHAP).to_numpy()).argmax(axis=1)
    shap_s = time.perf_counter() - start
    top3 = np.argsort(-path, axis=1)[:, :3]
    return Agreement(len(rows), float((path.argmax(axis=1) == shap_top).mean()),
                     float((top3 == shap_top[:, None]).any(axis=1).mean()), path_s, shap_s)


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def render(served: dict[str, Served], wall_ms: float, cpu_ms: float, raw: float, batch: dict[bool, float],
           args: argparse.Namespace, when: str, where: str, booster, agreement: Agreement) -> str:
    stock = served["stock mlflow.lightgbm"]
    lines = [f"## Serving: crmlab vs a stock `mlflow.lightgbm` model ({when}; {where})", "",
             f"`python bench/bench_serving.py --demo --n {args.n} --readme`: churn trained on "
             f"{DEMO_TRAIN_ROWS:,} synthetic rows; the peer has the same {booster.num_trees()} trees and "
             f"{booster.num_feature()} features; every server `mlflow models serve --workers {args.workers}`; "
             f"the servers run side by side and are measured in alternating rounds ({args.single_calls} "
             f"sequential and {args.crowd_calls} concurrent single-row requests each, 32 clients).", "",
             "| model | p50 ms (1 client) | p99 ms | p50 vs stock | server CPU ms/request | "
             "requests/s (32 clients) | vs stock | p50 ms (32 clients) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for s in served.values():
        lines.append(f"| {s.model} | {s.p50_ms:.1f} | {s.p99_ms:.1f} | {s.p50_ms / stock.p50_ms:.2f}x | "
                     f"{s.cpu_ms:.1f} | {s.rps_32:.1f} | {s.rps_32 / stock.rps_32:.2f}x | {s.p50_32_ms:.1f} |")
    churn, profile = served["churn"], served["customer_profile"]
    checks = [
        ("served churn p50 <= 1.5x stock", f"{churn.p50_ms / stock.p50_ms:.2f}x",
         churn.p50_ms <= 1.5 * stock.p50_ms),
        ("served customer_profile p50 <= 2.5x stock", f"{profile.p50_ms / stock.p50_ms:.2f}x",
         profile.p50_ms <= 2.5 * stock.p50_ms),
        ("churn requests/s at 32 clients >= 0.8x stock", f"{churn.rps_32 / stock.rps_32:.2f}x",
         churn.rps_32 >= 0.8 * stock.rps_32),
        ("in-process customer_profile row with reasons < 10 ms", f"{wall_ms:.1f} ms wall ({cpu_ms:.1f} ms CPU)",
         wall_ms < 10),
        (f"batch with reasons <= 5x raw predict ({args.n:,} rows)",
         f"{batch[True]:.1f} s vs {raw:.1f} s = {batch[True] / raw:.1f}x", batch[True] <= 5 * raw),
        (f"(batch without reasons, {args.n:,} rows)", f"{batch[False]:.1f} s = {batch[False] / raw:.1f}x raw",
         None),
    ]
    lines += ["", "| target | measured | met? |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {'-' if ok is None else ('yes' if ok else '**no**')} |"
              for name, value, ok in checks]
    a = agreement
    lines += ["", f"Reasons (default `reasons_method=path`) against exact tree SHAP on {a.rows:,} of the batch "
              f"rows: same strongest reason for {a.top1:.1%}; SHAP's strongest among the path's three for "
              f"{a.shap_in_top3:.1%}. Contributions alone: path {a.path_s:.2f} s, exact SHAP {a.shap_s:.2f} s "
              f"({a.shap_s / a.path_s:.1f}x)."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
