"""The verdict rule: for one language pair, seen from one query language, is the model weak, biased, or well
aligned — decided from the pair's own numbers, so the same pair gets the same verdict in any pool.

Three separate questions, each with its number and a 95% interval (all in ``matrix.csv``):

1. **Quality without competition** — can the model find the answer when only one language is in the pool?
   Mono-Same NDCG@10 (q queries, q documents) and Mono-Cross NDCG@10 (q queries, o documents); cluster-robust
   t intervals over queries. The model is **weak** when the lower of the two is below
   :data:`QUALITY_MIN` (50).
2. **Language preference, controlled for quality** — the translation preference P(q; q over o)
   (:mod:`xlalign.core.preference`): how often an irrelevant document in the query's language outranks the
   *same* document in the other language. 50% = none, and exactly 50 in expectation for a language-neutral
   encoder of any strength, weak or strong. A preference **counts** when its 95% interval excludes 50 and
   it is at least :data:`PREFERENCE_MIN` (5) points from 50 (P ≥ 55% or ≤ 45%). P > 50: the query's own
   language is favoured; P < 50: the other language is.
3. **Impact in the mixed pool** — do irrelevant documents of the favoured language outrank the relevant
   document in the other language? The pair displacement rates of the Multi pool (exact ranker, pair
   counts): own language favoured → the share of q queries with an irrelevant q document above the o gold
   (``clustering@1``); other language favoured → the share with an irrelevant o document above the q gold
   (``distractor_over_own_gold``) — the paper's phenomenon, unrelated documents of one language ranked above
   the related one. Wilson intervals. The impact is **noticeable** at ≥ :data:`IMPACT_MIN` (10%) of queries.
   The sentences also give the first-page rates (≥ :data:`DEPTH` such documents above the gold:
   ``clustering@10``, ``inclination@10``).

The kind (first match):

* fewer than :data:`MIN_DOCS` documents per language → **too few documents to judge**;
* a preference that counts **and** a noticeable impact → **same-language clustering** (own language
  favoured), **pivot inclination** (a target's queries favour the pivot), or, for the pivot's queries
  favouring a target, **target-language inclination**;
* weak quality → **weak retrieval** (a weak model ranks irrelevant documents of *every* language above the
  gold; aligning languages cannot fix that);
* a preference that counts, without noticeable impact → **same-language preference** / **pivot
  preference** / **target-language preference** (real, but no first page is lost to it);
* otherwise → **well aligned** (good quality, no preference).

The pivot's own queries favouring the pivot's documents is "own language" and "pivot" at once. Under the
paired-comparison (Thurstone) model, the target queries' preference z_t = c − i and the pivot queries'
z_p = c + i (c: own-language pull, i: pull to the pivot), so z_t < 0 exactly when the pivot pull i is the
larger part: the pivot's verdict names **pivot inclination** when the pair's target queries favour the pivot
(their preference counts and P < 50), and **same-language clustering** otherwise.

*Borderline*: an interval that decided the kind straddles its threshold (the preference's 50 ± 5 edge, the
impact's 10%, the quality's 50).

The words (sentences, headline, the before/after finding) are in :mod:`xlalign.report.verdict_text`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from xlalign.core.evaluate import PREFERENCE_METRIC, QUALITY_METRIC, verdict_pairs
from xlalign.core.metrics import wilson_interval

#: NDCG@10 (%) below which retrieval without competition is weak.
QUALITY_MIN = 50.0
#: Points away from 50% a translation preference must be to count (its interval must also exclude 50).
PREFERENCE_MIN = 5.0
#: Share of queries (%) with an irrelevant document of the favoured language above the other gold: noticeable.
IMPACT_MIN = 10.0
#: Irrelevant documents of one language above a gold: "off the first results page because of that language".
DEPTH = 10
#: Documents per language below which the verdict is "too few documents to judge": with fewer than two results
#: pages per language, NDCG@10 and the first page measure the pool's size (a random ranking of 15 documents
#: has NDCG@10 ≈ 30) and ten documents of one language above a gold are half its pool or more.
MIN_DOCS = 2 * DEPTH

CLUSTERING = "same-language clustering"
INCLINATION = "pivot inclination"
TARGET_INCLINATION = "target-language inclination"
SAME_PREFERENCE = "same-language preference"
PIVOT_PREFERENCE = "pivot preference"
TARGET_PREFERENCE = "target-language preference"
WEAK = "weak retrieval"
WELL_ALIGNED = "well aligned"
TOO_FEW = "too few documents to judge"
#: Kinds that name a bias with a noticeable impact (what alignment is for).
BIASED = frozenset({CLUSTERING, INCLINATION, TARGET_INCLINATION})
#: Kinds that name a preference without noticeable impact.
PREFERENCES = frozenset({SAME_PREFERENCE, PIVOT_PREFERENCE, TARGET_PREFERENCE})
#: Every kind, worst first (the sort order of a page's sentences).
KINDS = (CLUSTERING, INCLINATION, TARGET_INCLINATION, WEAK, SAME_PREFERENCE, PIVOT_PREFERENCE, TARGET_PREFERENCE,
         WELL_ALIGNED, TOO_FEW)

Interval = tuple[float, float]


@dataclass(frozen=True)
class Verdict:
    """The finding for one language pair, seen from ``query_lang`` queries, with every number that decides it.

    ``against`` is the pair's other language: the pivot for target queries, a target for the pivot's.
    Percentages throughout; every number depends on the pair alone (never on other languages in the pool).
    """

    query_lang: str
    against: str
    pivot: str
    kind: str
    borderline: bool
    n_queries: int
    docs_per_lang: int
    #: Quality without competition: Mono-Same and Mono-Cross NDCG@10, with intervals.
    mono_same: float
    mono_same_ci: Interval
    mono_cross: float
    mono_cross_ci: Interval
    #: P(query_lang documents beat their ``against`` translations), 50 = no preference.
    preference: float
    preference_ci: Interval
    #: Impact: an irrelevant query-language document above the ``against`` gold (clustering@1) …
    own_above: float
    own_above_ci: Interval
    #: … and an irrelevant ``against`` document above the query-language gold (distractor_over_own_gold).
    other_above: float
    other_above_ci: Interval
    #: The first-page rates: ≥ 10 such documents above the gold (clustering@10, inclination@10).
    own_off_page: float
    own_off_page_ci: Interval
    other_off_page: float
    other_off_page_ci: Interval
    #: The median number of irrelevant query-language documents above the ``against`` gold.
    median_own_above: float | None = None

    @property
    def target(self) -> str:
        """The pair's non-pivot language."""
        return self.query_lang if self.query_lang != self.pivot else self.against

    @property
    def quality(self) -> float:
        """The lower of the two NDCG@10 figures."""
        return min(self.mono_same, self.mono_cross)

    @property
    def weak(self) -> bool:
        return self.quality < QUALITY_MIN

    @property
    def prefers(self) -> str | None:
        """The language whose documents the queries favour when the preference counts, else None."""
        if not preference_counts(self.preference, self.preference_ci):
            return None
        return self.query_lang if self.preference > 50.0 else self.against

    @property
    def favours_other(self) -> bool:
        return self.prefers == self.against

    @property
    def impact(self) -> float:
        """The impact in the direction of the preference (own language when there is none)."""
        return self.other_above if self.favours_other else self.own_above

    @property
    def impact_ci(self) -> Interval:
        return self.other_above_ci if self.favours_other else self.own_above_ci

    @property
    def off_page(self) -> tuple[float, Interval]:
        """The first-page rate in the direction of the preference, with its interval."""
        return (self.other_off_page, self.other_off_page_ci) if self.favours_other else \
            (self.own_off_page, self.own_off_page_ci)

    @property
    def odds(self) -> float:
        """How many times as often the query's language wins a comparison as it loses one (∞ when it never loses)."""
        p = self.preference / 100.0
        return float("inf") if p >= 1.0 else p / (1.0 - p)

    @property
    def judged(self) -> bool:
        return self.kind != TOO_FEW

    @property
    def biased(self) -> bool:
        return self.kind in BIASED

    @property
    def rank(self) -> tuple[int, float]:
        """Sort key, worst first: the kind's order, then the larger impact."""
        return KINDS.index(self.kind), -self.impact


