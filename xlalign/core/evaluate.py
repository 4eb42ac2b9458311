"""Orchestration: corpus + languages + encoder → long-format summary rows, the language-bias matrix and a
per-query table.

Stages: :func:`encode_corpus` (each distinct text once, through the encoder's cache, whatever the
number of languages) → :func:`evaluate_embeddings` (pools, exact ranks, metrics). Alignment
transforms act on the :class:`CorpusEmbeddings` between the two, so "before" and "after" share
every other step.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypedDict

import numpy as np
import pandas as pd

from xlalign.core import metrics as M
from xlalign.core.corpus import ParallelCorpus
from xlalign.core.encoder import EncodeRequest, TextEncoder, encode_requests
from xlalign.core.preference import TranslationPreference, translation_preference
from xlalign.core.ranking import RankResult, rank_golds
from xlalign.core.scenarios import Pool, build_pool, build_pools
from xlalign.errors import ConfigError
from xlalign.progress import Progress, silent
from xlalign.specs import SCENARIOS, EvalSpec
from xlalign.timing import PhaseTimes, timed

log = logging.getLogger(__name__)

#: Metric names that carry the pivot; while the pivot is ``en`` they are also written under these aliases.
PIVOT_ALIASES: dict[str, str] = {"english_over_gold": "pivot_over_gold", "english_intrusion@1": "pivot_intrusion@1"}
#: Display order of metrics.
METRIC_ORDER = ("complete@10", "max_r", "max_r_norm", "max_r_norm_of_mean", "map", "ndcg@1", "ndcg@10", "mrr",
                "recall@1", "recall@10", "own_preference", "displaced_by_own@10", "displaced_by_pivot@10",
                "same_lang_preference", "same_over_other_gold", "pivot_over_gold", "pivot_intrusion@1")
#: The verdict's clustering rate; pivot queries carry one per target, as ``displaced_by_own@10:<target>``.
CLUSTERING_METRIC = "displaced_by_own@10"
#: The verdict's language preference (:mod:`xlalign.core.preference`): target queries against the pivot;
#: pivot queries carry one per target, as ``own_preference:<target>``.
PREFERENCE_METRIC = "own_preference"
#: The verdict's quality without competition: NDCG@10 in the Mono pools (matrix diagonal: Mono-Same).
QUALITY_METRIC = "mono_ndcg@10"
#: Cut-off of the quality metric.
QUALITY_K = 10


class SummaryRow(TypedDict):
    """One long-format result row (the CLI table, the app and the CSV all read these)."""

    scenario: str
    pool: str
    query_lang: str
    doc_lang: str
    metric: str
    value: float
    n_queries: int
    pool_size: int


class MatrixRow(TypedDict):
    """One cell metric of the language-bias matrix (``matrix.csv``)."""

    query_lang: str
    doc_lang: str
    metric: str
    value: float
    n_queries: int
    pool_size: int


SUMMARY_COLUMNS = list(SummaryRow.__annotations__)
MATRIX_COLUMNS = list(MatrixRow.__annotations__)


@dataclass
class CorpusEmbeddings:
    """Embeddings of one corpus: ``passages[lang]`` rows follow ``corpus.unique_passages()``,
    ``queries[lang]`` rows follow the items."""

    passages: dict[str, np.ndarray]
    queries: dict[str, np.ndarray]

    def units(self, pool: Pool) -> np.ndarray:
        """(U, d) passage embeddings in ``pool``'s unit order (unit u = ``passages[unit_lang[u]][unit_index[u]]``)."""
        codes = pool.unit_lang_code
        first = self.passages[pool.doc_langs[0]]
        out = np.empty((len(codes), first.shape[1]), dtype=first.dtype)
        for c, lang in enumerate(pool.doc_langs):
            idx = np.flatnonzero(codes == c)
            out[idx] = self.passages[lang][pool.unit_index[idx]]
        return out

    def map(self, fn: Callable[[str, str, np.ndarray], np.ndarray]) -> CorpusEmbeddings:
        """Apply ``fn(lang, role, X)`` to every matrix (e.g. an alignment transform)."""
        return CorpusEmbeddings(
            {lang: fn(lang, "passage", x) for lang, x in self.passages.items()},
            {lang: fn(lang, "query", x) for lang, x in self.queries.items()},
        )

    def select(self, langs: Sequence[str]) -> CorpusEmbeddings:
        return CorpusEmbeddings({x: self.passages[x] for x in langs}, {x: self.queries[x] for x in langs})


