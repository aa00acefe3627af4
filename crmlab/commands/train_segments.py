"""``crmlab train segments``: choose algorithm and K with Optuna, name the segments, register them."""

from __future__ import annotations

import click

from crmlab.commands.options import family_options


@click.command(name="segments")
@click.option("--features", "features_dir", type=click.Path(file_okay=False), required=True,
              help="Features folder (features.parquet + features_meta.json) from `crmlab features`; "
                   "the latest cutoff is segmented.")
@family_options("segments")
def command(features_dir, trials, timeout, model_name, seed, storage, promote) -> None:
    """Segment customers and register the model (alias `challenger`) with personas and stable IDs."""
    from crmlab.commands.options import load_settings
    from training.segments.inputs import SegmentationInputError
    from training.segments.train import train_segments

    settings = load_settings(seed=seed, trials=trials, timeout_s=timeout, optuna_storage=storage)
    try:
        result = train_segments(features_dir, settings=settings, trials=settings.trials,
                                timeout=settings.timeout_s, model_name=model_name, seed=settings.seed,
                                storage=storage, promote=promote)
    except SegmentationInputError as err:
        raise click.ClickException(str(err)) from None
    q = result.quality
    click.echo(f"chosen: {result.config.label()}  silhouette {q.silhouette:.3f}  Davies-Bouldin "
               f"{q.davies_bouldin:.3f}  stability (ARI) {q.stability:.3f}  "
               f"smallest segment {q.min_share:.1%}")
    table = result.profiles[["segment_id", "segment_name", "customers", "share", "revenue_share"]]
    click.echo(table.to_string(index=False, formatters={"share": "{:.1%}".format,
                                                        "revenue_share": "{:.1%}".format}))
    match = result.match
    if match.kept_share == match.kept_share:  # not NaN: a champion was matched
        click.echo(f"IDs vs champion: {match.kept_share:.1%} of customers keep their segment; "
                   f"new {match.new_ids or 'none'}, vanished {match.vanished_ids or 'none'}")
    click.echo(f"registered {result.model_name} v{result.version} as challenger (run {result.run_id})")
    if result.decision is not None:
        click.echo(result.decision.summary())
