"""Language-aware affine maps (centering, Procrustes): the artefact the "after" evaluation applies and exports,
and :class:`LanguageAwareAligner`, what the methods that produce one share."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from xlalign import __version__
from xlalign.align import standalone_apply as sa
from xlalign.align.artefacts import publish
from xlalign.align.base import AlignerBase, ApplyInputs
from xlalign.core.encoder import ROLES
from xlalign.errors import ConfigError, full_disk_named

if TYPE_CHECKING:
    from xlalign.core.evaluate import CorpusEmbeddings


class LanguageCentering(Protocol):
    """What :meth:`LanguageAwareTransform.from_centering` reads of a fitted
    :class:`xlalign.align.centering.LanguageCentering` (that module imports this one)."""

    pivot: str
    mode: str
    means_: dict[str, np.ndarray]

    def offset(self, lang: str) -> np.ndarray: ...


class OrthogonalProcrustes(Protocol):
    """What :meth:`LanguageAwareTransform.from_procrustes` reads of a fitted
    :class:`xlalign.align.procrustes.OrthogonalProcrustes`."""

    center: bool
    normalize: bool
    W_: np.ndarray
    mean_x_: np.ndarray
    mean_y_: np.ndarray

AffineMap = tuple[np.ndarray | None, np.ndarray | None]


@dataclass
class LanguageAwareTransform:
    """Per-(role, lang) affine maps x ↦ normalise(x A + b); A (d, d) absent = identity, b (d,) absent = 0.

    Every role covers the same languages. Parameters are held as float32, exactly as saved, so
    :meth:`apply` here, after :meth:`load`, and in the standalone ``xlalign_apply.py`` agree bit for bit.
    """

    maps: dict[tuple[str, str], AffineMap]
    method: str
    pivot: str | None = None
    options: dict[str, object] = field(default_factory=dict)
    dimension: int | None = None

    def __post_init__(self) -> None:
        if not self.maps:
            raise ValueError("a LanguageAwareTransform needs at least one (role, lang) map")
        by_role: dict[str, set[str]] = {}
        clean: dict[tuple[str, str], AffineMap] = {}
        dims: set[int] = set() if self.dimension is None else {int(self.dimension)}
        for (role, lang), (a, b) in self.maps.items():
            if role not in ROLES:
                raise ValueError(f"unknown role {role!r}; expected one of {ROLES}")
            by_role.setdefault(role, set()).add(lang)
            a32 = None if a is None else np.ascontiguousarray(a, dtype=np.float32)
            b32 = None if b is None else np.ascontiguousarray(b, dtype=np.float32)
            if a32 is not None:
                if a32.ndim != 2 or a32.shape[0] != a32.shape[1]:
                    raise ValueError(f"A for {(role, lang)} must be square (d, d), got {a32.shape}")
                dims.add(a32.shape[0])
            if b32 is not None:
                if b32.ndim != 1:
                    raise ValueError(f"b for {(role, lang)} must be (d,), got {b32.shape}")
                dims.add(b32.shape[0])
            if any(t is not None and not np.isfinite(t).all() for t in (a32, b32)):
                raise ValueError(f"the map for {(role, lang)} contains NaN or infinite values")
            clean[(role, lang)] = (a32, b32)
        if len(dims) != 1:
            raise ValueError("maps have inconsistent dimensions: " + str(sorted(dims)) if dims
                             else "all maps are identities: pass dimension=")
        if len({frozenset(v) for v in by_role.values()}) != 1:
            raise ValueError("every role must cover the same languages: "
                             + ", ".join(f"{r}: {sorted(v)}" for r, v in sorted(by_role.items())))
        self.maps, self.dimension = clean, dims.pop()

    @property
    def langs(self) -> list[str]:
        return sorted({lang for _, lang in self.maps})

    @property
    def roles(self) -> list[str]:
        return sorted({role for role, _ in self.maps})

    def apply(self, x: np.ndarray, lang: str, role: str = "passage") -> np.ndarray:
        """(n, d) or (d,) embeddings of ``role`` texts in ``lang`` → aligned, L2-normalised float32."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        if role not in self.roles:
            raise KeyError(f"this transform has no {role!r} maps; roles: {self.roles}")
        if (role, lang) not in self.maps:
            raise KeyError(f"unknown language {lang!r}; this transform knows {self.langs}")
        arr = np.asarray(x)
        if arr.ndim not in (1, 2) or arr.shape[-1] != self.dimension:
            raise ValueError(f"expected (n, {self.dimension}) or ({self.dimension},) embeddings, got {arr.shape}")
        return sa.affine_normalise(arr, *self.maps[(role, lang)])

    def faiss_index(self, index: Any, lang: str, role: str = "passage") -> Any:
        """``index`` (a faiss index) behind this (role, lang) map: a ``faiss.IndexPreTransform`` of a
        ``LinearTransform`` and an L2 normalisation (:func:`xlalign.align.standalone_apply.faiss_pretransform`, the
        same code the export's ``xlalign_apply.py`` runs). Wrappers of one index share it."""
        if (role, lang) not in self.maps:
            raise KeyError(f"no map for role {role!r} and language {lang!r}; this transform knows {self.langs}")
        return sa.faiss_pretransform(index, *self.maps[(role, lang)], int(self.dimension or 0))

    # ----------------------------------------------------------------------------- constructors
    @classmethod
    def from_centering(cls, passages: LanguageCentering, queries: LanguageCentering | None = None) -> LanguageAwareTransform:
        """b_{ρ,l} = ``offset(l)`` of that role's centering (queries default to the passage map); A = I."""
        if not passages.means_:
            raise RuntimeError("LanguageCentering is not fitted; call fit() first")
        q = passages if queries is None else queries
        if not q.means_:
            raise RuntimeError("the query LanguageCentering is not fitted; call fit() first")
        if set(q.means_) != set(passages.means_):
            raise ValueError(f"query and passage centerings cover different languages: "
                             f"{sorted(q.means_)} vs {sorted(passages.means_)}")
        maps: dict[tuple[str, str], AffineMap] = {}
        for role, est in (("passage", passages), ("query", q)):
            for lang in est.means_:
                maps[(role, lang)] = (None, est.offset(lang))
        options: dict[str, object] = {"mode": passages.mode, "query_map": "passage map" if queries is None else "separate"}
        if queries is not None and queries.mode != passages.mode:
            options["query_mode"] = queries.mode
        return cls(maps, method="centering", pivot=passages.pivot if passages.mode == "shift" else None, options=options)

    @classmethod
    def from_procrustes(cls, est: OrthogonalProcrustes, target: str, pivot: str) -> LanguageAwareTransform:
        """Target: x ↦ normalise(x W + (μ_Y − μ_X W)), i.e. (x − μ_X) W + μ_Y; pivot: identity; both roles."""
        if not hasattr(est, "W_"):
            raise RuntimeError("OrthogonalProcrustes is not fitted; call fit() first")
        if target == pivot:
            raise ValueError(f"target and pivot are the same language ({target!r})")
        if not est.normalize:
            raise ValueError("this OrthogonalProcrustes has normalize=False, but exported maps always re-normalise; "
                             "refit with normalize=True")
        w = np.asarray(est.W_, dtype=np.float64)
        b = np.asarray(est.mean_y_, dtype=np.float64) - np.asarray(est.mean_x_, dtype=np.float64) @ w
        maps: dict[tuple[str, str], AffineMap] = {}
        for role in ROLES:
            maps[(role, target)] = (w, b if est.center else None)
            maps[(role, pivot)] = (None, None)
        return cls(maps, method="procrustes", pivot=pivot,
                   options={"center": est.center, "n_pairs": getattr(est, "n_pairs_", None)})

    # ----------------------------------------------------------------------------- persistence
    def config(self) -> dict[str, object]:
        """The ``transform.json`` contents."""
        return {"kind": sa.KIND, "format_version": 1, "method": self.method, "langs": self.langs, "roles": self.roles,
                "dimension": self.dimension, "pivot": self.pivot, "options": self.options,
                "created_by": f"xlalign {__version__}"}

    def save(self, folder: str | Path) -> Path:
        """Write ``transform.safetensors`` and ``transform.json`` into ``folder`` (created if needed)."""
        from safetensors.numpy import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {}
        for (role, lang), (a, b) in sorted(self.maps.items()):
            if a is not None:
                tensors[f"A.{role}.{lang}"] = a
            if b is not None:
                tensors[f"b.{role}.{lang}"] = b
        with full_disk_named(f"{folder.name}/{sa.TENSORS_FILE}"):
            save_file(tensors, str(folder / sa.TENSORS_FILE), metadata={"kind": sa.KIND})
        publish(folder / sa.TENSORS_FILE)
        (folder / sa.CONFIG_FILE).write_text(json.dumps(self.config(), indent=2, default=str) + "\n", encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> LanguageAwareTransform:
        t = sa.load(folder)
        return cls(dict(t.maps), method=t.method, pivot=t.pivot, options=dict(t.config.get("options", {})),
                   dimension=t.dimension)



def write_language_transform(transform: LanguageAwareTransform, folder: str | Path) -> Path:
    """The transform files plus ``xlalign_apply.py`` (numpy + safetensors, no xlalign) in ``folder``."""
    import shutil

    folder = Path(transform.save(folder))
    shutil.copyfile(Path(sa.__file__), folder / "xlalign_apply.py")
    return folder


class LanguageAwareAligner(AlignerBase):
    """Shared by methods whose artefact is a :class:`LanguageAwareTransform` (one affine map per role and
    language, saved as ``transform/`` in the run folder, exported with ``xlalign_apply.py``)."""

    language_agnostic = False
    artefacts = ("transform",)
    transform_: LanguageAwareTransform

    def save(self, folder: Path) -> None:
        self.transform_.save(Path(folder) / "transform")

    @classmethod
    def load(cls, folder: Path, options: Any) -> LanguageAwareAligner:
        aligner = cls(options)
        aligner.transform_ = LanguageAwareTransform.load(Path(folder) / "transform")
        return aligner

    def apply(self, inputs: ApplyInputs) -> CorpusEmbeddings:
        known = self.transform_.langs
        missing = [x for x in inputs.langs if x not in known]
        if missing:
            raise ConfigError(f"this alignment has no map for {', '.join(missing)} (it knows {', '.join(known)})")
        return inputs.base().map(lambda lang, role, x: self.transform_.apply(x, lang, role))

    def export(self, into: Path, *, base_model: str) -> None:
        write_language_transform(self.transform_, into)
