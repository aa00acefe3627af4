"""Customer segmentation: feature space, clustering search, personas, stable segment IDs, registry.

Entry point: :func:`training.segments.train.train_segments`. Importing this package registers the
promotion gate ``GATES["segments"]`` (see :mod:`training.segments.gate`), which
``training.core.promotion.gate_for`` relies on.
"""

from training.segments.gate import register_gate

register_gate()
