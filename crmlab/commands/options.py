"""Options shared by several commands, declared once."""

from __future__ import annotations

import click

seed_option = click.option("--seed", type=int, default=None, help="Random seed (default: CRMLAB_SEED or 42).")
demo_option = click.option(
    "--demo", is_flag=True, default=None,
    help="Demo mode: use the public demo PII key (generated data only). Same as CRMLAB_DEMO=1.",
)
