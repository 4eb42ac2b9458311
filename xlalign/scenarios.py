"""The four retrieval scenarios of Hong et al. (ICLR 2026, §5.1) for an English + target pair.

A :class:`Pool` is what a ranker needs and nothing more. Documents are represented by *units*:
distinct texts, each scored once, with a *weight* = how many documents of the pool carry that
text. In ``dedup`` mode every distinct passage is one document per language (as MTEB does); in
``per-question`` mode every question brings its own copy of its passage (the paper's Table 1:
XQuAD gives 1190 documents per language, 2380 in Multi), so copies of a passage tie exactly.

Scenarios, for a query in language ``q`` and the other language ``o``:

* ``multi``      pool = both language versions of every passage; gold = the query's passage in both.
* ``multi-1``    ``multi`` with the query-language gold document removed; gold = the ``o`` version.
                 In ``per-question`` pools every copy of that text goes (the sibling questions' copies
                 are the same document text; keeping them would put an identical same-language text
                 above the gold for every query), so pool sizes vary by query there.
* ``mono-same``  pool in ``q`` only; gold = the ``q`` passage.
* ``mono-cross`` pool in ``o`` only; gold = the ``o`` passage (conventional CLIR).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from xlalign.corpus import ParallelCorpus
from xlalign.errors import ConfigError

SCENARIOS: tuple[str, ...] = ("multi", "multi-1", "mono-same", "mono-cross")
POOL_MODES: tuple[str, ...] = ("dedup", "per-question")


@dataclass(frozen=True)
class Pool:
    """One scenario × query language, ready to rank.

    Shapes: U units, Q queries, G gold documents per query (2 in ``multi``, else 1).

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
    langs: tuple[str, str]
    query_ids: tuple[str, ...]
    query_items: np.ndarray
    unit_lang: np.ndarray
    unit_index: np.ndarray
    unit_weight: np.ndarray
    gold_units: np.ndarray
    gold_langs: tuple[str, ...]
    removed_unit: np.ndarray
    removed_count: np.ndarray

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
        return self.gold_units.shape[1]


def other_lang(langs: tuple[str, str], query_lang: str) -> str:
    return langs[1] if query_lang == langs[0] else langs[0]


def build_pool(corpus: ParallelCorpus, langs: Sequence[str], scenario: str, query_lang: str,
               pool_mode: str = "dedup") -> Pool:
    """Build one scenario's pool for queries in ``query_lang`` (one of ``langs``)."""
    if len(langs) != 2 or langs[0] == langs[1]:
        raise ConfigError(f"a scenario needs two distinct languages, got {list(langs)}")
    if scenario not in SCENARIOS:
        raise ConfigError(f"unknown scenario {scenario!r}; choose from {', '.join(SCENARIOS)}")
    if pool_mode not in POOL_MODES:
        raise ConfigError(f"unknown pool mode {pool_mode!r}; choose from {', '.join(POOL_MODES)}")
    pair = (langs[0], langs[1])
    if query_lang not in pair:
        raise ConfigError(f"query language {query_lang!r} is not one of {pair}")
    corpus.require_langs(pair)
    other = other_lang(pair, query_lang)
    pool_langs = {"multi": pair, "multi-1": pair, "mono-same": (query_lang,), "mono-cross": (other,)}[scenario]
    _, item_to_passage = corpus.unique_passages()
    n_passages = int(item_to_passage.max()) + 1
    multiplicity = np.bincount(item_to_passage, minlength=n_passages)
    weight = multiplicity if pool_mode == "per-question" else np.ones(n_passages, dtype=np.int64)

    # Units: per pool language, every distinct passage; unit id = block offset + passage index.
    offset = {lang: k * n_passages for k, lang in enumerate(pool_langs)}
    unit_lang = np.repeat(np.array(pool_langs), n_passages)
    unit_index = np.tile(np.arange(n_passages), len(pool_langs))
    unit_weight = np.tile(weight, len(pool_langs)).astype(np.int64)

    gold_langs = {"multi": (query_lang, other), "multi-1": (other,), "mono-same": (query_lang,),
                  "mono-cross": (other,)}[scenario]
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
        langs=pair,
        query_ids=corpus.item_ids,
        query_items=np.arange(len(corpus)),
        unit_lang=unit_lang,
        unit_index=unit_index,
        unit_weight=unit_weight,
        gold_units=gold_units,
        gold_langs=gold_langs,
        removed_unit=removed,
        removed_count=removed_count,
    )


def build_pools(corpus: ParallelCorpus, langs: Sequence[str], scenarios: Sequence[str] = SCENARIOS,
                pool_mode: str = "dedup") -> list[Pool]:
    """Every requested scenario for queries in both languages."""
    return [build_pool(corpus, langs, s, q, pool_mode) for s in scenarios for q in langs]
