"""Product recommendations: ALS on purchase history, TF-IDF content, popularity, a tuned blend.

Entry point: :func:`training.recs.train.train_recs`. Importing this package registers the promotion
gate ``GATES["recs"]`` (see :mod:`training.recs.gate`), which ``training.core.promotion.gate_for``
relies on.
"""

from training.recs.gate import register_gate

register_gate()
