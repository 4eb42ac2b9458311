"""Orthogonal Procrustes alignment (Schönemann, 1966), as applied to multilingual sentence
embeddings in "Beyond Fine-Tuning: Procrustes Alignment of Multilingual Embeddings for Low-Resource
Cross-Lingual Retrieval" (LREC 2026 SIGUL): a rotation W learned from a few parallel pairs maps
target-language embeddings onto their English counterparts.

    W* = argmin_{WᵀW = I} ‖X W − Y‖_F = U Vᵀ,   where U Σ Vᵀ = SVD(Xᵀ Y)

(computed by ``scipy.linalg.orthogonal_procrustes``).

X holds target-language rows, Y the parallel English rows (both (n, d)). With ``center=True`` the
means are removed first and x ↦ (x − μ_X) W + μ_Y.

**Fewer pairs than dimensions.** When the rows of X and Y span only k < d dimensions, the optimum
fixes W on that span alone; SVD fills the rest with an arbitrary rotation, which scrambles every
direction the pairs never saw. So W is fitted in the span and is the identity outside it: with Q (d, k)
an orthonormal basis of span(rows of X and Y) and R the Procrustes rotation of (XQ, YQ),
W = I − QQᵀ + Q R Qᵀ — orthogonal, and as close to X W ≈ Y as the unrestricted optimum (both reach
the same residual, tested). With k = d it is the ordinary solution. Demo corpus, 168 pairs in 384
dimensions, held-out es Multi Complete@10 79.8 before: 50.0 after the SVD rotation, 72.6 after this
one — still below the baseline: so few pairs overfit even inside their span.

:class:`ProcrustesAligner` is the method: one rotation per target language onto the pivot, from the
training data's parallel passages and/or questions, as a
:class:`~xlalign.align.transform.LanguageAwareTransform` (the pivot's map is the identity).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xlalign.align.artefacts import load_arrays, save_arrays
from xlalign.align.base import AlignerRecord, FitInputs
from xlalign.align.transform import AffineMap, LanguageAwareAligner, LanguageAwareTransform
from xlalign.core.encoder import l2_normalise
from xlalign.specs import ProcrustesOptions


def mean_cosine_distance(x: np.ndarray, y: np.ndarray) -> float:
    """Mean of 1 − cos(x_i, y_i) over parallel rows."""
    if x.shape != y.shape or x.ndim != 2:
        raise ValueError(f"expected two (n, d) arrays of equal shape, got {x.shape} and {y.shape}")
    xn = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    yn = y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)
    return float(np.mean(1.0 - (xn * yn).sum(axis=1)))


def span_procrustes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The orthogonal W minimising ‖XW − Y‖_F that is the identity outside the rows' span (module docstring)."""
    from scipy.linalg import orth, orthogonal_procrustes

    d = x.shape[1]
    q = orth(np.concatenate([x, y]).T)  # (d, k): basis of the span of every row of X and Y
    if q.shape[1] >= d:
        return np.asarray(orthogonal_procrustes(x, y)[0])
    r, _ = orthogonal_procrustes(x @ q, y @ q)
    w: np.ndarray = np.eye(d) - q @ q.T + q @ r @ q.T
    return w


class FewPairsWarning(UserWarning):
    """Fewer parallel pairs than dimensions: the rotation is under-determined and will overfit."""


@dataclass
class OrthogonalProcrustes:
    """scikit-learn-style estimator: ``fit(X, Y)`` learns ``W_`` (d, d) orthogonal; ``transform(X)``."""

    center: bool = ProcrustesOptions.center
    normalize: bool = True

    def fit(self, x: np.ndarray, y: np.ndarray) -> OrthogonalProcrustes:
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if x.ndim != 2 or x.shape != y.shape:
            raise ValueError(f"X and Y must be (n, d) arrays of equal shape, got {x.shape} and {y.shape}")
        n, d = x.shape
        if n < 2:
            raise ValueError(f"need at least 2 parallel pairs, got {n}")
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise ValueError("X or Y contains NaN or infinite values")
        self.n_pairs_ = n
        if n < d:
            warnings.warn(f"{n} parallel pairs for {d} dimensions: the rotation is under-determined (fitted in "
                          f"the pairs' span, the identity elsewhere) and may overfit (compare fit vs held-out "
                          f"distance)", FewPairsWarning, stacklevel=2)
        self.mean_x_ = x.mean(axis=0) if self.center else np.zeros(d)
        self.mean_y_ = y.mean(axis=0) if self.center else np.zeros(d)
        self.W_ = span_procrustes(x - self.mean_x_, y - self.mean_y_)
        self.fit_distance_before_ = mean_cosine_distance(x, y)
        self.fit_distance_ = mean_cosine_distance(self.transform(x), y)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        if not hasattr(self, "W_"):
            raise RuntimeError("OrthogonalProcrustes is not fitted; call fit() first")
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.W_.shape[0]:
            raise ValueError(f"expected (n, {self.W_.shape[0]}) input, got {x.shape}")
        out = (x - self.mean_x_) @ self.W_ + self.mean_y_
        return (l2_normalise(out) if self.normalize else out).astype(np.float32)

    def save(self, path: str | Path) -> None:
        save_arrays(path, "xlalign.OrthogonalProcrustes", {"W": self.W_, "mean_x": self.mean_x_, "mean_y": self.mean_y_},
                    center=self.center, normalize=self.normalize, n_pairs=self.n_pairs_)

    @classmethod
    def load(cls, path: str | Path) -> OrthogonalProcrustes:
        meta, arrays = load_arrays(path, "xlalign.OrthogonalProcrustes")
        est = cls(center=meta["center"] == "True", normalize=meta["normalize"] == "True")
        est.W_, est.mean_x_, est.mean_y_ = arrays["W"], arrays["mean_x"], arrays["mean_y"]
        est.n_pairs_ = int(meta["n_pairs"])
        return est


