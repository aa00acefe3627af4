"""Recommender at scale: training time, single-customer top-10 latency (in-process and served), batch top-10.

Data: a synthetic clean folder (``transactions``, ``products``, ``customers`` in the ``crmlab ingest``
layout) with N customers and P products in 25 categories; five latent segments drive category choice,
as in the generated world. Runs exactly what ``crmlab train recs`` runs (``train_family("recs")``: Optuna on the
validation window, refit, test, plots, registration) in a throw-away SQLite tracking store.

Outside peer, measured in the same run: the ``implicit`` library itself, on the same data and the tuned
ALS parameters: ``AlternatingLeastSquares.fit`` (training), ``model.recommend(user, user_items, N=10)``
(single customer) and the batched ``model.recommend(users, user_items[users], N=10)`` (all customers).
crmlab does more per call (content + popularity blend, tiers, reasons), so the ratios say what that costs.

    python bench/bench_recs.py --customers 100000 --products 5000 --trials 3

Writes a Markdown table to stdout and to --out (default bench/out/recs_<customers>x<products>.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pandas as pd

START = pd.Timestamp("2024-01-01")
CUTOFF = date(2025, 10, 2)
END = pd.Timestamp("2025-12-31")
CATEGORIES = 25
SEGMENTS = 5
WORDS = ("Classic", "Slim", "Organic", "Pro", "Mini", "Deluxe", "Fresh", "Smart", "Eco", "Family")


def synthetic_clean(folder: Path, customers: int, products: int, orders_per_customer: float, seed: int) -> int:
    """Write the three clean tables; returns the number of purchase lines."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    category = np.arange(products) % CATEGORIES
    pids = np.array([f"P{i + 1:06d}" for i in range(products)], dtype=object)
    cat_names = np.array([f"cat{c:02d}" for c in range(CATEGORIES)], dtype=object)
    adjective = rng.integers(len(WORDS), size=products)
    pd.DataFrame({
        "product_id": pids, "category": cat_names[category],
        "product_name": [f"{WORDS[a]} item {i}" for i, a in enumerate(adjective)],
        "description": [f"{WORDS[a].lower()} {cat_names[c]} product in line {i % 40}"
                        for i, (a, c) in enumerate(zip(adjective, category, strict=True))],
        "unit_price": rng.gamma(2.0, 20.0, size=products).round(2) + 0.99,
    }).to_parquet(folder / "products.parquet", index=False)
    segment = rng.integers(SEGMENTS, size=customers)
    cids = np.array([f"C{i + 1:08d}" for i in range(customers)], dtype=object)
    plans = np.array(["basic", "plus", "premium"], dtype=object)
    pd.DataFrame({"customer_id": cids, "plan": plans[(segment + rng.integers(0, 2, customers)) % 3]}
                 ).to_parquet(folder / "customers.parquet", index=False)
    prefs = rng.dirichlet(np.full(CATEGORIES, 0.3), size=SEGMENTS)  # segment -> category mix
    popularity = rng.pareto(1.5, size=products) + 1.0  # within-category product appeal
    counts = rng.poisson(orders_per_customer * rng.gamma(2.0, 0.5, size=customers))
    owner = np.repeat(np.arange(customers), counts)
    cum = np.cumsum(prefs, axis=1)
    chosen_cat = (rng.random(len(owner))[:, None] > cum[segment[owner]]).sum(axis=1).clip(max=CATEGORIES - 1)
    product = np.empty(len(owner), dtype=np.int64)
    for c in range(CATEGORIES):
        members = np.flatnonzero(category == c)
        weights = popularity[members] / popularity[members].sum()
        rows = np.flatnonzero(chosen_cat == c)
        product[rows] = rng.choice(members, size=len(rows), p=weights)
    seconds = rng.integers(0, int((END - START).total_seconds()), size=len(owner))
    pd.DataFrame({
        "transaction_id": [f"T{i:09d}" for i in range(len(owner))],
        "customer_id": cids[owner], "order_ts": START + pd.to_timedelta(seconds, unit="s"),
        "product_id": pids[product], "quantity": 1, "amount": 10.0,
    }).to_parquet(folder / "transactions.parquet", index=False)
    return len(owner)


def _ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(0.99 * (len(ordered) - 1))] * 1000


