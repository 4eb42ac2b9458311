"""Background jobs: one worker thread runs jobs in submission order (so one training at a time),
each job's state mirrored to its run directory's status.json.

queued → running → succeeded | failed | cancelled. ``cancel`` on a queued job cancels it at once;
on a running job it sets a flag the job polls (the fine-tune checks it after every step).
"""

from __future__ import annotations

import queue
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xlalign.runs import now_iso, read_status, write_status


class JobCancelled(Exception):
    """Raised inside a job when it notices its cancel flag."""


@dataclass
class JobContext:
    """What a job function gets: where to write, how to report, whether to stop."""

    run_dir: Path
    cancel_event: threading.Event = field(default_factory=threading.Event)

    def should_stop(self) -> bool:
        return self.cancel_event.is_set()

    def check_cancelled(self) -> None:
        if self.cancel_event.is_set():
            raise JobCancelled("cancelled")

    def progress(self, message: str, fraction: float | None = None, **extra: Any) -> None:
        fields: dict[str, Any] = {"message": message}
        if fraction is not None:
            fields["progress"] = round(float(fraction), 4)
        if extra:
            fields["detail"] = extra
        write_status(self.run_dir, **fields)


JobFn = Callable[[JobContext], dict[str, Any] | None]


class JobRunner:
    """A single background worker; ``submit`` returns the run id (the run directory's name)."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[JobContext, JobFn] | None] = queue.Queue()
        self._contexts: dict[str, JobContext] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, name="xlalign-jobs", daemon=True)
        self._thread.start()

    def submit(self, run_dir: str | Path, fn: JobFn, **record: Any) -> str:
        ctx = JobContext(Path(run_dir))
        write_status(ctx.run_dir, state="queued", submitted=now_iso(), message="queued", progress=0.0, **record)
        with self._lock:
            self._contexts[ctx.run_dir.name] = ctx
        self._queue.put((ctx, fn))
        return ctx.run_dir.name

    def cancel(self, run_id: str) -> bool:
        """Request cancellation; True if the job was queued or running."""
        with self._lock:
            ctx = self._contexts.get(run_id)
        if ctx is None:
            return False
        state = read_status(ctx.run_dir).get("state")
        if state not in ("queued", "running"):
            return False
        ctx.cancel_event.set()
        if state == "queued":
            write_status(ctx.run_dir, state="cancelled", message="cancelled before it started", finished=now_iso())
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every submitted job has finished (for tests and the CLI)."""
        done = threading.Event()
        self._queue.put(None)
        threading.Thread(target=lambda: (self._queue.join(), done.set()), daemon=True).start()
        return done.wait(timeout)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    continue
                ctx, fn = item
                if ctx.cancel_event.is_set():
                    continue
                write_status(ctx.run_dir, state="running", started=now_iso(), message="running")
                try:
                    result = fn(ctx) or {}
                except JobCancelled as e:
                    write_status(ctx.run_dir, state="cancelled", message=str(e) or "cancelled", finished=now_iso())
                except Exception as e:  # a job failure must never kill the worker
                    write_status(ctx.run_dir, state="failed", message=f"{type(e).__name__}: {e}", error=str(e),
                                 traceback=traceback.format_exc(limit=8), finished=now_iso())
                else:
                    if ctx.cancel_event.is_set():
                        write_status(ctx.run_dir, state="cancelled", message="cancelled", finished=now_iso())
                    else:
                        write_status(ctx.run_dir, state="succeeded", message="done", progress=1.0, finished=now_iso(),
                                     **result)
            finally:
                self._queue.task_done()
