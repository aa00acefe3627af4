"""Customer segmentation: feature space, clustering search, personas, stable segment IDs, registry.

The family object is ``training.segments.family.FAMILY`` (row ``segments`` of ``training.core.families``).
"""
