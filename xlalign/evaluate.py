"""Orchestration: corpus + language pair + encoder → long-format summary rows and a per-query table.

Stages: :func:`encode_corpus` (each distinct text once, through the encoder's cache) →
:func:`evaluate_embeddings` (pools, exact ranks, metrics). Alignment transforms act on the
:class:`CorpusEmbeddings` between the two, so "before" and "after" share every other step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypedDict

import numpy as np
import pandas as pd

from xlalign import metrics as M
from xlalign.corpus import ParallelCorpus
from xlalign.encoders import Encoder
from xlalign.errors import ConfigError
from xlalign.ranking import rank_pool
from xlalign.scenarios import POOL_MODES, SCENARIOS, Pool, build_pools

StatusFn = Callable[[str, float], None]


@dataclass(frozen=True)
class EvalConfig:
    """What to evaluate. ``langs[0]`` is the pivot (English in the paper), ``langs[1]`` the target."""

    langs: tuple[str, str]
    scenarios: tuple[str, ...] = SCENARIOS
    pool: str = "dedup"
    ks: tuple[int, ...] = (1, 5, 10, 20, 100)
    ndcg_ks: tuple[int, ...] = (1, 10)

    def __post_init__(self) -> None:
        if len(self.langs) != 2:
            raise ConfigError(f"langs must name exactly two languages, got {list(self.langs)}")
        if self.langs[0] == self.langs[1]:
            raise ConfigError(f"langs must differ, got {self.langs[0]!r} twice")
        if not self.scenarios:
            raise ConfigError("no scenarios selected")
        for s in self.scenarios:
            if s not in SCENARIOS:
                raise ConfigError(f"unknown scenario {s!r}; choose from {', '.join(SCENARIOS)}")
        if len(set(self.scenarios)) != len(self.scenarios):
            raise ConfigError(f"scenario listed twice: {list(self.scenarios)}")
        if self.pool not in POOL_MODES:
            raise ConfigError(f"unknown pool mode {self.pool!r}; choose from {', '.join(POOL_MODES)}")
        for k in (*self.ks, *self.ndcg_ks):
            if not isinstance(k, (int, np.integer)) or k < 1:
                raise ConfigError(f"cutoffs must be positive integers, got {k!r}")

    @property
    def pivot(self) -> str:
        return self.langs[0]


class SummaryRow(TypedDict):
    """One long-format result row (the CLI table, the app and the CSV all read these)."""

    scenario: str
    pool: str
    query_lang: str
    metric: str
    value: float
    n_queries: int
    pool_size: int


SUMMARY_COLUMNS = list(SummaryRow.__annotations__)


@dataclass
class CorpusEmbeddings:
    """Embeddings of one corpus: ``passages[lang]`` rows follow ``corpus.unique_passages()``,
    ``queries[lang]`` rows follow the items."""

    passages: dict[str, np.ndarray]
    queries: dict[str, np.ndarray]

    def units(self, pool: Pool) -> np.ndarray:
        """(U, d) passage embeddings in ``pool``'s unit order (unit u = ``passages[unit_lang[u]][unit_index[u]]``)."""
        first = self.passages[str(pool.unit_lang[0])]
        out = np.empty((len(pool.unit_lang), first.shape[1]), dtype=first.dtype)
        for lang in dict.fromkeys(pool.unit_lang):
            mask = pool.unit_lang == lang
            out[mask] = self.passages[str(lang)][pool.unit_index[mask]]
        return out

    def map(self, fn: Callable[[str, str, np.ndarray], np.ndarray]) -> CorpusEmbeddings:
        """Apply ``fn(lang, role, X)`` to every matrix (e.g. an alignment transform)."""
        return CorpusEmbeddings(
            {lang: fn(lang, "passage", x) for lang, x in self.passages.items()},
            {lang: fn(lang, "query", x) for lang, x in self.queries.items()},
        )


@dataclass
class EvalResult:
    config: EvalConfig
    rows: list[SummaryRow]
    per_query: pd.DataFrame
    pools: list[Pool] = field(default_factory=list)

    def summary_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=SUMMARY_COLUMNS)

    def value(self, scenario: str, query_lang: str, metric: str) -> float:
        for r in self.rows:
            if (r["scenario"], r["query_lang"], r["metric"]) == (scenario, query_lang, metric):
                return r["value"]
        raise KeyError((scenario, query_lang, metric))


def encode_corpus(corpus: ParallelCorpus, encoder: Encoder, langs: Sequence[str],
                  status: StatusFn | None = None) -> CorpusEmbeddings:
    """Encode every distinct passage (role ``passage``) and every question (role ``query``) once."""
    corpus.require_langs(langs)
    first_item = corpus.passage_first_items()
    passages, queries = {}, {}
    steps = 2 * len(langs)
    for n, lang in enumerate(langs):
        if status:
            status(f"encoding {lang} passages", (2 * n) / steps)
        passages[lang] = encoder.encode([corpus.passages[lang][i] for i in first_item], lang=lang, role="passage")
        if status:
            status(f"encoding {lang} questions", (2 * n + 1) / steps)
        queries[lang] = encoder.encode(list(corpus.questions[lang]), lang=lang, role="query")
    return CorpusEmbeddings(passages, queries)


def pivot_label(pivot: str) -> str:
    return "english" if pivot == "en" else pivot


