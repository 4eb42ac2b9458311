"""xlalign: diagnose and fix cross-lingual misalignment and English inclination in multilingual retrievers."""

from __future__ import annotations

import os as _os

# OpenMP threads (PyTorch's) sleep when idle instead of spinning: on a CPU shared with other work a spinning
# thread holds a core the others need, and a 2-thread bf16 encode took 3× the CPU time (benchmarks/RESULTS.md,
# "Encoding"). Read when PyTorch loads its OpenMP runtime, so it is set here, before any import of torch; a value
# the user set wins. ONNX Runtime's threads follow it (xlalign.models.onnx_backend).
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
