"""The verdict rule: which failure dominates for one language pair, decided from the pair's own counts.

Rates are shares of queries, with Wilson 95% intervals. Each counts the irrelevant documents of **one**
language above the gold of **one** language, from the exact ranker's per-language counts
(:attr:`xlalign.core.ranking.RankResult.above`), so it is the same in a pivot + target pool and in any
k-language pool that holds the pair: other languages in the pool cannot change a verdict.

For a target-language query q (pivot p):

* **same-language clustering** — ``clustering(q)`` = share of q queries with ≥ 10 irrelevant
  q-language documents above the **p gold** (``displaced_by_own@10``): the translation of the
  answer sinks under the query's own language.
* **pivot inclination** (English inclination when the pivot is English; Hong et al. 2026) —
  ``inclination(q)`` = share with ≥ 10 irrelevant p-language documents above the **q gold**
  (``displaced_by_pivot@10``): the pivot language fills the first page.

For pivot queries, per target t: ``clustering(p | t)`` = share of p queries with ≥ 10 irrelevant
p-language documents above the t gold (``displaced_by_own@10:t``); pivot queries show no inclination.

A bias *dominates* when its rate is ≥ 20% (**both** when both are; **well aligned** when neither is);
a verdict is *borderline* when the 95% interval of a rate straddles 20%. Ten documents is a results
page. With fewer than :data:`MIN_DOCS` documents per language the rule cannot tell a model from its
pool's size, and the verdict is **too few documents to judge** (see :data:`MIN_DOCS`).

The words (sentences, headline, the before/after finding) are in :mod:`xlalign.report.verdict_text`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from xlalign.core.evaluate import CLUSTERING_METRIC
from xlalign.core.metrics import wilson_interval

#: A bias dominates when at least this share of queries (%) shows it.
THRESHOLD = 20.0
#: Irrelevant documents of one language above a gold: "off the first results page because of that language".
DEPTH = 10
#: Documents per language below which the verdict is "too few documents to judge". With n irrelevant
#: documents of a language, a model that ranks at random puts ≥ 10 of them above a gold for a share
#: (n − 9)/(n + 1) of queries: below 50 documents that is under 80%, and ten documents are more than a
#: fifth of the language's pool — the rate would measure the pool's size as much as the model.
MIN_DOCS = 50
INCLINATION = "displaced_by_pivot@10"
CLUSTERING = CLUSTERING_METRIC
TOO_FEW = "too few documents to judge"


def clustering_metric(query_lang: str, pivot: str, against: str) -> str:
    """The summary metric holding ``clustering`` for ``query_lang`` queries against the ``against`` gold."""
    return CLUSTERING if query_lang != pivot else f"{CLUSTERING}:{against}"


@dataclass(frozen=True)
class Verdict:
    """The finding for one language pair, seen from ``query_lang`` queries, with the numbers that decide it.

    ``against`` is the other language of the pair: the pivot for target queries, a target for pivot
    queries. Every number here depends on the pair alone (never on other languages in the pool).
    """

    query_lang: str
    against: str
    pivot: str
    kind: str
    borderline: bool
    n_queries: int
    docs_per_lang: int
    clustering: float
    clustering_ci: tuple[float, float]
    inclination: float | None
    inclination_ci: tuple[float, float] | None
    median_own_above: float | None = None

    @property
    def target(self) -> str:
        """The pair's non-pivot language."""
        return self.query_lang if self.query_lang != self.pivot else self.against

    @property
    def severity(self) -> float:
        """The larger deciding rate (for sorting languages worst first)."""
        return max(self.clustering, self.inclination or 0.0)

    @property
    def judged(self) -> bool:
        return self.kind != TOO_FEW


def wilson(rate: float, n: int) -> tuple[float, float]:
    """The Wilson 95% interval (in %) of a rate (in %) over ``n`` queries."""
    return wilson_interval(round(rate / 100.0 * n), n)


def _straddles(ci: tuple[float, float] | None) -> bool:
    return ci is not None and bool(ci[0] < THRESHOLD <= ci[1])


