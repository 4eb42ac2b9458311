"""The verdict keeps three things apart — quality without competition, language preference controlled for
quality, impact in the mixed pool — and finds exactly the bias that was planted.

The planted encoders (tests/fakes.py: PlantedEncoder) score exactly in float32, so a k-language pool and the
pair pools are compared with ``==``, never with a tolerance.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fakes import LatentEncoder, PlantedEncoder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from xlalign.core.corpus import ParallelCorpus
from xlalign.core.evaluate import CorpusEmbeddings, encode_corpus, evaluate_embeddings
from xlalign.core.loaders import load_corpus, load_demo
from xlalign.core.metrics import clustered_mean_ci, crossed_mean_ci
from xlalign.core.preference import translation_preference
from xlalign.core.verdict import (
    BIASED,
    CLUSTERING,
    IMPACT_MIN,
    INCLINATION,
    MIN_DOCS,
    PIVOT_PREFERENCE,
    PREFERENCE_MIN,
    QUALITY_MIN,
    SAME_PREFERENCE,
    TARGET_INCLINATION,
    TARGET_PREFERENCE,
    TOO_FEW,
    WEAK,
    WELL_ALIGNED,
    Evidence,
    judge,
    verdicts,
)
from xlalign.report.tables import format_report
from xlalign.report.verdict_text import headline, sentence
from xlalign.services.lab import Lab
from xlalign.services.sweep import leaderboard_rows
from xlalign.specs import EvalSpec, ModelSpec

ROOT = Path(__file__).resolve().parents[1]
LANGS = ("en", "es", "de", "zh", "ar", "hi", "ur")
TARGETS = LANGS[1:]
NOT_BIASED = {WEAK, WELL_ALIGNED}


def _verdicts(corpus: ParallelCorpus, encoder, langs=("en", "zh"), **spec):
    spec = EvalSpec(langs=tuple(langs), **spec)
    res = evaluate_embeddings(corpus.select_langs(spec.langs), encode_corpus(corpus, encoder, spec.langs), spec)
    return verdicts(res.summary_frame(), res.matrix_frame(), spec.pivot, spec.langs)


@pytest.fixture(scope="module")
def en_zh():
    return load_demo(["en", "zh"])


# ----------------------------------------------------------------------------- the preference statistic
def _brute_preference(q: np.ndarray, a: np.ndarray, b: np.ndarray, gold: np.ndarray) -> tuple[np.ndarray, float]:
    """Per query: the share of irrelevant passages j whose A version scores above its B version (ties ½), by a
    double loop in float64 over the two scores (not their difference)."""
    per_query = np.zeros(len(q))
    for i in range(len(q)):
        wins = []
        for j in range(len(a)):
            if j == gold[i]:
                continue
            sa, sb = float(np.dot(q[i].astype(np.float64), a[j])), float(np.dot(q[i].astype(np.float64), b[j]))
            wins.append(1.0 if sa > sb else 0.5 if sa == sb else 0.0)
        per_query[i] = 100.0 * np.mean(wins)
    return per_query, float(per_query.mean())


def test_translation_preference_equals_a_brute_force_count():
    rng = np.random.default_rng(3)
    q, a, b = (rng.normal(size=(n, 8)) for n in (23, 11, 11))
    gold = rng.integers(0, 11, size=23)
    pref = translation_preference(q, a, b, gold, block_elements=40)  # several blocks of queries
    per_query, value = _brute_preference(q, a, b, gold)
    np.testing.assert_allclose(pref.per_query, per_query, atol=1e-9)
    assert pref.value == pytest.approx(value, abs=1e-9)
    assert pref.n_comparisons == 23 * 10
    for j in range(11):  # the passage view: over the queries for which j is irrelevant
        rows = [i for i in range(23) if gold[i] != j]
        sa, sb = q[rows] @ a[j], q[rows] @ b[j]
        expected = 100.0 * np.mean((sa > sb) + 0.5 * (sa == sb)) if rows else np.nan
        np.testing.assert_allclose(pref.per_passage[j], expected, atol=1e-4)


def test_translation_preference_by_hand():
    """Two queries, three passages; query 0's gold is passage 0, query 1's passage 2."""
    q = np.array([[1.0, 0.0], [0.0, 1.0]])
    a = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
    b = np.array([[0.1, 0.9], [0.3, 0.7], [0.5, 0.5]])
    pref = translation_preference(q, a, b, np.array([0, 2]))
    # query 0 (scores are the first coordinate): j=1: 0.2 < 0.3 → 0; j=2: tie → ½  ⇒ 25%
    # query 1 (second coordinate): j=0: 0.1 < 0.9 → 0; j=1: 0.8 > 0.7 → 1        ⇒ 50%
    assert list(pref.per_query) == [25.0, 50.0] and pref.value == 37.5
    assert list(pref.per_passage) == [0.0, 50.0, 50.0]  # j=0: query 1 only; j=1: both; j=2: query 0 only


def test_identical_translations_are_no_preference():
    rng = np.random.default_rng(0)
    docs = rng.normal(size=(9, 5))
    pref = translation_preference(rng.normal(size=(7, 5)), docs, docs.copy(), np.arange(7))
    assert pref.value == 50.0 and pref.interval(np.arange(7)) == (50.0, 50.0)


@pytest.mark.parametrize(("q", "a", "b", "gold", "match"), [
    (np.ones((2, 3)), np.ones((4, 3)), np.ones((5, 3)), np.zeros(2, int), "two"),
    (np.ones((2, 4)), np.ones((4, 3)), np.ones((4, 3)), np.zeros(2, int), "two"),
    (np.ones((2, 3)), np.ones((1, 3)), np.ones((1, 3)), np.zeros(2, int), "≥ 2 passages"),
    (np.ones((2, 3)), np.ones((4, 3)), np.ones((4, 3)), np.array([0, 4]), "gold passage"),
    (np.ones((2, 3)), np.ones((4, 3)), np.ones((4, 3)), np.zeros(3, int), "gold passage"),
])
def test_translation_preference_rejects(q, a, b, gold, match):
    with pytest.raises(ValueError, match=match):
        translation_preference(q, a, b, gold)


def test_clustered_ci_is_the_t_interval_when_every_value_is_its_own_cluster():
    x = np.array([3.0, 7.0, 8.0, 1.0, 4.0, 9.0])
    mean, lo, hi = clustered_mean_ci(x, np.arange(6))
    expected = stats.t.interval(0.95, 5, loc=x.mean(), scale=stats.sem(x))
    assert mean == pytest.approx(32.0 / 6.0) and (lo, hi) == pytest.approx(expected, abs=1e-12)


def test_clustered_ci_by_hand():
    """Clusters {0,1}, {2}, {3,4}: residual sums (−2 − 1, 0, 1 + 2) about the mean 3 of [1, 2, 3, 4, 5];
    Var = G/(G−1) · Σ s_g² / n² = 3/2 · 18 / 25 = 1.08; half-width t(0.975, 2) · √1.08."""
    mean, lo, hi = clustered_mean_ci(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), np.array(["a", "a", "b", "c", "c"]))
    half = 4.302652729749464 * math.sqrt(1.08)
    assert (mean, lo, hi) == pytest.approx((3.0, 3.0 - half, 3.0 + half), abs=1e-9)


def test_crossed_ci_adds_the_document_part_by_hand():
    """Rows [40, 60, 50, 50] one per cluster: Var_rows = s²/n = (200/3)/4; columns [30, 70, 50]: Var_cols =
    s²/N = 400/3; t with min(4, 3) − 1 = 2 degrees of freedom."""
    mean, lo, hi = crossed_mean_ci(np.array([40.0, 60.0, 50.0, 50.0]), np.arange(4), np.array([30.0, 70.0, 50.0]))
    half = 4.302652729749464 * math.sqrt(200 / 3 / 4 + 400 / 3)
    assert (mean, lo, hi) == pytest.approx((50.0, 50.0 - half, 50.0 + half), abs=1e-9)


@pytest.mark.parametrize(("args", "match"), [
    ((np.array([]), np.array([])), "non-empty"),
    ((np.array([1.0, np.nan]), np.array([0, 1])), "finite"),
    ((np.array([1.0, 2.0]), np.array([0])), "same shape"),
])
def test_clustered_ci_rejects(args, match):
    with pytest.raises(ValueError, match=match):
        clustered_mean_ci(*args)


def test_one_cluster_gives_an_infinite_interval():
    assert clustered_mean_ci(np.array([1.0, 2.0]), np.array([0, 0]))[1:] == (-math.inf, math.inf)


# ----------------------------------------------------------------------------- the rule on hand-made evidence
GOOD, WEAKQ = (95.0, (93.0, 97.0)), (30.0, (25.0, 35.0))


def _evidence(quality=GOOD, pref=(50.0, (48.0, 52.0)), own=(5.0, (3.0, 8.0)), other=(5.0, (3.0, 8.0))) -> Evidence:
    return Evidence(quality[0], quality[1], quality[0], quality[1], pref[0], pref[1], own[0], own[1], other[0],
                    other[1])


@pytest.mark.parametrize(("evidence", "pivot_queries", "target_prefers_pivot", "expected"), [
    (_evidence(), False, False, (WELL_ALIGNED, False)),
    (_evidence(quality=WEAKQ), False, False, (WEAK, False)),
    (_evidence(quality=(50.0, (45.0, 55.0))), False, False, (WELL_ALIGNED, True)),  # quality CI straddles 50
    (_evidence(pref=(80.0, (75.0, 85.0)), own=(40.0, (33.0, 47.0))), False, False, (CLUSTERING, False)),
    (_evidence(pref=(80.0, (75.0, 85.0)), own=(40.0, (33.0, 47.0)), quality=WEAKQ), False, False, (CLUSTERING, False)),
    (_evidence(pref=(20.0, (15.0, 25.0)), other=(40.0, (33.0, 47.0))), False, False, (INCLINATION, False)),
    (_evidence(pref=(80.0, (75.0, 85.0)), own=(40.0, (33.0, 47.0))), True, True, (INCLINATION, False)),
    (_evidence(pref=(80.0, (75.0, 85.0)), own=(40.0, (33.0, 47.0))), True, False, (CLUSTERING, False)),
    (_evidence(pref=(20.0, (15.0, 25.0)), other=(40.0, (33.0, 47.0))), True, False, (TARGET_INCLINATION, False)),
    (_evidence(pref=(80.0, (75.0, 85.0)), own=(4.0, (2.0, 8.0))), False, False, (SAME_PREFERENCE, False)),
    (_evidence(pref=(80.0, (75.0, 85.0)), own=(4.0, (2.0, 8.0))), True, True, (PIVOT_PREFERENCE, False)),
    (_evidence(pref=(20.0, (15.0, 25.0)), other=(4.0, (2.0, 8.0))), False, False, (PIVOT_PREFERENCE, False)),
    (_evidence(pref=(20.0, (15.0, 25.0)), other=(4.0, (2.0, 8.0))), True, False, (TARGET_PREFERENCE, False)),
    (_evidence(pref=(80.0, (75.0, 85.0)), own=(4.0, (2.0, 8.0)), quality=WEAKQ), False, False, (WEAK, False)),
    # a preference counts only outside 50 ± 5 and with a CI that excludes 50
    (_evidence(pref=(54.9, (54.0, 55.8)), own=(90.0, (85.0, 93.0))), False, False, (WELL_ALIGNED, True)),
    (_evidence(pref=(55.0, (54.0, 56.0)), own=(90.0, (85.0, 93.0))), False, False, (CLUSTERING, True)),
    (_evidence(pref=(60.0, (49.0, 71.0)), own=(90.0, (85.0, 93.0))), False, False, (WELL_ALIGNED, True)),
    (_evidence(pref=(60.0, (56.0, 64.0)), own=(90.0, (85.0, 93.0))), False, False, (CLUSTERING, False)),
    # the impact threshold and its CI
    (_evidence(pref=(80.0, (75.0, 85.0)), own=(IMPACT_MIN, (7.0, 14.0))), False, False, (CLUSTERING, True)),
    (_evidence(pref=(80.0, (75.0, 85.0)), own=(9.9, (7.0, 14.0))), False, False, (SAME_PREFERENCE, True)),
    # the impact in the other direction does not count for an own-language preference
    (_evidence(pref=(80.0, (75.0, 85.0)), own=(4.0, (2.0, 8.0)), other=(90.0, (85.0, 93.0))), False, False,
     (SAME_PREFERENCE, False)),
])
def test_the_rule(evidence, pivot_queries, target_prefers_pivot, expected):
    assert judge(evidence, 100, pivot_queries=pivot_queries, target_prefers_pivot=target_prefers_pivot) == expected


def test_too_few_documents_comes_first():
    strong = _evidence(pref=(90.0, (85.0, 95.0)), own=(90.0, (85.0, 93.0)))
    assert judge(strong, MIN_DOCS - 1) == (TOO_FEW, False) and judge(strong, MIN_DOCS) == (CLUSTERING, False)


def test_the_thresholds_are_the_documented_ones():
    assert (QUALITY_MIN, PREFERENCE_MIN, IMPACT_MIN, MIN_DOCS) == (50.0, 5.0, 10.0, 20)


# ----------------------------------------------------------------------------- planted truth
@pytest.mark.parametrize("query_shift", [0.0, 1.0])
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(("signal", "kind"), [(0.0, WEAK), (0.3, WEAK), (1.0, WELL_ALIGNED), (3.0, WELL_ALIGNED)])
def test_a_language_neutral_encoder_is_never_called_biased(en_zh, signal, kind, seed, query_shift):
    """No language term at all (a vector is signal · item + noise, the same item for every translation): from no
    signal to strong, weak retrieval or well aligned — never clustering, inclination or a preference."""
    found = _verdicts(en_zh, PlantedEncoder(en_zh, signal=signal, seed=seed, query_shift=query_shift))
    assert [(v.query_lang, v.kind) for v in found] == [("zh", kind), ("en", kind)]
    for v in found:
        assert v.prefers is None and v.preference_ci[0] <= 50.0 <= v.preference_ci[1]


def test_a_language_neutral_encoder_between_weak_and_strong_is_weak_or_aligned(en_zh):
    for seed in range(3):
        found = _verdicts(en_zh, PlantedEncoder(en_zh, signal=0.6, seed=seed))
        assert {v.kind for v in found} <= NOT_BIASED, [sentence(v) for v in found]


@pytest.mark.parametrize(("signal", "own"), [(0.3, 0.3), (1.0, 0.6), (1.0, 1.0)])
def test_a_planted_language_component_is_same_language_clustering(en_zh, signal, own):
    """Each language's texts share a direction: both directions favour their own language (P > 50) and lose the
    other gold to it — on a weak model as on a strong one."""
    found = _verdicts(en_zh, PlantedEncoder(en_zh, signal=signal, own=own))
    assert [(v.query_lang, v.kind) for v in found] == [("zh", CLUSTERING), ("en", CLUSTERING)]
    for v in found:
        assert v.prefers == v.query_lang and v.preference_ci[0] > 55.0 and v.impact >= IMPACT_MIN
        assert v.weak == (signal < 1.0)


@pytest.mark.parametrize(("signal", "pull"), [(0.3, 0.3), (1.0, 0.6), (1.0, 1.0)])
def test_a_planted_pull_to_the_pivot_is_pivot_inclination(en_zh, signal, pull):
    """Queries and English passages share an attractor: Chinese queries favour English documents over their own
    language; English queries favour English too, and since the Chinese queries do, that is the pivot's pull."""
    found = _verdicts(en_zh, PlantedEncoder(en_zh, signal=signal, pull=pull))
    assert [(v.query_lang, v.kind) for v in found] == [("zh", INCLINATION), ("en", INCLINATION)]
    zh, en = found
    assert zh.prefers == "en" and zh.preference_ci[1] < 45.0 and en.prefers == "en"


