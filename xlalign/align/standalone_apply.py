"""Apply an exported xlalign language-aware alignment to embeddings: numpy + safetensors only.

This file is self-contained (copy it next to your index code; it does not need xlalign). The folder
it reads holds ``transform.safetensors`` (float32 tensors ``A.<role>.<lang>`` (d, d) and
``b.<role>.<lang>`` (d,), each optional) and ``transform.json`` (kind, method, langs, roles,
dimension, pivot, created_by); every listed (role, lang) pair has a map. For an embedding x of
role ρ in language l:

    apply(x, l, ρ) = normalise(x A_{ρ,l} + b_{ρ,l})      (A absent = identity, b absent = 0)

The maps are language-aware, so every text's language must be known. In a retrieval index:

    import xlalign_apply

    t = xlalign_apply.load("path/to/export")
    # indexing: a document's language is known when it is indexed
    doc_embs = model.encode(docs, prompt_name="passage", normalize_embeddings=True)
    index.add(t.apply(doc_embs, doc_lang, "passage"))
    # query time: the query language comes from the UI locale or a language-ID model
    query_emb = model.encode(query, prompt_name="query", normalize_embeddings=True)
    hits = index.search(t.apply(query_emb, query_lang, "query"))

Embeddings go in as the base model produces them, L2-normalised; they come out float32 and
L2-normalised, so cosine and dot-product scores agree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file

KIND = "xlalign.LanguageAwareTransform"
TENSORS_FILE = "transform.safetensors"
CONFIG_FILE = "transform.json"
ROLES = ("query", "passage")  # xlalign.core.encoder.ROLES, repeated: this file runs without xlalign


def affine_normalise(x: np.ndarray, a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray:
    """normalise(x A + b) in float64, returned as float32; x is (n, d) or (d,) (shape preserved)."""
    x = np.asarray(x, dtype=np.float64)
    single = x.ndim == 1
    rows = x[None, :] if single else x
    if a is not None:
        rows = rows @ np.asarray(a, dtype=np.float64)
    if b is not None:
        rows = rows + np.asarray(b, dtype=np.float64)
    out = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    result: np.ndarray = (out[0] if single else out).astype(np.float32)
    return result


class Transform:
    """Per-(role, language) affine maps read from an exported folder; see the module docstring."""

    def __init__(self, tensors: dict[str, np.ndarray], config: dict[str, Any]) -> None:
        self.config = config
        self.dimension = int(config["dimension"])
        self.method = str(config.get("method", ""))
        self.pivot = config.get("pivot")
        self.maps: dict[tuple[str, str], tuple[np.ndarray | None, np.ndarray | None]] = {}
        self.langs: list[str] = sorted(config["langs"])
        self.roles: list[str] = sorted(config["roles"])
        for role in self.roles:
            for lang in self.langs:  # every (role, lang) has a map; absent tensors mean identity / zero
                self.maps[(role, lang)] = (tensors.get(f"A.{role}.{lang}"), tensors.get(f"b.{role}.{lang}"))

    def apply(self, embeddings: np.ndarray, lang: str, role: str = "passage") -> np.ndarray:
        """(n, d) or (d,) embeddings of ``role`` texts in ``lang`` → aligned, L2-normalised float32."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        if (role, lang) not in self.maps:
            if role not in self.roles:
                raise KeyError(f"this transform has no {role!r} maps; roles: {self.roles}")
            raise KeyError(f"unknown language {lang!r}; this transform knows {self.langs}")
        x = np.asarray(embeddings)
        if x.ndim not in (1, 2) or x.shape[-1] != self.dimension:
            raise ValueError(f"expected (n, {self.dimension}) or ({self.dimension},) embeddings, got {x.shape}")
        return affine_normalise(x, *self.maps[(role, lang)])


def load(folder: str | Path) -> Transform:
    """Read ``transform.json`` + ``transform.safetensors`` from ``folder``."""
    folder = Path(folder)
    config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    if config.get("kind") != KIND:
        raise ValueError(f"{folder / CONFIG_FILE} is not an xlalign language-aware transform (kind: {config.get('kind')!r})")
    return Transform(load_file(str(folder / TENSORS_FILE)), config)
