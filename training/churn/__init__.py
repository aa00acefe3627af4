"""The churn model family: tuned LightGBM vs a logistic baseline, calibrated, explained, registered.

The family object is ``training.churn.family.FAMILY`` (row ``churn`` of ``training.core.families``).
"""