@dataclass
class EvalResult:
    spec: EvalSpec
    rows: list[SummaryRow]
    matrix: list[MatrixRow]
    per_query: pd.DataFrame
    pools: list[Pool] = field(default_factory=list)

    def summary_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=SUMMARY_COLUMNS)

    def matrix_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.matrix, columns=MATRIX_COLUMNS)

    def value(self, scenario: str, query_lang: str, metric: str, doc_lang: str | None = None) -> float:
        """One summary value (``english_*`` aliases accepted while the pivot is en)."""
        for r in self.rows:
            if ((r["scenario"], r["query_lang"], r["metric"]) == (scenario, query_lang, metric)
                    and doc_lang in (None, r["doc_lang"])):
                return r["value"]
        raise KeyError((scenario, query_lang, metric, doc_lang))


def encode_corpus(corpus: ParallelCorpus, encoder: TextEncoder, langs: Sequence[str],
                  progress: Progress | None = None) -> CorpusEmbeddings:
    """Encode every distinct passage (role ``passage``) and every question (role ``query``) once.

    All languages and roles go to the encoder in one request list, so that an encoder that can
    (:class:`~xlalign.core.encoder.ManyEncoder`) orders the whole diagnosis by length at once.
    """
    corpus.require_langs(langs)
    first_item = corpus.passage_first_items()
    requests = [EncodeRequest([corpus.passages[lang][i] for i in first_item], lang, "passage") for lang in langs]
    requests += [EncodeRequest(list(corpus.questions[lang]), lang, "query") for lang in langs]
    with timed(log, "encode", languages=len(langs), texts=sum(len(r.texts) for r in requests),
               encoder=getattr(encoder, "name", type(encoder).__name__)):
        out = encode_requests(encoder, requests, progress)
    return CorpusEmbeddings(dict(zip(langs, out[: len(langs)], strict=True)),
                            dict(zip(langs, out[len(langs):], strict=True)))


def per_query_metrics(ranks: np.ndarray, pool_size: int | np.ndarray, ks: Sequence[int],
                      ndcg_ks: Sequence[int]) -> dict[str, np.ndarray]:
    """Every rank-based metric, per query (means give the summary)."""
    out: dict[str, np.ndarray] = {
        "max_r": M.max_r(ranks),
        "max_r_norm": M.max_r_norm(ranks, pool_size),
        "map": M.average_precision(ranks),
        "mrr": M.reciprocal_rank(ranks),
    }
    for k in ndcg_ks:
        out[f"ndcg@{k}"] = M.ndcg_at_k(ranks, k)
    for k in ks:
        out[f"complete@{k}"] = M.complete_at_k(ranks, k)
    for k in ks:
        out[f"recall@{k}"] = M.recall_at_k(ranks, k)
    return out


def language_metrics(pool: Pool, res: RankResult, pivot: str) -> dict[str, np.ndarray]:
    """Multi pool: where the golds of each language stand and which irrelevant documents beat them.

    Pair rates (the verdict's; each counts documents of one language above the gold of one language,
    so it is the same in a pivot + target pool and in any k-language pool holding that pair):

    * ``displaced_by_own@10`` — (non-pivot queries) at least 10 irrelevant query-language documents
      outrank the pivot-language gold (same-language clustering: the translation of the answer sinks).
    * ``displaced_by_own@10:<t>`` — (pivot queries, one per target t) at least 10 irrelevant
      pivot-language documents outrank the t gold.
    * ``displaced_by_pivot@10`` — (non-pivot queries) at least 10 irrelevant pivot-language documents
      outrank the query-language gold (pivot inclination; Hong et al.'s English inclination).
    * ``pivot_over_gold`` — (non-pivot queries) an irrelevant pivot-language document outranks the
      query-language gold.

    Rates of the whole pool (they change with the languages it holds):

    * ``same_lang_preference`` — the best-ranked gold is in the query's language (ties ½).
    * ``same_over_other_gold`` — an irrelevant query-language document outranks every other-language gold.
    * ``pivot_intrusion@1`` — (non-pivot queries) the top-1 document is an irrelevant pivot-language one.
    """
    code = {lang: i for i, lang in enumerate(pool.doc_langs)}
    gold = {lang: j for j, lang in enumerate(pool.gold_langs)}
    q = pool.query_lang
    values = {
        "same_lang_preference": M.preference_rate(res.ranks[:, 0], res.ranks[:, 1:].min(axis=1)),
        "same_over_other_gold": M.intrusion_rate(res.best_non_gold[:, code[q]], res.gold_scores[:, 1:].max(axis=1)),
    }
    if q == pivot:
        for t in pool.gold_langs[1:]:
            values[f"{CLUSTERING_METRIC}:{t}"] = M.displaced(res.above[:, gold[t], code[q]], 10)
        return values
    values[CLUSTERING_METRIC] = M.displaced(res.above[:, gold[pivot], code[q]], 10)
    intruder = res.best_non_gold[:, code[pivot]]
    rest = [code[x] for x in pool.doc_langs if x != pivot]
    best_else = np.maximum(res.gold_scores.max(axis=1), res.best_non_gold[:, rest].max(axis=1))
    values["pivot_intrusion@1"] = M.intrusion_rate(intruder, best_else)
    values["pivot_over_gold"] = M.intrusion_rate(intruder, res.gold_scores[:, 0])
    values["displaced_by_pivot@10"] = M.displaced(res.above[:, 0, code[pivot]], 10)
    if pivot == "en":
        for alias, name in PIVOT_ALIASES.items():
            values[alias] = values[name]
    return values


