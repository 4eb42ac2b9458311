"""What the configuration row's values mean to xlalign: the data, model and language specs, and progress.

Public mode (``XLALIGN_PUBLIC=1``) narrows what a visitor may name: listed datasets or their own uploads,
listed models, no remote code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from xlalign.app.failures import upload_path
from xlalign.errors import XlalignError
from xlalign.models.registry import allowed_models, available_offline, needs_remote_code
from xlalign.policy import max_upload_bytes, public_mode, uploaded_file
from xlalign.progress import Progress, fraction
from xlalign.report.tables import language_label
from xlalign.services.lab import Lab
from xlalign.specs import DEFAULT_MODEL_ID, ModelSpec

DATASETS = ["demo", "xquad", "belebele"]
#: The dataset menu's value while an uploaded file is in use (its label names the file).
UPLOADED = "uploaded-file"


def default_model() -> str:
    """The model the app starts with: ``$XLALIGN_DEFAULT_MODEL`` or the bundled one."""
    return os.environ.get("XLALIGN_DEFAULT_MODEL", DEFAULT_MODEL_ID)


#: How a model that is not on this machine is marked in the model menus.
NOT_OFFLINE = " — not on this machine (downloads from the Hub)"


def model_choices() -> list[tuple[str, str]]:
    """(label, id) of the default model, then the allowed list; models that would need the Hugging Face Hub
    (not bundled, not a local folder, not in the local hub cache) are marked. In public mode, where remote code
    is refused, models that need it are not offered."""
    ids = list(dict.fromkeys([default_model(), *allowed_models()]))
    if public_mode():
        ids = [m for m in ids if not needs_remote_code(m)]
    return [(m if available_offline(m) else m + NOT_OFFLINE, m) for m in ids]


def language_choices(langs: list[str] | tuple[str, ...]) -> list[tuple[str, str]]:
    """(label, code) pairs for a language dropdown."""
    return [(language_label(x), x) for x in langs]


def data_spec(dataset: str, upload: Any, lab: Lab | None = None, visitor: str | None = None) -> str:
    """The data spec: a listed dataset, or an uploaded file (in public mode nothing else: no server paths).

    With ``lab``, an upload is admitted through :meth:`Lab.use_upload` for ``visitor`` (public mode: the
    upload folder only, the size limit, and the visitor's total upload bytes).
    """
    path = upload_path(upload)
    if path is None and dataset == UPLOADED:
        raise XlalignError("the uploaded file was removed: upload it again or choose a dataset")
    if path is None:
        if public_mode() and dataset not in DATASETS:
            raise XlalignError(f"dataset must be one of {', '.join(DATASETS)} or an uploaded file")
        return dataset
    if public_mode() and not uploaded_file(path):
        raise XlalignError("that file is not an upload")
    if Path(path).stat().st_size > max_upload_bytes():
        raise XlalignError(f"the file is larger than {max_upload_bytes() / 2**20:g} MB, this server's limit")
    return lab.use_upload(path, visitor) if lab is not None else path


def model_spec(model: str, precision: str, remote: bool) -> ModelSpec:
    """Empty means the default model; remote code never in public mode."""
    return ModelSpec(model=(model or "").strip() or default_model(), precision=precision,
                     trust_remote_code=bool(remote) and not public_mode())


def language_spec(pivot: str, targets: Any) -> tuple[str, ...]:
    """(pivot, *targets) from the two language controls; the pivot is never also a target."""
    chosen = [targets] if isinstance(targets, str) else list(targets or [])
    if not chosen:
        raise XlalignError("choose at least one target language")
    return (pivot, *[t for t in chosen if t != pivot])


def gr_progress(progress: Any) -> Progress:
    """The xlalign progress protocol shown by a ``gr.Progress``."""

    def report(stage: str, done: float = 0, total: float | None = None, **metrics: Any) -> None:
        frac = fraction(done, total, metrics)
        step = f" ({int(done)}/{int(total)})" if total else ""
        progress(frac if frac is not None else 0.0, desc=f"{stage}{step}")

    return report


__all__ = ["DATASETS", "NOT_OFFLINE", "UPLOADED", "data_spec", "default_model", "gr_progress", "language_choices",
           "language_spec", "model_choices", "model_spec"]
