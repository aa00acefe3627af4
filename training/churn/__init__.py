"""The churn model family: tuned LightGBM vs a logistic baseline, calibrated, explained, registered.

Entry point: ``training.churn.train.train_churn``. Importing this package registers the churn gate
(``GATES["churn"]``, see :mod:`training.churn.gate`), which ``training.core.promotion.gate_for`` uses.
"""

from training.churn import gate as _gate  # noqa: F401  (registers GATES["churn"])
