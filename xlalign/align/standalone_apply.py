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

With faiss, the same maps can sit inside the index (``pip install faiss-cpu``; needed only for this):
``t.faiss_index(index, lang, role)`` wraps your index in a ``faiss.IndexPreTransform`` whose chain is a
``LinearTransform`` (y = Aᵀx + b) and an L2 ``NormalizationTransform``. Wrappers of one index share it,
so documents of every language go into one index, each through its own language's wrapper:

    import faiss
    base = faiss.IndexHNSWFlat(t.dimension, 32, faiss.METRIC_INNER_PRODUCT)   # or any index of yours
    for lang, embs in docs_by_lang.items():
        t.faiss_index(base, lang, "passage").add(embs)       # raw model embeddings in
    scores, ids = t.faiss_index(base, query_lang, "query").search(query_embs, 10)

The wrappers do not own ``base``: keep a reference to it for as long as they are used.
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

    def faiss_index(self, index: Any, lang: str, role: str = "passage") -> Any:
        """``index`` wrapped so that what goes in (``add``) or asks (``search``) is ``role`` text in ``lang`` as the
        model embeds it: a ``faiss.IndexPreTransform`` applying this (role, lang) map (see the module docstring)."""
        if (role, lang) not in self.maps:
            raise KeyError(f"no map for role {role!r} and language {lang!r}; this transform knows {self.langs}")
        return faiss_pretransform(index, *self.maps[(role, lang)], self.dimension)


def faiss_pretransform(index: Any, a: np.ndarray | None, b: np.ndarray | None, dimension: int) -> Any:
    """``index`` behind x ↦ normalise(x A + b): a ``faiss.IndexPreTransform`` whose chain is a ``LinearTransform``
    (faiss computes A_f x + b with A_f = Aᵀ, the row-vector A transposed) and an L2 ``NormalizationTransform``.
    Several wrappers may share one ``index`` (they do not own it)."""
    import faiss  # only this function needs faiss

    d = int(dimension)
    linear = faiss.LinearTransform(d, d, True)
    matrix = np.eye(d, dtype=np.float32) if a is None else np.asarray(a, dtype=np.float32).T
    faiss.copy_array_to_vector(np.ascontiguousarray(matrix).ravel(), linear.A)
    faiss.copy_array_to_vector(np.zeros(d, dtype=np.float32) if b is None else np.asarray(b, dtype=np.float32),
                               linear.b)
    linear.is_trained = True
    wrapped = faiss.IndexPreTransform(faiss.NormalizationTransform(d, 2.0), index)
    wrapped.prepend_transform(linear)
    return wrapped


def load(folder: str | Path) -> Transform:
    """Read ``transform.json`` + ``transform.safetensors`` from ``folder``, checked: a file that is not what
    xlalign writes (a tampered ``"langs": "enzh"``, a map of the wrong shape, NaN values) is a ValueError naming
    the file, never a transform that silently leaves embeddings unchanged."""
    folder = Path(folder)
    where = folder / CONFIG_FILE
    try:
        config = json.loads(where.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ValueError(f"{where} cannot be read ({type(e).__name__}: {str(e)[:120]})") from None
    if not isinstance(config, dict) or config.get("kind") != KIND:
        kind = config.get("kind") if isinstance(config, dict) else type(config).__name__
        raise ValueError(f"{where} is not an xlalign language-aware transform (kind: {kind!r})")
    _check_config(config, where)
    try:
        tensors = load_file(str(folder / TENSORS_FILE))
    except Exception as e:  # a missing, truncated or foreign file
        raise ValueError(f"{folder / TENSORS_FILE} cannot be read ({type(e).__name__}: {str(e)[:120]})") from None
    _check_tensors(tensors, config, folder / TENSORS_FILE)
    return Transform(tensors, config)


def _names(value: Any, what: str, where: Path) -> list[str]:
    """A JSON list of distinct non-empty strings (never a string, which would be read letter by letter)."""
    if not isinstance(value, list) or not value or not all(isinstance(x, str) and x.strip() for x in value):
        raise ValueError(f"{where}: {what!r} must be a non-empty list of names, got {value!r:.80}")
    if len(set(value)) != len(value):
        raise ValueError(f"{where}: {what!r} names one twice: {value!r:.80}")
    return value


def _check_config(config: dict[str, Any], where: Path) -> None:
    langs = _names(config.get("langs"), "langs", where)
    roles = _names(config.get("roles"), "roles", where)
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValueError(f"{where}: unknown role(s) {unknown}; roles are {list(ROLES)}")
    dimension = config.get("dimension")
    if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension < 1:
        raise ValueError(f"{where}: 'dimension' must be a positive whole number, got {dimension!r:.40}")
    pivot = config.get("pivot")
    if pivot is not None and pivot not in langs:
        raise ValueError(f"{where}: the pivot {pivot!r:.40} is not one of its languages {langs}")


def _check_tensors(tensors: dict[str, np.ndarray], config: dict[str, Any], where: Path) -> None:
    """Every tensor is a listed (role, language)'s A (d, d) or b (d,), finite."""
    d, expected = int(config["dimension"]), {"A": 2, "b": 1}
    for name, value in tensors.items():
        part, _, key = name.partition(".")
        role, _, lang = key.partition(".")
        if part not in expected or role not in config["roles"] or lang not in config["langs"]:
            raise ValueError(f"{where}: tensor {name!r} is not a map of a listed role and language")
        if value.shape != (d,) * expected[part]:
            raise ValueError(f"{where}: tensor {name!r} has shape {value.shape}, not {(d,) * expected[part]}")
        if not np.isfinite(value).all():
            raise ValueError(f"{where}: tensor {name!r} holds NaN or infinite values")
