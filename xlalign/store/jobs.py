"""Background jobs in lanes: each lane has one worker (``concurrent.futures``) that runs its jobs in submission
order, so a long job (a fine-tune, in the ``training`` lane) never holds up a short one (centering, LSAR,
Procrustes: the ``light`` lane) — one of each runs at a time. Each job's status is mirrored to its run folder's
``status.json``; :meth:`JobRunner.queue` says where a queued job stands in its lane and what is ahead of it.

queued → running → succeeded | failed | cancelled. ``cancel`` on a queued job cancels it at once; on
a running job it records ``cancel_requested`` at once (the runs list shows "cancelling") and sets a
flag that the job's progress callback checks on every report: the next report (after one encode
batch, one training step, one ranking block) raises :class:`JobCancelled`. From submission to its
end a job holds its run folder's lock, which is how another process tells a live run from a dead
one (:meth:`xlalign.store.runs.RunStore.recover`).

A job may belong to a visitor (public mode): ``submit(..., visitor=key)`` records only a hash of the
key (:func:`visitor_id`), and :meth:`JobRunner.active` counts a visitor's queued and running jobs.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xlalign.store.runs import LOCK_NAME, Run, StatusWriter, acquire, folder_lock, now_iso, owner

log = logging.getLogger(__name__)


class JobCancelled(Exception):
    """Raised inside a job when it notices its cancel flag."""


@dataclass
class JobContext:
    """What a job function gets: where to write, how to report, whether to stop. Its status record is
    written by the run's :class:`~xlalign.store.runs.StatusWriter`."""

    run_dir: Path
    status: dict[str, Any]
    cancel_event: threading.Event = field(default_factory=threading.Event)
    run_lock: Any = None  # the run folder's lock, held from submission to the end
    writer: StatusWriter = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.writer = StatusWriter(self.run_dir, self.status)

    @property
    def run(self) -> Run:
        """The run folder this job writes."""
        return Run(self.run_dir)

    def should_stop(self) -> bool:
        return self.cancel_event.is_set()

    def update(self, **fields: Any) -> None:
        """Change fields of this run's status and write the whole record."""
        self.writer.update(**fields)

    def progress(self, stage: str, done: float = 0, total: float | None = None, **metrics: Any) -> None:
        """The :class:`~xlalign.progress.Progress` protocol, written to status.json by the run's writer.

        Raises :class:`JobCancelled` once a cancel was asked for: every long step reports progress after each
        unit of work (an encode batch, a training step), so that is how soon a cancel takes effect.
        """
        if self.cancel_event.is_set():
            raise JobCancelled(f"cancelled during {stage}" + (f" ({int(done)}/{int(total)})" if total else ""))
        self.writer.progress(stage, done, total, **metrics)

    def mark_cancelling(self) -> None:
        """Record at once that a cancel was asked for (if the job is still running)."""
        self.writer.update_if(lambda r: r.get("state") == "running" and not r.get("cancel_requested"),
                              lambda r: {"cancel_requested": now_iso(),
                                         "message": f"cancelling… (was: {r.get('message', '')})"})

    def warn(self, message: str) -> None:
        self.writer.warn(message)


def visitor_id(key: str) -> str:
    """What a run records of its visitor: a hash of the visitor's key (token or session), never the key."""
    import hashlib

    return hashlib.sha256(f"xlalign-visitor:{key}".encode()).hexdigest()[:32]


JobFn = Callable[[JobContext], dict[str, Any] | None]


#: The lanes of :class:`JobRunner`: ``training`` for jobs that train a model (minutes to hours), ``light`` for the
#: rest (seconds); each runs one job at a time.
LANES = ("training", "light")
#: Durations kept per kind of job (its ``method``), to estimate when a queued job starts.
HISTORY = 5


@dataclass(frozen=True)
class QueuePlace:
    """Where a queued job stands: its lane, its position (1 = next to start), the job running in the lane (or None)
    and the queued jobs ahead of it, oldest first."""

    lane: str
    position: int
    running: str | None
    ahead: tuple[str, ...]


