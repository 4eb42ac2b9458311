"""Who a request comes from: the key the service layer ties a visitor's runs and uploads to.

A browser keeps an unguessable token in its local storage (``gr.BrowserState``, encrypted with a secret
kept in the runs folder, so a token survives a server restart and a page reload). When a page loads, its
session registers the token (:meth:`Visitors.on_load`, an internal event); every later event of that page
is tied to the token through the session. A client of the API (``gradio_client``) has no token: its
session is its key, so two clients are two visitors. The key itself never reaches the disk (the store
records a hash of it) nor any page.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import gradio as gr

#: What a token looks like (``secrets.token_urlsafe(32)`` gives 43 characters); anything else gets a new one.
TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,128}$")
#: Sessions remembered (oldest forgotten first): a forgotten session falls back to its own key until it reloads.
MAX_SESSIONS = 20_000
SECRET_NAME = ".visitor-secret"


def browser_secret(folder: str | os.PathLike[str]) -> str:
    """The secret that encrypts the visitor token in browsers: made once, kept (0600) in ``folder``."""
    path = Path(folder) / SECRET_NAME
    try:
        text = path.read_text(encoding="utf-8").strip()
        if len(text) >= 32:
            return text
    except OSError:
        pass
    text = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{SECRET_NAME}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    try:
        os.link(tmp, path)  # first writer wins; a concurrent start reads the winner's secret
    except FileExistsError:
        text = path.read_text(encoding="utf-8").strip()
    finally:
        tmp.unlink(missing_ok=True)
    return text


class Visitors:
    """Session → visitor token, and the key of any request."""

    def __init__(self, capacity: int = MAX_SESSIONS) -> None:
        self.capacity = capacity
        self._tokens: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def on_load(self, token: Any, request: gr.Request) -> str:
        """Register the page's session under the browser's token (a new token when it has none); returns the
        token for the browser to keep."""
        token = token if isinstance(token, str) and TOKEN.match(token) else secrets.token_urlsafe(32)
        session = _session(request)
        if session:
            with self._lock:
                self._tokens[session] = token
                self._tokens.move_to_end(session)
                while len(self._tokens) > self.capacity:
                    self._tokens.popitem(last=False)
        return str(token)

    def forget(self, session: str) -> None:
        """Drop a session that has expired (it gets a new registration if its page comes back)."""
        with self._lock:
            self._tokens.pop(session, None)

    def is_page(self, request: Any) -> bool:
        """Whether ``request`` comes from a visitor's page (its session registered a browser token), not from an
        API client."""
        session = _session(request)
        with self._lock:
            return bool(session) and session in self._tokens

    def key(self, request: Any) -> str:
        """The visitor key of ``request``: its page's token, else its session; ``"local"`` without a request
        (a callback called directly, as tests and scripts do)."""
        session = _session(request)
        if not session:
            return "local"
        with self._lock:
            token = self._tokens.get(session)
        return f"token:{token}" if token else f"session:{session}"


def _session(request: Any) -> str:
    return str(getattr(request, "session_hash", None) or "") if request is not None else ""


__all__ = ["TOKEN", "Visitors", "browser_secret"]
