"""Fitted alignment artefacts on disk: safetensors (never pickle), tagged with their kind."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from xlalign.atomic import dir_mode, file_mode
from xlalign.errors import full_disk_named


def publish(path: str | Path) -> None:
    """Give a file the usual mode (0644 under the usual umask), like any other file xlalign writes:
    safetensors and torch write theirs 0600."""
    os.chmod(path, file_mode())


def publish_tree(folder: str | Path) -> None:
    """:func:`publish` every file under ``folder`` (folders get the matching mode with the search bit)."""
    for root, dirs, files in os.walk(folder):
        for d in dirs:
            os.chmod(Path(root) / d, dir_mode())
        for f in files:
            publish(Path(root) / f)


def save_arrays(path: str | Path, kind: str, arrays: dict[str, np.ndarray], **meta: Any) -> None:
    """Float arrays stored as float32, ``meta`` values as strings, plus ``kind`` for loading."""
    from safetensors.numpy import save_file

    with full_disk_named(Path(path).name):
        save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in arrays.items()}, str(path),
                  metadata={"kind": kind, **{k: str(v) for k, v in meta.items()}})
    publish(path)


def load_arrays(path: str | Path, kind: str) -> tuple[dict[str, str], dict[str, np.ndarray]]:
    """(metadata, float64 arrays); a file of another kind, an unreadable one, or one holding NaN or infinite
    values is a ValueError naming it."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="np") as f:
            meta = dict(f.metadata() or {})
            if meta.get("kind") != kind:
                raise ValueError(f"{path} is not a saved {kind.removeprefix('xlalign.')} (kind: {meta.get('kind')!r})")
            arrays = {k: f.get_tensor(k).astype(np.float64) for k in f.keys()}  # noqa: SIM118 - safe_open is not a dict
    except ValueError:
        raise
    except Exception as e:  # safetensors' own errors: a truncated or foreign file
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(f"{path} cannot be read as safetensors ({reason[:120]})") from None
    for name, array in arrays.items():
        if not np.isfinite(array).all():
            raise ValueError(f"{path}: {name!r} holds NaN or infinite values")
    return meta, arrays