@pytest.mark.parametrize(("own", "pull", "kind"), [(0.6, 0.3, CLUSTERING), (0.3, 0.6, INCLINATION)])
def test_both_planted_the_target_queries_name_the_stronger_pull(en_zh, own, pull, kind):
    zh, en = _verdicts(en_zh, PlantedEncoder(en_zh, signal=1.0, own=own, pull=pull))
    assert zh.kind == kind and en.kind == kind
    assert en.preference > zh.preference if kind == CLUSTERING else en.preference > 100.0 - zh.preference - 15.0


def test_a_preference_that_never_costs_a_gold_is_not_clustering(en_zh):
    """A strong model with a large own-language pull: the preference is near total, yet no gold is outranked by
    an irrelevant document — a same-language preference without noticeable impact, not clustering."""
    zh, en = _verdicts(en_zh, PlantedEncoder(en_zh, signal=3.0, own=1.0))
    assert (zh.kind, en.kind) == (SAME_PREFERENCE, SAME_PREFERENCE)
    assert zh.preference_ci[0] > 80.0 and zh.impact < IMPACT_MIN and not zh.biased


def test_small_data_says_too_few_documents_to_judge_with_the_numbers(tmp_path):
    """An upload of 15 queries (15 documents per language) is not "well aligned": too small to judge."""
    demo = load_demo(["en", "de"])
    rows = [{"id": demo.item_ids[i], "lang": lang, "passage": demo.passages[lang][i],
             "question": demo.questions[lang][i], "group": demo.groups[i]} for i in range(15) for lang in ("en", "de")]
    path = tmp_path / "small.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    corpus = load_corpus(str(path))
    found = _verdicts(corpus, PlantedEncoder(corpus, signal=1.0), langs=("en", "de"))
    assert [v.kind for v in found] == [TOO_FEW, TOO_FEW]
    text = sentence(found[0])
    assert text.startswith("German queries: too few documents to judge — the pool holds 15 documents per language")
    assert f"needs at least {MIN_DOCS}" in text and "n = 15" in text
    assert "German: too few documents to judge" in headline(found, "en")


