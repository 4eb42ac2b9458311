"""Language-subspace removal, LSAR (Xie et al., 2022, "Discovering Low-rank Subspaces for
Language-agnostic Multilingual Representations", EMNLP): multilingual sentence embeddings carry
language identity in a low-rank subspace. Estimate it from per-language mean embeddings and project
it out of every embedding:

    μ_{ρ,l}  = mean of role ρ's embeddings in language l                       (d,)
    M        = [μ_{ρ,l} − mean_l μ_{ρ,l}]  over roles ρ, languages l           (d, Σ_ρ L_ρ)
    U Σ Vᵀ   = SVD(M);   U_r = the first r columns of U                          (d, r)
    e ↦ normalise((I − U_r U_rᵀ) e)

Centring by each role's mean over languages keeps the shared (language-agnostic) component μ̄ in the
embeddings and removes only the directions along which languages differ; the paper's decomposition
M = μ̄ 1ᵀ + M_s Γ has the same least-squares solution (M_s = top-r left singular vectors of the
centred means). A role's L centred means span at most L − 1 dimensions, so r ≤ Σ_ρ (L_ρ − 1).

Unsupervised (no parallel pairs, only text per language), needs no language tag at inference, and
is one (d, d) matrix for all languages: it can be baked into a sentence-transformers model
(:func:`xlalign.store.export.export_linear_model`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from xlalign.align.artefacts import load_arrays, save_arrays
from xlalign.core.encoder import l2_normalise

KIND = "xlalign.LanguageSubspaceRemoval"
ROLES = ("query", "passage")
# Singular values below RTOL × the largest are numerical noise (embeddings arrive as float32, ~1e-7).
RTOL = 1e-6


class LanguageSubspaceRemoval:
    """scikit-learn-style estimator: ``fit({(role, lang): (n, d)})`` learns ``components_`` (d, r_max).

    ``rank=None`` removes all ``max_rank_`` directions; an int removes the top ``rank`` of them.
    ``transform(x)`` is language-agnostic: the same projection for every language and role.
    """

    def __init__(self, rank: int | None = None) -> None:
        if rank is not None and (isinstance(rank, bool) or not isinstance(rank, int | np.integer) or rank < 1):
            raise ValueError(f"rank must be a positive int or None, got {rank!r}")
        self.rank = None if rank is None else int(rank)

    def __repr__(self) -> str:
        return f"LanguageSubspaceRemoval(rank={self.rank!r})"

    # ----------------------------------------------------------------------------- fitting
    def fit(self, embeddings: Mapping[tuple[str, str], np.ndarray]) -> LanguageSubspaceRemoval:
        """``embeddings[(role, lang)]`` is (n, d); role ∈ {query, passage}; queries are optional.

        Roles with fewer than 2 languages carry no language contrast and are skipped; at least one
        role needs ≥ 2 languages.
        """
        if not embeddings:
            raise ValueError("no embeddings to fit")
        by_role: dict[str, dict[str, np.ndarray]] = {}
        for key, x in embeddings.items():
            if not (isinstance(key, tuple) and len(key) == 2):
                raise ValueError(f"keys must be (role, lang) tuples, got {key!r}")
            role, lang = key
            if role not in ROLES:
                raise ValueError(f"unknown role {role!r} in key {key!r}; expected one of {ROLES}")
            arr = np.asarray(x, dtype=np.float64)
            if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
                raise ValueError(f"need a non-empty (n, d) matrix for {key!r}, got shape {arr.shape}")
            if not np.isfinite(arr).all():
                raise ValueError(f"embeddings for {key!r} contain NaN or infinite values")
            by_role.setdefault(role, {})[lang] = arr
        dims = {x.shape[1] for langs in by_role.values() for x in langs.values()}
        if len(dims) != 1:
            raise ValueError(f"embeddings have different dimensions: {sorted(dims)}")
        (d,) = dims
        used = {role: langs for role, langs in by_role.items() if len(langs) >= 2}
        if not used:
            raise ValueError("need at least 2 languages for one role (query or passage); got "
                             + ", ".join(f"{r}: {sorted(ls)}" for r, ls in sorted(by_role.items())))

        columns = []
        for role in sorted(used):
            means = np.stack([x.mean(axis=0) for _, x in sorted(used[role].items())], axis=1)  # (d, L_role)
            columns.append(means - means.mean(axis=1, keepdims=True))
        m = np.concatenate(columns, axis=1)  # (d, Σ L_role)
        u, s, _ = np.linalg.svd(m, full_matrices=False)
        bound = min(sum(len(langs) - 1 for langs in used.values()), d - 1)  # d − 1: never remove everything
        r_max = min(int(np.sum(s > RTOL * s[0])) if s[0] > 0 else 0, bound)
        if r_max == 0:
            raise ValueError("the language means are identical: there is no language subspace to remove")
        if self.rank is not None and self.rank > r_max:
            raise ValueError(f"rank={self.rank} exceeds the maximum rank {r_max} for this data "
                             f"(1 ≤ rank ≤ {r_max}: Σ over roles of (languages − 1), non-negligible directions)")
        self.components_ = u[:, :r_max]
        self.singular_values_ = s[:r_max]
        self.max_rank_ = r_max
        self.rank_ = r_max if self.rank is None else self.rank
        self.n_features_in_ = d
        self.languages_ = {role: sorted(langs) for role, langs in sorted(by_role.items())}
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "components_"):
            raise RuntimeError("LanguageSubspaceRemoval is not fitted; call fit() first")

    def with_rank(self, rank: int) -> LanguageSubspaceRemoval:
        """A fitted copy that removes the top ``rank`` components (no refit); 1 ≤ rank ≤ ``max_rank_``."""
        self._check_fitted()
        if isinstance(rank, bool) or not isinstance(rank, int | np.integer) or not 1 <= rank <= self.max_rank_:
            raise ValueError(f"rank must be an int with 1 ≤ rank ≤ max_rank_ = {self.max_rank_}, got {rank!r}")
        other = copy.deepcopy(self)
        other.rank = other.rank_ = int(rank)
        return other

    # ----------------------------------------------------------------------------- applying
    def projection_matrix(self) -> np.ndarray:
        """P = I − U_r U_rᵀ, (d, d), symmetric and idempotent; ``transform(x) = normalise(x P)``."""
        self._check_fitted()
        u = self.components_[:, : self.rank_]
        return np.eye(self.n_features_in_) - u @ u.T

    def transform(self, x: np.ndarray) -> np.ndarray:
        """(n, d) → (n, d) float32, language subspace removed, rows re-normalised to unit length."""
        self._check_fitted()
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features_in_:
            raise ValueError(f"expected (n, {self.n_features_in_}) input, got {x.shape}")
        u = self.components_[:, : self.rank_]
        return l2_normalise(x - (x @ u) @ u.T).astype(np.float32)

    # ----------------------------------------------------------------------------- persistence
    def save(self, path: str | Path) -> None:
        self._check_fitted()
        save_arrays(path, KIND, {"components": self.components_, "singular_values": self.singular_values_},
                    rank="None" if self.rank is None else self.rank, rank_=self.rank_, max_rank=self.max_rank_,
                    languages=json.dumps(self.languages_))

    @classmethod
    def load(cls, path: str | Path) -> LanguageSubspaceRemoval:
        meta, arrays = load_arrays(path, KIND)
        est = cls(rank=None if meta["rank"] == "None" else int(meta["rank"]))
        est.components_, est.singular_values_ = arrays["components"], arrays["singular_values"]
        est.max_rank_, est.rank_ = int(meta["max_rank"]), int(meta["rank_"])
        est.n_features_in_ = est.components_.shape[0]
        est.languages_ = json.loads(meta["languages"])
        return est
