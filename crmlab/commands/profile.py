"""``crmlab profile``: register the customer_profile composite from the current champions."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("profile")
@click.option("--alias", default="champion", show_default=True, help="Alias of churn/clv/segments to package.")
@click.option("--model-name", default="customer_profile", show_default=True)
@click.option("--sample", "sample_path", type=click.Path(exists=True, path_type=Path), default=None,
              help="Features (dir or parquet) whose rows become the input example and the gate's check rows.")
@click.option("--rebuild", is_flag=True, help="Register a new version even if the champion packages the same versions.")
def command(alias: str, model_name: str, sample_path: Path | None, rebuild: bool) -> None:
    """Package churn (required), clv and segments at ALIAS into one served model; promote it if it passes."""
    import pandas as pd

    from serving.profile_model import build_customer_profile
    from training.settings import get_settings

    sample = None
    if sample_path is not None:
        path = sample_path / "features.parquet" if sample_path.is_dir() else sample_path
        sample = pd.read_parquet(path).head(500)
    try:
        version = build_customer_profile(get_settings(), model_name=model_name, alias=alias, sample=sample,
                                         rebuild=rebuild)
    except (LookupError, ValueError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"{model_name} v{version.version}: " + ", ".join(
        f"{k}={v}" for k, v in sorted(version.tags.items()) if k.endswith("_version")))