# ----------------------------------------------------------------------------- invariance
@pytest.fixture(scope="module")
def seven():
    corpus = load_demo()
    encoder = PlantedEncoder(corpus, signal=1.0, own=0.6, pull=0.2)
    return corpus, encode_corpus(corpus, encoder, LANGS)


def _pair_verdicts(corpus, emb, langs, pool="dedup"):
    spec = EvalSpec(langs=tuple(langs), pool=pool, scenarios=("multi",))
    res = evaluate_embeddings(corpus.select_langs(spec.langs), emb.select(spec.langs), spec)
    return {(v.query_lang, v.against): v for v in verdicts(res.summary_frame(), res.matrix_frame(), spec.pivot, spec.langs)}


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(extra=st.lists(st.sampled_from(["es", "de", "ar", "hi", "ur"]), unique=True, max_size=5), data=st.data())
def test_unrelated_languages_in_the_pool_change_no_verdict(seven, extra, data):
    """en+zh in any pool with any other languages, in any order after the pivot: the same verdicts, to the bit."""
    corpus, emb = seven
    alone = _pair_verdicts(corpus, emb, ("en", "zh"))
    others = data.draw(st.permutations(["zh", *extra]))
    pooled = _pair_verdicts(corpus, emb, ("en", *others))
    assert {k: pooled[k] for k in alone} == alone


