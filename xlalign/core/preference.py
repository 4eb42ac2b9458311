"""Language preference controlled for content: does a query favour a document in one language over the
same document in another language?

For queries in language q and two document languages A and B of a parallel corpus, every irrelevant
passage j exists in both: d_A(j) and its translation d_B(j). One comparison asks which of the two the
query scores higher. The **translation preference**

    P(q; A over B) = 100 · mean over queries i, irrelevant passages j ≠ gold(i) of
                     [ 1{s(q_i, d_A(j)) > s(q_i, d_B(j))} + ½ · 1{s(q_i, d_A(j)) = s(q_i, d_B(j))} ]

(in %; every query has the same number of comparisons, so this is also the mean of the per-query shares)
is the Mann–Whitney probability "a document in A beats a document in B" restricted to translation pairs.

Why it measures language and nothing else (the derivation behind the verdict):

* The two documents of a comparison carry the same content, so the comparison is matched on relevance:
  how well the model retrieves (its quality) cannot move P, and neither can which passages the pool holds.
* For a *language-neutral* encoder — one whose embedding of a text does not depend on its language
  beyond noise that is the same in distribution for A and B — the pair (s(q, d_A(j)), s(q, d_B(j)))
  is exchangeable, so each comparison is won by A with probability ½ and E[P] = 50 exactly, whatever
  the model's strength: a weak model and a strong one both give 50.
* A language component shared by q and A shifts s(q, d_A) up: P > 50 (with q = A: the query's own
  language wins, same-language clustering). A pull shared by queries and B-documents gives P < 50 (with B
  the pivot: pivot inclination).
* P uses the queries of q and the passages of A and B only: no other language in the pool changes it.

Ties count ½ (a model that embeds a text and its translation identically has no preference: P = 50).
The comparison is the sign of ``q · (d_A − d_B)``: one matrix product per block of queries, the same
decision as comparing the two scores (exact for the float32 grid fakes of the tests).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xlalign.core.metrics import crossed_mean_ci, preference_wins

#: Query × document comparisons held in memory at once (float32 scores: 32 Mi ≈ 128 MB).
BLOCK_ELEMENTS = 1 << 25


@dataclass(frozen=True)
class TranslationPreference:
    """The comparisons of one (query language, A, B) triple, summarised for the mean and its interval.

    ``per_query[i]`` is query i's share (%) of its comparisons won by A; ``per_passage[j]`` the share (%)
    of passage j's comparisons won by A, over the queries for which j is irrelevant (NaN when j is every
    query's gold); ``n_comparisons`` = Q · (N − 1).
    """

    per_query: np.ndarray
    per_passage: np.ndarray
    n_comparisons: int

    @property
    def value(self) -> float:
        """P(q; A over B) in %."""
        return float(self.per_query.mean())

    def interval(self, query_clusters: np.ndarray, level: float = 0.95) -> tuple[float, float]:
        """The 95% interval of :attr:`value` (queries clustered by ``query_clusters``, documents a sample too:
        :func:`xlalign.core.metrics.crossed_mean_ci`), clipped to 0–100."""
        cols = self.per_passage[np.isfinite(self.per_passage)]
        _, lo, hi = crossed_mean_ci(self.per_query, query_clusters, cols, level)
        return max(0.0, float(lo)), min(100.0, float(hi))


def translation_preference(queries: np.ndarray, docs_a: np.ndarray, docs_b: np.ndarray, gold: np.ndarray,
                           block_elements: int = BLOCK_ELEMENTS) -> TranslationPreference:
    """Compare every query with every irrelevant passage in language A and in language B.

    Shapes: ``queries`` (Q, d), ``docs_a`` and ``docs_b`` (N, d) with row j of both the same passage
    (``docs_b[j]`` is the translation of ``docs_a[j]``), ``gold`` (Q,) the passage index of each query's
    answer (excluded from its comparisons). Needs N ≥ 2.
    """
    q = np.asarray(queries, dtype=np.float32)
    a, b = np.asarray(docs_a, dtype=np.float32), np.asarray(docs_b, dtype=np.float32)
    g = np.asarray(gold, dtype=np.int64)
    if a.shape != b.shape or a.ndim != 2 or q.ndim != 2 or q.shape[1] != a.shape[1]:
        raise ValueError(f"expected queries (Q, d) and two (N, d) passage matrices, got {q.shape}, {a.shape}, {b.shape}")
    n_q, n_p = len(q), len(a)
    if n_p < 2 or n_q == 0 or g.shape != (n_q,) or (g.size and (g.min() < 0 or g.max() >= n_p)):
        raise ValueError(f"need ≥ 2 passages, ≥ 1 query and one gold passage index per query (got N = {n_p}, Q = {n_q})")
    diff = (a - b).T  # (d, N): the sign of q · (d_A − d_B) decides each comparison
    per_query = np.empty(n_q, dtype=np.float64)
    col_wins = np.zeros(n_p, dtype=np.float64)
    step = max(1, block_elements // n_p)
    for start in range(0, n_q, step):
        rows = slice(start, min(n_q, start + step))
        wins = preference_wins(q[rows] @ diff)
        idx = np.arange(wins.shape[0])
        wins[idx, g[rows]] = 0.0  # the gold passage is not an irrelevant document
        per_query[rows] = wins.sum(axis=1) / (n_p - 1)
        col_wins += wins.sum(axis=0)
    counts = n_q - np.bincount(g, minlength=n_p)  # queries for which passage j is irrelevant
    with np.errstate(invalid="ignore", divide="ignore"):
        per_passage = np.where(counts > 0, col_wins / counts, np.nan)
    return TranslationPreference(100.0 * per_query, 100.0 * per_passage, n_q * (n_p - 1))


__all__ = ["BLOCK_ELEMENTS", "TranslationPreference", "translation_preference"]
