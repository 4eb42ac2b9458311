"""Scenario pools, end-to-end evaluation on fakes, XQuAD pool sizes, and the embedding cache."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import BagOfCharsEncoder, TableEncoder

from xlalign.core.corpus import ParallelCorpus
from xlalign.core.evaluate import evaluate
from xlalign.core.loaders import load_squad_folder
from xlalign.core.scenarios import build_pool, build_pools
from xlalign.errors import ConfigError
from xlalign.models.cache import EmbeddingCache
from xlalign.specs import EvalSpec


def test_pool_sizes_and_golds(squad_folder):
    c = load_squad_folder(squad_folder, ["en", "de"])  # 5 questions, 3 passages (2, 1, 2 questions)
    multi = build_pool(c, ["en", "de"], "multi", "de", "dedup")
    assert multi.pool_size == 6 and multi.n_gold == 2 and multi.gold_langs == ("de", "en")
    assert (multi.unit_lang[multi.gold_units[:, 0]] == "de").all()
    assert (multi.unit_lang[multi.gold_units[:, 1]] == "en").all()
    per_q = build_pool(c, ["en", "de"], "multi", "de", "per-question")
    assert per_q.pool_size == 10 and per_q.unit_weight.tolist() == [2, 1, 2, 2, 1, 2]
    m1 = build_pool(c, ["en", "de"], "multi-1", "de", "dedup")
    assert m1.pool_size == 5 and m1.gold_langs == ("en",)
    assert (m1.unit_lang[m1.removed_unit] == "de").all()
    m1q = build_pool(c, ["en", "de"], "multi-1", "de", "per-question")
    # every copy of the query-language gold text leaves the pool: 10 − multiplicity of its passage
    assert m1q.pool_sizes.tolist() == [8, 8, 9, 8, 8] and m1q.removed_count.tolist() == [2, 2, 1, 2, 2]
    assert m1.pool_sizes.tolist() == [5] * 5
    same = build_pool(c, ["en", "de"], "mono-same", "de")
    cross = build_pool(c, ["en", "de"], "mono-cross", "de")
    assert same.pool_size == 3 and set(same.unit_lang) == {"de"}
    assert cross.pool_size == 3 and set(cross.unit_lang) == {"en"}
    assert len(build_pools(c, ["en", "de"])) == 8
    assert multi.doc_lang == "en+de" and cross.doc_lang == "en" and same.doc_lang == "de"


@pytest.mark.parametrize(("kw", "msg"), [
    (dict(scenario="multi-2"), "unknown scenario"),
    (dict(pool_mode="all"), "unknown pool mode"),
    (dict(query_lang="zh"), "not one of"),
])
def test_build_pool_rejects_bad_arguments(squad_folder, kw, msg):
    c = load_squad_folder(squad_folder)
    args = dict(scenario="multi", query_lang="de", pool_mode="dedup") | kw
    with pytest.raises(ConfigError, match=msg):
        build_pool(c, ["en", "de"], **args)


def test_build_pool_rejects_same_language_twice(squad_folder):
    with pytest.raises(ConfigError, match="listed twice"):
        build_pool(load_squad_folder(squad_folder), ["en", "en"], "multi", "en")


@pytest.mark.parametrize(("kw", "msg"), [
    (dict(langs=("en",)), "at least 2"),
    (dict(langs=("en", "en")), "listed twice"),
    (dict(langs=("en", "d e")), "not a language code"),
    (dict(scenarios=()), "no scenarios"),
    (dict(scenarios=("multi", "multi")), "listed twice"),
    (dict(scenarios=("mono",)), "scenario must be one of"),
    (dict(pool="both"), "pool mode must be one of"),
    (dict(ks=(0,)), "positive integers"),
    (dict(data=""), "data must name"),
])
def test_eval_spec_rejects(kw, msg):
    with pytest.raises(ConfigError, match=msg):
        EvalSpec(**({"langs": ("en", "de")} | kw))


def test_xquad_pool_sizes(xquad_dir):
    c = load_squad_folder(xquad_dir, ["en", "zh"])
    assert build_pool(c, ["en", "zh"], "multi", "zh", "per-question").pool_size == 2380
    assert build_pool(c, ["en", "zh"], "multi", "zh", "dedup").pool_size == 480
    assert build_pool(c, ["en", "zh"], "mono-cross", "zh", "per-question").pool_size == 1190
    assert build_pool(c, ["en", "zh"], "multi-1", "en", "dedup").pool_size == 479


def _tiny() -> tuple[ParallelCorpus, TableEncoder]:
    """Two items; vectors chosen so every rank is known by hand."""
    c = ParallelCorpus(
        "tiny", ("i1", "i2"), ("g1", "g2"), ("p1", "p2"),
        passages={"en": ("E1", "E2"), "xx": ("X1", "X2")}, questions={"en": ("qe1", "qe2"), "xx": ("qx1", "qx2")},
    )
    enc = TableEncoder({
        # passages: English ones cluster on axis 0 (a language bias)
        "E1": [1.0, 1.0, 0.0], "E2": [1.0, 0.0, 1.0], "X1": [0.0, 1.0, 0.0], "X2": [0.0, 0.0, 1.0],
        "qe1": [1.0, 0.9, 0.1], "qe2": [1.0, 0.1, 0.9],
        # target query 1 prefers the irrelevant English passage E2 over its own X1
        "qx1": [1.0, 0.2, 0.6], "qx2": [0.0, 0.1, 1.0],
    })
    return c, enc


def test_evaluate_hand_checked_ranks():
    c, enc = _tiny()
    r = evaluate(c, enc, EvalSpec(langs=("en", "xx"), pool="dedup"))
    pq = r.per_query.set_index(["scenario", "query_lang", "query_id"])
    # qx1 scores (unnormalised dot / norms): E2 highest, then E1, X2, X1 last.
    assert pq.loc[("multi", "xx", "i1"), "rank_xx"] == 4
    assert pq.loc[("multi", "xx", "i1"), "rank_en"] == 2
    assert pq.loc[("multi", "xx", "i1"), "english_intrusion@1"] == 100.0
    assert pq.loc[("multi", "xx", "i1"), "english_over_gold"] == 100.0
    assert pq.loc[("multi", "xx", "i2"), "english_intrusion@1"] == 0.0
    assert pq.loc[("multi", "xx", "i1"), "top1_id"] == "i2" and pq.loc[("multi", "xx", "i1"), "top1_lang"] == "en"
    assert r.value("multi", "xx", "english_intrusion@1") == 50.0
    assert r.value("multi", "xx", "max_r") == pytest.approx((4 + 2) / 2)
    assert pq.loc[("multi-1", "xx", "i1"), "rank_en"] == 2  # X1 removed: E2 above E1
    assert pq.loc[("mono-same", "xx", "i1"), "rank_xx"] == 2
    assert pq.loc[("mono-cross", "en", "i2"), "rank_xx"] == 1
    summary = r.summary_frame()
    assert list(summary.columns) == ["scenario", "pool", "query_lang", "doc_lang", "metric", "value", "n_queries",
                                     "pool_size"]
    assert "english_intrusion@1" not in set(summary[summary.query_lang == "en"].metric)
    assert r.value("multi", "xx", "pivot_over_gold") == r.value("multi", "xx", "english_over_gold") == 50.0


def test_second_evaluation_is_served_from_cache(tmp_path, squad_folder):
    c = load_squad_folder(squad_folder)
    cache = EmbeddingCache(tmp_path / "emb.sqlite")
    first = BagOfCharsEncoder(cache=cache)
    r1 = evaluate(c, first, EvalSpec(langs=("en", "de")))
    assert first.n_model_calls > 0 and first.n_texts_encoded == 3 * 2 + 5 * 2
    second = BagOfCharsEncoder(cache=EmbeddingCache(tmp_path / "emb.sqlite"))
    r2 = evaluate(c, second, EvalSpec(langs=("en", "de"), pool="per-question"))
    assert second.n_model_calls == 0 and second.n_texts_encoded == 0
    r3 = evaluate(c, second, EvalSpec(langs=("en", "de")))
    assert second.n_model_calls == 0
    assert r1.rows == r3.rows
    assert r2.rows != r1.rows


def test_cache_key_separates_model_prompt_language_and_text(tmp_path):
    k = EmbeddingCache.key
    keys = {k("m1", "query: ", "en", "a"), k("m2", "query: ", "en", "a"), k("m1", "passage: ", "en", "a"),
            k("m1", "query: ", "en", "b"), k("m1", "query: a", "en", ""), k("m1", "query: ", "en", "a "),
            k("m1", "query: ", "de", "a"), k("m1", "query: ", "e", "na")}
    assert len(keys) == 8


def test_changed_fingerprint_reencodes(tmp_path, squad_folder):
    c = load_squad_folder(squad_folder)
    cache = EmbeddingCache(tmp_path / "emb.sqlite")
    evaluate(c, BagOfCharsEncoder(cache=cache), EvalSpec(langs=("en", "de")))
    other = BagOfCharsEncoder(cache=cache, fingerprint="bag-of-chars-v2")
    evaluate(c, other, EvalSpec(langs=("en", "de")))
    assert other.n_texts_encoded == 16


def test_language_bias_shows_as_english_intrusion(squad_folder):
    c = load_squad_folder(squad_folder)
    biased = evaluate(c, BagOfCharsEncoder(lang_offset={"en": 3.0, "de": 1.0}), EvalSpec(langs=("en", "de")))
    fair = evaluate(c, BagOfCharsEncoder(), EvalSpec(langs=("en", "de")))
    assert biased.value("multi", "de", "english_over_gold") > fair.value("multi", "de", "english_over_gold")
    assert biased.value("multi", "de", "same_lang_preference") < fair.value("multi", "de", "same_lang_preference")


def test_per_query_table_has_one_row_per_scenario_query(squad_folder):
    c = load_squad_folder(squad_folder)
    r = evaluate(c, BagOfCharsEncoder(), EvalSpec(langs=("en", "de"), scenarios=("multi", "mono-cross")))
    assert len(r.per_query) == 2 * 2 * 5
    assert r.per_query["rank_en"].dtype.name == "Int64"
    assert np.isfinite(r.per_query["max_r_norm"]).all()