@pytest.mark.parametrize("pool", ["dedup", "per-question"])
def test_relabelling_languages_changes_no_verdict(seven, pool):
    """The codes are names only: the same texts and embeddings under other codes give the same verdicts."""
    corpus, emb = seven
    names = {"en": "xx", "zh": "yy", "de": "zz"}
    renamed = ParallelCorpus(corpus.name, corpus.item_ids, corpus.groups, corpus.passage_keys,
                             {names.get(k, k): v for k, v in corpus.passages.items()},
                             {names.get(k, k): v for k, v in corpus.questions.items()})
    renamed_emb = CorpusEmbeddings({names.get(k, k): v for k, v in emb.passages.items()},
                                   {names.get(k, k): v for k, v in emb.queries.items()})
    before = _pair_verdicts(corpus, emb, ("en", "zh", "de"), pool)
    after = _pair_verdicts(renamed, renamed_emb, ("xx", "yy", "zz"), pool)
    back = {v: k for k, v in names.items()}
    assert {(back[q], back[o]): replace(v, query_lang=back[v.query_lang], against=back[v.against], pivot="en")
            for (q, o), v in after.items()} == before


@pytest.mark.parametrize("pool", ["dedup", "per-question"])
def test_a_seven_language_diagnosis_gives_exactly_each_pairs_verdict(seven, pool):
    corpus, emb = seven
    big = _pair_verdicts(corpus, emb, LANGS, pool)
    assert len(big) == 2 * len(TARGETS)  # each target's queries, and the pivot's against each target
    for t in TARGETS:
        pair = _pair_verdicts(corpus, emb, ("en", t), pool)
        for key, v in pair.items():
            assert big[key] == v and sentence(big[key]) == sentence(v)


