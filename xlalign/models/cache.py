"""The on-disk embedding cache (SQLite), shared by every encoder, process and thread."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def default_cache_dir() -> Path:
    """``$XLALIGN_CACHE_DIR``, else ``$XDG_CACHE_HOME/xlalign`` (``~/.cache/xlalign``): models and embeddings."""
    env = os.environ.get("XLALIGN_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "xlalign"


class CacheWarning(UserWarning):
    """The embedding cache was corrupted (moved aside and rebuilt) or is read-only (caching off)."""


_CORRUPT = ("file is not a database", "malformed", "database corrupt", "not a database")


_READ_ONLY = ("readonly", "read-only", "unable to open database", "permission denied", "disk i/o error")


class EmbeddingCache:
    """SQLite store of embeddings keyed by sha256(model fingerprint, prompt, language, text).

    Safe across processes (SQLite locking) and threads (one connection per thread). It heals itself:
    a corrupted file is moved aside to ``<name>.corrupt-<time>`` with a :class:`CacheWarning` naming
    it and a fresh cache is started; a read-only location turns caching off with a warning. A crash
    mid-write loses at most the uncommitted batch.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_cache_dir() / "embeddings.sqlite"
        self.enabled = True
        self._local = threading.local()
        self._generation = 0
        self._lock = threading.Lock()
        self._guard(lambda c: None)

    # ------------------------------------------------------------------ connections
    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=60)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE IF NOT EXISTS emb (key BLOB PRIMARY KEY, vec BLOB NOT NULL)")
            conn.commit()
        except BaseException:
            conn.close()
            raise
        return conn

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "generation", -1) != self._generation:
            if conn is not None:
                conn.close()
            conn = self._connect()
            self._local.conn, self._local.generation = conn, self._generation
        return conn

    def _guard(self, fn: Any, default: Any = None) -> Any:
        """Run ``fn(conn)``; on corruption heal and retry once, on a read-only location disable caching."""
        for attempt in (0, 1):
            if not self.enabled:
                return default
            try:
                return fn(self._conn())
            except (sqlite3.DatabaseError, OSError) as e:
                message = str(e).lower()
                # A truncated file reads as "disk I/O error" (a short read), as does a read-only location.
                corrupt = any(s in message for s in _CORRUPT) or ("disk i/o error" in message and self._writable())
                if corrupt and attempt == 0 and not isinstance(e, PermissionError):
                    self._quarantine(e)
                elif isinstance(e, PermissionError) or any(s in message for s in _READ_ONLY):
                    self._disable(e)
                else:
                    raise
        return default

    def _writable(self) -> bool:
        """True when the cache file and its folder may be written (so an I/O error means a damaged file)."""
        return os.access(self.path.parent, os.W_OK) and (not self.path.exists() or os.access(self.path, os.W_OK))

    def _disable(self, error: BaseException) -> None:
        with self._lock:
            if self.enabled:
                self.enabled = False
                warnings.warn(f"embedding cache {self.path} is not writable ({error}); continuing without caching",
                              CacheWarning, stacklevel=4)

    def _quarantine(self, error: BaseException) -> None:
        with self._lock:
            conn = getattr(self._local, "conn", None)
            if conn is not None:
                conn.close()
                self._local.conn = None
            stamp = time.strftime("%Y%m%d-%H%M%S")
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
            n = 1
            while aside.exists():  # never overwrite an earlier copy set aside in the same second
                n += 1
                aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
            if self.path.exists():
                os.replace(self.path, aside)
            for suffix in ("-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            self._generation += 1
            warnings.warn(f"embedding cache {self.path} was corrupted ({error}); moved it to {aside.name} and "
                          "started a new one", CacheWarning, stacklevel=4)

    # ------------------------------------------------------------------ API
    @staticmethod
    def key(fingerprint: str, prompt: str, lang: str, text: str) -> bytes:
        """Length-prefixed sha256 of everything that changes an embedding."""
        h = hashlib.sha256()
        for part in (fingerprint, prompt, lang, text):
            b = part.encode("utf-8")
            h.update(len(b).to_bytes(8, "little"))
            h.update(b)
        return h.digest()

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        def read(conn: sqlite3.Connection) -> dict[bytes, np.ndarray]:
            out: dict[bytes, np.ndarray] = {}
            for i in range(0, len(keys), 500):
                chunk = list(keys[i : i + 500])
                marks = ",".join("?" * len(chunk))
                for k, v in conn.execute(f"SELECT key, vec FROM emb WHERE key IN ({marks})", chunk):
                    out[bytes(k)] = np.frombuffer(v, dtype=np.float32)
            return out

        return self._guard(read, {})

    def put_many(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        rows = [(k, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for k, v in zip(keys, vectors, strict=True)]

        def write(conn: sqlite3.Connection) -> None:
            with conn:
                conn.executemany("INSERT OR REPLACE INTO emb (key, vec) VALUES (?, ?)", rows)

        self._guard(write)

    def __len__(self) -> int:
        return int(self._guard(lambda c: c.execute("SELECT COUNT(*) FROM emb").fetchone()[0], 0))