class JobRunner:
    """One background worker per lane (:data:`LANES`); ``submit`` returns the run id (the run folder's name)."""

    def __init__(self, lanes: tuple[str, ...] = LANES) -> None:
        self._pools = {lane: ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"xlalign-jobs-{lane}")
                       for lane in lanes}
        self._jobs: dict[str, tuple[JobContext, Future[None]]] = {}
        self._lane: dict[str, str] = {}
        self._durations: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @property
    def lanes(self) -> tuple[str, ...]:
        return tuple(self._pools)

    def submit(self, run_dir: str | Path, fn: JobFn, *, visitor: str | None = None, lane: str | None = None,
               **record: Any) -> str:
        """Queue ``fn`` for ``run_dir`` in ``lane`` (default: the first); ``visitor`` (a key) is recorded as
        :func:`visitor_id` only."""
        lane = lane or self.lanes[0]
        if lane not in self._pools:
            raise ValueError(f"lane must be one of {', '.join(self._pools)}, got {lane!r}")
        run_dir = Path(run_dir)
        lock = acquire(folder_lock(run_dir / LOCK_NAME), run_dir.name)
        mine = {"visitor": visitor_id(visitor)} if visitor is not None else {}
        ctx = JobContext(run_dir, {"state": "queued", "submitted": now_iso(), "message": "queued", "progress": 0.0,
                                   "lane": lane, **owner(), **record, **mine}, run_lock=lock)
        ctx.update()
        with self._lock:  # registered before it can start, so that a cancel always finds it
            future = self._pools[lane].submit(self._run, ctx, fn)
            self._jobs[run_dir.name] = (ctx, future)
            self._lane[run_dir.name] = lane
        return run_dir.name

    def queue(self) -> dict[str, QueuePlace]:
        """Every queued job's place in its lane."""
        with self._lock:
            jobs = [(run_id, self._lane[run_id], ctx.status.get("state")) for run_id, (ctx, _) in self._jobs.items()]
        places: dict[str, QueuePlace] = {}
        for lane in self.lanes:
            mine = [(r, state) for r, ln, state in jobs if ln == lane]
            running = next((r for r, state in mine if state == "running"), None)
            waiting = [r for r, state in mine if state == "queued"]
            for n, run_id in enumerate(waiting):
                places[run_id] = QueuePlace(lane, n + 1, running, tuple(waiting[:n]))
        return places

    def status(self, run_id: str) -> dict[str, Any]:
        """The live status record of a job of this process (``{}`` for any other)."""
        with self._lock:
            job = self._jobs.get(run_id)
        return dict(job[0].status) if job is not None else {}

    def typical_seconds(self, kind: str) -> float | None:
        """The median duration of the last :data:`HISTORY` finished jobs of ``kind`` (their ``method``), if any ran."""
        with self._lock:
            seen = list(self._durations.get(kind, ()))
        return float(statistics.median(seen)) if seen else None

    def active(self, visitor: str | None = None) -> int:
        """Jobs queued or running (of ``visitor``, a key, when given) in this process."""
        vid = visitor_id(visitor) if visitor is not None else None
        with self._lock:
            return sum(1 for ctx, _ in self._jobs.values() if ctx.status.get("state") in ("queued", "running")
                       and (vid is None or ctx.status.get("visitor") == vid))

    def cancel(self, run_id: str) -> bool:
        """Request cancellation; True if the job was queued or running. A running job shows
        ``cancel_requested`` at once and stops at its next progress report."""
        with self._lock:
            job = self._jobs.get(run_id)
        if job is None:
            return False
        ctx, future = job
        if ctx.status.get("state") not in ("queued", "running"):
            return False
        ctx.cancel_event.set()
        if future.cancel():  # never started: the worker will not run it, so end it here
            ctx.update(state="cancelled", message="cancelled before it started", finished=now_iso(), progress=None)
            ctx.run_lock.release()
        else:
            ctx.mark_cancelling()
        return True

    def interrupt_all(self, message: str) -> list[str]:
        """Record every queued or running job as interrupted (the process is stopping); the run ids."""
        with self._lock:
            jobs = list(self._jobs.items())
        stopped = []
        for run_id, (ctx, future) in jobs:
            if ctx.status.get("state") in ("queued", "running"):
                ctx.cancel_event.set()
                future.cancel()
                ctx.update(state="interrupted", message=message, finished=now_iso(), progress=None)
                stopped.append(run_id)
        return stopped

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every submitted job has finished (for tests and the CLI)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            futures = [f for _, f in self._jobs.values()]
        for f in futures:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                f.result(timeout=remaining)
            except Exception as e:
                if type(e).__name__ == "TimeoutError":
                    return False
        return True

    def shutdown(self) -> None:
        for pool in self._pools.values():
            pool.shutdown(wait=False, cancel_futures=True)

    def _run(self, ctx: JobContext, fn: JobFn) -> None:
        try:
            if ctx.cancel_event.is_set():
                ctx.update(state="cancelled", message="cancelled before it started", finished=now_iso(), progress=None)
                return
            ctx.update(state="running", started=now_iso(), message="running")
            began = time.monotonic()
            try:
                result = fn(ctx) or {}
            except JobCancelled as e:
                ctx.update(state="cancelled", message=str(e) or "cancelled", finished=now_iso(), eta_s=None)
            except Exception as e:  # a job failure must never kill the worker
                log.exception("run %s failed", ctx.run_dir.name)
                ctx.update(state="failed", message=f"{type(e).__name__}: {e}", error=str(e), eta_s=None,
                           traceback=traceback.format_exc(limit=8), finished=now_iso())
            else:
                if ctx.cancel_event.is_set():
                    ctx.update(state="cancelled", message="cancelled", finished=now_iso())
                else:
                    ctx.update(state="succeeded", message="done", progress=1.0, finished=now_iso(), eta_s=None,
                               **result)
                    kind = str(ctx.status.get("method") or self._lane.get(ctx.run_dir.name, ""))
                    with self._lock:
                        self._durations.setdefault(kind, deque(maxlen=HISTORY)).append(time.monotonic() - began)
        finally:
            ctx.run_lock.release()
