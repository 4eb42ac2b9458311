"""Neighbourhoods: bitext mining, neighbourhood language purity and a language-identity probe (faiss k-NN).

Retrieval ranks (every rank-based metric) stay with the exact ranker (:mod:`xlalign.core.ranking`); this
module answers nearest-neighbour questions, with faiss. It computes figures and never decides a verdict.

Nearest neighbours
------------------
:func:`knn` is exact: a faiss ``IndexFlatIP`` over unit rows, so the score is the cosine. Neighbours are
ordered by descending score, **ties by the lower row index** (faiss's own order among equal scores is
not specified, so its lists are re-sorted, and a row whose tie crosses the k-th place is recomputed with
numpy over the whole base).

Bitext mining (:func:`bitext_rows`)
-----------------------------------
For every pair of evaluated languages (a, b), both directions, and two kinds of text:

* ``questions``: the corpus's questions, one per item, embedded in the **query** role (the model's query
  prompt); ``passages``: the distinct passages (one per passage key, in first-seen order, as the dedup
  pool), embedded in the **passage** role.
* Deduplicated: a parallel row is kept only when its a text and its b text each occur once among the
  rows of its kind (an exact string match), so that no two candidates share a text; ``n`` says how many
  rows remain. Row i of a and row i of b are translations (the gold).

Figures per direction s → t (s the source sentences, t the candidates), in %:

* ``accuracy`` — top-1: the share of sources whose nearest candidate (cosine, ties to the lower index)
  is the gold. 95% Wilson interval.
* ``precision``, ``recall``, ``f1`` — MTEB's BitextMining definitions (``mteb/evaluation/evaluators/
  BitextMiningEvaluator.py``: ``labels`` = gold candidate index, ``predictions`` = top-1 candidate index,
  scikit-learn's ``precision_score``/``recall_score``/``f1_score`` with ``average="weighted"``,
  ``zero_division=0``), computed by :func:`weighted_prf`. With one gold per candidate, recall equals
  accuracy. 95% percentile bootstrap interval (sources resampled, :data:`BOOTSTRAP` resamples, seed 0).
* ``xsim_error`` — the xsim error rate with ratio-margin scoring (Artetxe & Schwenk 2019, "Margin-based
  Parallel Corpus Mining with Multilingual Sentence Embeddings", ACL; as LASER's ``source/xsim.py``): the
  candidates of source x are its k = :data:`MARGIN_K` nearest targets; candidate y scores
  ``cos(x, y) / ((mean_k cos(x, NN_k(x)) + mean_k cos(y, NN_k(y))) / 2)``, where NN_k(x) are x's k nearest
  targets and NN_k(y) are y's k nearest sources; the prediction is the best-scoring candidate (the first
  among equal scores, in neighbour order); the error is the share of sources whose prediction is not
  the gold (a gold outside the k candidates is an error). k = min(4, n). 95% Wilson interval.

Neighbourhood language purity (:func:`purity_rows`)
---------------------------------------------------
One pool per kind: every evaluated language's distinct passages (the Multi dedup pool), and every
language's questions. For each text, ``purity`` is the share of its k = :data:`PURITY_K` nearest
neighbours in the pool (itself excluded; full dimension) that are in its own language; a language's
figure is the mean over its texts, with a normal-approximation 95% interval. ``expected`` is what a
language-blind space gives: (n_l − 1) / (N − 1), that language's share of the rest of the pool.

Language-identity probe (:func:`probe_rows`)
--------------------------------------------
A multinomial logistic regression (scikit-learn; standardised features, C = 1) predicts the language
of each text of a kind from its embedding, by 5-fold cross-validation grouped by item, so that a text's
translations are never in its training fold. Reported: accuracy (Wilson 95%) against chance (the
largest language's share). Language-mean centering should lower it (Libovický et al. 2020).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any, TypedDict

import numpy as np
import pandas as pd

from xlalign.core.corpus import ParallelCorpus
from xlalign.core.evaluate import CorpusEmbeddings
from xlalign.core.metrics import wilson_interval

log = logging.getLogger(__name__)

#: Neighbours on each side of the ratio margin (Artetxe & Schwenk 2019; LASER's xsim default).
MARGIN_K = 4
#: Neighbours whose language the purity counts.
PURITY_K = 10
#: Bootstrap resamples behind the precision and F1 intervals.
BOOTSTRAP = 1000
#: Folds of the language-identity probe, and the most items (groups) it draws per kind (seeded sample).
PROBE_FOLDS = 5
PROBE_MAX_ITEMS = 600
KINDS = ("passages", "questions")
Z95 = 1.959964


class BitextRow(TypedDict):
    """One figure of one mining direction (``bitext.csv``)."""

    kind: str
    source_lang: str
    target_lang: str
    metric: str
    value: float
    ci_low: float
    ci_high: float
    n: int


class PurityRow(TypedDict):
    """One figure of one language in one pool (``purity.csv``); ``expected`` rows have no interval."""

    kind: str
    lang: str
    metric: str
    value: float
    ci_low: float
    ci_high: float
    n: int
    pool_size: int


class ProbeRow(TypedDict):
    """The language-identity probe on one kind of text (``probe.csv``)."""

    kind: str
    metric: str
    value: float
    ci_low: float
    ci_high: float
    n: int
    n_langs: int


BITEXT_COLUMNS = list(BitextRow.__annotations__)
PURITY_COLUMNS = list(PurityRow.__annotations__)
PROBE_COLUMNS = list(ProbeRow.__annotations__)


#: Below this many multiply-adds a search runs on one thread: faiss's OpenMP threads cost more than they give
#: on small sets (a 168 × 168 × 384 search: 3 ms on one thread, 9 ms on two, on a loaded 2-core machine).
SMALL_SEARCH = 1 << 30


def _faiss() -> Any:
    import faiss  # imported when used: ``import xlalign`` and ``--help`` stay light

    return faiss


@contextlib.contextmanager
def _threads_for(work: float) -> Iterator[None]:
    """One OpenMP thread for a small search (``work`` multiply-adds), faiss's default otherwise. OpenMP's thread
    count is the calling thread's own setting, so concurrent callers do not see each other's."""
    faiss = _faiss()
    if work >= SMALL_SEARCH:
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


# --------------------------------------------------------------------------------------------
# Exact k-NN (faiss)
# --------------------------------------------------------------------------------------------
def _f32(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32)


def _ordered(scores: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row sorted by descending score, then ascending id (faiss leaves the order of ties open)."""
    order = np.lexsort((ids, -scores), axis=1)
    return np.take_along_axis(scores, order, axis=1), np.take_along_axis(ids, order, axis=1)


