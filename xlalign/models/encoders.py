"""Encoders: the cached base of xlalign's encoders and the sentence-transformers implementation
(both implement :class:`xlalign.core.encoder.Encoder`).

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
from collections.abc import Iterator, MutableMapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from xlalign.core.encoder import ROLE_PLURALS, ROLES, EmbeddingStore, EncodeRequest, Role, l2_normalise
from xlalign.core.loaders import hub_offline
from xlalign.errors import ConfigError, ModelLoadError
from xlalign.models.cache import EmbeddingCache
from xlalign.models.device import gpu_task, on_zero_gpu
from xlalign.models.registry import model_info
from xlalign.progress import Progress, silent
from xlalign.specs import DEFAULT_MODEL_ID, ModelSpec

log = logging.getLogger(__name__)


class CachedEncoder:
    """Wraps a model with the embedding cache: only texts never seen are encoded, longest first.

    Subclasses implement :meth:`_encode_uncached` (or, to order the work themselves,
    :meth:`_encode_pieces`), :attr:`fingerprint` and :attr:`dimension`.
    ``n_model_calls``/``n_texts_encoded`` count, process-wide, the work that reached the model.
    """

    name: str = "encoder"
    chunk_size: int = 512

    def __init__(self, cache: EmbeddingStore | None = None) -> None:
        self.cache: EmbeddingStore | None = cache
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

    def _encode_pieces(self, items: list[Item]) -> Iterator[tuple[list[int], np.ndarray]]:
        """Encode ``items`` ((prompt, lang, text), all distinct), yielding (positions, vectors) as they come.

        Here: per (prompt, language), longest text first, in chunks of :attr:`chunk_size` through
        :meth:`_encode_uncached`. Subclasses may order the whole list at once.
        """
        groups: dict[tuple[str, str], list[int]] = {}
        for i, (prompt, lang, _) in enumerate(items):
            groups.setdefault((prompt, lang), []).append(i)
        for (prompt, lang), idx in groups.items():
            idx = sorted(idx, key=lambda i: len(items[i][2]), reverse=True)  # chunks of similar length pad little
            for k in range(0, len(idx), self.chunk_size):
                chunk = idx[k : k + self.chunk_size]
                yield chunk, self._encode_uncached([items[i][2] for i in chunk], prompt, lang)

    def encode(self, texts: Sequence[str], *, lang: str, role: Role, progress: Progress | None = None) -> np.ndarray:
        """(n, d) float32, L2-normalised. Duplicates and cached texts are not re-encoded."""
        return self.encode_many([EncodeRequest(texts, lang, role)], progress=progress)[0]

    def encode_many(self, requests: Sequence[EncodeRequest], progress: Progress | None = None) -> list[np.ndarray]:
        """One (n_i, d) float32 array per request, L2-normalised; the texts missing from the cache, over all
        requests, are encoded as one list (so an encoder can order them by length across languages and
        roles). Progress moves per piece of work that reaches the model; each piece is cached at once."""
        requests = [_checked_request(r) for r in requests]
        items = [(self.prompt_for(r.role), r.lang, t) for r in requests for t in r.texts]
        unique = list(dict.fromkeys(items))
        found: dict[Item, np.ndarray] = {}
        keys: dict[Item, bytes] = {}
        if self.cache is not None and unique:
            fp = self.fingerprint
            keys = {it: EmbeddingCache.key(fp, *it) for it in unique}
            hit = self.cache.get_many(list(keys.values()))
            found = {it: hit[k] for it, k in keys.items() if k in hit}
        missing = [it for it in unique if it not in found]
        log.debug("%s: %d distinct texts, %d from the embedding cache, %d to encode", self.name, len(unique),
                  len(found), len(missing))
        report = progress or silent
        stage = _stage(requests)
        if missing:
            report(stage, 0, len(missing))
        done = 0
        for positions, raw in self._encode_pieces(missing):
            vecs = np.asarray(raw, dtype=np.float32)
            if vecs.ndim != 2 or len(vecs) != len(positions) or not np.isfinite(vecs).all():
                raise RuntimeError(f"{self.name}: the model returned {vecs.shape} non-finite or misshaped embeddings "
                                   f"for {len(positions)} texts")
            vecs = l2_normalise(vecs)
            chunk = [missing[i] for i in positions]
            with self._count_lock:
                self.n_model_calls += 1
                self.n_texts_encoded += len(chunk)
            if self.cache is not None:
                self.cache.put_many([keys[it] for it in chunk], vecs)
            found.update(zip(chunk, vecs, strict=True))
            done += len(chunk)
            report(stage, done, len(missing))
        if len(found) < len(unique):
            raise RuntimeError(f"{self.name}: {len(unique) - len(found)} texts were not encoded")
        out, pos = [], 0
        for r in requests:
            n = len(r.texts)
            rows = [found[it] for it in items[pos : pos + n]]
            pos += n
            out.append(np.stack(rows).astype(np.float32, copy=False) if rows
                       else np.zeros((0, self.dimension), dtype=np.float32))
        return out


#: One text to encode: (prompt, language, text).
Item = tuple[str, str, str]


def _checked_request(r: EncodeRequest | tuple[Sequence[str], str, str]) -> EncodeRequest:
    texts, lang, role = r
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    texts = list(texts)
    bad = next((t for t in texts if not isinstance(t, str)), None)
    if bad is not None:
        raise TypeError(f"texts must be strings, got {type(bad).__name__}")
    return EncodeRequest(texts, lang, role)


def _stage(requests: Sequence[EncodeRequest]) -> str:
    """The progress label: "encoding zh queries", or "encoding en, zh passages and queries" for several."""
    langs = list(dict.fromkeys(r.lang for r in requests))
    roles = " and ".join(ROLE_PLURALS[x] for x in dict.fromkeys(r.role for r in requests))
    where = ", ".join(langs) if len(langs) <= 4 else f"{len(langs)} languages"
    return f"encoding {where} {roles}"


# --------------------------------------------------------------------------------------------
# sentence-transformers
# --------------------------------------------------------------------------------------------
def resolve_model_path(model_id: str, progress: Progress | None = None) -> str:
    """Local directory for the bundled model (converted on first use); otherwise the id/path unchanged."""
    from xlalign.models.bundled import bundled_model_dir, is_bundled_id

    if is_bundled_id(model_id):
        report = progress or silent
        return str(bundled_model_dir(notify=lambda m: report(m)))
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

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # progress goes through xlalign's protocol, not per-shard bars on stderr
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

    def __init__(self, spec: ModelSpec, *, cache: EmbeddingStore | None = None) -> None:
        super().__init__(cache)
        if not isinstance(spec, ModelSpec):
            raise TypeError(f"expected a ModelSpec, got {type(spec).__name__}")
        self.spec = spec
        self.name = spec.model
        self._model: Any = None
        self._fingerprint: str | None = None
        self._device: str | None = None
        self._batch_size: int | None = spec.batch_size
        self._bf16_mode: str | None = None  # "none", "weights" or "autocast", set when the model is prepared
        self._backend: str | None = None  # "torch" or "onnx" (see use_onnx), set when the model is prepared
        self._onnx: Any = None
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
            self._batch_size = 256 if self.device.startswith("cuda") else CPU_MAX_ROWS
        return self._batch_size

    @property
    def chunk_size(self) -> int:  # type: ignore[override]
        """Texts per model call, and so per progress report (and per chance to cancel): one batch; under
        ZeroGPU, where each call reserves a GPU, at least 512."""
        from xlalign.models.device import on_zero_gpu

        return max(512, self.batch_size) if on_zero_gpu() else self.batch_size

    @property
    def model(self) -> Any:
        with self._lock:
            if self._model is None:
                if self.device == "cpu":
                    from xlalign.models.device import configure_cpu_threads

                    configure_cpu_threads()
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
            # bf16 on a CPU runs with bf16 weights (see bf16_weights), not autocast: other numbers, another key.
            path = "-cpu" if self.precision == "bf16" and self.device == "cpu" else ""
            self._fingerprint = f"{base}|maxlen={self.spec.max_seq_length}|precision={self.precision}{path}"
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
        items = [(prompt, lang, t) for t in texts]
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for positions, vecs in self._encode_pieces(items):
            out[positions] = vecs
        return out

    def _encode_pieces(self, items: list[Item]) -> Iterator[tuple[list[int], np.ndarray]]:
        """Every text of the request list ordered by token length at once (all languages and roles), cut into
        batches of at most :attr:`batch_tokens` padded tokens (and :attr:`batch_size` texts), each padded to its
        longest text; one model call per batch (per :attr:`chunk_size` texts on ZeroGPU, where each call
        reserves the GPU). Nothing to encode: the model is not loaded."""
        if not items:
            return
        model, device = self.prepared_model, self.device
        zero = on_zero_gpu()
        plan = plan_batches(model, items, self.chunk_size if zero else self.batch_size, None if zero else self.batch_tokens)
        for prompt, chunk in plan.batches:
            texts = [items[i][2] if prompt is not None else items[i][0] + items[i][2] for i in chunk]
            yield chunk, self._call_model(model, texts, prompt or "", device, plan.pad_multiple)

    @property
    def batch_tokens(self) -> int | None:
        """Padded tokens per batch (rows × longest row): :data:`CPU_BATCH_TOKENS` on a CPU; None (count only)
        elsewhere."""
        return CPU_BATCH_TOKENS if self.device == "cpu" else None

    def _call_model(self, model: Any, texts: list[str], prompt: str, device: str, pad_multiple: int | None) -> np.ndarray:
        if self._onnx is not None:
            from xlalign.models.onnx_backend import ort_encode

            return ort_encode(model, self._onnx, texts, prompt)
        while True:
            try:
                return st_encode(model, texts, prompt=prompt, batch_size=min(len(texts), self.batch_size),
                                 device=device, precision=self.precision,
                                 autocast_bf16=self._bf16_mode == "autocast", pad_multiple=pad_multiple)
            except RuntimeError as e:  # torch.cuda.OutOfMemoryError is a RuntimeError
                if not device.startswith("cuda") or "out of memory" not in str(e).lower() or self.batch_size <= 1:
                    raise
                import torch

                torch.cuda.empty_cache()
                self._batch_size = max(1, self.batch_size // 2)
                log.warning("CUDA out of memory: encode batch size halved to %d", self._batch_size)

    @property
    def prepared_model(self) -> Any:
        """The model ready for this encoder's precision and backend (on a CPU in bf16: see :func:`bf16_weights`;
        in fp32 through ONNX Runtime when ``XLALIGN_BACKEND=onnx`` asks for it: see :func:`use_onnx`)."""
        model = self.model
        with self._lock:
            if self._bf16_mode is None:
                self._bf16_mode = "none"
                if self.precision == "bf16":
                    weights = self.device == "cpu" and bf16_weights(model)
                    self._bf16_mode = "weights" if weights else "autocast"
            if self._backend is None:
                self._backend = "onnx" if use_onnx(model, self.device, self.precision) else "torch"
            if self._backend == "onnx" and self._onnx is None:
                self._onnx = self._load_onnx(model)
        return model

    def _load_onnx(self, model: Any) -> Any:
        """The exported graph of this model (exported on first use, once per fingerprint); None, with a warning,
        where the export fails (the PyTorch path then serves)."""
        from xlalign.models.device import configure_cpu_threads
        from xlalign.models.onnx_backend import onnx_transformer

        try:
            return onnx_transformer(model, self.fingerprint, configure_cpu_threads())
        except Exception as e:  # an exporter or optimiser limit: never worse than PyTorch
            log.warning("ONNX Runtime backend unavailable for %s (%s: %s); encoding with PyTorch", self.name,
                        type(e).__name__, str(e).splitlines()[0] if str(e) else "")
            self._backend = "torch"
            return None


#: The encode backends ``XLALIGN_BACKEND`` chooses between. ``torch`` (the default) serves every precision;
#: ``onnx`` encodes fp32 on a CPU through ONNX Runtime where it is installed and the model's layout is supported.
#: ONNX Runtime is opt-in because it did not win here: at equal batching it was 1.03–1.11× PyTorch's fp32 per CPU
#: second and no faster per wall second, while its graph costs a one-off export (~3 min, 470 MB for the bundled
#: model) per fingerprint (benchmarks/RESULTS.md, "Encoding"). bf16 always stays PyTorch (ONNX Runtime's CPU
#: provider has no bf16 matrix products).
BACKENDS = ("torch", "onnx")


def requested_backend() -> str:
    """``XLALIGN_BACKEND`` (``torch`` when unset); another value is a one-line error."""
    value = os.environ.get("XLALIGN_BACKEND", "").strip().lower() or "torch"
    if value not in BACKENDS:
        from xlalign.errors import ConfigError

        raise ConfigError(f"XLALIGN_BACKEND must be one of {', '.join(BACKENDS)}, got {value!r}")
    return value


def use_onnx(model: Any, device: str, precision: str) -> bool:
    """Whether this model should encode through ONNX Runtime here (``XLALIGN_BACKEND=onnx``, fp32 on a CPU)."""
    if requested_backend() != "onnx" or device != "cpu" or precision != "fp32":
        return False
    from xlalign.models.onnx_backend import ort_available, supports_onnx

    return ort_available() and supports_onnx(model) and all(getattr(m, "include_prompt", True) for m in _modules(model))


#: Padded sequence lengths are rounded up to a multiple of this many tokens on GPUs (fewer distinct kernel
#: shapes); on a CPU a batch is padded to its longest text only (kernel creation is cheap there: RESULTS.md).
PAD_MULTIPLE = 8
#: Padded tokens per CPU batch (rows × longest row), chosen by measurement (benchmarks/RESULTS.md, "Encoding"):
#: enough rows that every matrix product is large, few enough that activations stay in cache.
CPU_BATCH_TOKENS = 2048
#: Texts per CPU batch at most when no batch size is set (a bound on many very short texts).
CPU_MAX_ROWS = 512


class BatchPlan(NamedTuple):
    """Batches in order, each (prompt, item positions); prompt None means "already prepended". ``tokens``:
    the real tokens; ``padded_tokens``: what the model computes (each batch padded to its longest, rounded up
    to ``pad_multiple``)."""

    batches: list[tuple[str | None, list[int]]]
    pad_multiple: int | None
    tokens: int
    padded_tokens: int


def plan_batches(model: Any, items: list[Item], batch_size: int, max_tokens: int | None = None) -> BatchPlan:
    """Order ``items`` longest first by token count, over every language and role, and cut batches.

    Where every pooling module pools the prompt tokens too (``include_prompt``, the default), the
    prompt is prepended to the text, exactly as sentence-transformers does, and all items form one
    list; otherwise each prompt is its own list (its prompt length must reach the pooling). Token
    counts come from the model's tokenizer (truncated at ``max_seq_length``), else character counts.
    A batch holds at most ``batch_size`` texts and, with ``max_tokens``, at most that many padded tokens
    (rows × its first, longest, row; always at least one text). Padding: to the batch's longest text on
    a CPU (``max_tokens`` given), else to a multiple of :func:`pad_multiple`.
    """
    texts = [prompt + text for prompt, _, text in items]
    lengths = token_lengths(model, texts)
    pad = None if max_tokens is not None else pad_multiple(model)
    if all(getattr(m, "include_prompt", True) for m in _modules(model)):
        groups: list[tuple[str | None, list[int]]] = [(None, sorted(range(len(items)), key=lambda i: -lengths[i]))]
    else:
        by_prompt: dict[str, list[int]] = {}
        for i in sorted(range(len(items)), key=lambda i: -lengths[i]):
            by_prompt.setdefault(items[i][0], []).append(i)
        groups = [(prompt, idx) for prompt, idx in by_prompt.items()]
    batches: list[tuple[str | None, list[int]]] = []
    padded = 0
    for prompt, order in groups:
        for batch, width in _cut(order, lengths, batch_size, max_tokens, pad or 1):
            batches.append((prompt, batch))
            padded += width * len(batch)
    return BatchPlan(batches, pad, sum(lengths), padded)


#: With a token budget, a batch also ends before a text shorter than this share of its longest: no text in a
#: batch carries more than 15 % padding (a CPU pays little for one more, smaller, batch).
MIN_FILL = 0.85


def _cut(order: list[int], lengths: list[int], rows: int, max_tokens: int | None, multiple: int
         ) -> Iterator[tuple[list[int], int]]:
    """Consecutive batches of ``order`` (longest first): (positions, padded width)."""
    start = 0
    while start < len(order):
        width = -(-max(1, lengths[order[start]]) // multiple) * multiple
        n = min(rows, len(order) - start)
        if max_tokens is not None:
            n = max(1, min(n, max_tokens // width))
            short = next((k for k in range(1, n) if lengths[order[start + k]] < MIN_FILL * width), n)
            n = short
        yield order[start : start + n], width
        start += n


def _modules(model: Any) -> list[Any]:
    try:
        return list(model)
    except TypeError:
        return []


def _transformer(model: Any) -> Any:
    """The model's first module when it is sentence-transformers' ``Transformer`` (HF tokenizer), else None."""
    from sentence_transformers.base.modules import Transformer

    mods = _modules(model)
    return mods[0] if mods and isinstance(mods[0], Transformer) else None


def token_lengths(model: Any, texts: list[str]) -> list[int]:
    """Tokens per text as the model will see them (special tokens included, truncated at max_seq_length)."""
    first = _transformer(model)
    tokenizer = getattr(first, "tokenizer", None)
    if tokenizer is None or not callable(tokenizer) or not texts:
        return [len(t) for t in texts]
    max_len = getattr(model, "max_seq_length", None)
    enc = tokenizer(texts, add_special_tokens=True, truncation=max_len is not None, max_length=max_len,
                    return_attention_mask=False, return_token_type_ids=False)
    return [len(ids) for ids in enc["input_ids"]]


def pad_multiple(model: Any) -> int | None:
    """The multiple to pad batches to: :data:`PAD_MULTIPLE`, or the largest power of two ≥ 8 dividing
    ``max_seq_length`` (a padded batch never exceeds it), or None (no rounding) for other modules."""
    if _transformer(model) is None:
        return None
    max_len = getattr(model, "max_seq_length", None)
    m = PAD_MULTIPLE
    while m >= 8 and max_len is not None and max_len % m:
        m //= 2
    return m if m >= 8 else None


def bf16_weights(model: Any) -> bool:
    """Cast the model's ``Transformer`` module to bf16 in place, and its output features back to fp32.

    On CPUs this is faster than bf16 autocast: autocast keeps fp32 weights and activations and converts
    them around every matrix product (measured in benchmarks/RESULTS.md). Pooling, any dense layer and
    the normalisation stay fp32, which is where a pure bf16 model loses most accuracy (a mean over
    hundreds of bf16 token vectors). Returns False (nothing changed) for other model layouts.
    """
    first = _transformer(model)
    if first is None or len(_modules(model)) < 2:
        return False
    if getattr(first, "_xlalign_bf16", False):
        return True  # already prepared (another encoder shares this model object)
    import torch

    def to_fp32(module: Any, args: Any, out: Any) -> Any:
        # In place: the features are a dict or a tokenizer's BatchEncoding (a mapping that is not a dict).
        if isinstance(out, MutableMapping):
            for k, v in list(out.items()):
                if torch.is_tensor(v) and v.is_floating_point() and v.dtype != torch.float32:
                    out[k] = v.float()
        return out

    first.to(torch.bfloat16)
    first.register_forward_hook(to_fp32)
    first._xlalign_bf16 = True
    return True


@gpu_task(lambda model, texts, **kw: 30 + len(texts) // 50)  # ZeroGPU: seconds reserved per call
def st_encode(model: Any, texts: list[str], *, prompt: str, batch_size: int, device: str, precision: str,
              autocast_bf16: bool = True, pad_multiple: int | None = None) -> np.ndarray:
    """The GPU entry point of encoding: one ``SentenceTransformer.encode`` call, L2-normalised, float32.

    ``autocast_bf16``: under bf16, run in bf16 autocast (False: the model's weights are already bf16).
    ``pad_multiple``: pad each batch to a multiple of this many tokens (fewer distinct kernel shapes).
    """
    from xlalign.models.device import autocast

    kwargs: dict[str, Any] = {}
    if pad_multiple:
        kwargs["processing_kwargs"] = {"text": {"pad_to_multiple_of": pad_multiple}}
    with autocast(device, precision if autocast_bf16 else "fp32"):
        out = model.encode(texts, prompt=prompt or None, batch_size=batch_size, convert_to_tensor=True,
                           normalize_embeddings=True, show_progress_bar=False, **kwargs)
    vectors: np.ndarray = out.float().cpu().numpy()
    return vectors


__all__ = ["CachedEncoder", "SentenceTransformerEncoder", "directory_fingerprint", "load_sentence_transformer",
           "resolve_model_path"]
