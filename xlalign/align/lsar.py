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
(:func:`write_linear_model`; the method's ``export`` writes it into a run's export folder).

:class:`LsarAligner` is the method: the estimator fitted on the training data's per-language means,
its rank given or chosen on a held-out part of the training groups.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xlalign.align.artefacts import load_arrays, save_arrays
from xlalign.align.base import AlignerBase, AlignerRecord, ApplyInputs, FitInputs, languages_to_fit
from xlalign.core.encoder import ROLES, l2_normalise
from xlalign.errors import ConfigError, ModelLoadError
from xlalign.specs import EvalSpec, LsarOptions

if TYPE_CHECKING:
    from xlalign.align.base import AlignSpec, TrainingData
    from xlalign.core.encoder import Encoder
    from xlalign.core.evaluate import CorpusEmbeddings
    from xlalign.progress import Progress

KIND = "xlalign.LanguageSubspaceRemoval"
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
        p: np.ndarray = np.eye(self.n_features_in_) - u @ u.T
        return p

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
        """A saved estimator; a file whose values or shapes do not fit together is a ValueError naming it."""
        meta, arrays = load_arrays(path, KIND)
        try:
            est = cls(rank=None if meta["rank"] == "None" else int(meta["rank"]))
            est.components_, est.singular_values_ = arrays["components"], arrays["singular_values"]
            est.max_rank_, est.rank_ = int(meta["max_rank"]), int(meta["rank_"])
            languages: object = json.loads(meta["languages"])
        except (KeyError, ValueError, TypeError) as e:
            raise ValueError(f"{path}: not a complete LSAR estimator ({type(e).__name__}: {e})") from None
        d = est.components_.shape[0] if est.components_.ndim == 2 else -1
        if d < 1 or not 0 <= est.rank_ <= est.components_.shape[1] or est.singular_values_.ndim != 1 \
                or not isinstance(languages, dict):
            raise ValueError(f"{path}: its components {est.components_.shape}, rank {est.rank_} and singular values "
                             f"{est.singular_values_.shape} do not fit together")
        est.n_features_in_, est.languages_ = d, languages
        return est


# --------------------------------------------------------------------------------------------
# The method
# --------------------------------------------------------------------------------------------
#: Share of the training groups held out to choose the LSAR rank.
LSAR_VALIDATION_FRACTION = 0.25


