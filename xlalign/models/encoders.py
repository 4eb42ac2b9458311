"""Encoders: the ``Encoder`` protocol, a sentence-transformers implementation, the model registry
and the on-disk embedding cache.

Every encoder returns L2-normalised float32 rows, so inner products are cosine similarities.
Encoders are stateless per call: progress is an argument of :meth:`Encoder.encode`, never an
attribute, so one encoder can serve several threads (the model loads once, under a lock).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xlalign.core.encoder import ROLES, Role, l2_normalise
from xlalign.core.loaders import hub_offline
from xlalign.errors import ConfigError, ModelLoadError
from xlalign.models.cache import EmbeddingCache
from xlalign.models.device import gpu_task
from xlalign.models.registry import model_info
from xlalign.progress import Progress, silent
from xlalign.specs import DEFAULT_MODEL_ID, ModelSpec

log = logging.getLogger(__name__)




# --------------------------------------------------------------------------------------------
# Model registry
# --------------------------------------------------------------------------------------------






# --------------------------------------------------------------------------------------------
# Embedding cache
# --------------------------------------------------------------------------------------------








# --------------------------------------------------------------------------------------------
# Cached encoder base
# --------------------------------------------------------------------------------------------


class CachedEncoder:
    """Wraps a model with the embedding cache: only texts never seen are encoded, longest first.

    Subclasses implement :meth:`_encode_uncached`, :attr:`fingerprint` and :attr:`dimension`.
    ``n_model_calls``/``n_texts_encoded`` count, process-wide, the work that reached the model.
    """

    name: str = "encoder"
    chunk_size: int = 512

    def __init__(self, cache: EmbeddingCache | None = None) -> None:
        self.cache = cache
        self.n_model_calls = 0
        self.n_texts_encoded = 0
        self._count_lock = threading.Lock()

    @property
    def fingerprint(self) -> str:
        raise NotImplementedError

    @property
    def dimension(self) -> int:
        raise NotImplementedError

    def prompt_for(self, role: Role) -> str:
        return ""

    def _encode_uncached(self, texts: list[str], prompt: str, lang: str) -> np.ndarray:
        raise NotImplementedError

    def encode(self, texts: Sequence[str], *, lang: str, role: Role, progress: Progress | None = None) -> np.ndarray:
        """(n, d) float32, L2-normalised. Duplicates and cached texts are not re-encoded."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        texts = list(texts)
        bad = next((t for t in texts if not isinstance(t, str)), None)
        if bad is not None:
            raise TypeError(f"texts must be strings, got {type(bad).__name__}")
        prompt = self.prompt_for(role)
        unique = list(dict.fromkeys(texts))
        found: dict[str, np.ndarray] = {}
        keys: dict[str, bytes] = {}
        if self.cache is not None and unique:
            fp = self.fingerprint
            keys = {t: EmbeddingCache.key(fp, prompt, lang, t) for t in unique}
            hit = self.cache.get_many(list(keys.values()))
            found = {t: hit[k] for t, k in keys.items() if k in hit}
        # Longest first: chunks of similar length pad little, and memory peaks early.
        missing = sorted((t for t in unique if t not in found), key=len, reverse=True)
        report = progress or silent
        stage = f"encoding {lang} {role}s"
        if missing:
            report(stage, 0, len(missing))
        for i in range(0, len(missing), self.chunk_size):
            chunk = missing[i : i + self.chunk_size]
            vecs = np.asarray(self._encode_uncached(chunk, prompt, lang), dtype=np.float32)
            if vecs.ndim != 2 or len(vecs) != len(chunk) or not np.isfinite(vecs).all():
                raise RuntimeError(f"{self.name}: the model returned {vecs.shape} non-finite or misshaped embeddings "
                                   f"for {len(chunk)} texts")
            vecs = l2_normalise(vecs)
            with self._count_lock:
                self.n_model_calls += 1
                self.n_texts_encoded += len(chunk)
            if self.cache is not None:
                self.cache.put_many([keys[t] for t in chunk], vecs)
            found.update(zip(chunk, vecs, strict=True))
            report(stage, i + len(chunk), len(missing))
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([found[t] for t in texts]).astype(np.float32, copy=False)


# --------------------------------------------------------------------------------------------
# sentence-transformers
# --------------------------------------------------------------------------------------------
def resolve_model_path(model_id: str, progress: Progress | None = None) -> str:
    """Local directory for the bundled model (converted on first use); otherwise the id/path unchanged."""
    from xlalign.models.bundled import bundled_model_dir, is_bundled_id

    if is_bundled_id(model_id):
        report = progress or silent
        return str(bundled_model_dir(progress=lambda m: report(m)))
    return model_id




