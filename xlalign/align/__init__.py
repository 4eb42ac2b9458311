"""Alignment methods, one module each, found through one registry (:mod:`xlalign.align.base`):
language-mean centering, language-subspace removal (LSAR), orthogonal Procrustes, and the JSD + InfoNCE
fine-tune. Importing the package registers them, in this (display) order; another method registers
itself with :func:`xlalign.align.base.register`."""

from __future__ import annotations

from xlalign.align.base import AlignSpec, aligner_class, method_names, register
from xlalign.align.centering import CenteringAligner
from xlalign.align.finetune import FinetuneAligner
from xlalign.align.lsar import LsarAligner
from xlalign.align.procrustes import ProcrustesAligner

for _builtin in (CenteringAligner, LsarAligner, ProcrustesAligner, FinetuneAligner):
    register(_builtin)

__all__ = ["AlignSpec", "CenteringAligner", "FinetuneAligner", "LsarAligner", "ProcrustesAligner", "aligner_class",
           "method_names", "register"]