def write_linear_model(base_model: str | Path | Any, matrix: np.ndarray, into: str | Path) -> None:
    """Save ``base → [Normalize] → Dense(matrix) → Normalize`` as a sentence-transformers model in ``into``.

    ``base_model`` is a loaded SentenceTransformer, or the folder of one (loaded here; one that does not load is a
    :class:`~xlalign.errors.ModelLoadError`). The output is normalise(normalise(base(text)) @ matrix): ``matrix``
    (d, d) acts on row vectors, so the Dense weight (out, in) is ``matrix.T``. A Normalize is inserted before the
    Dense only when the base does not already end with one. The base's prompts and similarity function are kept.
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Dense, Normalize

    if isinstance(base_model, (str, Path)):
        base_model_dir = base_model
        try:
            model = SentenceTransformer(str(base_model), device="cpu")
        except Exception as e:
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise ModelLoadError(f"could not load the base model {Path(base_model).name}: {reason[:200]}") from None
    else:
        model, base_model_dir = base_model, "the base model"
    if model.truncate_dim is not None:
        raise ValueError(f"{base_model_dir} truncates embeddings to {model.truncate_dim} dimensions after the "
                         f"modules; export a map for the untruncated model instead")
    d = model.get_embedding_dimension()
    if d is None:
        raise ValueError(f"{base_model_dir} does not state its embedding dimension; cannot append a linear map")
    p = np.asarray(matrix, dtype=np.float64)
    if p.shape != (d, d):
        raise ValueError(f"matrix must be ({d}, {d}) for {base_model_dir} (embedding dimension {d}), got {p.shape}")
    if not np.isfinite(p).all():
        raise ValueError("matrix contains NaN or infinite values")
    if not isinstance(model[-1], Normalize):
        model.append(Normalize())
    model.append(Dense(d, d, bias=False, activation_function=None,
                       init_weight=torch.tensor(p.T, dtype=torch.float32)))
    model.append(Normalize())
    model.save(str(into), create_model_card=False)  # a full disk: the caller names what it was writing


def lsar_fit_data(train: CorpusEmbeddings, roles: str) -> dict[tuple[str, str], np.ndarray]:
    data = {("passage", lang): x for lang, x in train.passages.items()}
    if roles == "both":
        data.update({("query", lang): x for lang, x in train.queries.items()})
    return data


def _removed(emb: CorpusEmbeddings, est: LanguageSubspaceRemoval) -> CorpusEmbeddings:
    return emb.map(lambda lang, role, x: est.transform(x))


def choose_rank(data: TrainingData, encoder: Encoder, evaluation: EvalSpec, langs: Sequence[str],
                roles: str, seed: int, progress: Progress) -> tuple[int | None, list[dict[str, float]]]:
    """Pick the LSAR rank on a held-out part of the training groups: the rank r ≥ 1 with the lowest mean
    Multi Max@R over the evaluated query languages (ties → the smaller rank). Max@R, not Complete@10:
    on a small held-out part Complete@10 saturates at 100% for every rank of an already good pair, and
    the choice would fall to r = 1 whatever the rest of the spectrum does. The curve records both, and
    r = 0 (no removal). None when it cannot be chosen (no parallel training corpus, or fewer than 4
    groups): the full rank is then used."""
    from xlalign.core.evaluate import encode_corpus, evaluate_embeddings

    if data.train_corpus is None or len(set(data.train_corpus.groups)) < 4:
        return None, []
    fit_part, val_part = data.train_corpus.split_by_group(LSAR_VALIDATION_FRACTION, seed)
    est = LanguageSubspaceRemoval().fit(lsar_fit_data(encode_corpus(fit_part, encoder, langs, progress), roles))
    val_emb = encode_corpus(val_part, encoder, evaluation.langs, progress)
    val_spec = EvalSpec(data=evaluation.data, langs=evaluation.langs, pool=evaluation.pool, scenarios=("multi",),
                        ks=(10,), ndcg_ks=(10,))
    curve = []
    for r in range(0, est.max_rank_ + 1):
        emb = val_emb if r == 0 else _removed(val_emb, est.with_rank(r))
        res = evaluate_embeddings(val_part.select_langs(evaluation.langs), emb, val_spec)
        curve.append({"rank": r,
                      "multi_max_r": float(np.mean([res.value("multi", q, "max_r") for q in evaluation.langs])),
                      "multi_complete@10": float(np.mean([res.value("multi", q, "complete@10")
                                                          for q in evaluation.langs]))})
    return best_rank(curve), curve


def best_rank(curve: Sequence[Mapping[str, float]]) -> int:
    """The rank r ≥ 1 of a held-out curve (:func:`choose_rank`) with the lowest ``multi_max_r``; ties → the smaller
    rank. Rank 0 (no removal) is only the reference. Max@R is compared at 1e-9, so that float noise between two
    equal means does not pick the larger rank."""
    candidates = [c for c in curve if c["rank"] >= 1]
    if not candidates:
        raise ValueError("the rank curve has no rank ≥ 1")
    return int(min(candidates, key=lambda c: (round(c["multi_max_r"], 9), c["rank"]))["rank"])


@dataclass
class LsarRecord(AlignerRecord):
    """The rank used and how it was chosen, the fitted directions and the held-out rank curve."""

    rank: int = 0
    max_rank: int = 0
    roles: str = ""
    rank_source: str = ""
    fit_langs: list[str] = field(default_factory=list)
    rank_curve: list[dict[str, float]] = field(default_factory=list)
    singular_values: list[float] = field(default_factory=list)


class LsarAligner(AlignerBase):
    """Language-subspace removal: one projection for every text, no language tag."""

    name = "lsar"
    Options = LsarOptions
    summary = "language-subspace removal"
    flag_prefix = "lsar-"
    key_options = ("rank", "roles")
    uses_fit_langs = True
    language_agnostic = True
    artefacts = ("lsar.safetensors",)
    options: LsarOptions
    estimator_: LanguageSubspaceRemoval

    @classmethod
    def label_parts(cls, options: LsarOptions, done: Mapping[str, object]) -> list[str] | None:
        """``LSAR · rank 3 (held-out) · both``: the rank the run chose, else the rank asked for."""
        if done.get("rank") is not None:
            rank = f"rank {done['rank']} ({done.get('rank_source', 'given')})"
        else:
            rank = f"rank {options.rank}" if options.rank is not None else "rank chosen on held-out data"
        return ["LSAR", rank, options.roles]

    @classmethod
    def described(cls, text: str, done: Mapping[str, object]) -> str:
        """LSAR's rank when it was chosen on held-out data."""
        if done.get("rank_source") != "given" and done.get("rank") is not None:
            return text.replace("rank=auto", f"rank={done['rank']} (chosen on held-out data)")
        return text

    @classmethod
    def check(cls, options: Any, evaluation: EvalSpec, align: AlignSpec) -> None:
        """A given rank must fit the directions the fit languages can give: Σ over roles of (languages − 1)."""
        if options.rank is None:
            return
        n = len(languages_to_fit(evaluation, align))
        with_queries = options.roles == "both" and align.train_data in ("split", "demo")
        bound = (n - 1) * (2 if with_queries else 1)
        if options.rank > bound:
            raise ConfigError(f"LSAR rank {options.rank} is more than the {bound} direction(s) {n} fit languages give "
                              f"({'passage and query' if with_queries else 'passage'} means); choose a rank ≤ {bound}, "
                              "or none to choose it on held-out data")

    def fit(self, inputs: FitInputs) -> LsarRecord:
        opts = self.options
        train = inputs.training_embeddings()
        chosen, curve = (opts.rank, []) if opts.rank is not None else choose_rank(
            inputs.data, inputs.encoder, inputs.evaluation, inputs.langs, opts.roles, inputs.align.split_seed,
            inputs.progress)
        data = lsar_fit_data(train, opts.roles)
        est = LanguageSubspaceRemoval().fit(data)
        if chosen is not None and chosen > est.max_rank_:
            raise ConfigError(f"LSAR rank {chosen} exceeds the {est.max_rank_} directions the training means span")
        self.estimator_ = est.with_rank(chosen) if chosen is not None else est
        return LsarRecord(rank=self.estimator_.rank_, max_rank=est.max_rank_, roles=opts.roles,
                          rank_source="given" if opts.rank is not None else ("held-out" if curve else "full rank"),
                          fit_langs=sorted({lang for _, lang in data}), rank_curve=curve,
                          singular_values=[float(s) for s in est.singular_values_])

    def save(self, folder: Path) -> None:
        self.estimator_.save(Path(folder) / "lsar.safetensors")

    @classmethod
    def load(cls, folder: Path, options: Any) -> LsarAligner:
        aligner = cls(options)
        aligner.estimator_ = LanguageSubspaceRemoval.load(Path(folder) / "lsar.safetensors")
        return aligner

    def apply(self, inputs: ApplyInputs) -> CorpusEmbeddings:
        return inputs.base().map(lambda lang, role, x: self.estimator_.transform(x))  # one map for every text

    def export(self, into: Path, *, base_model: str) -> None:
        """The base model (loaded as every command loads it: a model that does not load, or needs remote code, is
        refused in one line) with the map appended."""
        from xlalign.models.encoders import load_sentence_transformer
        from xlalign.specs import ModelSpec

        base = load_sentence_transformer(ModelSpec(base_model, device="cpu"), device="cpu")
        write_linear_model(base, self.estimator_.projection_matrix(), into)