def load_sentence_transformer(spec: ModelSpec, *, device: str | None = None, progress: Progress | None = None) -> Any:
    """Load a SentenceTransformer by hub id, local path or ``bundled:`` id, with a clear one-line error.

    Public mode (:mod:`xlalign.policy`) refuses remote code and models outside the allow-list.
    """
    from xlalign.models.device import best_device
    from xlalign.models.registry import check_model

    check_model(spec.model, spec.trust_remote_code)
    info = model_info(spec.model)
    if info is not None and info.needs_remote_code and not spec.trust_remote_code:
        raise ModelLoadError(f"{spec.model} runs code from its repository; opt in with --trust-remote-code "
                             "(trust_remote_code=True)")
    path = resolve_model_path(spec.model, progress)
    local = Path(path).exists()
    offline = hub_offline()
    if not local and offline and _hub_commit(spec.model) is None:
        # Fail at once rather than after the hub client's retries.
        raise ModelLoadError(
            f"could not load model {spec.model!r}: it is not a local path, not in the Hugging Face cache, and the "
            f"Hub is switched off (HF_HUB_OFFLINE=1); offline, use the bundled default {DEFAULT_MODEL_ID}")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # progress goes through xlalign's protocol, not per-shard bars on stderr
    try:
        model = SentenceTransformer(path, device=device or spec.device or best_device(),
                                    trust_remote_code=spec.trust_remote_code, local_files_only=offline and not local)
    except Exception as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        if local:
            raise ModelLoadError(f"could not load model from {path}: {reason}") from None
        raise ModelLoadError(
            f"could not load model {spec.model!r}: {reason}. "
            + ("The Hugging Face Hub is switched off (HF_HUB_OFFLINE=1); " if offline else
               "Check the id, or whether the Hugging Face Hub is reachable; ")
            + f"offline, use the bundled default {DEFAULT_MODEL_ID}") from None
    if spec.max_seq_length is not None:
        limit = model_token_limit(model)
        if limit is not None and spec.max_seq_length > limit:
            raise ConfigError(f"max sequence length {spec.max_seq_length} is above the limit of {spec.model} "
                              f"({limit} tokens); pass at most {limit}, or leave it empty for the model's own limit")
        model.max_seq_length = spec.max_seq_length
    return model


def model_token_limit(model: Any) -> int | None:
    """The most tokens ``model`` (a SentenceTransformer) can read: its position embeddings (less the positions
    RoBERTa-style models reserve for padding), else its tokenizer's limit; None when neither is known. (A saved
    sentence-transformers model's tokenizer limit is its last ``max_seq_length``, not what the model can read.)"""
    try:
        first = model[0]
        config = first.auto_model.config
    except (AttributeError, IndexError, TypeError):
        return None
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        offset = (config.pad_token_id or 0) + 1 if "roberta" in str(getattr(config, "model_type", "")) else 0
        return positions - offset
    limit = getattr(getattr(first, "tokenizer", None), "model_max_length", None)
    return int(limit) if isinstance(limit, int) and 0 < limit < 1_000_000 else None


def directory_fingerprint(path: str | os.PathLike[str]) -> str:
    """Content fingerprint of a model directory, cheap even for GB-sized weights.

    Hashes every small file whole, and every file over 1 MiB by its size plus its first and last
    MiB. A fine-tuned copy therefore gets a new fingerprint; an untouched one keeps it.
    """
    root = Path(path)
    h = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = f.relative_to(root).as_posix()
        if rel.startswith(".") or "/." in rel or rel == "README.md":
            continue
        size = f.stat().st_size
        h.update(f"{rel}\0{size}\0".encode())
        with open(f, "rb") as fh:
            if size <= 1 << 20:
                h.update(fh.read())
            else:
                h.update(fh.read(1 << 20))
                fh.seek(size - (1 << 20))
                h.update(fh.read())
    return h.hexdigest()[:24]


def _hub_commit(model_id: str) -> str | None:
    """Commit hash of a hub model already in the local hub cache, else None."""
    try:
        from huggingface_hub import try_to_load_from_cache

        path = try_to_load_from_cache(model_id, "config.json")
    except Exception:
        return None
    if isinstance(path, str):
        parts = Path(path).parts
        if "snapshots" in parts:
            return parts[parts.index("snapshots") + 1]
    return None


