"""The on-disk embedding cache (SQLite), shared by every encoder, process and thread."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import sqlite3
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

from xlalign.errors import XlalignError

T = TypeVar("T")


def default_cache_dir() -> Path:
    """``$XLALIGN_CACHE_DIR``, else ``$XDG_CACHE_HOME/xlalign`` (``~/.cache/xlalign``): models and embeddings."""
    env = os.environ.get("XLALIGN_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "xlalign"


class CacheWarning(UserWarning):
    """The embedding cache was corrupted (moved aside and rebuilt), is read-only (caching off), or its disk is
    full (new embeddings not cached; the cache is kept)."""


class CacheError(XlalignError, ValueError):
    """The cache path holds a database that is not xlalign's: it is refused and never modified."""


#: ``PRAGMA application_id`` of xlalign's cache ("XLAC"), and its schema version (``user_version``).
APPLICATION_ID = 0x584C4143
SCHEMA_VERSION = 1
#: The one table, as (name, type, notnull, pk) per column (``PRAGMA table_info``).
_LAYOUT = [("key", "BLOB", 0, 1), ("vec", "BLOB", 1, 0)]
#: Below this many free bytes on the cache's device, an I/O error is a full disk, not a damaged file.
_LOW_SPACE = 8 * 1024 * 1024

_CORRUPT = ("file is not a database", "malformed", "database corrupt", "not a database")
_FULL = ("database or disk is full", "no space left")


_READ_ONLY = ("readonly", "read-only", "unable to open database", "permission denied", "disk i/o error")


class EmbeddingCache:
    """SQLite store of embeddings keyed by sha256(model fingerprint, prompt, language, text).

    Safe across processes (SQLite locking) and threads (one connection per thread). It heals itself:
    a corrupted file (or one whose table has another layout) is moved aside to ``<name>.corrupt-<time>``
    with a :class:`CacheWarning` naming it and a fresh cache is started; a read-only location turns
    caching off with a warning; a full disk stops caching new embeddings with a warning and keeps the
    cache. A database that is not xlalign's (another application's tables, or another application id) is
    refused with :class:`CacheError` before anything is written to it. A crash mid-write loses at most the
    uncommitted batch.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_cache_dir() / "embeddings.sqlite"
        self.enabled = True
        self.writable = True
        self._local = threading.local()
        self._generation = 0
        self._lock = threading.Lock()
        self._guard(lambda c: None, None)

    # ------------------------------------------------------------------ connections
    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_file() and self.path.stat().st_size > 0:
            self._check_ours()
        conn = sqlite3.connect(self.path, timeout=60)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE IF NOT EXISTS emb (key BLOB PRIMARY KEY, vec BLOB NOT NULL)")
            if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.commit()
        except BaseException:
            conn.close()
            raise
        return conn

    def _check_ours(self) -> None:
        """Refuse a database of another application (read-only look, nothing written); a damaged file, or
        ours with another table layout, raises sqlite3.DatabaseError (moved aside by :meth:`_guard`)."""
        conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=60)
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            tables = sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
            layout = [(r[1], str(r[2]).upper(), r[3], r[5]) for r in conn.execute("PRAGMA table_info(emb)")]
        finally:
            conn.close()
        if app_id == APPLICATION_ID:
            if layout != _LAYOUT:
                raise sqlite3.DatabaseError("malformed embedding cache: its table has another layout")
            return
        if app_id == 0 and (not tables or (tables == ["emb"] and layout == _LAYOUT)):
            return  # empty, or a cache written before xlalign stamped its application id
        what = f"application id {app_id:#x}" if app_id else f"tables {', '.join(tables[:5])}"
        raise CacheError(f"{self.path} is an SQLite database that is not an xlalign embedding cache ({what}); "
                         "xlalign leaves it untouched: choose another --cache-dir (or XLALIGN_CACHE_DIR)")

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "generation", -1) != self._generation:
            if conn is not None:
                conn.close()
            conn = self._connect()
            self._local.conn, self._local.generation = conn, self._generation
        return conn

    def _guard(self, fn: Callable[[sqlite3.Connection], T], default: T) -> T:
        """Run ``fn(conn)``; on corruption heal and retry once, on a read-only location disable caching."""
        for attempt in (0, 1):
            if not self.enabled:
                return default
            try:
                return fn(self._conn())
            except (sqlite3.DatabaseError, OSError) as e:
                message = str(e).lower()
                if self._full(e, message):
                    self._stop_writing(e)
                    return default
                # A truncated file reads as "disk I/O error" (a short read), as does a read-only location.
                corrupt = any(s in message for s in _CORRUPT) or ("disk i/o error" in message and self._writable())
                if corrupt and attempt == 0 and not isinstance(e, PermissionError):
                    self._quarantine(e)
                elif isinstance(e, PermissionError) or any(s in message for s in _READ_ONLY):
                    self._disable(e)
                else:
                    raise
        return default

    def _full(self, error: BaseException, message: str) -> bool:
        """A full disk (SQLITE_FULL, ENOSPC, or an I/O error with next to no space left) is not a damaged cache."""
        if any(s in message for s in _FULL) or getattr(error, "errno", None) == errno.ENOSPC:
            return True
        if "disk i/o error" in message:
            try:
                return shutil.disk_usage(self.path.parent).free < _LOW_SPACE
            except OSError:
                return False
        return False

    def _stop_writing(self, error: BaseException) -> None:
        with self._lock:
            if self.writable:
                self.writable = False
                warnings.warn(f"embedding cache {self.path}: no space left on its disk ({error}); new embeddings "
                              "are not cached until space is freed (the cache is kept)", CacheWarning, stacklevel=4)

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
        if not self.writable:
            return
        rows = [(k, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for k, v in zip(keys, vectors, strict=True)]

        def write(conn: sqlite3.Connection) -> None:
            with conn:
                conn.executemany("INSERT OR REPLACE INTO emb (key, vec) VALUES (?, ?)", rows)

        self._guard(write, None)

    def __len__(self) -> int:
        return int(self._guard(lambda c: c.execute("SELECT COUNT(*) FROM emb").fetchone()[0], 0))