def test_the_inputs_are_the_counts_and_comparisons_of_the_pair(seven):
    """Brute force from the embeddings: the matrix's preference is the brute-force comparison count, its impact
    the count of irrelevant own-language documents above the other gold, its quality Mono NDCG@10."""
    corpus, emb = seven
    spec = EvalSpec(langs=("en", "es", "zh"))
    res = evaluate_embeddings(corpus.select_langs(spec.langs), emb.select(spec.langs), spec)
    cell = res.matrix_frame().set_index(["query_lang", "doc_lang", "metric"])["value"]
    _, gold = corpus.unique_passages()
    rows = np.arange(len(gold))
    for q, o in (("zh", "en"), ("en", "es")):
        _, value = _brute_preference(emb.queries[q], emb.passages[q], emb.passages[o], gold)
        assert cell[(q, o, "own_preference")] == pytest.approx(value, abs=1e-9)
        other_gold = (emb.queries[q] * emb.passages[o][gold]).sum(axis=1)
        scores = emb.queries[q] @ emb.passages[q].T
        above = (scores > other_gold[:, None]).sum(axis=1) - (scores[rows, gold] > other_gold)
        assert cell[(q, o, "clustering@1")] == pytest.approx(100.0 * np.mean(above >= 1), abs=1e-9)
        judged = _pair_verdicts(corpus, emb, spec.langs)[(q, o)]  # the sentence's median is this pair's
        assert judged.median_own_above == float(np.median(above))
        assert f"median: {np.median(above):.0f} of the {len(emb.passages[q])} " in sentence(judged)
        assert res.value("multi", q, "own_preference" if q != "en" else f"own_preference:{o}") == \
            cell[(q, o, "own_preference")]
        assert cell[(q, o, "mono_ndcg@10")] == res.value("mono-cross", q, "ndcg@10", doc_lang=o)
        assert cell[(q, q, "mono_ndcg@10")] == res.value("mono-same", q, "ndcg@10")


