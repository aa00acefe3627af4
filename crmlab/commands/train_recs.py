"""``crmlab train recs``: next-product recommendations from purchase history, registered as ``recommender``."""

from __future__ import annotations

import click

from crmlab.commands.options import WholeNumber, family_options


@click.command(name="recs")
@click.option("--data", "data_dir", type=click.Path(file_okay=False), required=True,
              help="Clean data folder from `crmlab ingest` (transactions.parquet; products and customers "
                   "when present).")
@click.option("--cutoff", required=True, help="Train on purchases before this date (YYYY-MM-DD); test on the "
                                              "horizon after it.")
@click.option("--horizon-days", type=WholeNumber(), default=None,
              help="Test (and validation) window in days (default CRMLAB_HORIZON_DAYS).")
@family_options("recommender")
def command(data_dir, cutoff, horizon_days, trials, timeout, model_name, seed, storage, promote) -> None:
    """Tune ALS + content + popularity, test against popularity, register the recommender (alias `challenger`)."""
    from crmlab.commands.options import load_settings
    from training.recs.data import RecsInputError
    from training.recs.train import train_recs

    settings = load_settings(seed=seed, trials=trials, timeout_s=timeout, optuna_storage=storage,
                             **({"horizon_days": horizon_days} if horizon_days is not None else {}))
    try:
        result = train_recs(data_dir, cutoff=cutoff, settings=settings, horizon_days=settings.horizon_days,
                            trials=settings.trials, timeout=settings.timeout_s, model_name=model_name,
                            seed=settings.seed, storage=storage, promote=promote)
    except RecsInputError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"test customers {result.summary['test_customers']:.0f} "
               f"(cold start {result.summary.get('test_customers.cold', 0):.0f})")
    for ranker in ("hybrid", "als", "content", "popularity"):
        values = "  ".join(f"{m}@10 {result.value(ranker, m):.4f}"
                           for m in ("precision", "recall", "map", "ndcg", "coverage"))
        click.echo(f"{ranker:<11} {values}")
    click.echo(f"registered {result.model_name} v{result.version} as challenger (run {result.run_id})")
    if result.decision is not None:
        click.echo(result.decision.summary())
