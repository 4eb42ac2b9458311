"""The retrieval scenarios of Hong et al. (ICLR 2026, §5.1), generalised to k languages.

A :class:`Pool` is what a ranker needs and nothing more. Documents are represented by *units*:
distinct texts, each scored once, with a *weight* = how many documents of the pool carry that
text. In ``dedup`` mode every distinct passage is one document per language (as MTEB does); in
``per-question`` mode every question brings its own copy of its passage (the paper's Table 1:
XQuAD gives 1190 documents per language, 2380 in Multi), so copies of a passage tie exactly.

For languages ``L = (l_1 = pivot, …, l_k)`` (k ≥ 2) and a query in language ``q ∈ L``:

* ``multi``      pool = every language version of every passage (LAReQA's setting for k > 2); the
                 gold set is the query's passage in all k languages, query language first.
* ``multi-1``    ``multi`` with the query-language gold removed (k − 1 golds; the paper's Multi-1).
                 In ``per-question`` pools every copy of that text goes (the sibling questions' copies
                 are the same document text; keeping them would put an identical same-language text
                 above the gold for every query), so pool sizes vary by query there.
* ``mono-same``  pool in ``q`` only; gold = the ``q`` passage.
* ``mono-cross`` pool in one other language ``d``; gold = the ``d`` passage (conventional CLIR), for
                 every ordered pair (q, d), d ≠ q.

For k = 2 these are exactly the paper's four scenarios for the pair; the same code path serves both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from xlalign.core.corpus import ParallelCorpus
from xlalign.errors import ConfigError
from xlalign.specs import POOL_MODES, SCENARIOS, check_langs

__all__ = ["POOL_MODES", "SCENARIOS", "Pool", "build_pool", "build_pools", "doc_label"]


@dataclass(frozen=True)
class Pool:
    """One scenario × query language (× document language for ``mono-cross``), ready to rank.

    Shapes: U units, Q queries, G gold documents per query (k in ``multi``, k − 1 in ``multi-1``, else 1).

    * ``langs``: every evaluated language, pivot first; ``doc_langs``: the languages in this pool.
    * ``unit_lang[u]``, ``unit_index[u]``: language of unit u and its index among that language's
      distinct passages (row of the passage embedding matrix for that language).
    * ``unit_weight[u]``: number of pool documents with unit u's text (≥ 1).
    * ``gold_units[q, g]``: unit of the g-th gold document; ``gold_langs[g]`` its language.
    * ``removed_unit[q]``: ``removed_count[q]`` document copies of this unit are absent from query q's
      pool (``multi-1``: all copies of the query-language gold text), or -1 with count 0.
    """

    scenario: str
    pool_mode: str
    query_lang: str
    langs: tuple[str, ...]
    doc_langs: tuple[str, ...]
    query_ids: tuple[str, ...]
    unit_lang: np.ndarray
    unit_index: np.ndarray
    unit_weight: np.ndarray
    gold_units: np.ndarray
    gold_langs: tuple[str, ...]
    removed_unit: np.ndarray
    removed_count: np.ndarray
    #: (U,) ``unit_lang_code``, when the builder knows it (else derived from ``unit_lang``).
    lang_code: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def n_queries(self) -> int:
        return len(self.query_ids)

    @property
    def pool_sizes(self) -> np.ndarray:
        """(Q,) documents in each query's pool."""
        return int(self.unit_weight.sum()) - self.removed_count

    @property
    def pool_size(self) -> int:
        """The pool size, rounded mean over queries (all equal except ``multi-1`` per-question)."""
        return round(float(self.pool_sizes.mean())) if self.n_queries else int(self.unit_weight.sum())

    @property
    def n_gold(self) -> int:
        return int(self.gold_units.shape[1])

    @property
    def doc_lang(self) -> str:
        """The ``doc_lang`` column of result rows: the pool's language(s) joined by ``+``."""
        return doc_label(self.doc_langs)

    @property
    def unit_lang_code(self) -> np.ndarray:
        """(U,) integer code of each unit's language: its index in ``doc_langs``."""
        if self.lang_code is not None:
            return self.lang_code
        names, inverse = np.unique(self.unit_lang, return_inverse=True)  # vectorised: U can be 100 × 900
        code = {lang: i for i, lang in enumerate(self.doc_langs)}
        return np.array([code[str(x)] for x in names], dtype=np.int64)[inverse.ravel()]