def run(customers: int, products: int, trials: int, seed: int, calls: int, serve: bool) -> list[dict]:
    import requests

    from training.core.lifecycle import train_family
    from training.recs.fit import fit_als
    from training.recs.pyfunc import RecommenderModel
    from training.settings import get_settings

    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.chdir(home)  # MLflow artifacts (./mlruns) land in the throw-away folder
        started = time.perf_counter()
        lines = synthetic_clean(home / "clean", customers, products, orders_per_customer=10.0, seed=seed)
        rows.append({"case": "generate synthetic clean folder", "seconds": time.perf_counter() - started,
                     "note": f"{customers:,} customers, {products:,} products, {lines:,} purchase lines"})
        settings = get_settings(tracking_uri=f"sqlite:///{home / 'mlflow.db'}", demo=True)
        started = time.perf_counter()
        result = train_family("recs", {"data_dir": str(home / "clean"), "cutoff": CUTOFF.isoformat()},
                              settings=settings, trials=trials, seed=seed, storage=f"sqlite:///{home / 'optuna.db'}")
        train_s = time.perf_counter() - started
        model = result.recommender
        params = result.tuned.params
        started = time.perf_counter()
        fit_als(model.history, params, seed)
        peer_fit_s = time.perf_counter() - started
        rows.append({"case": "crmlab train recs (tune + refit + test + register)", "seconds": train_s,
                     "note": f"{trials} trials; ALS {json.dumps(params.as_dict())}; "
                             f"hybrid p@10 {result.value('hybrid', 'precision'):.4f} vs popularity "
                             f"{result.value('popularity', 'precision'):.4f}"})
        rows.append({"case": "peer: implicit ALS fit, same data and parameters", "seconds": peer_fit_s,
                     "note": f"crmlab training / peer = {train_s / peer_fit_s:.1f}x"})

        pyfunc = RecommenderModel(model)
        ids = model.customers[np.random.default_rng(seed).choice(len(model.customers), size=calls)].to_numpy()
        single = []
        for cid in ids:
            t0 = time.perf_counter()
            pyfunc.predict(None, pd.DataFrame({"customer_id": [cid]}))
            single.append(time.perf_counter() - t0)
        p50, p99 = _ms(single)
        peer = _implicit_model(model, params, seed)
        user_items = model.history.tocsr()
        peer_single = []
        for r in model.rows_of(ids):
            t0 = time.perf_counter()
            peer.recommend(int(r), user_items[int(r)], N=10)
            peer_single.append(time.perf_counter() - t0)
        q50, q99 = _ms(peer_single)
        rows.append({"case": "single customer top-10, in-process pyfunc.predict", "p50_ms": p50, "p99_ms": p99,
                     "note": f"{calls} calls; vs peer p50 {p50 / q50:.1f}x"})
        rows.append({"case": "peer: implicit recommend, one customer", "p50_ms": q50, "p99_ms": q99,
                     "note": "ALS only, no content/popularity/reasons"})
        if serve:
            from serving.server import start_server

            os.environ["MLFLOW_TRACKING_URI"] = settings.tracking_uri
            server = start_server(f"models:/{result.model_name}/{result.version}", settings=settings,
                                  log_path=home / "server.log", workers=1)
            try:
                served = []
                for cid in ids:
                    body = json.dumps({"dataframe_records": [{"customer_id": str(cid)}]}).encode()
                    t0 = time.perf_counter()
                    response = requests.post(f"{server.url}/invocations", data=body,
                                             headers={"Content-Type": "application/json"}, timeout=60)
                    served.append(time.perf_counter() - t0)
                    assert response.status_code == 200, response.text[:500]
                s50, s99 = _ms(served)
                rows.append({"case": "single customer top-10, HTTP /invocations (mlflow models serve)",
                             "p50_ms": s50, "p99_ms": s99,
                             "note": f"{calls} calls, 1 worker; vs in-process {s50 / p50:.1f}x, "
                                     f"vs peer {s50 / q50:.1f}x"})
            finally:
                server.stop()

        all_ids = model.customers.to_numpy()
        started = time.perf_counter()
        out = model.recommend(all_ids, 10)
        batch_reasons = time.perf_counter() - started
        started = time.perf_counter()
        model.top_products(all_ids, 10)
        batch_plain = time.perf_counter() - started
        users = np.arange(len(all_ids))
        started = time.perf_counter()
        peer.recommend(users, user_items[users], N=10)
        peer_batch = time.perf_counter() - started
        rows.append({"case": "batch top-10 all customers, with reasons", "seconds": batch_reasons,
                     "note": f"{len(out):,} rows; vs peer {batch_reasons / peer_batch:.1f}x"})
        rows.append({"case": "batch top-10 all customers, ids only (profile path)", "seconds": batch_plain,
                     "note": f"vs peer {batch_plain / peer_batch:.1f}x"})
        rows.append({"case": "peer: implicit batched recommend, all customers", "seconds": peer_batch,
                     "note": "ALS only"})
    rows.append({"case": "peak RSS", "seconds": None,
                 "note": f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024:.2f} GiB"})
    return rows


def _implicit_model(model, params, seed: int):
    """An ``implicit`` ALS object holding crmlab's fitted factors (the peer recommends from the same model)."""
    from implicit.cpu.als import AlternatingLeastSquares

    peer = AlternatingLeastSquares(factors=params.factors, regularization=params.regularization,
                                   alpha=params.alpha, iterations=params.iterations, random_state=seed)
    peer.user_factors, peer.item_factors = model.user_factors, model.item_factors
    return peer


def markdown(rows: list[dict]) -> str:
    """A Markdown table (no tabulate dependency)."""
    columns = ["case", "seconds", "p50_ms", "p99_ms", "note"]

    def cell(value) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return ""
        return f"{value:.2f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--products", type=int, default=5_000)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-serve", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rows = run(args.customers, args.products, args.trials, args.seed, args.calls, not args.no_serve)
    machine = f"{os.cpu_count()} cores, Python {platform.python_version()}"
    text = (f"{date.today()} | {machine} | {args.customers:,} customers x {args.products:,} products\n\n"
            + markdown(rows))
    print(text)
    out = args.out or Path(__file__).parent / "out" / f"recs_{args.customers}x{args.products}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")


if __name__ == "__main__":
    main()
