"""Files the page offers for download: each in a fresh folder, inside one temp area per app that keeps the newest."""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

from xlalign.store.runs import atomic_write_text


class Downloads:
    """Fresh folders for downloads, inside one temp area (made on first use) that keeps the newest ``keep``."""

    def __init__(self, keep: int = 64) -> None:
        if keep < 1:
            raise ValueError("keep must be ≥ 1")
        self.keep = keep
        self._root: Path | None = None
        self._lock = threading.Lock()

    def folder(self) -> Path:
        """A new, empty folder; the oldest folders beyond ``keep`` are removed (all made here)."""
        with self._lock:
            if self._root is None:
                self._root = Path(tempfile.mkdtemp(prefix="xlalign-exports-"))
            old = sorted(self._root.iterdir(), key=lambda p: p.stat().st_mtime)
            for p in old[: max(0, len(old) - self.keep + 1)]:
                shutil.rmtree(p, ignore_errors=True)
            return Path(tempfile.mkdtemp(dir=self._root))

    def save(self, files: dict[str, str]) -> list[str]:
        """Write ``{name: text}`` into one new folder (atomically, 0644); their paths, in order."""
        folder = self.folder()
        for name, text in files.items():
            atomic_write_text(folder / name, text)
        return [str(folder / name) for name in files]


__all__ = ["Downloads"]
