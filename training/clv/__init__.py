"""Customer lifetime value: BG/NBD + Gamma-Gamma baseline vs tuned LightGBM, CLV tiers, registry.

The family object is ``training.clv.family.FAMILY`` (row ``clv`` of ``training.core.families``).
"""
