"""What the served app does now and then (every :data:`EVERY_S` seconds, in one daemon thread): forget sessions
that were closed or have been idle (their ``gr.State`` — a visitor's diagnosis — and the last value of every
component Gradio keeps per session: tables and figures, about 13 MB for a diagnosed session), expire old
downloads and, in public mode, bound the upload folder (:meth:`xlalign.services.lab.Lab.housekeeping`).

Gradio itself keeps a closed session's state for an hour and the rest of the session for as long as the server
runs; :func:`expire_sessions` removes all of it after ``session_closed_s`` (60 s) once the page is closed, or after
``session_idle_s`` (30 min) without a request (an API client has no page to close; an open page refreshes its
runs list every 3 s and so stays). Freed memory is handed back to the system (``malloc_trim``), so that the
server's resident size falls again.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime
import gc
import logging
import threading
import weakref
from typing import Any

from xlalign.app.visitors import Visitors
from xlalign.policy import PublicLimits
from xlalign.services.lab import Lab

log = logging.getLogger(__name__)
#: Seconds between two rounds.
EVERY_S = 30.0


def expire_sessions(blocks: Any, visitors: Visitors | None, *, idle_s: float, closed_s: float,
                    now: datetime.datetime | None = None) -> list[str]:
    """Forget every session of ``blocks`` idle for more than ``idle_s`` seconds, or closed and idle for more than
    ``closed_s``: its state (delete callbacks run), its component values, its visitor token. The session ids."""
    holder = getattr(blocks, "state_holder", None)
    if holder is None:
        return []
    now = now or datetime.datetime.now()
    gone = []
    for session in list(holder.session_data):
        state = holder.session_data.get(session)
        last = holder.time_last_used.get(session)
        idle = (now - last).total_seconds() if last is not None else float("inf")
        if state is None or not (idle > idle_s or (getattr(state, "is_closed", False) and idle > closed_s)):
            continue
        try:
            holder.delete_state(session)
        except Exception:  # a failing delete callback must not keep the session
            log.warning("expiring session state failed", exc_info=True)
        with holder.lock:
            holder.session_data.pop(session, None)
            holder.time_last_used.pop(session, None)
        if visitors is not None:
            visitors.forget(session)
        gone.append(session)
    if gone:
        release_memory()
    return gone


def release_memory() -> None:
    """Collect garbage and hand free heap pages back to the system (glibc ``malloc_trim``; elsewhere a no-op)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class Housekeeping:
    """The daemon thread of one app; it ends when the app's blocks are gone (held weakly) or :meth:`stop` is
    called."""

    def __init__(self, blocks: Any, lab: Lab, visitors: Visitors, limits: PublicLimits, every_s: float = EVERY_S
                 ) -> None:
        self._blocks, self._lab = weakref.ref(blocks), weakref.ref(lab)
        self.visitors, self.limits, self.every_s = visitors, limits, every_s
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="xlalign-housekeeping", daemon=True)

    def start(self) -> Housekeeping:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def round(self) -> dict[str, list[str]]:
        """One round now (the thread calls it every ``every_s``); what was removed, by kind."""
        blocks, lab = self._blocks(), self._lab()
        done: dict[str, list[str]] = {}
        if blocks is not None:
            done["sessions"] = expire_sessions(blocks, self.visitors, idle_s=self.limits.session_idle_s,
                                               closed_s=self.limits.session_closed_s)
        if lab is not None:
            done.update(lab.housekeeping())
        return done

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            if self._blocks() is None:
                return
            try:
                done = self.round()
            except Exception:  # housekeeping must never stop the server
                log.warning("housekeeping failed", exc_info=True)
                continue
            if any(done.values()):
                log.info("housekeeping: %s", ", ".join(f"{len(v)} {k}" for k, v in done.items() if v))


__all__ = ["EVERY_S", "Housekeeping", "expire_sessions", "release_memory"]
