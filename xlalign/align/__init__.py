"""Alignment methods, one module each, found through one registry (:mod:`xlalign.align.base`):
language-mean centering, language-subspace removal (LSAR), orthogonal Procrustes, and the JSD + InfoNCE
fine-tune. Importing the package registers them, in this (display) order; another method registers
itself with :func:`xlalign.align.base.register`."""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

from xlalign.align.base import AlignSpec, aligner_class, method_names, register
from xlalign.align.centering import CenteringAligner
from xlalign.align.finetune import FinetuneAligner
from xlalign.align.lsar import LsarAligner
from xlalign.align.procrustes import ProcrustesAligner

for _builtin in (CenteringAligner, LsarAligner, ProcrustesAligner, FinetuneAligner):
    register(_builtin)

__all__ = ["AlignSpec", "CenteringAligner", "FinetuneAligner", "LsarAligner", "ProcrustesAligner", "aligner_class",
           "method_names", "register"]


class _CallablePackage(types.ModuleType):
    """``xlalign.align`` is this package *and* the notebook API's ``align(...)`` (:func:`xlalign.api.align`): once
    the package is imported, ``xlalign.align`` names the package, so calling it must reach the API function. The
    API sits in the top layer; it is looked up by name at call time, never imported here."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return importlib.import_module("xlalign.api").align(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