def wilson(rate: float, n: int) -> Interval:
    """The Wilson 95% interval (in %) of a rate (in %) over ``n`` queries."""
    lo, hi = wilson_interval(round(rate / 100.0 * n), n)
    return float(lo), float(hi)


def preference_counts(preference: float, ci: Interval) -> bool:
    """A preference counts when its interval excludes 50% and it is at least :data:`PREFERENCE_MIN` points away."""
    return abs(preference - 50.0) >= PREFERENCE_MIN and not ci[0] <= 50.0 <= ci[1]


def _straddles(ci: Interval, threshold: float) -> bool:
    return bool(ci[0] < threshold <= ci[1])


@dataclass(frozen=True)
class Evidence:
    """The three parts the rule combines, for one (query language, other language) of a pair (percentages)."""

    mono_same: float
    mono_same_ci: Interval
    mono_cross: float
    mono_cross_ci: Interval
    preference: float
    preference_ci: Interval
    impact_own: float
    impact_own_ci: Interval
    impact_other: float
    impact_other_ci: Interval
    off_page_own: float = 0.0
    off_page_own_ci: Interval = (0.0, 100.0)
    off_page_other: float = 0.0
    off_page_other_ci: Interval = (0.0, 100.0)

    @property
    def quality(self) -> tuple[float, Interval]:
        """The lower of the two NDCG@10 figures, with its interval."""
        return min((self.mono_same, self.mono_same_ci), (self.mono_cross, self.mono_cross_ci), key=lambda x: x[0])