def matrix_rows(pool: Pool, res: RankResult) -> list[MatrixRow]:
    """The language-bias matrix row of ``pool.query_lang`` (Multi pool), per document language l:

    * of the whole pool: ``mean_rank``, ``median_rank`` of the l gold; ``best_gold_share``, the share of
      queries whose best gold is in l;
    * of the pair (q, l) alone, l ≠ q (the same in any pool holding both): ``distractor_over_own_gold``,
      an irrelevant l document outranks the q gold; ``clustering@1``, an irrelevant q document outranks
      the l gold; ``clustering@10``, at least 10 irrelevant q documents outrank the l gold;
      ``inclination@10``, at least 10 irrelevant l documents outrank the q gold; ``median_own_above``, the
      median number of irrelevant q documents above the l gold.
    """
    code = {lang: i for i, lang in enumerate(pool.doc_langs)}
    q = code[pool.query_lang]
    best = np.argmin(res.ranks, axis=1)
    rows: list[MatrixRow] = []
    for j, lang in enumerate(pool.gold_langs):
        values = {
            "mean_rank": float(res.ranks[:, j].mean()),
            "median_rank": float(np.median(res.ranks[:, j])),
            "best_gold_share": float(100.0 * (best == j).mean()),
            "distractor_over_own_gold": float(M.intrusion_rate(res.best_non_gold[:, code[lang]],
                                                               res.gold_scores[:, 0]).mean()),
        }
        if lang != pool.query_lang:
            values.update({
                "clustering@1": float(M.displaced(res.above[:, j, q], 1).mean()),
                "clustering@10": float(M.displaced(res.above[:, j, q], 10).mean()),
                "inclination@10": float(M.displaced(res.above[:, 0, code[lang]], 10).mean()),
                "median_own_above": float(np.median(res.above[:, j, q])),
            })
        rows += [MatrixRow(query_lang=pool.query_lang, doc_lang=lang, metric=m, value=v, n_queries=pool.n_queries,
                           pool_size=pool.pool_size) for m, v in values.items()]
    return rows


def _summary_rows(pool: Pool, values: dict[str, np.ndarray]) -> list[SummaryRow]:
    base = dict(scenario=pool.scenario, pool=pool.pool_mode, query_lang=pool.query_lang, doc_lang=pool.doc_lang,
                n_queries=pool.n_queries, pool_size=pool.pool_size)
    rows: list[SummaryRow] = []
    for metric, v in values.items():
        rows.append(SummaryRow(metric=metric, value=float(np.mean(v)), **base))  # type: ignore[typeddict-item]
        if metric == "max_r":
            norm = M.max_r_norm_of_mean(float(np.mean(v)), float(pool.pool_sizes.mean()), pool.n_gold)
            rows.append(SummaryRow(metric="max_r_norm_of_mean", value=norm, **base))  # type: ignore[typeddict-item]
    return rows


