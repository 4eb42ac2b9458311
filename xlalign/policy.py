"""What a public deployment allows: public mode, the model allow-list, contained paths, redacted errors.

Public mode (``XLALIGN_PUBLIC=1``, set in the Dockerfile for a Hugging Face Space; off for a local
``python app.py``) assumes hostile visitors: no model may run code from its repository, only
allow-listed models load (the registry and the bundled default, extended by the operator with
``XLALIGN_ALLOWED_MODELS=id1,id2``), uploads are size-limited and error messages name no server path.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from xlalign.errors import XlalignError

_TRUE = ("1", "true", "yes", "on")
#: Upload limit in public mode (bytes); ``XLALIGN_MAX_UPLOAD_MB`` overrides.
DEFAULT_MAX_UPLOAD_MB = 20


class PathRefused(XlalignError, ValueError):
    """A name or path that would leave its folder (the message never says whether it exists)."""


class PolicyError(XlalignError, ValueError):
    """A server setting (an environment variable) is invalid, or a public-mode limit was reached."""


def public_mode() -> bool:
    return os.environ.get("XLALIGN_PUBLIC", "").strip().lower() in _TRUE


def upload_root() -> Path:
    """Where Gradio stores uploads (``GRADIO_TEMP_DIR``, else ``<tmp>/gradio``)."""
    import tempfile

    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio").resolve()


#: Folders of Gradio's upload folder that hold the server's downloads (:mod:`xlalign.store.downloads`), not uploads.
DOWNLOADS_PREFIX = "xlalign-downloads-"


def uploaded_file(path: str | os.PathLike[str]) -> bool:
    """True for a regular file inside Gradio's upload folder (what a visitor can have put there), not in one of the
    server's download areas there."""
    try:
        resolved = Path(path).resolve()
    except (OSError, ValueError):
        return False
    root = upload_root()
    if not (resolved.is_file() and root in resolved.parents):
        return False
    return not resolved.relative_to(root).parts[0].startswith(DOWNLOADS_PREFIX)