def test_the_verdict_needs_no_mono_scenario_to_be_asked_for(seven):
    corpus, emb = seven
    spec = EvalSpec(langs=("en", "zh"))
    everything = evaluate_embeddings(corpus.select_langs(spec.langs), emb.select(spec.langs), spec)
    multi_only = _pair_verdicts(corpus, emb, ("en", "zh"))
    assert {(v.query_lang, v.against): v for v in verdicts(None, everything.matrix_frame(), "en", spec.langs)} == \
        multi_only


# ----------------------------------------------------------------------------- one rule in every view
MODEL = ModelSpec(model="planted")


def test_every_view_states_the_same_verdict(tmp_path):
    """Diagnose (one 7-language pool), Languages (pairs), Models and sweeps (pairs), and the CLI's report."""
    corpus = load_demo()
    lab = Lab(tmp_path / "runs")
    lab._encoders.put(MODEL, PlantedEncoder(corpus, signal=1.0, own=0.6, pull=0.2))
    diag = lab.diagnose(MODEL, EvalSpec(langs=LANGS))
    by_pair = {(v.query_lang, v.against): v for v in diag.verdicts}
    languages = lab.inclination(MODEL, "demo", "en", list(TARGETS)).set_index("target")
    board = lab.leaderboard(["planted"], "demo", LANGS, "dedup")
    report = format_report(diag.result, "title")
    assert headline(diag.verdicts, "en") in report
    for t in TARGETS:
        v, back = by_pair[(t, "en")], by_pair[("en", t)]
        row = languages.loc[t]
        assert (row["verdict"], row["preference %"], row["impact %"]) == (v.kind, v.preference, v.impact)
        assert (row["en queries: verdict"], row["en queries: preference %"]) == (back.kind, back.preference)
        assert row["sentence"] == sentence(v) and row["en sentence"] == sentence(back)
        pair = board[board.pair == f"en+{t}"].set_index("query_lang")
        for q, w in ((t, v), ("en", back)):
            assert pair.loc[q, "verdict"] == w.kind + (" (borderline)" if w.borderline else "")
            assert pair.loc[q, "own-language preference % (own_preference)"] == w.preference
        assert sentence(v) in report and sentence(back) in report
    sweep = pd.DataFrame(leaderboard_rows("planted", diag.result, "demo"))  # a sweep's rows on the 7-pool: same verdicts
    assert set(sweep.verdict[sweep.query_lang != "en"]) == {v.kind + (" (borderline)" if v.borderline else "")
                                                            for v in diag.verdicts if v.query_lang != "en"}


