"""Files and folders that appear whole or not at all (base layer: every package may use it).

* :func:`atomic_write_text` / :func:`atomic_write_json`: a file is written to a temporary name in its
  folder (mode 0644 under the usual umask, read when the file is written) and renamed into place.
* :func:`atomic_folder`: the one way xlalign builds a folder: in a temporary sibling
  ``.<name>.tmp-<pid>-<hex>``, renamed into place only when complete; an earlier folder is moved aside
  (``.<name>.tmp-old-<hex>``) for the instant of the swap and put back if the swap fails.
* :func:`clean_temp_siblings`: what a killed writer left next to a folder: the temporary sibling is
  removed, an earlier folder caught aside is put back. Call it only where no other writer can be live
  (under the folder's lock).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_UMASK_AT_IMPORT = os.umask(0)
os.umask(_UMASK_AT_IMPORT)


def current_umask() -> int:
    """The process umask now, read without changing it (``/proc/self/status``: setting and restoring it would
    race with other threads creating files); where that is unavailable, the umask when xlalign was imported."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return _UMASK_AT_IMPORT


def file_mode() -> int:
    """Mode of every file xlalign writes: what the umask allows of 0666 (0644 under the usual umask 022)."""
    return 0o666 & ~current_umask()


def dir_mode() -> int:
    """Mode of every folder xlalign builds (0755 under the usual umask 022)."""
    return 0o777 & ~current_umask()


#: Infix of temporary siblings; ``TMP_OLD`` marks an earlier folder moved aside during a swap.
TMP = ".tmp-"
TMP_OLD = ".tmp-old-"
#: The names xlalign's writers give their temporary files and folders: ``.<name>.xlalign-<8>.tmp``
#: (:func:`atomic_write_text`), ``.<name>.tmp-<pid>-<8 hex>`` and ``.<name>.tmp-old-<8 hex>`` (:func:`atomic_folder`).
_OWN_TEMP = re.compile(r"^\..+(?:\.xlalign-[a-z0-9_]{8}\.tmp|\.tmp-(?:[0-9]+-|old-)[0-9a-f]{8})$")


def is_own_temp(name: str) -> bool:
    """Whether ``name`` is one of the temporary files or folders xlalign's atomic writers make (and remove; a
    killed writer may leave one). A user's ``.draft.tmp`` or ``.notes.tmp-1`` is not."""
    return _OWN_TEMP.match(name) is not None


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` so that readers see the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.xlalign-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _occupied(target: Path) -> bool:
    """True when ``target`` exists and is not an empty folder."""
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        return True
    return target.is_dir() and any(target.iterdir())


def _refuse_occupied(target: Path) -> None:
    if _occupied(target):
        raise FileExistsError(f"{target} already exists and is not an empty directory; choose a new path or remove it")


def swap_in(tmp: Path, target: Path) -> None:
    """Rename the complete folder ``tmp`` to ``target``; an existing ``target`` is moved aside first and
    deleted after, or put back when the rename fails (Ctrl-C included)."""
    if not (target.exists() or target.is_symlink()):
        os.replace(tmp, target)
        return
    old = target.parent / f".{target.name}{TMP_OLD}{uuid.uuid4().hex[:8]}"
    os.replace(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        os.replace(old, target)  # the earlier folder stays in place
        raise
    _remove(old)


@contextmanager
def atomic_folder(target: str | os.PathLike[str], *, replace: bool = False) -> Iterator[Path]:
    """Yield a new, empty temporary sibling of ``target``; when the block ends normally it becomes
    ``target`` (:func:`swap_in`), otherwise it is deleted and ``target`` is untouched.

    Without ``replace`` a ``target`` that exists and is not an empty folder is refused
    (:class:`FileExistsError`), before the block and again before the swap. With ``replace`` the caller
    has decided that ``target`` may go (it checked that the folder is xlalign's own).
    """
    target = Path(target)
    if not replace:
        _refuse_occupied(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}{TMP}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        os.chmod(tmp, dir_mode())
        if not replace:
            _refuse_occupied(target)
        swap_in(tmp, target)
    finally:
        if tmp.exists():
            _remove(tmp)


def temp_siblings(target: str | os.PathLike[str]) -> list[Path]:
    """The temporary siblings of ``target`` (``.<name>.tmp-*``), earlier folders moved aside included."""
    target = Path(target)
    if not target.parent.is_dir():
        return []
    return sorted(target.parent.glob(f".{target.name}{TMP}*"))


def clean_temp_siblings(target: str | os.PathLike[str]) -> list[str]:
    """Remove what a killed writer of ``target`` left beside it; an earlier folder it had moved aside is put
    back when ``target`` is missing. Only call it where no writer of ``target`` can be live."""
    target = Path(target)
    removed = []
    for stale in temp_siblings(target):
        if stale.name.startswith(f".{target.name}{TMP_OLD}") and not (target.exists() or target.is_symlink()):
            os.replace(stale, target)
        else:
            _remove(stale)
            removed.append(stale.name)
    return removed


__all__ = ["TMP", "TMP_OLD", "atomic_folder", "atomic_write_json", "atomic_write_text",
           "clean_temp_siblings", "current_umask", "dir_mode", "file_mode", "is_own_temp", "swap_in", "temp_siblings"]