def judge(clustering: float, inclination: float | None, n_queries: int, docs_per_lang: int) -> tuple[str, bool]:
    """The rule: (kind, borderline) from the two rates (%), the number of queries and of documents per language."""
    if docs_per_lang < MIN_DOCS:
        return TOO_FEW, False
    hi_i, hi_c = (inclination or 0.0) >= THRESHOLD, clustering >= THRESHOLD
    kind = "both" if hi_i and hi_c else "pivot inclination" if hi_i else "same-language clustering" if hi_c \
        else "well aligned"
    ci_i = wilson(inclination, n_queries) if inclination is not None else None
    return kind, bool(_straddles(wilson(clustering, n_queries)) or _straddles(ci_i))


def pair_verdict(clustering: float, inclination: float | None, n_queries: int, docs_per_lang: int, *,
                 query_lang: str, against: str, pivot: str, median_own_above: float | None = None) -> Verdict:
    """A :class:`Verdict` from a pair's rates (the one constructor every view goes through)."""
    kind, borderline = judge(clustering, inclination, n_queries, docs_per_lang)
    return Verdict(query_lang, against, pivot, kind, borderline, n_queries, docs_per_lang, clustering,
                   wilson(clustering, n_queries), inclination,
                   wilson(inclination, n_queries) if inclination is not None else None, median_own_above)


def _matrix_value(matrix: pd.DataFrame | None, query_lang: str, doc_lang: str, metric: str) -> float | None:
    if matrix is None or matrix.empty:
        return None
    sel = matrix[(matrix.query_lang == query_lang) & (matrix.doc_lang == doc_lang) & (matrix.metric == metric)]
    return float(sel.value.iloc[0]) if len(sel) else None


def verdicts(summary: pd.DataFrame, matrix: pd.DataFrame | None, pivot: str, langs: Sequence[str]) -> list[Verdict]:
    """Every pair's verdict from the long-format summary (and matrix) of one pool mode: per target t, t's
    queries against the pivot gold (worst first), then the pivot's queries against each target's gold.

    The Multi rows of any pool holding the pairs give the same verdicts (the rates are pair rates).
    """
    multi = summary[summary.scenario == "multi"]
    out: list[Verdict] = []
    targets = [t for t in langs if t != pivot]
    for q, against in [*((t, pivot) for t in targets), *((pivot, t) for t in targets)]:
        rows = multi[multi.query_lang == q].set_index("metric")
        metric = clustering_metric(q, pivot, against)
        if metric not in rows.index:
            continue
        size, k = int(rows["pool_size"].iloc[0]), len(str(rows["doc_lang"].iloc[0]).split("+"))
        value: dict[Any, float] = rows["value"].astype(float).to_dict()
        inclination = value[INCLINATION] if q != pivot and INCLINATION in value else None
        out.append(pair_verdict(value[metric], inclination, int(rows["n_queries"].iloc[0]),
                                size // k, query_lang=q, against=against, pivot=pivot,
                                median_own_above=_matrix_value(matrix, q, against, "median_own_above")))
    return sorted(out, key=lambda v: (v.query_lang == pivot, not v.judged, -v.severity))


#: Metrics where a fall is an improvement; ``same_lang_preference`` is neither better nor worse.
LOWER_IS_BETTER = frozenset({"max_r", "displaced_by_own@10", "displaced_by_pivot@10", "pivot_over_gold",
                             "pivot_intrusion@1", "same_over_other_gold", "english_over_gold", "english_intrusion@1"})
NEUTRAL = frozenset({"same_lang_preference"})
ALPHA = 0.05


def direction(metric: str, delta: float) -> int:
    """+1 when a change of ``delta`` in ``metric`` is an improvement, −1 when it is a loss, 0 when neutral."""
    base = metric.split(":", 1)[0]
    if base in NEUTRAL or delta == 0:
        return 0
    return (-1 if delta > 0 else 1) if base in LOWER_IS_BETTER else (1 if delta > 0 else -1)


__all__ = ["ALPHA", "CLUSTERING", "DEPTH", "INCLINATION", "LOWER_IS_BETTER", "MIN_DOCS", "THRESHOLD",
           "TOO_FEW", "Verdict", "clustering_metric", "direction", "judge", "pair_verdict", "verdicts", "wilson"]