def knn(queries: np.ndarray, base: np.ndarray, k: int, *, exclude_self: bool = False
        ) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest rows of ``base`` for each row of ``queries`` by inner product (cosine on unit rows).

    Exact (faiss ``IndexFlatIP``); (Q, k) scores (float32) and row ids (int64), by descending score, ties
    by the lower id. ``exclude_self``: ``queries`` is ``base`` and row i never lists itself.
    """
    x, y = _f32(queries), _f32(base)
    n_base = len(y) - (1 if exclude_self else 0)
    if not 1 <= k <= n_base:
        raise ValueError(f"k must be in 1..{n_base} (the candidates), got {k}")
    index = _faiss().IndexFlatIP(y.shape[1])
    index.add(y)
    extra = min(k + 1 + int(exclude_self), len(y))  # one beyond k shows a tie that crosses the k-th place
    with _threads_for(float(len(x)) * len(y) * y.shape[1]):
        scores, ids = index.search(x, extra)
    if exclude_self:
        scores, ids = _drop_self(scores, ids)
    scores, ids = _ordered(scores, ids)
    if ids.shape[1] > k:
        crossing = np.flatnonzero(scores[:, k - 1] == scores[:, k])
        for i in crossing:  # a tie across the cut: which of the tied rows make the list is decided exactly
            scores[i, :k], ids[i, :k] = _exact_row(x[i], y, k, int(i) if exclude_self else -1)
    return scores[:, :k], ids[:, :k].astype(np.int64)


def _drop_self(scores: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Remove row i from the i-th list (or its last entry, when a duplicate pushed row i out of it)."""
    rows = np.arange(len(ids))[:, None]
    is_self = ids == rows
    drop = np.where(is_self.any(axis=1), is_self.argmax(axis=1), ids.shape[1] - 1)
    keep = np.ones(ids.shape, dtype=bool)
    keep[np.arange(len(ids)), drop] = False
    width = ids.shape[1] - 1
    return scores[keep].reshape(-1, width), ids[keep].reshape(-1, width)