def test_the_sentence_states_the_three_parts_with_their_numbers(en_zh):
    zh, _ = _verdicts(en_zh, PlantedEncoder(en_zh, signal=1.0, own=0.6))
    text = sentence(zh)
    assert text.startswith("Chinese queries: same-language clustering — preference: irrelevant Chinese documents "
                           f"outrank their English translations in {zh.preference:.1f}% of comparisons (95% CI ")
    assert f"{zh.odds:.1f}× as often as the reverse" in text
    assert "an irrelevant Chinese document outranks the English gold" in text and f"n = {zh.n_queries}" in text
    assert f"Mono-Same NDCG@10 {zh.mono_same:.1f}" in text and f"Mono-Cross (English documents) {zh.mono_cross:.1f}" in text
    weak, _ = _verdicts(en_zh, PlantedEncoder(en_zh, signal=0.0))
    assert sentence(weak).startswith("Chinese queries: weak retrieval — quality without competition: Mono-Same NDCG@10 ")
    assert "preference: none — " in sentence(weak)


def test_older_results_without_the_verdicts_inputs_have_no_verdict(seven):
    corpus, emb = seven
    spec = EvalSpec(langs=("en", "zh"))
    res = evaluate_embeddings(corpus.select_langs(spec.langs), emb.select(spec.langs), spec)
    matrix = res.matrix_frame()
    old = matrix[~matrix.metric.str.startswith(("own_preference", "mono_ndcg"))]
    assert verdicts(res.summary_frame(), old, "en", spec.langs) == []


