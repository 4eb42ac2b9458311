"""The encoder contracts the layers above consume (models implement them), and L2 normalisation.

* :class:`TextEncoder`: the least an evaluation needs (texts in, unit rows out).
* :class:`ManyEncoder`: one that also takes several (texts, lang, role) groups at once.
* :class:`Encoder`: what xlalign's encoders offer and their callers use: identity (``fingerprint``,
  ``dimension``, ``prompt_for``), the embedding cache they read and fill, and the work counters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple, Protocol, runtime_checkable

import numpy as np

from xlalign.progress import Progress

Role = Literal["query", "passage"]


ROLES: tuple[Role, ...] = ("query", "passage")
#: How a role is named in progress messages ("encoding zh queries").
ROLE_PLURALS: dict[str, str] = {"query": "queries", "passage": "passages"}


class TextEncoder(Protocol):
    """Anything that embeds texts: ``encode(texts, *, lang, role, progress) -> (n, d) float32``, rows L2-normalised."""

    name: str

    def encode(self, texts: Sequence[str], *, lang: str, role: Role, progress: Progress | None = None) -> np.ndarray: ...


class EncodeRequest(NamedTuple):
    """One group of texts to embed: all in ``lang``, all in ``role``."""

    texts: Sequence[str]
    lang: str
    role: Role


@runtime_checkable
class ManyEncoder(TextEncoder, Protocol):
    """An encoder that takes several (texts, lang, role) groups at once, so that it can order the work
    across all of them (e.g. by length over every language and role of a diagnosis)."""

    def encode_many(self, requests: Sequence[EncodeRequest], progress: Progress | None = None) -> list[np.ndarray]:
        """One (n_i, d) float32 array per request, rows L2-normalised, in request order."""
        ...


class EmbeddingStore(Protocol):
    """An encoder's embedding cache: vectors by key (``xlalign.models.cache.EmbeddingCache``)."""

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """The vectors found, by key (missing keys are absent)."""
        ...

    def put_many(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        """Store one row of ``vectors`` per key."""
        ...


class Encoder(ManyEncoder, Protocol):
    """What xlalign's encoders offer and their callers use (run records, alignment fits, the app).

    Not runtime-checkable on purpose: ``fingerprint`` and ``dimension`` may load a model or hash its
    files, and ``isinstance`` against a protocol reads every member.
    """

    #: The embedding cache it reads and fills (None: no caching).
    cache: EmbeddingStore | None
    #: Process-wide work that reached the model: calls, and texts encoded (cache hits excluded).
    n_model_calls: int
    n_texts_encoded: int

    @property
    def fingerprint(self) -> str:
        """The model's identity for the cache and run records (content, sequence length, precision)."""
        ...

    @property
    def dimension(self) -> int:
        """Width of the embeddings."""
        ...

    def prompt_for(self, role: Role) -> str:
        """The prompt prepended to texts of ``role`` ("" for none)."""
        ...


def encode_requests(encoder: TextEncoder, requests: Sequence[EncodeRequest],
                    progress: Progress | None = None) -> list[np.ndarray]:
    """``encoder.encode_many`` where the encoder has it, else one ``encode`` call per request."""
    if isinstance(encoder, ManyEncoder):
        return encoder.encode_many(requests, progress=progress)
    return [encoder.encode(r.texts, lang=r.lang, role=r.role, progress=progress) for r in requests]


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms: np.ndarray = np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return np.asarray(x / norms)