def _exact_row(x: np.ndarray, y: np.ndarray, k: int, self_id: int) -> tuple[np.ndarray, np.ndarray]:
    s = (y @ x).astype(np.float32)
    ids = np.arange(len(y))
    if self_id >= 0:
        s, ids = np.delete(s, self_id), np.delete(ids, self_id)
    order = np.lexsort((ids, -s))[:k]
    return s[order], ids[order]


# --------------------------------------------------------------------------------------------
# Pure figures (arrays in, numbers out)
# --------------------------------------------------------------------------------------------
def weighted_prf(labels: np.ndarray, predictions: np.ndarray) -> tuple[float, float, float]:
    """(precision, recall, F1) in 0–1, averaged over labels weighted by support, as scikit-learn's
    ``precision_recall_fscore_support(labels, predictions, average="weighted", zero_division=0)`` — MTEB's
    BitextMining figures. Per label l: precision tp/#predicted l, recall tp/#true l, F1 2·tp/(#true + #predicted);
    0 where a denominator is 0; labels that only occur among predictions weigh 0."""
    y, p = np.asarray(labels).ravel(), np.asarray(predictions).ravel()
    if y.shape != p.shape or y.size == 0:
        raise ValueError(f"labels and predictions must be non-empty and of equal length, got {y.size} and {p.size}")
    classes, inverse = np.unique(np.concatenate([y, p]), return_inverse=True)
    yi, pi = inverse[: y.size], inverse[y.size:]
    true = np.bincount(yi, minlength=len(classes)).astype(np.float64)
    pred = np.bincount(pi, minlength=len(classes)).astype(np.float64)
    tp = np.bincount(yi[yi == pi], minlength=len(classes)).astype(np.float64)
    precision = np.divide(tp, pred, out=np.zeros_like(tp), where=pred > 0)
    recall = np.divide(tp, true, out=np.zeros_like(tp), where=true > 0)
    f1 = np.divide(2 * tp, true + pred, out=np.zeros_like(tp), where=(true + pred) > 0)
    w = true / true.sum()
    return float(w @ precision), float(w @ recall), float(w @ f1)


def bootstrap_prf(predictions: np.ndarray, resamples: int = BOOTSTRAP, seed: int = 0, block: int = 100
                  ) -> np.ndarray:
    """(resamples, 2) weighted precision and F1 (0–1) of bootstrap resamples of the sources, when source i's
    gold is candidate i (unique labels) and it predicted ``predictions[i]``: :func:`weighted_prf` of each
    resample, computed in closed form from the resample counts c (precision = Σ_{l correct} c_l²/m_l / n,
    F1 = Σ_{l correct} 2·c_l²/(c_l + m_l) / n, m_l = Σ_{i: pred_i = l} c_i)."""
    pred = np.asarray(predictions, dtype=np.int64)
    n = len(pred)
    correct = pred == np.arange(n)
    rng = np.random.default_rng(seed)
    out = np.empty((resamples, 2))
    for start in range(0, resamples, block):
        b = min(block, resamples - start)
        draws = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]
        counts = np.bincount(draws.ravel(), minlength=b * n).reshape(b, n).astype(np.float64)
        offsets = (np.arange(b) * n)[:, None]
        predicted = np.bincount((pred[None, :] + offsets).ravel(), weights=counts.ravel(),
                                minlength=b * n).reshape(b, n)
        c = counts[:, correct]
        m = predicted[:, correct]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[start:start + b, 0] = np.where(c > 0, c * c / np.where(m > 0, m, 1), 0).sum(axis=1) / n
            out[start:start + b, 1] = np.where(c > 0, 2 * c * c / (c + m), 0).sum(axis=1) / n
    return out