def env_number(name: str, default: float, *, minimum: float = 0, integer: bool = False) -> float:
    """A finite number ≥ ``minimum`` from the environment variable ``name`` (``default`` when unset or empty).

    Anything else (``nan``, ``inf``, ``-3``, ``lots``) is a :class:`PolicyError` naming the variable, so that
    a misconfigured server says so at start-up instead of failing, or allowing everything, later.
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < minimum or (integer and value != int(value)):
        kind = "a whole number" if integer else "a finite number"
        raise PolicyError(f"{name}={raw[:40]!r} is not valid: set it to {kind} ≥ {minimum:g}, or unset it "
                          f"for the default ({default:g})")
    return int(value) if integer else value


def max_upload_bytes() -> int:
    """The largest upload accepted (``XLALIGN_MAX_UPLOAD_MB``, default 20; must be a finite number > 0)."""
    mb = env_number("XLALIGN_MAX_UPLOAD_MB", DEFAULT_MAX_UPLOAD_MB, minimum=1e-3)
    return max(1, int(mb * 1024 * 1024))


@dataclass(frozen=True)
class PublicLimits:
    """What one visitor, and the whole server, may ask for in public mode (each an environment variable).

    * ``max_langs`` (``XLALIGN_MAX_LANGS``): languages in one diagnosis or alignment, pivot included, and in
      one upload (an upload with more is refused before anything is encoded).
    * ``max_epochs`` / ``max_steps`` (``XLALIGN_MAX_EPOCHS`` / ``XLALIGN_MAX_STEPS``): a fine-tune's epochs and
      optimizer steps; a fine-tune without a step cap gets ``max_steps``.
    * ``visitor_active`` (``XLALIGN_VISITOR_ACTIVE``, 2): a visitor's queued + running alignments (one
      running and one waiting); ``server_active`` (``XLALIGN_SERVER_ACTIVE``, 8): everybody's together.
    * ``visitor_upload_mb`` (``XLALIGN_VISITOR_UPLOAD_MB``, 100): the bytes of the distinct uploads one
      visitor has used (diagnosed, ranked or trained on), counted for as long as the server runs.
    * ``downloads_mb`` (``XLALIGN_DOWNLOADS_MB``, 512): the download area (CSV and zip exports), oldest
      first out.
    * ``max_texts`` (``XLALIGN_MAX_TEXTS``, 12,000): distinct texts one request (a diagnosis, a language ranking,
      a model comparison, an alignment run) may have encoded; texts already in the embedding cache do not count.
      12,000 holds XQuAD in 8 languages (11,440 texts).
    * ``uploads_mb`` (``XLALIGN_UPLOADS_MB``, 1024): everybody's uploads in the upload folder together, used or
      not; beyond it the oldest are removed (a run keeps its own copy of what it used).
    * ``session_idle_s`` (``XLALIGN_SESSION_IDLE_S``, 1800) and ``session_closed_s`` (``XLALIGN_SESSION_CLOSED_S``,
      60): a session's state (its diagnosis, the values of its tables and figures) is forgotten after that long
      without a request, or that long after its page was closed (an open page's 3-second refresh keeps it).
    """

    max_langs: int = 8
    max_epochs: float = 3.0
    max_steps: int = 300
    visitor_active: int = 2
    server_active: int = 8
    visitor_upload_mb: float = 100.0
    downloads_mb: float = 512.0
    max_texts: int = 12_000
    uploads_mb: float = 1024.0
    session_idle_s: float = 1800.0
    session_closed_s: float = 60.0

    @classmethod
    def from_env(cls) -> PublicLimits:
        d = cls()
        return cls(max_langs=int(env_number("XLALIGN_MAX_LANGS", d.max_langs, minimum=2, integer=True)),
                   max_epochs=env_number("XLALIGN_MAX_EPOCHS", d.max_epochs, minimum=1e-3),
                   max_steps=int(env_number("XLALIGN_MAX_STEPS", d.max_steps, minimum=1, integer=True)),
                   visitor_active=int(env_number("XLALIGN_VISITOR_ACTIVE", d.visitor_active, minimum=1, integer=True)),
                   server_active=int(env_number("XLALIGN_SERVER_ACTIVE", d.server_active, minimum=1, integer=True)),
                   visitor_upload_mb=env_number("XLALIGN_VISITOR_UPLOAD_MB", d.visitor_upload_mb, minimum=1e-3),
                   downloads_mb=env_number("XLALIGN_DOWNLOADS_MB", d.downloads_mb, minimum=1),
                   max_texts=int(env_number("XLALIGN_MAX_TEXTS", d.max_texts, minimum=1, integer=True)),
                   uploads_mb=env_number("XLALIGN_UPLOADS_MB", d.uploads_mb, minimum=1),
                   session_idle_s=env_number("XLALIGN_SESSION_IDLE_S", d.session_idle_s, minimum=1),
                   session_closed_s=env_number("XLALIGN_SESSION_CLOSED_S", d.session_closed_s, minimum=0))

    @property
    def visitor_upload_bytes(self) -> int:
        return int(self.visitor_upload_mb * 1024 * 1024)

    @property
    def downloads_bytes(self) -> int:
        return int(self.downloads_mb * 1024 * 1024)

    @property
    def uploads_bytes(self) -> int:
        return int(self.uploads_mb * 1024 * 1024)


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


def configure_storage(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Where a server keeps what it writes; call once at start-up, before anything reads these variables.

    When ``XLALIGN_PERSISTENT_DIR`` names a writable folder (a Hugging Face Space's persistent storage is
    mounted at ``/data``; the Dockerfile sets the variable), runs go to ``<it>/xlalign/runs`` and the hub's
    model downloads to ``<it>/huggingface``, unless ``XLALIGN_RUNS_DIR`` / ``HF_HOME`` are set. Returns
    the variables it set.
    """
    env = os.environ if environ is None else environ
    root = env.get("XLALIGN_PERSISTENT_DIR", "").strip()
    if not root or not Path(root).is_dir() or not os.access(root, os.W_OK | os.X_OK):
        return {}
    chosen = {"XLALIGN_RUNS_DIR": str(Path(root) / "xlalign" / "runs"), "HF_HOME": str(Path(root) / "huggingface")}
    chosen = {k: v for k, v in chosen.items() if not env.get(k)}
    env.update(chosen)
    return chosen


def check_writable(folder: str | os.PathLike[str], variable: str) -> Path:
    """Create ``folder`` if needed and prove that this process can write there, or raise one line naming the
    environment ``variable`` that chooses it (a server that cannot write its runs or cache says so at
    start-up, not with a traceback at the first request)."""
    import tempfile

    path = Path(folder).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".xlalign-write-check-"):
            pass
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise PolicyError(f"cannot write to {path} ({reason}): set {variable} to a writable folder") from None
    return path


__all__ = ["DOWNLOADS_PREFIX", "PathRefused", "PolicyError", "PublicLimits", "check_writable", "configure_storage", "contained",
           "default_runs_dir", "env_number", "max_upload_bytes", "public_mode", "redact_paths", "upload_root",
           "uploaded_file"]