class SentenceTransformerEncoder(CachedEncoder):
    """Any sentence-transformers model described by a :class:`~xlalign.specs.ModelSpec`.

    Prompts come from the registry, else the model's own ``query``/``passage``/``document`` prompts,
    else none. The model loads lazily on the first uncached text, once, under a lock. ``precision``
    ``bf16`` encodes under bf16 autocast; on CUDA the batch size halves on out-of-memory.
    """

    def __init__(self, spec: ModelSpec, *, cache: EmbeddingCache | None = None) -> None:
        super().__init__(cache)
        if not isinstance(spec, ModelSpec):
            raise TypeError(f"expected a ModelSpec, got {type(spec).__name__}")
        self.spec = spec
        self.name = spec.model
        self._model: Any = None
        self._fingerprint: str | None = None
        self._device: str | None = None
        self._batch_size: int | None = spec.batch_size
        self._lock = threading.Lock()

    @property
    def device(self) -> str:
        if self._device is None:
            from xlalign.models.device import best_device

            self._device = self.spec.device or best_device()
        return self._device

    @property
    def precision(self) -> str:
        from xlalign.models.device import resolve_precision

        return resolve_precision(self.spec.precision, self.device)

    @property
    def batch_size(self) -> int:
        if self._batch_size is None:
            self._batch_size = 256 if self.device.startswith("cuda") else 32
        return self._batch_size

    @property
    def model(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = load_sentence_transformer(self.spec, device=self.device)
            return self._model

    def _local_dir(self) -> Path | None:
        path = Path(resolve_model_path(self.spec.model))
        return path if path.is_dir() else None

    @property
    def fingerprint(self) -> str:
        """Model identity for the cache: directory content or hub id + commit, sequence length, precision."""
        if self._fingerprint is None:
            from xlalign.models.registry import check_model

            check_model(self.spec.model, self.spec.trust_remote_code)
            local = self._local_dir()
            if local is not None:
                base = f"dir:{directory_fingerprint(local)}"
            else:
                base = f"hub:{self.spec.model}@{_hub_commit(self.spec.model) or self._load_and_commit()}"
            self._fingerprint = f"{base}|maxlen={self.spec.max_seq_length}|precision={self.precision}"
        return self._fingerprint

    def _load_and_commit(self) -> str:
        _ = self.model  # downloads into the hub cache
        return _hub_commit(self.spec.model) or "unknown-revision"

    def prompt_for(self, role: Role) -> str:
        info = model_info(self.spec.model)
        if info is not None:
            return info.query_prompt if role == "query" else info.passage_prompt
        prompts = self.model_prompts()
        names = ("query",) if role == "query" else ("passage", "document", "corpus")
        return next((prompts[n] for n in names if prompts.get(n)), "")

    def model_prompts(self) -> dict[str, str]:
        """Prompts stored with the model (config_sentence_transformers.json), without loading weights."""
        local = self._local_dir()
        if local is not None:
            cfg = local / "config_sentence_transformers.json"
            if cfg.exists():
                return dict(json.loads(cfg.read_text(encoding="utf-8")).get("prompts") or {})
            return {}
        return dict(getattr(self.model, "prompts", {}) or {})

    @property
    def dimension(self) -> int:
        return int(self.model.get_sentence_embedding_dimension())

    def _encode_uncached(self, texts: list[str], prompt: str, lang: str) -> np.ndarray:
        model, device, precision = self.model, self.device, self.precision
        while True:
            try:
                return st_encode(model, texts, prompt=prompt, batch_size=self.batch_size, device=device,
                                 precision=precision)
            except RuntimeError as e:  # torch.cuda.OutOfMemoryError is a RuntimeError
                if not device.startswith("cuda") or "out of memory" not in str(e).lower() or self.batch_size <= 1:
                    raise
                import torch

                torch.cuda.empty_cache()
                self._batch_size = max(1, self.batch_size // 2)
                log.warning("CUDA out of memory: encode batch size halved to %d", self._batch_size)


@gpu_task(lambda model, texts, **kw: 30 + len(texts) // 50)  # ZeroGPU: seconds reserved per call
def st_encode(model: Any, texts: list[str], *, prompt: str, batch_size: int, device: str, precision: str) -> np.ndarray:
    """The GPU entry point of encoding: one ``SentenceTransformer.encode`` call, L2-normalised, float32."""
    from xlalign.models.device import autocast

    with autocast(device, precision):
        out = model.encode(texts, prompt=prompt or None, batch_size=batch_size, convert_to_tensor=True,
                           normalize_embeddings=True, show_progress_bar=False)
    return out.float().cpu().numpy()


def make_encoder(spec: ModelSpec, *, cache: EmbeddingCache | None = None) -> SentenceTransformerEncoder:
    """The standard encoder for a model spec, with the default embedding cache unless one is given."""
    return SentenceTransformerEncoder(spec, cache=cache if cache is not None else EmbeddingCache())


__all__ = ["CachedEncoder", "SentenceTransformerEncoder", "directory_fingerprint", "load_sentence_transformer",
           "make_encoder", "resolve_model_path"]