def doc_label(doc_langs: Sequence[str]) -> str:
    return "+".join(doc_langs)


def build_pool(corpus: ParallelCorpus, langs: Sequence[str], scenario: str, query_lang: str,
               pool_mode: str = "dedup", doc_lang: str | None = None,
               item_to_passage: np.ndarray | None = None) -> Pool:
    """One scenario's pool for queries in ``query_lang`` (one of ``langs``).

    ``doc_lang`` picks the document language of ``mono-cross``; with two languages it defaults to
    the other one. ``item_to_passage`` (``corpus.unique_passages()[1]``) may be passed when building
    many pools of one corpus.
    """
    langs = check_langs(langs)
    if scenario not in SCENARIOS:
        raise ConfigError(f"unknown scenario {scenario!r}; choose from {', '.join(SCENARIOS)}")
    if pool_mode not in POOL_MODES:
        raise ConfigError(f"unknown pool mode {pool_mode!r}; choose from {', '.join(POOL_MODES)}")
    if query_lang not in langs:
        raise ConfigError(f"query language {query_lang!r} is not one of {langs}")
    corpus.require_langs(langs)
    others = tuple(x for x in langs if x != query_lang)
    if scenario == "mono-cross":
        if doc_lang is None:
            if len(others) != 1:
                raise ConfigError(f"mono-cross with {len(langs)} languages needs a document language")
            doc_lang = others[0]
        if doc_lang not in others:
            raise ConfigError(f"mono-cross document language {doc_lang!r} must be one of {others}")
    pool_langs = {"multi": langs, "multi-1": langs, "mono-same": (query_lang,),
                  "mono-cross": (doc_lang,)}[scenario]
    gold_langs = {"multi": (query_lang, *others), "multi-1": others, "mono-same": (query_lang,),
                  "mono-cross": (doc_lang,)}[scenario]
    if item_to_passage is None:
        _, item_to_passage = corpus.unique_passages()
    n_passages = int(item_to_passage.max()) + 1
    multiplicity = np.bincount(item_to_passage, minlength=n_passages)
    weight = multiplicity if pool_mode == "per-question" else np.ones(n_passages, dtype=np.int64)

    # Units: per pool language, every distinct passage; unit id = block offset + passage index.
    offset = {lang: k * n_passages for k, lang in enumerate(pool_langs)}
    gold_units = np.stack([offset[g] + item_to_passage for g in gold_langs], axis=1)
    removed = np.full(len(corpus), -1, dtype=np.int64)
    removed_count = np.zeros(len(corpus), dtype=np.int64)
    if scenario == "multi-1":
        removed = offset[query_lang] + item_to_passage
        removed_count = weight[item_to_passage].astype(np.int64)
    return Pool(
        scenario=scenario,
        pool_mode=pool_mode,
        query_lang=query_lang,
        langs=langs,
        doc_langs=tuple(pool_langs),  # type: ignore[arg-type]
        query_ids=corpus.item_ids,
        unit_lang=np.repeat(np.array(pool_langs), n_passages),
        unit_index=np.tile(np.arange(n_passages), len(pool_langs)),
        unit_weight=np.tile(weight, len(pool_langs)).astype(np.int64),
        gold_units=gold_units,
        gold_langs=tuple(gold_langs),  # type: ignore[arg-type]
        removed_unit=removed,
        removed_count=removed_count,
        lang_code=np.repeat(np.arange(len(pool_langs), dtype=np.int64), n_passages),
    )


def build_pools(corpus: ParallelCorpus, langs: Sequence[str], scenarios: Sequence[str] = SCENARIOS,
                pool_mode: str = "dedup") -> list[Pool]:
    """Every requested scenario for queries in every language; ``mono-cross`` for every ordered pair."""
    _, item_to_passage = corpus.unique_passages()  # once: k languages make k² mono-cross pools
    pools = []
    for s in scenarios:
        for q in langs:
            if s == "mono-cross":
                pools += [build_pool(corpus, langs, s, q, pool_mode, d, item_to_passage) for d in langs if d != q]
            else:
                pools.append(build_pool(corpus, langs, s, q, pool_mode, item_to_passage=item_to_passage))
    return pools
