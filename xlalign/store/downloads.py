"""The download area: where a server writes files for visitors to download (CSV tables, export zips).

One temporary folder per process, created on first use, holding one sub-folder per download. It is
bounded in bytes, not in count (one export zip of a fine-tuned model is hundreds of MB, a CSV a few
kB): :meth:`DownloadArea.trim` removes the oldest downloads until the whole area fits ``max_bytes``,
never the one just written. It is called whenever a download folder is made and after each export.
Only folders this area created are ever removed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path

#: Default budget of the download area (``XLALIGN_DOWNLOADS_MB`` in public mode: see :mod:`xlalign.policy`).
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
_PREFIX = "dl-"


def folder_bytes(path: Path) -> int:
    """Bytes of the regular files under ``path`` (symlinks not followed; vanished files count 0)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            total += st.st_size
    return total


class DownloadArea:
    """A byte-bounded folder of download folders (thread-safe)."""

    def __init__(self, root: str | os.PathLike[str] | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be ≥ 1")
        self.max_bytes = int(max_bytes)
        self._root = Path(root) if root is not None else None
        self._lock = threading.RLock()
        self._made = 0

    @property
    def root(self) -> Path:
        with self._lock:
            if self._root is None:
                self._root = Path(tempfile.mkdtemp(prefix="xlalign-downloads-"))
            self._root.mkdir(parents=True, exist_ok=True)
            return self._root

    def new_folder(self) -> Path:
        """A fresh, empty folder for one download; older downloads are trimmed to the budget first.
        Whoever fills it calls :meth:`trim` with ``keep`` = the folder afterwards (:meth:`save` does)."""
        root = self.root
        self.trim()
        with self._lock:
            self._made += 1
            return Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{self._made:09d}-", dir=root))

    def save(self, files: dict[str, str]) -> list[str]:
        """Write ``{name: text}`` into one new folder (atomically, 0644), trim the area; their paths, in order."""
        from xlalign.store.runs import atomic_write_text

        folder = self.new_folder()
        for name, text in files.items():
            atomic_write_text(folder / name, text)
        self.trim(keep=folder)
        return [str(folder / name) for name in files]

    def folders(self) -> list[Path]:
        """This area's download folders, oldest first (their names count up)."""
        root = self.root
        return sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink() and p.name.startswith(_PREFIX))

    def size(self) -> int:
        return sum(folder_bytes(p) for p in self.folders())

    def trim(self, keep: Path | None = None) -> list[str]:
        """Remove the oldest download folders until the area holds at most ``max_bytes`` (``keep``, the newest
        download, always stays). Returns the names removed."""
        removed: list[str] = []
        with self._lock:
            folders = self.folders()
            sizes = {p: folder_bytes(p) for p in folders}
            total = sum(sizes.values())
            for p in folders:
                if total <= self.max_bytes:
                    break
                if keep is not None and p.resolve() == Path(keep).resolve():
                    continue
                shutil.rmtree(p, ignore_errors=True)
                total -= sizes[p]
                removed.append(p.name)
        return removed


__all__ = ["DEFAULT_MAX_BYTES", "DownloadArea", "folder_bytes"]