def margin_predictions(fwd_scores: np.ndarray, fwd_ids: np.ndarray, fwd_mean: np.ndarray, back_mean: np.ndarray
                       ) -> np.ndarray:
    """Ratio-margin choices (Artetxe & Schwenk 2019) among each source's k nearest candidates.

    ``fwd_scores``/``fwd_ids`` (n, k): the sources' nearest candidates in neighbour order; ``fwd_mean`` (n,):
    each source's mean cosine to its k nearest candidates; ``back_mean`` (m,): each candidate's mean cosine to
    its k nearest sources. Candidate y of x scores cos(x, y) / ((fwd_mean[x] + back_mean[y]) / 2); returns the
    (n,) best candidate of each source (the first in neighbour order among equal margins).
    """
    denom = (fwd_mean[:, None] + back_mean[fwd_ids]) / 2.0
    margin = fwd_scores / denom
    best = np.argmax(margin, axis=1)
    out: np.ndarray = fwd_ids[np.arange(len(best)), best]
    return out


def neighbour_share(neighbour_ids: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(n,) share (0–1) of each row's neighbours (``neighbour_ids`` (n, k) into ``labels``) with its own label."""
    lab = np.asarray(labels)
    out: np.ndarray = (lab[neighbour_ids] == lab[:, None]).mean(axis=1)
    return out


def mean_interval(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and normal-approximation 95% interval (mean ± 1.96·sd/√n, clipped to the values' 0–1 range)."""
    v = np.asarray(values, dtype=np.float64)
    mean = float(v.mean())
    if len(v) < 2:
        return mean, 0.0, 1.0
    half = Z95 * float(v.std(ddof=1)) / np.sqrt(len(v))
    return mean, max(0.0, mean - half), min(1.0, mean + half)


# --------------------------------------------------------------------------------------------
# Bitext mining
# --------------------------------------------------------------------------------------------
def unique_pairs(texts_a: Sequence[str], texts_b: Sequence[str]) -> np.ndarray:
    """Indices of the rows kept for mining: the a text and the b text each occur once among the rows."""
    count_a: dict[str, int] = {}
    count_b: dict[str, int] = {}
    for t in texts_a:
        count_a[t] = count_a.get(t, 0) + 1
    for t in texts_b:
        count_b[t] = count_b.get(t, 0) + 1
    return np.array([i for i, (a, b) in enumerate(zip(texts_a, texts_b, strict=True))
                     if count_a[a] == 1 and count_b[b] == 1], dtype=np.int64)


@dataclass(frozen=True)
class Mining:
    """One direction's predictions: ``top1[i]`` and ``margin[i]`` are source i's chosen candidates."""

    top1: np.ndarray
    margin: np.ndarray

    def figures(self, resamples: int = BOOTSTRAP) -> dict[str, tuple[float, float, float]]:
        """Each figure (%) with its 95% interval: accuracy, precision, recall, F1, xsim_error."""
        n = len(self.top1)
        gold = np.arange(n)
        hits = int((self.top1 == gold).sum())
        errors = int((self.margin != gold).sum())
        precision, recall, f1 = weighted_prf(gold, self.top1)
        acc_ci = wilson_interval(hits, n)
        lo = hi = np.full(2, np.nan)
        if resamples > 0:
            lo, hi = 100.0 * np.percentile(bootstrap_prf(self.top1, resamples), [2.5, 97.5], axis=0)
        return {"accuracy": (100.0 * hits / n, *acc_ci),
                "precision": (100.0 * precision, float(lo[0]), float(hi[0])),
                "recall": (100.0 * recall, *acc_ci),  # one gold per candidate: recall is the accuracy
                "f1": (100.0 * f1, float(lo[1]), float(hi[1])),
                "xsim_error": (100.0 * errors / n, *wilson_interval(errors, n))}


def mine_pair(x: np.ndarray, y: np.ndarray, k: int = MARGIN_K) -> tuple[Mining, Mining]:
    """Both directions of one parallel set (row i of ``x`` ↔ row i of ``y``), from two faiss k-NN searches."""
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"need two non-empty parallel sets of equal size, got {len(x)} and {len(y)}")
    k = min(k, len(x))
    s_xy, i_xy = knn(x, y, k)
    s_yx, i_yx = knn(y, x, k)
    mean_x, mean_y = s_xy.mean(axis=1, dtype=np.float64), s_yx.mean(axis=1, dtype=np.float64)
    forward = Mining(i_xy[:, 0], margin_predictions(s_xy, i_xy, mean_x, mean_y))
    backward = Mining(i_yx[:, 0], margin_predictions(s_yx, i_yx, mean_y, mean_x))
    return forward, backward


def _kind_texts(corpus: ParallelCorpus, emb: CorpusEmbeddings, kind: str, lang: str) -> tuple[list[str], np.ndarray]:
    if kind == "passages":
        first = corpus.passage_first_items()
        return [corpus.passages[lang][i] for i in first], emb.passages[lang]
    return list(corpus.questions[lang]), emb.queries[lang]


def bitext_rows(corpus: ParallelCorpus, emb: CorpusEmbeddings, langs: Sequence[str], *,
                pairs: Sequence[tuple[str, str]] | None = None, kinds: Sequence[str] = KINDS,
                resamples: int = BOOTSTRAP) -> list[BitextRow]:
    """Bitext mining for every pair of ``langs`` (or the given ``pairs``), both directions, each of ``kinds``;
    ``resamples`` = 0 leaves the precision and F1 intervals out (NaN)."""
    rows: list[BitextRow] = []
    for a, b in (pairs if pairs is not None else list(combinations(langs, 2))):
        for kind in kinds:
            texts_a, xa = _kind_texts(corpus, emb, kind, a)
            texts_b, xb = _kind_texts(corpus, emb, kind, b)
            keep = unique_pairs(texts_a, texts_b)
            if len(keep) < 2:
                continue
            forward, backward = mine_pair(xa[keep], xb[keep])
            for (s, t), mining in (((a, b), forward), ((b, a), backward)):
                rows += [BitextRow(kind=kind, source_lang=s, target_lang=t, metric=m, value=v, ci_low=lo, ci_high=hi,
                                   n=len(keep)) for m, (v, lo, hi) in mining.figures(resamples).items()]
    return rows


# --------------------------------------------------------------------------------------------
# Neighbourhood language purity
# --------------------------------------------------------------------------------------------
def _pool(corpus: ParallelCorpus, emb: CorpusEmbeddings, kind: str, langs: Sequence[str]
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, d) vectors of one kind for every language, their language codes (index in ``langs``) and items."""
    first = corpus.passage_first_items()
    parts = [(_kind_texts(corpus, emb, kind, lang)[1], np.full(len(first) if kind == "passages" else len(corpus), c),
              first if kind == "passages" else np.arange(len(corpus))) for c, lang in enumerate(langs)]
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]))


def purity_rows(corpus: ParallelCorpus, emb: CorpusEmbeddings, langs: Sequence[str], k: int = PURITY_K
                ) -> list[PurityRow]:
    """Per kind and language: mean share (%) of each text's k nearest neighbours in its own language, with its
    interval, and the language-blind expectation."""
    rows: list[PurityRow] = []
    for kind in KINDS:
        x, codes, _ = _pool(corpus, emb, kind, langs)
        kk = min(k, len(x) - 1)
        if kk < 1:
            continue
        _, ids = knn(x, x, kk, exclude_self=True)
        share = neighbour_share(ids, codes)
        for c, lang in enumerate(langs):
            mine = codes == c
            mean, lo, hi = mean_interval(share[mine])
            n = int(mine.sum())
            base = dict(kind=kind, lang=lang, n=n, pool_size=len(x))
            rows.append(PurityRow(metric=f"purity@{kk}", value=100 * mean, ci_low=100 * lo, ci_high=100 * hi,
                                  **base))  # type: ignore[typeddict-item]
            blind = 100.0 * (n - 1) / (len(x) - 1)
            rows.append(PurityRow(metric=f"expected@{kk}", value=blind, ci_low=blind, ci_high=blind,
                                  **base))  # type: ignore[typeddict-item]
    return rows


# --------------------------------------------------------------------------------------------
# Language-identity probe
# --------------------------------------------------------------------------------------------
def language_probe(x: np.ndarray, labels: np.ndarray, groups: np.ndarray, folds: int = PROBE_FOLDS
                   ) -> np.ndarray:
    """Cross-validated predictions (n,) of a logistic-regression language probe; folds grouped by ``groups``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    n_groups = len(np.unique(groups))
    if n_groups < 2 or len(np.unique(labels)) < 2:
        raise ValueError("the probe needs at least two languages and two items")
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    # One BLAS thread: these products are small, and BLAS threads fighting over busy cores made the demo's probe
    # 30× slower (7.6 s against 0.24 s on a loaded 2-core machine).
    with threadpool_limits(1):
        out: np.ndarray = cross_val_predict(model, x, labels, groups=groups, cv=GroupKFold(min(folds, n_groups)))
    return out


def probe_rows(corpus: ParallelCorpus, emb: CorpusEmbeddings, langs: Sequence[str], *,
               max_items: int = PROBE_MAX_ITEMS, seed: int = 0) -> list[ProbeRow]:
    """The probe on each kind: accuracy (%, Wilson 95%) and chance (the largest language's share). At most
    ``max_items`` items (or passages) per kind, drawn with ``seed``, each in every language."""
    rows: list[ProbeRow] = []
    for kind in KINDS:
        x, codes, items = _pool(corpus, emb, kind, langs)
        chosen = np.unique(items)
        if len(chosen) > max_items:
            chosen = np.random.default_rng(seed).choice(chosen, size=max_items, replace=False)
        keep = np.isin(items, chosen)
        if len(np.unique(items[keep])) < 2:
            continue
        predicted = language_probe(x[keep], codes[keep], items[keep])
        hits, n = int((predicted == codes[keep]).sum()), int(keep.sum())
        chance = 100.0 * np.bincount(codes[keep]).max() / n
        base = dict(kind=kind, n=n, n_langs=len(langs))
        rows.append(ProbeRow(metric="accuracy", value=100.0 * hits / n, ci_low=wilson_interval(hits, n)[0],
                             ci_high=wilson_interval(hits, n)[1], **base))  # type: ignore[typeddict-item]
        rows.append(ProbeRow(metric="chance", value=chance, ci_low=chance, ci_high=chance,
                             **base))  # type: ignore[typeddict-item]
    return rows


# --------------------------------------------------------------------------------------------
# All of it
# --------------------------------------------------------------------------------------------
@dataclass
class Neighbourhoods:
    """The neighbourhood tables of one set of embeddings (``probe`` is None until computed: it is slower)."""

    bitext: pd.DataFrame
    purity: pd.DataFrame
    probe: pd.DataFrame | None = None


def neighbourhoods(corpus: ParallelCorpus, emb: CorpusEmbeddings, langs: Sequence[str], *, probe: bool = False,
                   resamples: int = BOOTSTRAP) -> Neighbourhoods:
    """Bitext mining and purity (and, with ``probe``, the language-identity probe) of ``emb``."""
    return Neighbourhoods(pd.DataFrame(bitext_rows(corpus, emb, langs, resamples=resamples), columns=BITEXT_COLUMNS),
                          pd.DataFrame(purity_rows(corpus, emb, langs), columns=PURITY_COLUMNS),
                          pd.DataFrame(probe_rows(corpus, emb, langs), columns=PROBE_COLUMNS) if probe else None)


__all__ = [
    "BITEXT_COLUMNS",
    "BOOTSTRAP",
    "KINDS",
    "MARGIN_K",
    "PROBE_COLUMNS",
    "PURITY_COLUMNS",
    "PURITY_K",
    "BitextRow",
    "Mining",
    "Neighbourhoods",
    "ProbeRow",
    "PurityRow",
    "bitext_rows",
    "bootstrap_prf",
    "knn",
    "language_probe",
    "margin_predictions",
    "mean_interval",
    "mine_pair",
    "neighbour_share",
    "neighbourhoods",
    "probe_rows",
    "purity_rows",
    "unique_pairs",
    "weighted_prf",
]
