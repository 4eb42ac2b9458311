"""One progress protocol for every long step: encoding, ranking, training, jobs, CLI and app.

A progress callback is passed *per call* (never stored on a shared object) and receives

    progress(stage, done, total, **metrics)

``stage`` is a human-readable label ("encoding zh passages"), ``done``/``total`` count the work of
that stage (``total`` None when unknown), and ``metrics`` carries extras such as a training loss or
``overall`` — the fraction of the whole task, added by :func:`span` when a task is made of phases.
Front ends adapt it: :class:`TqdmProgress` (CLI), the app's ``gr.Progress`` adapter, and the job
runner's status file.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Protocol, TextIO


class Progress(Protocol):
    """``progress(stage, done, total, **metrics)``; must be cheap. It raises only to cancel the task (a
    background job's callback raises :class:`~xlalign.store.jobs.JobCancelled` once a cancel was asked for),
    so a caller reports after each unit of work is safely done, never in the middle of writing it."""

    def __call__(self, stage: str, done: float = 0, total: float | None = None, **metrics: Any) -> None: ...


def silent(stage: str, done: float = 0, total: float | None = None, **metrics: Any) -> None:
    """A progress callback that ignores everything."""


def fraction(done: float, total: float | None, metrics: dict[str, Any]) -> float | None:
    """The fraction to display: ``overall`` when a phase wrapper set it, else done/total, else None."""
    if metrics.get("overall") is not None:
        return float(metrics["overall"])
    if total:
        return max(0.0, min(1.0, float(done) / float(total)))
    return None


def span(progress: Progress | None, lo: float, hi: float) -> Progress:
    """Forward events, adding ``overall`` = lo + (hi − lo) · done/total (a phase of a longer task)."""
    target = progress or silent

    def forward(stage: str, done: float = 0, total: float | None = None, **metrics: Any) -> None:
        inner = fraction(done, total, metrics)
        metrics["overall"] = lo + (hi - lo) * (inner if inner is not None else 0.0)
        target(stage, done, total, **metrics)

    return forward


class TqdmProgress:
    """A tqdm bar per stage on stderr (the CLI); stages without a total print one line."""

    def __init__(self, file: TextIO | None = None) -> None:
        self.file = file or sys.stderr
        self._bar: Any = None
        self._stage: str | None = None
        self._lock = threading.Lock()

    def __call__(self, stage: str, done: float = 0, total: float | None = None, **metrics: Any) -> None:
        from tqdm import tqdm

        with self._lock:
            if stage != self._stage:
                self._close()
                self._stage = stage
                if not total:
                    print(f"· {stage}", file=self.file)
                    return
                self._bar = tqdm(total=total, desc=stage, file=self.file, leave=False, dynamic_ncols=True)
            if self._bar is not None:
                shown = {k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in metrics.items()
                         if k not in ("overall",) and isinstance(v, (int, float, str))}
                if shown:
                    self._bar.set_postfix(shown, refresh=False)
                self._bar.update(max(0.0, float(done) - self._bar.n))

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def close(self) -> None:
        with self._lock:
            self._close()
            self._stage = None


__all__ = ["Progress", "TqdmProgress", "fraction", "silent", "span"]