@dataclass
class ProcrustesRecord(AlignerRecord):
    """Per target language: pairs, dimension, and the mean cosine distance to the pivot before/after, on the
    fitting pairs and on the held-out passages."""

    fit_on: str = ""
    center: bool = True
    targets: dict[str, dict[str, float | int]] = field(default_factory=dict)


class ProcrustesAligner(LanguageAwareAligner):
    """Orthogonal Procrustes per target language, from parallel pairs."""

    name = "procrustes"
    Options = ProcrustesOptions
    summary = "orthogonal Procrustes onto the pivot"
    flag_prefix = "procrustes-"
    key_options = ("center", "fit_on")
    options: ProcrustesOptions

    @classmethod
    def label_parts(cls, options: ProcrustesOptions, done: Mapping[str, object]) -> list[str] | None:
        return ["Procrustes", "centred" if options.center else "not centred", f"pairs {options.fit_on}"]

    def fit(self, inputs: FitInputs) -> ProcrustesRecord:
        pivot, opts = inputs.evaluation.pivot, self.options
        pairs = self.pairs(inputs)
        maps: dict[tuple[str, str], AffineMap] = {(role, pivot): (None, None) for role in ("query", "passage")}
        record = ProcrustesRecord(fit_on=opts.fit_on, center=opts.center)
        for target in inputs.evaluation.targets:
            x, y = pairs[target]
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", FewPairsWarning)
                est = OrthogonalProcrustes(center=opts.center).fit(x, y)
            part = LanguageAwareTransform.from_procrustes(est, target, pivot)
            maps.update({k: v for k, v in part.maps.items() if k[1] == target})
            held_x, held_y = inputs.eval_embeddings.passages[target], inputs.eval_embeddings.passages[pivot]
            record.targets[target] = {
                "n_pairs": len(x), "dimension": int(x.shape[1]),
                "fit_distance_before": est.fit_distance_before_, "fit_distance_after": est.fit_distance_,
                "heldout_distance_before": mean_cosine_distance(held_x, held_y),
                "heldout_distance_after": mean_cosine_distance(part.apply(held_x, target), held_y)}
            record.warnings += [f"{target}: {w.message}" for w in caught]
        self.transform_ = LanguageAwareTransform(maps, method="procrustes", pivot=pivot,
                                                 options={"center": opts.center})
        return record

    def pairs(self, inputs: FitInputs) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """(target rows, pivot rows) of parallel passages and/or questions per target language.

        Triplet files carry no target-language questions: they always fit on passages."""
        pivot, fit_on, encoder, out = inputs.evaluation.pivot, self.options.fit_on, inputs.encoder, {}
        train = inputs.training_embeddings()
        use_questions = fit_on in ("questions", "both") and bool(train.queries)
        use_passages = fit_on in ("passages", "both") or not train.queries
        for target in inputs.evaluation.targets:
            xs, ys = [], []
            if use_passages:
                uniq = list(dict.fromkeys((t["p_en"], t["p_tgt"]) for t in inputs.data.triplets
                                          if t["lang"] == target))
                xs.append(encoder.encode([b for _, b in uniq], lang=target, role="passage", progress=inputs.progress))
                ys.append(encoder.encode([a for a, _ in uniq], lang=pivot, role="passage", progress=inputs.progress))
            if use_questions:
                xs.append(train.queries[target])
                ys.append(train.queries[pivot])
            out[target] = (np.vstack(xs), np.vstack(ys))
        return out

