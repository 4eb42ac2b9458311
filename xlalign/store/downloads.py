"""The download area: where a server writes files for visitors to download (CSV tables, export zips).

One folder per process, created on first use inside Gradio's cache folder (:func:`xlalign.policy.upload_root`),
so that Gradio serves each file where it is instead of copying it under a hash of its contents: a download's
address is its own folder's name, ``dl-<counter>-<24 random URL-safe characters>`` (144 bits), unguessable and
different for every download, even of identical files. The area is bounded in bytes, not in count (one export
zip of a fine-tuned model is hundreds of MB, a CSV a few kB), and in age: :meth:`DownloadArea.trim` removes
downloads older than ``max_age_s`` (their links stop working), then the oldest until the whole area fits
``max_bytes``, never the one just written. It is called whenever a download folder is made, after each export
and by the app's housekeeping. Only folders this area created are ever removed; :meth:`DownloadArea.remove`
takes the whole area away when the process stops (SIGTERM included), and :func:`remove_stale_areas` what a killed
process left.

:func:`trim_uploads` bounds Gradio's upload folder the same way (everybody's uploads together, used or not).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from xlalign.policy import DOWNLOADS_PREFIX
from xlalign.progress import Progress

#: Default budget of the download area (``XLALIGN_DOWNLOADS_MB`` in public mode: see :mod:`xlalign.policy`).
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
#: How long a download stays (its link works) after it was written.
DEFAULT_MAX_AGE_S = 3600.0
#: The area's folder name: ``xlalign-downloads-<pid>-<random>`` (the pid tells a dead process's area).
AREA_PREFIX = DOWNLOADS_PREFIX
_PREFIX = "dl-"
_AREA = re.compile(rf"^{AREA_PREFIX}(\d+)-")


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


def default_parent() -> Path:
    """Where an area is made by default: Gradio's cache folder (files there are served without a copy)."""
    from xlalign.policy import upload_root

    return upload_root()


class DownloadArea:
    """A byte- and age-bounded folder of download folders (thread-safe); ``clock`` is the wall clock (seconds)."""

    def __init__(self, root: str | os.PathLike[str] | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_age_s: float = DEFAULT_MAX_AGE_S, clock: Callable[[], float] = time.time) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be ≥ 1")
        if not max_age_s > 0:
            raise ValueError("max_age_s must be > 0")
        self.max_bytes = int(max_bytes)
        self.max_age_s = float(max_age_s)
        self.clock = clock
        self._root = Path(root) if root is not None else None
        self._owned = False  # the area made its own root (and removes it with remove())
        self._lock = threading.RLock()
        self._made = 0
        self._born: dict[str, float] = {}

    @property
    def root(self) -> Path:
        with self._lock:
            if self._root is None:
                parent = default_parent()
                parent.mkdir(parents=True, exist_ok=True)
                self._root = Path(tempfile.mkdtemp(prefix=f"{AREA_PREFIX}{os.getpid()}-", dir=parent))
                self._owned = True
            self._root.mkdir(parents=True, exist_ok=True)
            return self._root

    def new_folder(self) -> Path:
        """A fresh, empty folder for one download, named unguessably; older downloads are trimmed first.
        Whoever fills it calls :meth:`trim` with ``keep`` = the folder afterwards (:meth:`save` does)."""
        root = self.root
        self.trim()
        with self._lock:
            self._made += 1
            folder = root / f"{_PREFIX}{self._made:09d}-{secrets.token_urlsafe(18)}"
            folder.mkdir(mode=0o755)
            self._born[folder.name] = self.clock()
            return folder

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

    def _age(self, folder: Path) -> float:
        born = self._born.get(folder.name)
        if born is None:
            try:
                born = folder.stat().st_mtime
            except OSError:
                return 0.0
        return self.clock() - born

    def trim(self, keep: Path | None = None) -> list[str]:
        """Remove the download folders older than ``max_age_s``, then the oldest until the area holds at most
        ``max_bytes`` (``keep``, the newest download, always stays). Returns the names removed."""
        removed: list[str] = []
        with self._lock:
            folders = self.folders()
            sizes = {p: folder_bytes(p) for p in folders}
            total = sum(sizes.values())
            kept = Path(keep).resolve() if keep is not None else None
            for p in folders:
                expired = self._age(p) > self.max_age_s
                if not expired and total <= self.max_bytes:
                    continue
                if kept is not None and p.resolve() == kept:
                    continue
                shutil.rmtree(p, ignore_errors=True)
                self._born.pop(p.name, None)
                total -= sizes[p]
                removed.append(p.name)
        return removed

    def remove(self) -> None:
        """Take the whole area away (the process is stopping), if this area made its folder."""
        with self._lock:
            if self._root is not None and self._owned:
                shutil.rmtree(self._root, ignore_errors=True)
                self._root, self._owned = None, False