def judge(e: Evidence, docs_per_lang: int, *, pivot_queries: bool = False,
          target_prefers_pivot: bool = False) -> tuple[str, bool]:
    """The rule: (kind, borderline). ``pivot_queries``: the queries are the pivot's (``target_prefers_pivot``:
    the pair's target queries favour the pivot, so the pivot's own pull is inclination, not clustering)."""
    if docs_per_lang < MIN_DOCS:
        return TOO_FEW, False
    counts = preference_counts(e.preference, e.preference_ci)
    own = e.preference > 50.0
    impact, impact_ci = (e.impact_own, e.impact_own_ci) if own else (e.impact_other, e.impact_other_ci)
    pref_borderline = e.preference_ci[0] < 50.0 + PREFERENCE_MIN if own else e.preference_ci[1] > 50.0 - PREFERENCE_MIN
    impact_borderline = _straddles(impact_ci, IMPACT_MIN)
    quality, quality_ci = e.quality
    weak_borderline = _straddles(quality_ci, QUALITY_MIN)
    if counts and impact >= IMPACT_MIN:
        return _bias_kind(own, pivot_queries, target_prefers_pivot), pref_borderline or impact_borderline
    if quality < QUALITY_MIN:
        return WEAK, weak_borderline
    if counts:
        return _preference_kind(own, pivot_queries, target_prefers_pivot), pref_borderline or impact_borderline
    wide = e.preference_ci[0] < 50.0 - PREFERENCE_MIN or e.preference_ci[1] > 50.0 + PREFERENCE_MIN
    return WELL_ALIGNED, wide or weak_borderline


def _bias_kind(own: bool, pivot_queries: bool, target_prefers_pivot: bool) -> str:
    if not own:
        return TARGET_INCLINATION if pivot_queries else INCLINATION
    return INCLINATION if pivot_queries and target_prefers_pivot else CLUSTERING


def _preference_kind(own: bool, pivot_queries: bool, target_prefers_pivot: bool) -> str:
    if not own:
        return TARGET_PREFERENCE if pivot_queries else PIVOT_PREFERENCE
    return PIVOT_PREFERENCE if pivot_queries and target_prefers_pivot else SAME_PREFERENCE


def pair_verdict(e: Evidence, n_queries: int, docs_per_lang: int, *, query_lang: str, against: str, pivot: str,
                 target_prefers_pivot: bool = False, median_own_above: float | None = None) -> Verdict:
    """A :class:`Verdict` from a pair's evidence (the one constructor every view goes through)."""
    kind, borderline = judge(e, docs_per_lang, pivot_queries=query_lang == pivot,
                             target_prefers_pivot=target_prefers_pivot)
    return Verdict(query_lang, against, pivot, kind, borderline, n_queries, docs_per_lang, e.mono_same, e.mono_same_ci,
                   e.mono_cross, e.mono_cross_ci, e.preference, e.preference_ci, e.impact_own, e.impact_own_ci,
                   e.impact_other, e.impact_other_ci, e.off_page_own, e.off_page_own_ci, e.off_page_other,
                   e.off_page_other_ci, median_own_above)


