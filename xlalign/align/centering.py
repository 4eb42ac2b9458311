"""Language-mean centering (Libovický et al., 2020, "On the Language Neutrality of Pre-trained
Multilingual Representations", Findings of EMNLP): multilingual sentence embeddings carry a
language-specific offset; removing each language's mean (or moving the target language's mean onto
the pivot's) makes them more language-neutral. No parallel data is needed, only text in each
language.

:class:`CenteringAligner` is the method: passage (and query) means on the training data become a
:class:`~xlalign.align.transform.LanguageAwareTransform`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xlalign.align.artefacts import load_arrays, save_arrays
from xlalign.align.base import AlignerRecord, FitInputs
from xlalign.align.transform import LanguageAwareAligner, LanguageAwareTransform
from xlalign.core.encoder import l2_normalise
from xlalign.specs import CENTERING_MODES, CenteringOptions


@dataclass
class LanguageCentering:
    """Estimator over embeddings grouped by language.

    ``mode="shift"``: x ↦ normalise(x + μ_pivot − μ_lang) for every non-pivot language (the pivot is
    unchanged). ``mode="subtract"``: x ↦ normalise(x − μ_lang) for every language.

    ``means_[lang]`` are the learned language means (d,), estimated from the rows passed to
    :meth:`fit` (training passages; never the evaluation split).
    """

    pivot: str = "en"
    mode: str = CenteringOptions.mode
    means_: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in CENTERING_MODES:
            raise ValueError(f"mode must be one of {CENTERING_MODES}, got {self.mode!r}")

    def fit(self, embeddings: Mapping[str, np.ndarray]) -> LanguageCentering:
        """``embeddings[lang]`` is (n_lang, d); the pivot must be present in ``shift`` mode."""
        if not embeddings:
            raise ValueError("no embeddings to fit")
        dims = {x.shape[1] for x in embeddings.values()}
        if len(dims) != 1:
            raise ValueError(f"languages have different dimensions: {sorted(dims)}")
        for lang, x in embeddings.items():
            if x.ndim != 2 or len(x) == 0:
                raise ValueError(f"need a non-empty (n, d) matrix for {lang!r}, got shape {x.shape}")
        if self.mode == "shift" and self.pivot not in embeddings:
            raise ValueError(f"shift mode needs pivot language {self.pivot!r} in the fit data")
        self.means_ = {lang: np.asarray(x, dtype=np.float64).mean(axis=0) for lang, x in embeddings.items()}
        return self

    def offset(self, lang: str) -> np.ndarray:
        """The vector added to ``lang``'s embeddings before re-normalisation."""
        if not self.means_:
            raise RuntimeError("LanguageCentering is not fitted; call fit() first")
        if lang not in self.means_:
            raise KeyError(f"no mean for language {lang!r}; fitted on {sorted(self.means_)}")
        if self.mode == "subtract":
            return -self.means_[lang]
        if lang == self.pivot:
            return np.zeros_like(self.means_[lang])
        shift: np.ndarray = self.means_[self.pivot] - self.means_[lang]
        return shift

    def transform(self, x: np.ndarray, lang: str) -> np.ndarray:
        """(n, d) → (n, d), rows re-normalised to unit length."""
        return l2_normalise(np.asarray(x, dtype=np.float64) + self.offset(lang)).astype(np.float32)

    def save(self, path: str | Path) -> None:
        save_arrays(path, "xlalign.LanguageCentering", {f"mean.{k}": v for k, v in self.means_.items()},
                    pivot=self.pivot, mode=self.mode)

    @classmethod
    def load(cls, path: str | Path) -> LanguageCentering:
        meta, arrays = load_arrays(path, "xlalign.LanguageCentering")
        return cls(pivot=meta["pivot"], mode=meta["mode"],
                   means_={k.removeprefix("mean."): v for k, v in arrays.items()})


@dataclass
class CenteringRecord(AlignerRecord):
    """What a centering fit used and learned."""

    mode: str = ""
    queries: str = ""
    fit_langs: list[str] = field(default_factory=list)
    n_fit_passages: dict[str, int] = field(default_factory=dict)
    passage_offset_norms: dict[str, float] = field(default_factory=dict)


class CenteringAligner(LanguageAwareAligner):
    """Language-mean centering: one offset per language (and role), no parallel data needed."""

    name = "centering"
    Options = CenteringOptions
    summary = "language-mean centering"
    flag_prefix = "centering-"
    key_options = ("mode", "queries")
    uses_fit_langs = True
    options: CenteringOptions

    @classmethod
    def label_parts(cls, options: CenteringOptions, done: Mapping[str, object]) -> list[str] | None:
        return ["centering", options.mode, f"queries {options.queries}"]

    def fit(self, inputs: FitInputs) -> CenteringRecord:
        opts, pivot = self.options, inputs.evaluation.pivot
        train = inputs.training_embeddings()
        passages = LanguageCentering(pivot=pivot, mode=opts.mode).fit(train.passages)
        queries: LanguageCentering | None = passages
        query_source = opts.queries
        if opts.queries == "own" and train.queries:
            queries = LanguageCentering(pivot=pivot, mode=opts.mode).fit(train.queries)
        elif opts.queries == "own":
            query_source = "passage (no target-language training questions)"
        transform = LanguageAwareTransform.from_centering(passages, queries)
        if opts.queries == "none":
            transform = LanguageAwareTransform({**{k: v for k, v in transform.maps.items() if k[0] == "passage"},
                                                **{("query", lang): (None, None) for lang in passages.means_}},
                                               method="centering", pivot=transform.pivot, options=transform.options)
        self.transform_ = transform
        return CenteringRecord(mode=opts.mode, queries=query_source, fit_langs=sorted(passages.means_),
                               n_fit_passages={k: len(v) for k, v in train.passages.items()},
                               passage_offset_norms={k: float(np.linalg.norm(passages.offset(k)))
                                                     for k in passages.means_})
