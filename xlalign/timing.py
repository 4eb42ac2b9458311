"""Phase timings at DEBUG: how long encode, rank, metrics and fit took (the CLI's ``-v`` shows them).

One line per phase, ``timing: <phase> <seconds> s (<details>)``, on the caller's module logger::

    with timed(log, "encode", texts=120):
        ...

A loop that runs a phase many times (ranking every pool) adds them up with :class:`PhaseTimes` and logs
each phase once. Nothing is measured when the logger would drop DEBUG records.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def _details(fields: dict[str, Any]) -> str:
    return " (" + ", ".join(f"{k}={v}" for k, v in fields.items()) + ")" if fields else ""


@contextmanager
def timed(log: logging.Logger, phase: str, **details: Any) -> Iterator[None]:
    """Log ``timing: <phase> <seconds> s`` at DEBUG when the block ends (also when it raises: ``failed``)."""
    if not log.isEnabledFor(logging.DEBUG):
        yield
        return
    start = time.perf_counter()
    ok = False
    try:
        yield
        ok = True
    finally:
        log.debug("timing: %s %.3f s%s%s", phase, time.perf_counter() - start, "" if ok else " failed",
                  _details(details))


class PhaseTimes:
    """Adds up the time of named phases over a loop; :meth:`log` writes one DEBUG line per phase."""

    def __init__(self, log: logging.Logger) -> None:
        self._log = log
        self.enabled = log.isEnabledFor(logging.DEBUG)
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
            self.calls[name] = self.calls.get(name, 0) + 1

    def log(self, **details: Any) -> None:
        for name, seconds in self.seconds.items():
            self._log.debug("timing: %s %.3f s%s", name, seconds, _details({"calls": self.calls[name], **details}))


__all__ = ["PhaseTimes", "timed"]
