"""Test-only reference implementations for :mod:`xlalign.core.ranking` (moved out of the package)."""

from __future__ import annotations

import numpy as np

from xlalign.core.ranking import DEFAULT_BLOCK_ELEMENTS, rank_golds


def gold_ranks(
    query_emb: np.ndarray,
    unit_emb: np.ndarray,
    unit_weight: np.ndarray,
    gold_units: np.ndarray,
    removed_unit: np.ndarray | None = None,
    *,
    block_elements: int = DEFAULT_BLOCK_ELEMENTS,
) -> np.ndarray:
    """(Q, G) gold ranks only; see :func:`xlalign.core.ranking.rank_golds`."""
    return rank_golds(query_emb, unit_emb, unit_weight, gold_units, removed_unit,
                      block_elements=block_elements).ranks


def brute_force_ranks(
    scores: np.ndarray, doc_unit: np.ndarray, gold_docs: np.ndarray
) -> np.ndarray:
    """Reference implementation: materialise every document and sort (O(Q·N log N)).

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


def brute_force_best_non_gold(
    scores: np.ndarray, doc_unit: np.ndarray, gold_docs: np.ndarray, unit_lang: np.ndarray, n_lang: int
) -> tuple[np.ndarray, np.ndarray]:
    """Best non-gold document per language on the materialised pool: (Q, L) scores (-inf if none) and
    units (-1 if none); among equal scores the lowest unit, as ``np.argmax`` over units does.
    ``unit_lang``: (U,) language code of each unit; ``gold_docs`` as in :func:`brute_force_ranks`.

    A document whose text is a gold text is a copy of a gold, not a competitor: it is skipped too.
    """
    q = gold_docs.shape[0]
    doc_lang = unit_lang[doc_unit]
    best = np.full((q, n_lang), -np.inf, dtype=np.float32)
    unit = np.full((q, n_lang), -1, dtype=np.int64)
    for i in range(q):
        s = scores[i, doc_unit]
        competitor = ~np.isin(doc_unit, doc_unit[gold_docs[i]])
        for c in range(n_lang):
            docs = np.flatnonzero(competitor & (doc_lang == c))
            if len(docs):
                top = s[docs].max()
                best[i, c] = top
                unit[i, c] = doc_unit[docs[s[docs] == top]].min()
    return best, unit
