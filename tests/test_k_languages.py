"""k-language pools: k = 2 equals the pair engine, Multi-k golds, the language-bias matrix, the brute-force oracle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fakes import BagOfCharsEncoder, LatentEncoder
from oracles import brute_force_ranks

from xlalign.core.corpus import ParallelCorpus
from xlalign.core.evaluate import MATRIX_COLUMNS, CorpusEmbeddings, encode_corpus, evaluate, evaluate_embeddings
from xlalign.core.loaders import load_demo
from xlalign.core.ranking import rank_golds
from xlalign.core.scenarios import build_pool, build_pools
from xlalign.errors import ConfigError
from xlalign.specs import EvalSpec

GOLDEN = Path(__file__).parent / "data" / "pair_engine_golden.csv"
OLD_NAMES = {"english_over_gold": "english_over_gold", "english_intrusion@1": "english_intrusion@1"}


def test_the_fake_encoders_score_exactly_in_float32():
    """The premise of every golden and equality test on fakes: float32 scores are exact, whatever the order of
    summation (so no CPU, BLAS kernel or block size can flip a near-tie)."""
    c = load_demo(["en", "de"])
    for enc in (BagOfCharsEncoder(lang_offset={"en": 0.3, "de": 0.1}), LatentEncoder(c, {"en": 0.4, "de": 0.2})):
        x = np.vstack([enc.encode(list(c.questions["en"]), lang="en", role="query"),
                       enc.encode(list(c.passages["de"]), lang="de", role="passage")])
        assert x.dtype == np.float32 and (np.linalg.norm(x, axis=1) == 1.0).all()
        exact = x.astype(np.float64) @ x.astype(np.float64).T
        assert (x @ x.T == exact).all() and (x[:, ::-1] @ x[:, ::-1].T == exact).all()
        assert (x[:7] @ x.T == exact[:7]).all()  # another GEMM shape, another kernel


def test_k2_reproduces_the_pair_engine_exactly():
    """The summary of the former pair-only engine (frozen in tests/data: commit 1d63600's evaluate with today's
    exact fake) for en+de on the demo corpus, with a biased fake model, in both pool modes, equals today's
    k-language engine at k = 2."""
    golden = pd.read_csv(GOLDEN)
    c = load_demo(["en", "de"])
    frames = [evaluate(c, BagOfCharsEncoder(lang_offset={"en": 0.3, "de": 0.1}), EvalSpec(langs=("en", "de"), pool=p))
              .summary_frame() for p in ("dedup", "per-question")]
    now = pd.concat(frames).set_index(["scenario", "pool", "query_lang", "metric"])
    for r in golden.itertuples():
        got = now.loc[(r.scenario, r.pool, r.query_lang, r.metric)]
        assert got["value"] == pytest.approx(r.value, rel=1e-6, abs=1e-9), (r.scenario, r.query_lang, r.metric)
        assert (got["n_queries"], got["pool_size"]) == (r.n_queries, r.pool_size)
    assert len(golden) == 264  # every old row was checked


def test_k3_mono_rows_equal_the_pairs():
    c = load_demo(["en", "de", "es"])
    enc = BagOfCharsEncoder(lang_offset={"en": 0.3, "de": 0.1, "es": 0.2})
    emb = encode_corpus(c, enc, c.langs)
    three = evaluate_embeddings(c, emb, EvalSpec(langs=("en", "de", "es")))
    for pair in (("en", "de"), ("en", "es"), ("de", "es")):
        two = evaluate_embeddings(c.select_langs(pair), emb.select(pair), EvalSpec(langs=pair))
        for r in two.rows:
            if r["scenario"].startswith("mono"):
                assert three.value(r["scenario"], r["query_lang"], r["metric"], r["doc_lang"]) == r["value"]


def test_multi_k_golds_and_pools(squad_folder):
    from xlalign.core.loaders import load_squad_folder

    base = load_squad_folder(squad_folder, ["en", "de"])
    c = ParallelCorpus("three", base.item_ids, base.groups, base.passage_keys,
                       {**base.passages, "fr": tuple(f"fr {p}" for p in base.passages["en"])},
                       {**base.questions, "fr": tuple(f"fr {q}" for q in base.questions["en"])})
    multi = build_pool(c, ["en", "de", "fr"], "multi", "de")
    assert multi.n_gold == 3 and multi.gold_langs == ("de", "en", "fr") and multi.pool_size == 9
    m1 = build_pool(c, ["en", "de", "fr"], "multi-1", "de", "per-question")
    assert m1.gold_langs == ("en", "fr") and m1.pool_sizes.tolist() == [13, 13, 14, 13, 13]
    assert (m1.unit_lang[m1.removed_unit] == "de").all()
    pools = build_pools(c, ["en", "de", "fr"])
    cross = [(p.query_lang, p.doc_lang) for p in pools if p.scenario == "mono-cross"]
    assert cross == [("en", "de"), ("en", "fr"), ("de", "en"), ("de", "fr"), ("fr", "en"), ("fr", "de")]
    with pytest.raises(ConfigError, match="needs a document language"):
        build_pool(c, ["en", "de", "fr"], "mono-cross", "de")
    with pytest.raises(ConfigError, match="must be one of"):
        build_pool(c, ["en", "de", "fr"], "mono-cross", "de", doc_lang="de")


def test_matrix_shows_the_language_pulled_towards_the_pivot():
    """es queries lean hard towards English, de queries do not: only the (es, en) cell shows English distractors."""
    c = load_demo(["en", "de", "es"])
    enc = LatentEncoder(c, {"en": 0.4, "de": 0.4, "es": 0.4}, query_pull=0.0, pull_by_lang={"es": 1.5}, noise=0.3)
    r = evaluate(c, enc, EvalSpec(langs=("en", "de", "es"), scenarios=("multi",)))
    m = r.matrix_frame()
    assert list(m.columns) == MATRIX_COLUMNS
    cell = m.set_index(["query_lang", "doc_lang", "metric"])["value"]
    assert cell[("es", "en", "distractor_over_own_gold")] > 90
    assert cell[("de", "en", "distractor_over_own_gold")] < 10
    assert cell[("es", "en", "best_gold_share")] > 50 > cell[("de", "en", "best_gold_share")]
    assert cell[("es", "es", "median_rank")] > cell[("de", "de", "median_rank")]
    shares = m[m.metric == "best_gold_share"].groupby("query_lang")["value"].sum()
    np.testing.assert_allclose(shares.to_numpy(), 100.0)
    assert r.value("multi", "es", "pivot_over_gold") > 90 and r.value("multi", "de", "pivot_over_gold") < 10
    assert r.value("multi", "es", "displaced_by_pivot@10") > r.value("multi", "de", "displaced_by_pivot@10")


def _integer_corpus(seed: int) -> tuple[ParallelCorpus, CorpusEmbeddings]:
    """3 languages, 8 items over 5 passages (shared passages → per-question copies), and small-integer
    embeddings (not normalised, so that equal scores are exactly equal) that tie often."""
    rng = np.random.default_rng(seed)
    keys = ["p0", "p0", "p1", "p2", "p2", "p2", "p3", "p4"]
    langs = ("en", "de", "fr")
    passages = {lang: tuple(f"{lang}-{k}" for k in keys) for lang in langs}
    questions = {lang: tuple(f"{lang}-q{i}" for i in range(len(keys))) for lang in langs}
    c = ParallelCorpus("ints", tuple(f"i{i}" for i in range(8)), tuple(keys), tuple(keys), passages, questions)
    emb = CorpusEmbeddings({lang: rng.integers(-2, 3, size=(5, 4)).astype(np.float32) for lang in langs},
                           {lang: rng.integers(-2, 3, size=(8, 4)).astype(np.float32) for lang in langs})
    return c, emb


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("pool_mode", ["dedup", "per-question"])
@pytest.mark.parametrize("scenario", ["multi", "multi-1"])
def test_k3_ranks_match_the_brute_force_oracle(seed, pool_mode, scenario):
    c, emb = _integer_corpus(seed)
    for q in c.langs:
        pool = build_pool(c, c.langs, scenario, q, pool_mode)
        units = emb.units(pool)
        qe = emb.queries[q]
        res = rank_golds(qe, units, pool.unit_weight, pool.gold_units, pool.removed_unit, pool.unit_lang_code,
                         removed_count=pool.removed_count)
        scores = qe @ units.T
        for i in range(pool.n_queries):
            weight = pool.unit_weight.copy()
            if pool.removed_unit[i] >= 0:
                weight[pool.removed_unit[i]] -= pool.removed_count[i]
            doc_unit = np.repeat(np.arange(len(weight)), weight)
            gold_docs = np.searchsorted(doc_unit, pool.gold_units[i])[None, :]
            ref = brute_force_ranks(scores[i: i + 1], doc_unit, gold_docs)
            np.testing.assert_array_equal(res.ranks[i], ref[0], err_msg=f"{scenario} {pool_mode} {q} query {i}")


def _many_language_corpus(k: int, n: int, seed: int) -> tuple[ParallelCorpus, CorpusEmbeddings]:
    """k languages × n passages (one question each), small-integer embeddings that tie often."""
    rng = np.random.default_rng(seed)
    langs = tuple(["en"] + [f"x{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(k - 1)])
    ids = tuple(f"i{j}" for j in range(n))
    c = ParallelCorpus("many", ids, ids, ids, {x: tuple(f"{x}-p{j}" for j in range(n)) for x in langs},
                       {x: tuple(f"{x}-q{j}" for j in range(n)) for x in langs})
    emb = CorpusEmbeddings({x: rng.integers(-2, 3, size=(n, 5)).astype(np.float32) for x in langs},
                           {x: rng.integers(-2, 3, size=(n, 5)).astype(np.float32) for x in langs})
    return c, emb


@pytest.mark.parametrize(("k", "n"), [(20, 70), (40, 3)])  # language runs of 70 units (one-language stretches), of 3
def test_many_languages_rank_like_the_brute_force_oracle(k, n):
    from oracles import brute_force_best_non_gold

    c, emb = _many_language_corpus(k, n, seed=k)
    for q in (c.langs[0], c.langs[-1]):
        pool = build_pool(c, c.langs, "multi", q)
        assert pool.n_gold == k and np.array_equal(pool.unit_lang_code, np.repeat(np.arange(k), n))
        units, qe = emb.units(pool), emb.queries[q]
        res = rank_golds(qe, units, pool.unit_weight, pool.gold_units, None, pool.unit_lang_code)
        last = rank_golds(qe, units, pool.unit_weight, pool.gold_units, None, pool.unit_lang_code,
                          count_lang=k - 1, count_gold=k - 1)  # the other corner of the kept slices
        np.testing.assert_array_equal(last.ranks, res.ranks)
        scores = qe @ units.T
        doc_unit = np.arange(len(units))
        np.testing.assert_array_equal(res.ranks, brute_force_ranks(scores, doc_unit, pool.gold_units))
        best, _ = brute_force_best_non_gold(scores, doc_unit, pool.gold_units, pool.unit_lang_code, k)
        np.testing.assert_array_equal(res.best_non_gold, best)
        for i in range(0, n, max(1, n // 7)):  # non-gold documents of each language above each gold
            competitor = np.ones(len(units), dtype=bool)
            competitor[pool.gold_units[i]] = False
            above = (scores[i][None, :] > res.gold_scores[i][:, None]) & competitor
            expected = np.stack([above[:, pool.unit_lang_code == x].sum(axis=1) for x in range(k)], axis=1)
            for r, kept in ((res, 0), (last, k - 1)):  # that language above every gold, every language above that gold
                np.testing.assert_array_equal(r.lang_above[i], expected[:, kept])
                np.testing.assert_array_equal(r.gold_above[i], expected[kept])


def test_a_k_language_evaluation_equals_its_pools_one_by_one():
    """The shared unit matrix and the per-column per-query table give what each pool gives on its own."""
    c, emb = _many_language_corpus(12, 6, seed=3)
    spec = EvalSpec(data="many", langs=c.langs, scenarios=("multi", "mono-cross"))
    r = evaluate_embeddings(c, emb, spec)
    assert len(r.pools) == 12 + 12 * 11 and len(r.per_query) == len(r.pools) * 6
    multi = r.per_query[r.per_query.scenario == "multi"]
    assert multi[[f"rank_{x}" for x in c.langs]].notna().all().all()
    cross = r.per_query[r.per_query.scenario == "mono-cross"]
    assert (cross[[f"rank_{x}" for x in c.langs]].notna().sum(axis=1) == 1).all()  # one gold language per row
    for pool in r.pools[:3] + r.pools[-3:]:
        one = evaluate_embeddings(c, emb.select(pool.langs), EvalSpec(data="many", langs=c.langs,
                                                                      scenarios=(pool.scenario,)))
        mine = r.per_query[(r.per_query.scenario == pool.scenario) & (r.per_query.query_lang == pool.query_lang)
                           & (r.per_query.doc_lang == pool.doc_lang)].reset_index(drop=True)
        theirs = one.per_query[(one.per_query.query_lang == pool.query_lang)
                               & (one.per_query.doc_lang == pool.doc_lang)].reset_index(drop=True)
        pd.testing.assert_frame_equal(mine[theirs.columns], theirs, check_dtype=False)
