"""xlalign: diagnose and fix cross-lingual misalignment and English inclination in multilingual retrievers."""

from __future__ import annotations

__version__ = "0.1.0"
