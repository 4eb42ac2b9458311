"""How a result was made: the model and its fingerprint, the precision actually used, the pool mode, the version.

Every result page's footer, ``run.json``, the result CSVs (as columns) and the CLI's summary line carry a
:class:`MadeWith`, so that two numbers can be compared only when they were made the same way (``auto``
precision is bf16 on a CPU with bf16 units and fp32 elsewhere, and the figures differ).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

import xlalign

#: Columns :func:`stamp` appends to a result table.
STAMP_COLUMNS = ("model", "model_fingerprint", "precision", "xlalign_version")


@dataclass(frozen=True)
class MadeWith:
    """The facts that decide a result besides the data and languages."""

    model: str  # as named: hub id, local path, bundled:… or run:<id>
    fingerprint: str  # the encoder's content fingerprint (weights, sequence length, precision)
    precision: str  # resolved: fp32 or bf16 ("unknown" for encoders that do not say)
    requested_precision: str  # as asked: auto, fp32 or bf16
    device: str
    pool: str  # dedup or per-question
    version: str = xlalign.__version__

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    def footer(self) -> str:
        """One line: ``model M (fingerprint F) · precision bf16 (auto) on cpu · dedup pools · xlalign 0.1.0``."""
        asked = f" ({self.requested_precision})" if self.requested_precision not in ("", self.precision) else ""
        return (f"model {self.model} (fingerprint {short_fingerprint(self.fingerprint)}) · precision "
                f"{self.precision}{asked} on {self.device} · {self.pool} pools · xlalign {self.version}")


    def brief(self) -> str:
        """The short form figures carry: ``model · bf16 (auto) · dedup pools · xlalign 0.1.0``."""
        asked = f" ({self.requested_precision})" if self.requested_precision not in ("", self.precision) else ""
        return f"{self.model} · {self.precision}{asked} · {self.pool} pools · xlalign {self.version}"


def short_fingerprint(fingerprint: str, n: int = 12) -> str:
    """The identifying part of a fingerprint (``dir:0a1b2c…``), without the settings it repeats."""
    head = fingerprint.split("|", 1)[0]
    kind, _, digest = head.rpartition(":")
    if kind.startswith("hub") or not digest or len(digest) <= n:
        return head
    return f"{kind}:{digest[:n]}…"


def made_with(encoder: Any, model: Any, pool: str) -> MadeWith:
    """What ``encoder`` (for the model spec ``model``) reports about itself, with the pool mode.

    Encoders without ``precision``/``device`` attributes (test fakes, plain callables) report "unknown".
    """
    return MadeWith(model=str(getattr(model, "model", model)),
                    fingerprint=str(getattr(encoder, "fingerprint", getattr(encoder, "name", "unknown"))),
                    precision=str(getattr(encoder, "precision", "unknown")),
                    requested_precision=str(getattr(model, "precision", "")), device=str(getattr(encoder, "device",
                                                                                                 "unknown")),
                    pool=pool)


def from_dict(values: dict[str, Any] | None) -> MadeWith | None:
    """A :class:`MadeWith` read back from ``run.json`` (None when the run predates it)."""
    if not values:
        return None
    fields = MadeWith.__dataclass_fields__
    return MadeWith(**{k: str(v) for k, v in values.items() if k in fields})


def stamp(frame: pd.DataFrame, made: MadeWith) -> pd.DataFrame:
    """``frame`` with the :data:`STAMP_COLUMNS` appended (every row: one CSV says how all of it was made)."""
    out = frame.copy()
    for column, value in zip(STAMP_COLUMNS, (made.model, made.fingerprint, made.precision, made.version),
                             strict=True):
        out[column] = value
    return out


__all__ = ["STAMP_COLUMNS", "MadeWith", "from_dict", "made_with", "short_fingerprint", "stamp"]
