"""Exceptions with one-line, user-facing messages (the CLI prints them without a traceback)."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager


class XlalignError(Exception):
    """Base class: a problem with the user's input or environment, not a bug."""


class CorpusError(XlalignError, ValueError):
    """A corpus file or folder is malformed, mismatched across languages, or empty."""


class ModelLoadError(XlalignError, RuntimeError):
    """A model id or path could not be loaded."""


class ConfigError(XlalignError, ValueError):
    """An invalid option value or combination."""


class DiskFull(XlalignError, OSError):
    """No space was left on the device a file was being written to."""


#: How libraries word a full disk when they do not raise ``OSError(ENOSPC)``: safetensors' ``IoError(Os { code: 28,
#: kind: StorageFull, … })``, sqlite's "database or disk is full", torch's writer.
_FULL_DISK = ("no space left", "storagefull", "disk is full", "os error 28", "code: 28")


def disk_full(error: BaseException) -> bool:
    """Whether ``error``, or an error it was raised from, is a full disk (whichever library raised it)."""
    seen: BaseException | None = error
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, OSError) and seen.errno == errno.ENOSPC:
            return True
        if any(marker in str(seen).lower() for marker in _FULL_DISK):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@contextmanager
def full_disk_named(what: str) -> Iterator[None]:
    """Inside: a full disk, however a library reports it, becomes one line, :class:`DiskFull`, naming ``what`` was
    being written."""
    try:
        yield
    except XlalignError:
        raise
    except Exception as e:
        if disk_full(e):
            raise DiskFull(f"no space left on the device while writing {what}; free some space and run it again"
                           ) from None
        raise
