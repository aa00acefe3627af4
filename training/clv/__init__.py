"""Customer lifetime value: BG/NBD + Gamma-Gamma baseline vs tuned LightGBM, CLV tiers, registry.

Entry points: :func:`training.clv.train.train_from_features` and
:func:`training.clv.train.train_from_transactions`. Importing this package registers the promotion
gate ``GATES["clv"]`` (see :mod:`training.clv.gate`), which ``training.core.promotion.gate_for`` relies on.
"""

from training.clv.gate import register_gate

register_gate()
