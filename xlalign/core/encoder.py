"""The ``Encoder`` protocol the core consumes (models implement it), and L2 normalisation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple, Protocol, runtime_checkable

import numpy as np

from xlalign.progress import Progress

Role = Literal["query", "passage"]


ROLES: tuple[str, ...] = ("query", "passage")
#: How a role is named in progress messages ("encoding zh queries").
ROLE_PLURALS: dict[str, str] = {"query": "queries", "passage": "passages"}


@runtime_checkable
class Encoder(Protocol):
    """Anything that embeds texts: ``encode(texts, *, lang, role, progress) -> (n, d) float32``, rows L2-normalised."""

    name: str

    def encode(self, texts: Sequence[str], *, lang: str, role: Role, progress: Progress | None = None) -> np.ndarray: ...


class EncodeRequest(NamedTuple):
    """One group of texts to embed: all in ``lang``, all in ``role``."""

    texts: Sequence[str]
    lang: str
    role: Role


@runtime_checkable
class ManyEncoder(Protocol):
    """An encoder that takes several (texts, lang, role) groups at once, so that it can order the work
    across all of them (e.g. by length over every language and role of a diagnosis)."""

    name: str

    def encode_many(self, requests: Sequence[EncodeRequest], progress: Progress | None = None) -> list[np.ndarray]:
        """One (n_i, d) float32 array per request, rows L2-normalised, in request order."""
        ...


def encode_requests(encoder: Encoder, requests: Sequence[EncodeRequest],
                    progress: Progress | None = None) -> list[np.ndarray]:
    """``encoder.encode_many`` where the encoder has it, else one ``encode`` call per request."""
    if isinstance(encoder, ManyEncoder):
        return encoder.encode_many(requests, progress=progress)
    return [encoder.encode(r.texts, lang=r.lang, role=r.role, progress=progress) for r in requests]


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