def _per_query_frame(pool: Pool, corpus: ParallelCorpus, res: RankResult, values: dict[str, np.ndarray],
                     q_emb: np.ndarray, u_emb: np.ndarray, first_item: np.ndarray) -> dict[str, object]:
    """One pool's per-query columns (a dict of equal-length columns; :func:`_tidy_per_query` joins them)."""
    n = pool.n_queries
    cols: dict[str, object] = {
        "scenario": [pool.scenario] * n, "pool": [pool.pool_mode] * n, "query_lang": [pool.query_lang] * n,
        "doc_lang": [pool.doc_lang] * n, "query_id": list(corpus.item_ids), "group": list(corpus.groups),
        "query": list(corpus.questions[pool.query_lang]), "pool_size": pool.pool_sizes,
    }
    for g, lang in enumerate(pool.gold_langs):
        cols[f"rank_{lang}"] = res.ranks[:, g]
        cols[f"score_{lang}"] = res.gold_scores[:, g]
    top_unit = res.top1_units(pool.gold_units)
    cols["top1_lang"] = pool.unit_lang[top_unit]
    cols["top1_id"] = [corpus.item_ids[first_item[i]] for i in pool.unit_index[top_unit]]
    cols["top1_score"] = (q_emb * u_emb[top_unit]).sum(axis=1)
    cols["top1_is_gold"] = res.ranks.min(axis=1) == 1
    cols.update(values)
    return cols


def evaluate_embeddings(corpus: ParallelCorpus, emb: CorpusEmbeddings, spec: EvalSpec,
                        progress: Progress | None = None) -> EvalResult:
    """Rank and score every scenario × query language (× document language) on precomputed embeddings.

    With the Multi scenario it also computes what the verdict needs for every pair (:func:`verdict_pairs`):
    the translation preference (summary ``own_preference``, per query) and the quality without competition
    (Mono-Same and Mono-Cross NDCG@10, ranking the Mono pools even when they were not asked for), each with
    its 95% interval in the matrix (:func:`verdict_rows`).
    """
    corpus.require_langs(spec.langs)
    pools = build_pools(corpus, spec.langs, spec.scenarios, spec.pool)
    first_item = corpus.passage_first_items()
    _, item_to_passage = corpus.unique_passages()
    pairs = verdict_pairs(spec.langs, spec.pivot) if "multi" in spec.scenarios else []
    report = progress or silent
    rows: list[SummaryRow] = []
    matrix: list[MatrixRow] = []
    frames: list[dict[str, object]] = []
    prefs: dict[tuple[str, str], TranslationPreference] = {}
    quality: dict[tuple[str, str], tuple[np.ndarray, int]] = {}  # (query, doc language) → per-query NDCG@10, pool size
    units: tuple[Pool, np.ndarray] | None = None  # the last pool's unit embeddings, shared by pools laid out alike
    times = PhaseTimes(log)
    for n, pool in enumerate(pools):
        report("ranking", n, len(pools))
        if units is None or not _same_units(units[0], pool):
            units = (pool, emb.units(pool))
        q_emb, u_emb = emb.queries[pool.query_lang], units[1]
        with times.phase("rank"):
            res = _rank(pool, q_emb, u_emb)
        with times.phase("metrics"):
            values = per_query_metrics(res.ranks, pool.pool_sizes, spec.ks, spec.ndcg_ks)
            if pool.scenario == "multi":
                values.update(language_metrics(pool, res, spec.pivot))
                values.update(_preferences(pool.query_lang, pairs, spec.pivot, emb, item_to_passage, prefs))
                matrix += matrix_rows(pool, res)
            elif pool.scenario in ("mono-same", "mono-cross"):
                quality[(pool.query_lang, pool.doc_langs[0])] = (M.ndcg_at_k(res.ranks, QUALITY_K), pool.pool_size)
            rows += _summary_rows(pool, values)
            frames.append(_per_query_frame(pool, corpus, res, values, q_emb, u_emb, first_item))
    if pairs:
        with times.phase("rank"):
            _rank_missing_mono(corpus, emb, spec, pairs, quality)
        matrix += verdict_rows(pairs, prefs, quality, item_to_passage, pools)
    report("ranking", len(pools), len(pools))
    times.log(pools=len(pools), queries=len(corpus))
    return EvalResult(spec, rows, matrix, _tidy_per_query(frames, spec.langs), pools)