def test_biased_kinds_are_exactly_the_three_with_impact():
    assert {CLUSTERING, INCLINATION, TARGET_INCLINATION} == BIASED


# ----------------------------------------------------------------------------- the real model
@pytest.mark.slow
def test_the_bundled_model_on_demo_en_zh_is_same_language_clustering(bundled_encoder, en_zh):
    """What the README says the new rule finds for the bundled model: a real, near-total own-language preference
    in both directions, with a large impact — same-language clustering, not weak retrieval."""
    zh, en = _verdicts(en_zh, bundled_encoder)
    assert (zh.kind, en.kind) == (CLUSTERING, CLUSTERING) and not zh.borderline and not en.borderline
    assert zh.preference_ci[0] > 95.0 and en.preference_ci[0] > 95.0
    assert zh.impact > 90.0 and zh.quality > 80.0 and en.quality > 80.0


def test_the_latent_english_pull_is_pivot_inclination():
    """The older LatentEncoder's English-centric query pull (tests/fakes.py) is read the same way."""
    corpus = load_demo(["en", "de"])
    encoder = LatentEncoder(corpus, {"en": 0.5, "de": 0.5}, query_pull=0.0, pull_by_lang={"de": 1.6})
    de, _ = _verdicts(corpus, encoder, langs=("en", "de"))
    assert de.kind == INCLINATION and de.prefers == "en"


# ----------------------------------------------------------------------------- the README's planted-truth table
PLANTED = [  # (what is planted, PlantedEncoder options)
    ("nothing, no signal", dict(signal=0.0)),
    ("nothing, weak signal (0.3)", dict(signal=0.3)),
    ("nothing, strong signal (1)", dict(signal=1.0)),
    ("nothing, very strong signal (3)", dict(signal=3.0)),
    ("nothing, a shared query direction (no signal)", dict(signal=0.0, query_shift=1.0)),
    ("language component 0.3 on a weak model (0.3)", dict(signal=0.3, own=0.3)),
    ("language component 0.6 on a strong model (1)", dict(signal=1.0, own=0.6)),
    ("pull to English 0.3 on a weak model (0.3)", dict(signal=0.3, pull=0.3)),
    ("pull to English 0.6 on a strong model (1)", dict(signal=1.0, pull=0.6)),
    ("both: language 0.6, pull 0.3 (strong model)", dict(signal=1.0, own=0.6, pull=0.3)),
    ("both: language 0.3, pull 0.6 (strong model)", dict(signal=1.0, own=0.3, pull=0.6)),
    ("language component 1.0 on a very strong model (3)", dict(signal=3.0, own=1.0)),
]


def planted_table(corpus: ParallelCorpus) -> str:
    """The README's table: how each planted encoder is judged, with the three numbers of each verdict."""
    lines = ["| planted | Chinese queries: verdict | preference % (95% CI) | impact % | Mono-Same / Mono-Cross NDCG@10 "
             "| English queries: verdict |", "|---|---|---|---|---|---|"]
    for what, options in PLANTED:
        zh, en = _verdicts(corpus, PlantedEncoder(corpus, **options))
        mark = lambda v: v.kind + (" (borderline)" if v.borderline else "")
        lines.append(f"| {what} | {mark(zh)} | {zh.preference:.1f} ({zh.preference_ci[0]:.1f}–{zh.preference_ci[1]:.1f}) "
                     f"| {zh.impact:.1f} | {zh.mono_same:.1f} / {zh.mono_cross:.1f} | {mark(en)} |")
    return "\n".join(lines)


def test_the_readme_states_how_each_planted_encoder_is_judged(en_zh):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    held = readme.split("<!-- planted -->\n", 1)[1].split("\n<!-- /planted -->", 1)[0]
    assert held == planted_table(en_zh)
