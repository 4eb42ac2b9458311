"""xlalign: diagnose and fix cross-lingual misalignment and English inclination in multilingual retrievers.

The notebook API (:mod:`xlalign.api`), imported on first use so that ``import xlalign`` stays light::

    xlalign.diagnose(model, data="demo", langs=["en", "zh"])   # → DiagnosisResult (.verdicts, .summary, …)
    xlalign.align(model, "centering", out="runs/c1")            # → AlignmentResult (.compare_table, .finding)
    xlalign.compare("runs/c1", "runs/p1")                       # → ComparisonResult (.side_by_side)
"""

from __future__ import annotations

import importlib
import os as _os
from typing import Any

# OpenMP threads (PyTorch's) sleep when idle instead of spinning: on a CPU shared with other work a spinning
# thread holds a core the others need, and a 2-thread bf16 encode took 3× the CPU time (benchmarks/RESULTS.md,
# "Encoding"). Read when PyTorch loads its OpenMP runtime, so it is set here, before any import of torch; a value
# the user set wins. ONNX Runtime's threads follow it (xlalign.models.onnx_backend).
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

__all__ = ["__version__", "align", "compare", "diagnose"]  # the last three: __getattr__


def __getattr__(name: str) -> Any:
    """``xlalign.diagnose`` / ``align`` / ``compare``: :mod:`xlalign.api`, imported on first use (modules below the
    top layer import this package for ``__version__``, so it must not import the API eagerly)."""
    if name in ("diagnose", "align", "compare"):
        return getattr(importlib.import_module("xlalign.api"), name)
    raise AttributeError(f"module 'xlalign' has no attribute {name!r}")