def _rank(pool: Pool, q_emb: np.ndarray, u_emb: np.ndarray) -> RankResult:
    if pool.pool_sizes.min() <= pool.n_gold:
        raise ConfigError(f"{pool.scenario}: the pool has {pool.pool_sizes.min()} documents; at least "
                          f"{pool.n_gold + 1} needed")
    return rank_golds(q_emb, u_emb, pool.unit_weight, pool.gold_units, pool.removed_unit, pool.unit_lang_code,
                      removed_count=pool.removed_count)


def verdict_pairs(langs: Sequence[str], pivot: str) -> list[tuple[str, str]]:
    """The (query language, other language) pairs a verdict is given for: each target's queries against the
    pivot, then the pivot's queries against each target."""
    targets = [t for t in langs if t != pivot]
    return [*((t, pivot) for t in targets), *((pivot, t) for t in targets)]


def _preferences(q: str, pairs: Sequence[tuple[str, str]], pivot: str, emb: CorpusEmbeddings,
                 gold: np.ndarray, found: dict[tuple[str, str], TranslationPreference]) -> dict[str, np.ndarray]:
    """The per-query translation preference of ``q`` queries for their own language over each other language
    of their verdict pairs: ``own_preference`` (target queries, against the pivot) or ``own_preference:<t>``
    (pivot queries, one per target). Kept in ``found`` for the matrix rows."""
    out: dict[str, np.ndarray] = {}
    for query_lang, other in pairs:
        if query_lang != q:
            continue
        pref = translation_preference(emb.queries[q], emb.passages[q], emb.passages[other], gold)
        found[(q, other)] = pref
        out[PREFERENCE_METRIC if q != pivot else f"{PREFERENCE_METRIC}:{other}"] = pref.per_query
    return out


def _rank_missing_mono(corpus: ParallelCorpus, emb: CorpusEmbeddings, spec: EvalSpec, pairs: Sequence[tuple[str, str]],
                       quality: dict[tuple[str, str], tuple[np.ndarray, int]]) -> None:
    """Rank the Mono-Same and Mono-Cross pools the verdict needs and the scenarios did not include."""
    _, item_to_passage = corpus.unique_passages()
    needed = dict.fromkeys([(q, q) for q, _ in pairs] + list(pairs))
    for q, doc in needed:
        if (q, doc) in quality:
            continue
        pool = build_pool(corpus, spec.langs, "mono-same" if q == doc else "mono-cross", q, spec.pool,
                          None if q == doc else doc, item_to_passage)
        res = _rank(pool, emb.queries[q], emb.units(pool))
        quality[(q, doc)] = (M.ndcg_at_k(res.ranks, QUALITY_K), pool.pool_size)


def verdict_rows(pairs: Sequence[tuple[str, str]], prefs: dict[tuple[str, str], TranslationPreference],
                 quality: dict[tuple[str, str], tuple[np.ndarray, int]], clusters: np.ndarray,
                 pools: Sequence[Pool]) -> list[MatrixRow]:
    """The verdict's inputs as matrix cells, each with its 95% interval (``<metric>_lo``, ``<metric>_hi``):

    * cell (q, q): ``mono_ndcg@10`` — Mono-Same NDCG@10 of q's queries;
    * cell (q, o) of a verdict pair: ``mono_ndcg@10`` — Mono-Cross NDCG@10 (q queries, o documents), and
      ``own_preference`` — P(q; q over o), the translation preference (:mod:`xlalign.core.preference`).

    NDCG intervals are cluster-robust t intervals over queries (clusters: the query's passage); the
    preference's also counts the documents as a sample (:func:`~xlalign.core.metrics.crossed_mean_ci`).
    """
    multi_size = {p.query_lang: p.pool_size for p in pools if p.scenario == "multi"}
    out: list[MatrixRow] = []

    def add(q: str, doc: str, metric: str, value: float, lo: float, hi: float, n: int, size: int) -> None:
        out.extend(MatrixRow(query_lang=q, doc_lang=doc, metric=name, value=float(v), n_queries=n, pool_size=size)
                   for name, v in ((metric, value), (f"{metric}_lo", lo), (f"{metric}_hi", hi)))

    for q, doc in dict.fromkeys([(q, q) for q, _ in pairs] + list(pairs)):
        ndcg, size = quality[(q, doc)]
        m, lo, hi = M.clustered_mean_ci(ndcg, clusters)
        add(q, doc, QUALITY_METRIC, m, max(0.0, float(lo)), min(100.0, float(hi)), len(ndcg), size)
        if q != doc:
            pref = prefs[(q, doc)]
            add(q, doc, PREFERENCE_METRIC, pref.value, *pref.interval(clusters), len(pref.per_query),
                multi_size.get(q, size))
    return out


