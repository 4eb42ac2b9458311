"""Alignment methods: language-mean centering, orthogonal Procrustes, JSD + InfoNCE fine-tuning."""

from __future__ import annotations

from xlalign.align.centering import LanguageCentering
from xlalign.align.procrustes import OrthogonalProcrustes, mean_cosine_distance

__all__ = ["LanguageCentering", "OrthogonalProcrustes", "mean_cosine_distance"]
