"""Exact ranks of every gold document, by blocked matrix products; faiss top-k for drill-downs.

Tie policy (used everywhere in xlalign)
---------------------------------------
Scores are inner products of L2-normalised embeddings (cosine). The ranked list orders documents
by descending score; among equal scores, gold documents come before non-gold ones, and gold
documents among themselves keep their gold order. Hence the rank (1-based position) of gold ``g``:

    rank_g = 1 + #{docs d ∉ gold : s_d > s_g} + #{gold h : s_h > s_g or (s_h = s_g and h < g)}

which is "1 + number of documents scoring strictly higher", made distinct between tied golds so
that two golds never share a position (Max@R ≥ |R| and NDCG ≤ 1 hold). Copies of one passage
(``per-question`` pools) score exactly alike, since each distinct text is scored once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xlalign.scenarios import Pool

#: Scores held in memory at once by :func:`gold_ranks` (float32 elements; 32 Mi ≈ 128 MB).
DEFAULT_BLOCK_ELEMENTS = 1 << 25


@dataclass(frozen=True)
class RankResult:
    """Ranks and the scores behind them. L = number of distinct ``unit_lang`` codes."""

    ranks: np.ndarray  # (Q, G) int64, 1-based, tie policy above
    gold_scores: np.ndarray  # (Q, G) float32
    best_non_gold: np.ndarray  # (Q, L) float32: best score of a non-gold document per language, -inf if none
    best_non_gold_unit: np.ndarray  # (Q, L) int64: the unit holding it, -1 if none

    def top1_units(self, gold_units: np.ndarray) -> np.ndarray:
        """(Q,) the first-ranked unit: the best gold when a gold ranks first (ties go to golds), else
        the best non-gold document of any language."""
        lang = np.argmax(self.best_non_gold, axis=1)
        rows = np.arange(len(lang))
        best_gold = gold_units[rows, np.argmin(self.ranks, axis=1)]
        return np.where(self.ranks.min(axis=1) == 1, best_gold, self.best_non_gold_unit[rows, lang])


def rank_golds(
    query_emb: np.ndarray,
    unit_emb: np.ndarray,
    unit_weight: np.ndarray,
    gold_units: np.ndarray,
    removed_unit: np.ndarray | None = None,
    unit_lang: np.ndarray | None = None,
    *,
    removed_count: np.ndarray | None = None,
    block_elements: int = DEFAULT_BLOCK_ELEMENTS,
) -> RankResult:
    """Rank of every gold document under the tie policy above, without sorting.

    Args:
        query_emb: (Q, d) query embeddings.
        unit_emb: (U, d) embeddings of the distinct document texts.
        unit_weight: (U,) number of pool documents carrying each text.
        gold_units: (Q, G) unit of each gold document.
        removed_unit: (Q,) copies of this unit are not in query q's pool, or -1.
        removed_count: (Q,) how many copies of ``removed_unit`` are gone (default 1 where set).
        unit_lang: (U,) integer language code 0..L-1 of each unit (for ``best_non_gold``);
            None puts every unit in one language.
        block_elements: bound on the Q_block × U score block held in memory.

    Memory is O(block_elements + U); time O(Q·U·(d + G)).
    """
    q, d = query_emb.shape
    u = unit_emb.shape[0]
    if u == 0:
        raise ValueError("empty document pool")
    if unit_emb.shape[1] != d:
        raise ValueError(f"query dim {d} != document dim {unit_emb.shape[1]}")
    if unit_weight.shape != (u,):
        raise ValueError(f"unit_weight has shape {unit_weight.shape}, expected ({u},)")
    if (unit_weight < 1).any():
        raise ValueError("unit weights must be ≥ 1")
    if gold_units.ndim != 2 or gold_units.shape[0] != q:
        raise ValueError(f"gold_units has shape {gold_units.shape}, expected ({q}, G)")
    if gold_units.size and (gold_units.min() < 0 or gold_units.max() >= u):
        raise ValueError("gold unit index out of range")
    if removed_unit is None:
        removed_unit = np.full(q, -1, dtype=np.int64)
    if removed_unit.shape != (q,):
        raise ValueError(f"removed_unit has shape {removed_unit.shape}, expected ({q},)")
    if removed_count is None:
        removed_count = (removed_unit >= 0).astype(np.int64)
    if removed_count.shape != (q,):
        raise ValueError(f"removed_count has shape {removed_count.shape}, expected ({q},)")
    has = removed_unit >= 0
    if (removed_count[has] > unit_weight[removed_unit[has]]).any() or (removed_count[has] < 1).any():
        raise ValueError("removed_count must be between 1 and the unit's weight")
    lang = np.zeros(u, dtype=np.int64) if unit_lang is None else np.asarray(unit_lang, dtype=np.int64)
    if lang.shape != (u,):
        raise ValueError(f"unit_lang has shape {lang.shape}, expected ({u},)")
    n_lang = int(lang.max()) + 1
    g = gold_units.shape[1]
    weight = unit_weight.astype(np.float32)
    ranks = np.empty((q, g), dtype=np.int64)
    gold_out = np.empty((q, g), dtype=np.float32)
    best = np.full((q, n_lang), -np.inf, dtype=np.float32)
    best_unit = np.full((q, n_lang), -1, dtype=np.int64)
    step = max(1, block_elements // u)
    qe = np.ascontiguousarray(query_emb, dtype=np.float32)
    ue = np.ascontiguousarray(unit_emb, dtype=np.float32)
    for start in range(0, q, step):
        stop = min(q, start + step)
        scores = qe[start:stop] @ ue.T  # (b, U)
        rows = np.arange(stop - start)
        gold = gold_units[start:stop]
        gold_scores = scores[rows[:, None], gold]  # (b, G)
        rem = removed_unit[start:stop]
        rem_n = removed_count[start:stop].astype(np.float32)
        rem_scores = np.where(rem >= 0, scores[rows, np.maximum(rem, 0)], -np.inf)
        for j in range(g):
            s = gold_scores[:, j : j + 1]
            # Counts are exact in float32 up to 2**24 documents.
            higher = (scores > s).astype(np.float32) @ weight
            higher -= rem_n * (rem_scores > s[:, 0])  # the removed copies are not in the pool
            tied_golds_before = (gold_scores[:, :j] == s).sum(axis=1)
            ranks[start:stop, j] = 1 + np.rint(higher).astype(np.int64) + tied_golds_before
        gold_out[start:stop] = gold_scores
        # Best non-gold per language: mask golds and fully removed units.
        scores[rows[:, None], gold] = -np.inf
        gone = (rem >= 0) & (unit_weight[np.maximum(rem, 0)] <= removed_count[start:stop])
        scores[rows[gone], rem[gone]] = -np.inf
        for lang_code in range(n_lang):
            cols = np.flatnonzero(lang == lang_code)
            if len(cols):
                sub = scores[:, cols]
                arg = np.argmax(sub, axis=1)
                best[start:stop, lang_code] = sub[rows, arg]
                best_unit[start:stop, lang_code] = np.where(np.isfinite(sub[rows, arg]), cols[arg], -1)
    return RankResult(ranks, gold_out, best, best_unit)


def gold_ranks(
    query_emb: np.ndarray,
    unit_emb: np.ndarray,
    unit_weight: np.ndarray,
    gold_units: np.ndarray,
    removed_unit: np.ndarray | None = None,
    *,
    block_elements: int = DEFAULT_BLOCK_ELEMENTS,
) -> np.ndarray:
    """(Q, G) gold ranks only; see :func:`rank_golds`."""
    return rank_golds(query_emb, unit_emb, unit_weight, gold_units, removed_unit,
                      block_elements=block_elements).ranks


def rank_pool(pool: Pool, query_emb: np.ndarray, unit_emb: np.ndarray, **kw: int) -> RankResult:
    """:func:`rank_golds` for a :class:`~xlalign.scenarios.Pool`; languages coded in ``pool.langs`` order."""
    code = np.array([pool.langs.index(x) for x in pool.unit_lang], dtype=np.int64)
    return rank_golds(query_emb, unit_emb, pool.unit_weight, pool.gold_units, pool.removed_unit, code,
                      removed_count=pool.removed_count, **kw)


def brute_force_ranks(
    scores: np.ndarray, doc_unit: np.ndarray, gold_docs: np.ndarray
) -> np.ndarray:
    """Reference implementation: materialise every document and sort (tests only; O(Q·N log N)).

    Args:
        scores: (Q, U) unit scores; doc_unit: (N,) unit of each document;
        gold_docs: (Q, G) *document* indices of the golds (into doc_unit).
    """
    q, g = gold_docs.shape
    ranks = np.empty((q, g), dtype=np.int64)
    n = len(doc_unit)
    for i in range(q):
        s = scores[i, doc_unit]
        gold_order = np.full(n, g, dtype=np.int64)  # non-gold sorts after every gold at equal score
        gold_order[gold_docs[i]] = np.arange(g)
        order = np.lexsort((np.arange(n), gold_order, -s))
        position = np.empty(n, dtype=np.int64)
        position[order] = np.arange(1, n + 1)
        ranks[i] = position[gold_docs[i]]
    return ranks


def top_k(
    query_emb: np.ndarray, unit_emb: np.ndarray, k: int, removed_unit: np.ndarray | None = None,
    unit_weight: np.ndarray | None = None, removed_count: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k distinct texts per query with faiss (exact inner product), for drill-downs.

    A unit all of whose copies were removed for a query (``multi-1``) is skipped.
    Returns (scores, units), each (Q, k'), with k' = min(k, U); missing slots have unit -1.
    """
    import faiss

    u = unit_emb.shape[0]
    if u == 0:
        raise ValueError("empty document pool")
    if k < 1:
        raise ValueError(f"k must be ≥ 1, got {k}")
    k_eff = min(k, u)
    index = faiss.IndexFlatIP(unit_emb.shape[1])
    index.add(np.ascontiguousarray(unit_emb, dtype=np.float32))
    extra = 1 if removed_unit is not None else 0
    scores, units = index.search(np.ascontiguousarray(query_emb, dtype=np.float32), min(u, k_eff + extra))
    if not extra:
        return scores, units
    weight = unit_weight if unit_weight is not None else np.ones(u, dtype=np.int64)
    count = removed_count if removed_count is not None else np.ones(len(units), dtype=np.int64)
    out_s = np.full((len(units), k_eff), -np.inf, dtype=np.float32)
    out_u = np.full((len(units), k_eff), -1, dtype=np.int64)
    for i in range(len(units)):
        keep = [(s, x) for s, x in zip(scores[i], units[i], strict=True)
                if x >= 0 and not (x == removed_unit[i] and weight[x] <= count[i])][:k_eff]
        for j, (s, x) in enumerate(keep):
            out_s[i, j], out_u[i, j] = s, x
    return out_s, out_u
