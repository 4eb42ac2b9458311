"""What a public deployment allows: public mode, the model allow-list, contained paths, redacted errors.

Public mode (``XLALIGN_PUBLIC=1``, set in the Dockerfile for a Hugging Face Space; off for a local
``python app.py``) assumes hostile visitors: no model may run code from its repository, only
allow-listed models load (the registry and the bundled default, extended by the operator with
``XLALIGN_ALLOWED_MODELS=id1,id2``), uploads are size-limited and error messages name no server path.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from xlalign.errors import XlalignError

_TRUE = ("1", "true", "yes", "on")
#: Upload limit in public mode (bytes); ``XLALIGN_MAX_UPLOAD_MB`` overrides.
DEFAULT_MAX_UPLOAD_MB = 20


class PathRefused(XlalignError, ValueError):
    """A name or path that would leave its folder (the message never says whether it exists)."""


def public_mode() -> bool:
    return os.environ.get("XLALIGN_PUBLIC", "").strip().lower() in _TRUE








def upload_root() -> Path:
    """Where Gradio stores uploads (``GRADIO_TEMP_DIR``, else ``<tmp>/gradio``)."""
    import tempfile

    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio").resolve()


def uploaded_file(path: str | os.PathLike[str]) -> bool:
    """True for a regular file inside Gradio's upload folder (what a visitor can have put there)."""
    try:
        resolved = Path(path).resolve()
    except (OSError, ValueError):
        return False
    return resolved.is_file() and upload_root() in resolved.parents


def max_upload_bytes() -> int:
    try:
        mb = float(os.environ.get("XLALIGN_MAX_UPLOAD_MB", DEFAULT_MAX_UPLOAD_MB))
    except ValueError:
        mb = DEFAULT_MAX_UPLOAD_MB
    return int(mb * 1024 * 1024)


_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def contained(root: str | os.PathLike[str], name: str, *, what: str = "name") -> Path:
    """``root/name`` for a plain name that stays inside ``root``; anything else is refused.

    Refused: separators, ``..``, absolute paths, hidden names, empty names, odd characters, and a
    symlink that resolves outside ``root``. The message is the same whether the target exists or not.
    """
    base = Path(root).resolve()
    text = str(name or "")
    if not _SAFE_NAME.match(text) or text in (".", ".."):
        raise PathRefused(f"{what} {text[:80]!r} is not valid")
    target = (base / text).resolve()
    if target.parent != base:
        raise PathRefused(f"{what} {text[:80]!r} is not valid")
    return target


def redact_paths(message: str) -> str:
    """Replace absolute filesystem paths in a message by their last component (public errors)."""
    return re.sub(r"(?<![\w.])(/[^\s'\"]+/)+([^\s/'\":]*)", lambda m: f"…/{m.group(2)}" if m.group(2) else "…",
                  message)


def default_runs_dir() -> Path:
    """``$XLALIGN_RUNS_DIR`` or ``./runs``."""
    return Path(os.environ.get("XLALIGN_RUNS_DIR", "runs"))


__all__ = ["PathRefused", "contained", "default_runs_dir", "max_upload_bytes", "public_mode", "redact_paths",
           "upload_root", "uploaded_file"]