def per_query_metrics(ranks: np.ndarray, pool_size: int | np.ndarray, ks: Sequence[int],
                      ndcg_ks: Sequence[int]) -> dict[str, np.ndarray]:
    """Every rank-based metric, per query (means give the summary)."""
    out: dict[str, np.ndarray] = {
        "max_r": M.max_r(ranks),
        "max_r_norm": M.max_r_norm(ranks, pool_size),
        "mrr": M.reciprocal_rank(ranks),
    }
    for k in ndcg_ks:
        out[f"ndcg@{k}"] = M.ndcg_at_k(ranks, k)
    for k in ks:
        out[f"complete@{k}"] = M.complete_at_k(ranks, k)
    for k in ks:
        out[f"recall@{k}"] = M.recall_at_k(ranks, k)
    return out


def evaluate_embeddings(corpus: ParallelCorpus, emb: CorpusEmbeddings, config: EvalConfig,
                        status: StatusFn | None = None) -> EvalResult:
    """Rank and score every scenario × query language on precomputed embeddings."""
    corpus.require_langs(config.langs)
    pools = build_pools(corpus, config.langs, config.scenarios, config.pool)
    first_item = corpus.passage_first_items()
    rows: list[SummaryRow] = []
    frames: list[pd.DataFrame] = []
    pivot = config.pivot
    for n, pool in enumerate(pools):
        if status:
            status(f"ranking {pool.scenario} ({pool.query_lang} queries)", n / len(pools))
        q_emb = emb.queries[pool.query_lang]
        u_emb = emb.units(pool)
        res = rank_pool(pool, q_emb, u_emb)
        size, sizes = pool.pool_size, pool.pool_sizes
        if sizes.min() <= pool.n_gold:
            raise ConfigError(f"{pool.scenario}: the pool has {sizes.min()} documents; at least {pool.n_gold + 1} needed")
        values = per_query_metrics(res.ranks, sizes, config.ks, config.ndcg_ks)
        if pool.scenario == "multi":
            same, other = 0, 1  # gold order in multi: (query language, other language)
            values["same_lang_preference"] = M.preference_rate(res.ranks[:, same], res.ranks[:, other])
            if pool.query_lang != pivot:
                piv = pool.langs.index(pivot)
                tgt = pool.langs.index(pool.query_lang)
                intruder = res.best_non_gold[:, piv]
                best_else = np.maximum(res.gold_scores.max(axis=1), res.best_non_gold[:, tgt])
                label = pivot_label(pivot)
                values[f"{label}_intrusion@1"] = M.intrusion_rate(intruder, best_else)
                values[f"{label}_over_gold"] = M.intrusion_rate(intruder, res.gold_scores[:, same])
        for metric, v in values.items():
            rows.append(SummaryRow(scenario=pool.scenario, pool=pool.pool_mode, query_lang=pool.query_lang,
                                   metric=metric, value=float(np.mean(v)), n_queries=pool.n_queries, pool_size=size))
            if metric == "max_r":
                rows.append(SummaryRow(
                    scenario=pool.scenario, pool=pool.pool_mode, query_lang=pool.query_lang,
                    metric="max_r_norm_of_mean",
                    value=M.max_r_norm_of_mean(float(np.mean(v)), float(sizes.mean()), pool.n_gold),
                    n_queries=pool.n_queries, pool_size=size))
        top_unit = res.top1_units(pool.gold_units)
        frame = pd.DataFrame({
            "scenario": pool.scenario, "pool": pool.pool_mode, "query_lang": pool.query_lang,
            "query_id": list(corpus.item_ids), "group": list(corpus.groups),
            "query": list(corpus.questions[pool.query_lang]), "pool_size": sizes,
        })
        for g, lang in enumerate(pool.gold_langs):
            frame[f"rank_{lang}"] = res.ranks[:, g]
            frame[f"score_{lang}"] = res.gold_scores[:, g]
        frame["top1_lang"] = pool.unit_lang[top_unit]
        frame["top1_id"] = [corpus.item_ids[first_item[i]] for i in pool.unit_index[top_unit]]
        frame["top1_score"] = (q_emb * u_emb[top_unit]).sum(axis=1)
        frame["top1_is_gold"] = res.ranks.min(axis=1) == 1
        for metric, v in values.items():
            frame[metric] = v
        frames.append(frame)
    if status:
        status("done", 1.0)
    per_query = pd.concat(frames, ignore_index=True)
    for c in per_query.columns:
        if c.startswith("rank_"):
            per_query[c] = per_query[c].astype("Int64")  # NaN where that language holds no gold
    lead = ["scenario", "pool", "query_lang", "query_id", "group", "query", "pool_size"]
    rank_cols = [f"rank_{lang}" for lang in config.langs if f"rank_{lang}" in per_query]
    score_cols = [f"score_{lang}" for lang in config.langs if f"score_{lang}" in per_query]
    rest = [c for c in per_query.columns if c not in lead + rank_cols + score_cols]
    return EvalResult(config, rows, per_query[lead + rank_cols + score_cols + rest], pools)


def evaluate(corpus: ParallelCorpus, encoder: Encoder, config: EvalConfig,
             status: StatusFn | None = None) -> EvalResult:
    """Encode (cached) and evaluate every scenario for both query languages."""
    emb = encode_corpus(corpus, encoder, config.langs, status)
    return evaluate_embeddings(corpus, emb, config, status)


def metric_order(metric: str) -> tuple[int, str]:
    """A stable display order for metric names."""
    lead = ["complete@10", "max_r", "max_r_norm", "max_r_norm_of_mean", "ndcg@1", "ndcg@10", "mrr",
            "recall@1", "recall@10", "same_lang_preference", "english_intrusion@1", "english_over_gold"]
    return (lead.index(metric), metric) if metric in lead else (len(lead), metric)


__all__ = [
    "SUMMARY_COLUMNS",
    "CorpusEmbeddings",
    "EvalConfig",
    "EvalResult",
    "SummaryRow",
    "encode_corpus",
    "evaluate",
    "evaluate_embeddings",
    "metric_order",
    "per_query_metrics",
]
