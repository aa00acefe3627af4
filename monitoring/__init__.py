"""Model monitoring: drift, calibration and estimated performance of registered champions.

Entry point: :func:`monitoring.run.run_monitor`. Importing this package sets the privacy and threading
switches before Evidently or NumPy's BLAS load: ``DO_NOT_TRACK=1`` (Evidently phones home otherwise)
and single-threaded OpenBLAS (Evidently's drift code is 2-3x slower with BLAS threads on small hosts).
"""

from __future__ import annotations

import os

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
