"""Product recommendations: ALS on purchase history, TF-IDF content, popularity, a blend tuned on validation.

The family object is ``training.recs.family.FAMILY`` (row ``recs`` of ``training.core.families``).
"""