class _Cells:
    """The matrix of one evaluation, read by cell."""

    def __init__(self, matrix: pd.DataFrame) -> None:
        self.values = {(q, d, m): (float(v), int(n), int(size)) for q, d, m, v, n, size in zip(
            matrix.query_lang, matrix.doc_lang, matrix.metric, matrix.value, matrix.n_queries, matrix.pool_size,
            strict=True)}

    def has(self, q: str, d: str, metric: str) -> bool:
        return (q, d, metric) in self.values

    def get(self, q: str, d: str, metric: str) -> float:
        return self.values[(q, d, metric)][0]

    def with_ci(self, q: str, d: str, metric: str) -> tuple[float, Interval]:
        return self.get(q, d, metric), (self.get(q, d, f"{metric}_lo"), self.get(q, d, f"{metric}_hi"))

    def rate(self, q: str, d: str, metric: str) -> tuple[float, Interval]:
        value, n, _ = self.values[(q, d, metric)]
        return value, wilson(value, n)


def _evidence(cells: _Cells, q: str, o: str) -> Evidence:
    same, cross, pref = (cells.with_ci(q, d, m) for d, m in ((q, QUALITY_METRIC), (o, QUALITY_METRIC),
                                                             (o, PREFERENCE_METRIC)))
    own, other = cells.rate(q, o, "clustering@1"), cells.rate(q, o, "distractor_over_own_gold")
    own_page, other_page = cells.rate(q, o, "clustering@10"), cells.rate(q, o, "inclination@10")
    return Evidence(same[0], same[1], cross[0], cross[1], pref[0], pref[1], own[0], own[1], other[0], other[1],
                    own_page[0], own_page[1], other_page[0], other_page[1])


def verdicts(summary: pd.DataFrame | None, matrix: pd.DataFrame | None, pivot: str, langs: Sequence[str]) -> list[Verdict]:
    """Every pair's verdict from the language-bias matrix of one evaluation: per target t, t's queries against
    the pivot, then the pivot's queries against each target — worst first within each group.

    ``summary`` is not read (the matrix holds every input); it is kept so that callers pass an evaluation's two
    tables alike. An evaluation made without the Multi scenario, or by an xlalign that did not write the
    verdict's inputs, has no verdicts.
    """
    if matrix is None or matrix.empty:
        return []
    cells = _Cells(matrix)
    out: list[Verdict] = []
    prefers_pivot: dict[str, bool] = {}
    for q, o in verdict_pairs(langs, pivot):
        if not cells.has(q, o, PREFERENCE_METRIC) or not cells.has(q, q, QUALITY_METRIC):
            continue
        n, docs = cells.values[(q, q, QUALITY_METRIC)][1:]
        v = pair_verdict(_evidence(cells, q, o), n, docs, query_lang=q, against=o, pivot=pivot,
                         target_prefers_pivot=prefers_pivot.get(o, False),
                         median_own_above=cells.get(q, o, "median_own_above") if cells.has(q, o, "median_own_above")
                         else None)
        if q != pivot:
            prefers_pivot[q] = v.prefers == pivot
        out.append(v)
    return sorted(out, key=lambda v: (v.query_lang == pivot, v.rank))


#: Metrics where a fall is an improvement; ``same_lang_preference`` is neither better nor worse.
LOWER_IS_BETTER = frozenset({"max_r", "displaced_by_own@10", "displaced_by_pivot@10", "pivot_over_gold",
                             "pivot_intrusion@1", "same_over_other_gold", "english_over_gold", "english_intrusion@1"})
#: Metrics whose ideal is a value, not a direction: the translation preference is best at 50%.
NEUTRAL = frozenset({"same_lang_preference", PREFERENCE_METRIC})
ALPHA = 0.05


def direction(metric: str, delta: float) -> int:
    """+1 when a change of ``delta`` in ``metric`` is an improvement, −1 when it is a loss, 0 when neutral."""
    base = metric.split(":", 1)[0]
    if base in NEUTRAL or delta == 0:
        return 0
    return (-1 if delta > 0 else 1) if base in LOWER_IS_BETTER else (1 if delta > 0 else -1)


__all__ = ["ALPHA", "BIASED", "CLUSTERING", "DEPTH", "IMPACT_MIN", "INCLINATION", "KINDS", "LOWER_IS_BETTER",
           "MIN_DOCS", "PIVOT_PREFERENCE", "PREFERENCES", "PREFERENCE_MIN", "QUALITY_MIN", "SAME_PREFERENCE",
           "TARGET_INCLINATION", "TARGET_PREFERENCE", "TOO_FEW", "WEAK", "WELL_ALIGNED", "Evidence", "Verdict",
           "direction", "judge", "pair_verdict", "preference_counts", "verdicts", "wilson"]