#: Files zipped as they are (weights do not compress: deflating them only costs time); the rest is deflated.
STORED_SUFFIXES = (".safetensors", ".bin", ".pt", ".onnx", ".npy", ".zip")
_CHUNK = 8 * 1024 * 1024


def zip_folder(folder: Path, target: Path, progress: Progress | None = None) -> Path:
    """``folder`` as the zip ``target`` (entries under ``folder.name/``), reporting ``progress("zipping the export, MB",
    MB done, MB in all)`` every 8 MB, so that a long export shows where it is; weights are stored, not deflated
    (:data:`STORED_SUFFIXES`). Written to a temporary name beside ``target`` and renamed when complete."""
    import zipfile

    from xlalign.progress import silent

    report = progress or silent
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    total = sum(p.stat().st_size for p in files) or 1
    partial = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    done = 0
    try:
        with zipfile.ZipFile(partial, "w", allowZip64=True) as z:
            for path in files:
                method = zipfile.ZIP_STORED if path.suffix in STORED_SUFFIXES else zipfile.ZIP_DEFLATED
                info = zipfile.ZipInfo.from_file(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")
                info.compress_type = method
                with open(path, "rb") as src, z.open(info, "w", force_zip64=True) as dst:
                    while chunk := src.read(_CHUNK):
                        dst.write(chunk)
                        done += len(chunk)
                        report("zipping the export, MB", done / 2**20, total / 2**20)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def remove_stale_areas(parent: Path | None = None) -> list[str]:
    """Remove the download areas in ``parent`` (default: Gradio's cache folder) whose process is gone (a killed
    server's); the names removed."""
    parent = parent if parent is not None else default_parent()
    removed = []
    try:
        entries = list(parent.iterdir())
    except OSError:
        return []
    for p in entries:
        m = _AREA.match(p.name)
        if m and p.is_dir() and not p.is_symlink() and not _alive(int(m.group(1))):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p.name)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def trim_uploads(root: Path, max_bytes: int) -> list[str]:
    """Bound Gradio's upload folder ``root``: while its files (download areas excluded) add up to more than
    ``max_bytes``, remove the oldest (by modification time) and the folders they leave empty. A run keeps its own
    copy of what it used; a visitor whose upload went is asked to upload it again. Returns the paths removed
    (relative to ``root``)."""
    files: list[tuple[float, int, Path]] = []
    try:
        tops = [p for p in root.iterdir() if not p.name.startswith(AREA_PREFIX)]
    except OSError:
        return []
    for top in tops:
        for dirpath, _dirs, names in os.walk(top) if top.is_dir() and not top.is_symlink() else [(str(root), [],
                                                                                                 [top.name])]:
            for name in names:
                path = Path(dirpath) / name
                try:
                    st = path.lstat()
                except OSError:
                    continue
                files.append((st.st_mtime, st.st_size, path))
    total = sum(size for _, size, _ in files)
    removed: list[str] = []
    for _, size, path in sorted(files, key=lambda f: f[0]):
        if total <= max_bytes:
            break
        path.unlink(missing_ok=True)
        total -= size
        removed.append(str(path.relative_to(root)))
        parent = path.parent
        while parent != root and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
    return removed


__all__ = ["AREA_PREFIX", "DEFAULT_MAX_AGE_S", "DEFAULT_MAX_BYTES", "STORED_SUFFIXES", "DownloadArea", "default_parent",
           "folder_bytes", "remove_stale_areas", "trim_uploads", "zip_folder"]
