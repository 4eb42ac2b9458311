"""The ``Encoder`` protocol the core consumes (models implement it), and L2 normalisation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from xlalign.progress import Progress

Role = Literal["query", "passage"]


ROLES: tuple[str, ...] = ("query", "passage")


@runtime_checkable
class Encoder(Protocol):
    """Anything that embeds texts: ``encode(texts, *, lang, role, progress) -> (n, d) float32``, rows L2-normalised."""

    name: str

    def encode(self, texts: Sequence[str], *, lang: str, role: Role, progress: Progress | None = None) -> np.ndarray: ...


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