def _same_units(a: Pool, b: Pool) -> bool:
    """Whether two pools list the same units in the same order (every Multi pool of one evaluation does)."""
    return (a.doc_langs == b.doc_langs and np.array_equal(a.unit_index, b.unit_index)
            and np.array_equal(a.unit_lang_code, b.unit_lang_code))


def _tidy_per_query(parts: list[dict[str, object]], langs: Sequence[str]) -> pd.DataFrame:
    """Join the pools' per-query columns into one frame, column by column.

    A column a pool lacks (another language's rank, a Multi-only metric) is missing there: ``<NA>``
    for ranks (``Int64``), NaN for numbers. Built per column rather than by concatenating one frame
    per pool: with k languages there are k² pools and 2k rank/score columns.
    """
    sizes = [len(p["query_id"]) for p in parts]  # type: ignore[arg-type]
    present = list(dict.fromkeys(c for p in parts for c in p))
    lead = ["scenario", "pool", "query_lang", "doc_lang", "query_id", "group", "query", "pool_size"]
    rank_cols = [f"rank_{lang}" for lang in langs if f"rank_{lang}" in present]
    score_cols = [f"score_{lang}" for lang in langs if f"score_{lang}" in present]
    names = lead + rank_cols + score_cols + [c for c in present if c not in lead + rank_cols + score_cols]
    columns: dict[str, object] = {}  # in the final order: no reordering copy of a table that can hold k²·n cells
    for c in names:
        if all(c in p for p in parts):
            pieces = [np.asarray(p[c]) for p in parts]
            columns[c] = np.concatenate(pieces) if pieces else np.array([])
            continue
        if c.startswith("rank_"):
            full = np.zeros(sum(sizes), dtype=np.int64)
            mask = np.ones(sum(sizes), dtype=bool)
        else:
            kind = np.result_type(*[np.asarray(p[c]).dtype for p in parts if c in p])
            full, mask = np.full(sum(sizes), np.nan, dtype=kind if kind.kind == "f" else np.float64), None
        start = 0
        for p, n in zip(parts, sizes, strict=True):
            if c in p:
                full[start : start + n] = np.asarray(p[c])
                if mask is not None:
                    mask[start : start + n] = False
            start += n
        columns[c] = pd.arrays.IntegerArray(full, mask) if mask is not None else full
    for c in rank_cols:
        if not isinstance(columns[c], pd.arrays.IntegerArray):
            columns[c] = pd.array(np.asarray(columns[c]), dtype="Int64")  # <NA> where that language holds no gold
    return pd.DataFrame(columns, copy=False)


def evaluate(corpus: ParallelCorpus, encoder: TextEncoder, spec: EvalSpec, progress: Progress | None = None) -> EvalResult:
    """Encode (cached) and evaluate every scenario for every query language."""
    emb = encode_corpus(corpus, encoder, spec.langs, progress)
    return evaluate_embeddings(corpus, emb, spec, progress)


def metric_base(metric: str) -> str:
    """A metric's name without its gold language: ``displaced_by_own@10:zh`` → ``displaced_by_own@10``."""
    return metric.split(":", 1)[0]


def metric_order(metric: str) -> tuple[int, str]:
    """A stable display order for metric names (per-target variants after their base metric)."""
    base = metric_base(metric)
    return (METRIC_ORDER.index(base), metric) if base in METRIC_ORDER else (len(METRIC_ORDER), metric)


def scenario_order(scenario: str) -> int:
    return SCENARIOS.index(scenario) if scenario in SCENARIOS else len(SCENARIOS)


__all__ = [
    "CLUSTERING_METRIC",
    "MATRIX_COLUMNS",
    "METRIC_ORDER",
    "PIVOT_ALIASES",
    "PREFERENCE_METRIC",
    "QUALITY_K",
    "QUALITY_METRIC",
    "SUMMARY_COLUMNS",
    "CorpusEmbeddings",
    "EvalResult",
    "MatrixRow",
    "SummaryRow",
    "encode_corpus",
    "evaluate",
    "evaluate_embeddings",
    "language_metrics",
    "matrix_rows",
    "metric_base",
    "metric_order",
    "per_query_metrics",
    "scenario_order",
    "verdict_pairs",
    "verdict_rows",
]
