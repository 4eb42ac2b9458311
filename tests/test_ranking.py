"""Exact gold ranks: tie policy, per-question copies, removed documents, blocking."""

from __future__ import annotations

import importlib.util
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from oracles import brute_force_best_non_gold, brute_force_ranks, gold_ranks

from xlalign.core import ranking
from xlalign.core.ranking import DEFAULT_BLOCK_ELEMENTS, rank_golds


def _random_case(seed: int, n_q: int = 40, n_u: int = 30, n_gold: int = 2):
    rng = np.random.default_rng(seed)
    q = rng.integers(-2, 3, size=(n_q, 4)).astype(np.float32)
    u = rng.integers(-2, 3, size=(n_u, 4)).astype(np.float32)
    weight = rng.integers(1, 4, size=n_u)
    gold = np.stack([rng.choice(n_u, n_gold, replace=False) for _ in range(n_q)])
    return rng, q, u, weight, gold


def test_hand_computed_ranks_with_ties():
    # Scores for one query: units a=0.9, b=0.5 (gold), c=0.5, d=0.7 (gold), e=0.9
    q = np.array([[1.0]], dtype=np.float32)
    u = np.array([[0.9], [0.5], [0.5], [0.7], [0.9]], dtype=np.float32)
    ranks = gold_ranks(q, u, np.ones(5, dtype=int), np.array([[1, 3]]))
    # gold b: 3 docs strictly higher (a, d, e) → 4, tie with c resolved for b; gold d: a, e higher → 3.
    assert ranks.tolist() == [[4, 3]]


def test_tied_golds_take_distinct_positions():
    q = np.array([[1.0]], dtype=np.float32)
    u = np.array([[0.8], [0.8], [0.1]], dtype=np.float32)
    assert gold_ranks(q, u, np.ones(3, dtype=int), np.array([[0, 1]])).tolist() == [[1, 2]]
    assert gold_ranks(q, u, np.ones(3, dtype=int), np.array([[1, 0]])).tolist() == [[1, 2]]


def test_copies_of_gold_text_tie_with_gold_and_do_not_count():
    q = np.array([[1.0]], dtype=np.float32)
    u = np.array([[0.9], [0.3]], dtype=np.float32)
    # Unit 0 has 4 copies (per-question pool); gold is one of them: rank 1, not 4.
    assert gold_ranks(q, u, np.array([4, 1]), np.array([[0]])).tolist() == [[1]]
    # Gold is unit 1: all four copies of unit 0 are above it.
    assert gold_ranks(q, u, np.array([4, 1]), np.array([[1]])).tolist() == [[5]]


@pytest.mark.parametrize("seed", range(8))
def test_matches_brute_force_sort(seed):
    _, q, u, weight, gold = _random_case(seed)
    doc_unit = np.repeat(np.arange(len(u)), weight)
    first_doc = np.searchsorted(doc_unit, np.arange(len(u)))
    ref = brute_force_ranks(q @ u.T, doc_unit, first_doc[gold])
    np.testing.assert_array_equal(gold_ranks(q, u, weight, gold), ref)


@pytest.mark.parametrize("seed", range(8))
def test_removed_copy_matches_brute_force(seed):
    rng, q, u, weight, gold = _random_case(seed, n_gold=1)
    n_q, n_u = len(q), len(u)
    removed = np.array([rng.choice([x for x in range(n_u) if x != gold[i, 0]]) for i in range(n_q)])
    res = gold_ranks(q, u, weight, gold, removed)
    scores = q @ u.T
    for i in range(n_q):
        w = weight.copy()
        w[removed[i]] -= 1
        doc_unit = np.repeat(np.arange(n_u), w)
        gold_doc = np.searchsorted(doc_unit, gold[i, 0])
        ref = brute_force_ranks(scores[i : i + 1], doc_unit, np.array([[gold_doc]]))
        assert res[i, 0] == ref[0, 0], i


@pytest.mark.parametrize("seed", range(4))
def test_removing_every_copy_matches_brute_force(seed):
    rng, q, u, weight, gold = _random_case(seed, n_gold=1)
    n_q, n_u = len(q), len(u)
    removed = np.array([rng.choice([x for x in range(n_u) if x != gold[i, 0]]) for i in range(n_q)])
    count = weight[removed]
    res = rank_golds(q, u, weight, gold, removed, unit_lang=np.zeros(n_u, int), removed_count=count)
    scores = q @ u.T
    for i in range(n_q):
        w = weight.copy()
        w[removed[i]] = 0
        doc_unit = np.repeat(np.arange(n_u), w)
        gold_doc = np.searchsorted(doc_unit, gold[i, 0])
        assert res.ranks[i, 0] == brute_force_ranks(scores[i : i + 1], doc_unit, np.array([[gold_doc]]))[0, 0]
        others = [x for x in range(n_u) if x not in (gold[i, 0], removed[i])]
        assert res.best_non_gold[i, 0] == pytest.approx(scores[i, others].max())


@pytest.mark.parametrize("block", [1, 7, 31, 10_000])
def test_block_size_does_not_change_ranks(block):
    _, q, u, weight, gold = _random_case(3)
    full = gold_ranks(q, u, weight, gold)
    np.testing.assert_array_equal(gold_ranks(q, u, weight, gold, block_elements=block), full)


def test_best_non_gold_per_language():
    q = np.array([[1.0]], dtype=np.float32)
    u = np.array([[0.9], [0.2], [0.8], [0.6]], dtype=np.float32)
    res = rank_golds(q, u, np.ones(4, dtype=int), np.array([[0]]), unit_lang=np.array([0, 0, 1, 1]))
    np.testing.assert_allclose(res.best_non_gold, [[0.2, 0.8]])
    np.testing.assert_allclose(res.gold_scores, [[0.9]])


def test_best_non_gold_skips_a_removed_single_copy():
    q = np.array([[1.0]], dtype=np.float32)
    u = np.array([[0.9], [0.5], [0.7]], dtype=np.float32)
    res = rank_golds(q, u, np.ones(3, dtype=int), np.array([[1]]), removed_unit=np.array([0]))
    assert res.ranks.tolist() == [[2]]  # only unit 2 above
    assert res.best_non_gold[0, 0] == pytest.approx(0.7)


# ----------------------------------------------------------------------------- invalid input
def _queries(n: int) -> np.ndarray:
    return np.ones((n, 2), np.float32)


THREE_UNITS = np.ones((3, 2), np.float32)


@pytest.mark.parametrize(("args", "kwargs", "msg"), [
    pytest.param((_queries(1), np.ones((0, 2), np.float32), np.ones(0, int), np.zeros((1, 1), int)), {},
                 "empty document pool", id="empty-pool"),
    pytest.param((_queries(1), np.ones((3, 4), np.float32), np.ones(3, int), np.zeros((1, 1), int)), {},
                 "query dim 2 != document dim 4", id="dimension-mismatch"),
    pytest.param((_queries(1), THREE_UNITS, np.ones(2, int), np.zeros((1, 1), int)), {}, "unit_weight has shape",
                 id="weight-shape"),
    pytest.param((_queries(1), THREE_UNITS, np.array([1, 0, 1]), np.zeros((1, 1), int)), {}, "unit weights must be ≥ 1",
                 id="zero-weight"),
    pytest.param((_queries(1), THREE_UNITS, np.ones(3, int), np.array([[3]])), {}, "gold unit index out of range",
                 id="gold-out-of-range"),
    pytest.param((_queries(2), THREE_UNITS, np.ones(3, int), np.array([[0]])), {}, "gold_units has shape",
                 id="gold-shape"),
    pytest.param((_queries(2), THREE_UNITS, np.ones(3, int), np.zeros((2, 1), int), np.array([0])), {},
                 "removed_unit has shape", id="removed-shape"),
    pytest.param((_queries(1), THREE_UNITS, np.ones(3, int), np.array([[0]]), np.array([1])),
                 {"removed_count": np.array([2])}, "removed_count must be between 1 and the unit's weight",
                 id="removed-count-above-weight"),
])
def test_rank_golds_rejects(args, kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        rank_golds(*args, **kwargs)


def test_top1_units_follow_the_tie_policy():
    q = np.array([[1.0], [1.0], [1.0]], dtype=np.float32)
    u = np.array([[0.9], [0.9], [0.5], [0.95]], dtype=np.float32)
    gold = np.array([[1], [2], [0]])
    res = rank_golds(q[:3], u[:3], np.ones(3, dtype=int), gold, unit_lang=np.array([0, 1, 1]))
    # query 0: gold unit 1 ties with unit 0 at the top → the gold is first; query 1: unit 0 or 1 (0.9) beats gold 2
    assert res.top1_units(gold).tolist() == [1, 0, 0]
    res4 = rank_golds(q, u, np.ones(4, dtype=int), gold, unit_lang=np.array([0, 1, 1, 0]))
    assert res4.top1_units(gold).tolist() == [3, 3, 3]
    assert res4.best_non_gold_unit[2].tolist() == [3, 1]


@pytest.mark.parametrize("seed", range(4))
def test_top1_units_match_a_full_sort(seed):
    _, q, u, weight, gold = _random_case(seed)
    q = q + np.random.default_rng(seed).normal(scale=1e-3, size=q.shape).astype(np.float32)  # no exact ties
    res = rank_golds(q, u, weight, gold, unit_lang=np.arange(len(u)) % 2)
    np.testing.assert_array_equal(res.top1_units(gold), np.argmax(q @ u.T, axis=1))


# ----------------------------------------------------------------------------- many golds, many languages
def _pool_case(seed: int, n_q: int, n_u: int, n_gold: int, n_lang: int, *, dim: int = 4, max_weight: int = 3,
               layout: str = "random", spread: int = 2):
    """Integer-valued embeddings in [-spread, spread] (integer scores, exact whatever the blocking: ties
    everywhere when small, a new best now and then when large), weights, languages, and per query either
    no removal, some copies removed, or every copy removed; a removed unit may be a gold's text."""
    rng = np.random.default_rng(seed)
    q = rng.integers(-spread, spread + 1, size=(n_q, dim)).astype(np.float32)
    u = rng.integers(-spread, spread + 1, size=(n_u, dim)).astype(np.float32)
    weight = rng.integers(1, max_weight + 1, size=n_u)
    lang = rng.integers(0, n_lang, size=n_u) if layout == "random" else np.sort(rng.integers(0, n_lang, size=n_u))
    lang[:n_lang] = np.arange(n_lang)  # every code present
    gold = np.stack([rng.choice(n_u, n_gold, replace=False) for _ in range(n_q)])
    removed = np.full(n_q, -1)
    count = np.zeros(n_q, dtype=np.int64)
    for i in range(n_q):
        kind = rng.integers(0, 3)
        r = int(rng.integers(0, n_u))
        if kind == 0:
            continue
        if r in gold[i]:  # some copies of a gold's text go; the gold itself stays
            if weight[r] >= 2:
                removed[i], count[i] = r, rng.integers(1, weight[r])
        else:
            removed[i], count[i] = r, (weight[r] if kind == 2 else rng.integers(1, weight[r] + 1))
    return q, u, weight, lang, gold, removed, count


def _assert_matches_brute_force(q, u, weight, lang, gold, removed, count, block_elements=None):
    kw = {} if block_elements is None else {"block_elements": block_elements}
    res = rank_golds(q, u, weight, gold, removed, lang, removed_count=count, **kw)
    scores = q @ u.T  # integer-valued: exact, whatever the blocking
    n_lang = int(lang.max()) + 1
    assert res.best_non_gold.shape == (len(q), n_lang)
    for i in range(len(q)):
        w = weight.copy()
        if removed[i] >= 0:
            w[removed[i]] -= count[i]
        doc_unit = np.repeat(np.arange(len(u)), w)
        gold_docs = np.searchsorted(doc_unit, gold[i])[None]  # the first copy of each gold text
        assert (doc_unit[gold_docs[0]] == gold[i]).all()
        np.testing.assert_array_equal(res.ranks[i], brute_force_ranks(scores[i : i + 1], doc_unit, gold_docs)[0], str(i))
        best, unit = brute_force_best_non_gold(scores[i : i + 1], doc_unit, gold_docs, lang, n_lang)
        np.testing.assert_array_equal(res.best_non_gold[i], best[0], str(i))
        np.testing.assert_array_equal(res.best_non_gold_unit[i], unit[0], str(i))
        np.testing.assert_array_equal(res.gold_scores[i], scores[i, gold[i]])
        top = res.top1_units(gold)[i]
        assert scores[i, top] == scores[i, doc_unit].max(), i
        assert (top in gold[i]) == (res.ranks[i].min() == 1), i
    return res


@pytest.mark.parametrize(("seed", "n_gold", "n_lang", "spread"), [(0, 3, 3, 2), (1, 4, 5, 2), (2, 6, 3, 2), (3, 10, 10, 2),
                                                             (4, 3, 7, 2), (5, 3, 3, 1), (6, 5, 4, 40)])
def test_many_golds_and_languages_match_brute_force(seed, n_gold, n_lang, spread):
    case = _pool_case(seed, n_q=30, n_u=40, n_gold=n_gold, n_lang=n_lang, spread=spread)
    full = _assert_matches_brute_force(*case)
    for block in (1, 37):
        res = rank_golds(*case[:2], case[2], case[4], case[5], case[3], removed_count=case[6], block_elements=block)
        np.testing.assert_array_equal(res.ranks, full.ranks)
        np.testing.assert_array_equal(res.best_non_gold_unit, full.best_non_gold_unit)


@pytest.mark.parametrize(("seed", "layout", "max_weight", "spread"), [
    (0, "random", 3, 2), (1, "sorted", 3, 2), (2, "sorted", 1, 2), (3, "random", 1, 2),
    (4, "random", 3, 60), (5, "sorted", 3, 60), (6, "random", 1, 60)])
def test_pools_spanning_many_chunks_match_brute_force(seed, layout, max_weight, spread):
    """Thousands of units: the kernel's per-chunk paths (one language / mixed, weighted / not)."""
    case = _pool_case(seed, n_q=10, n_u=2_600, n_gold=3, n_lang=4, max_weight=max_weight, layout=layout,
                      spread=spread)
    _assert_matches_brute_force(*case, block_elements=5_000)


def test_a_partly_removed_unit_still_competes_and_wins_ties_by_index():
    q = np.array([[1.0]] * 3, dtype=np.float32)
    u = np.array([[0.5], [0.9], [0.2], [0.9], [0.9]], dtype=np.float32)
    weight = np.array([1, 3, 1, 2, 1])
    gold = np.array([[0], [0], [0]])
    removed, count = np.array([1, 1, 3]), np.array([1, 3, 2])
    res = rank_golds(q, u, weight, gold, removed, np.zeros(5, dtype=int), removed_count=count)
    # query 0: 2 of unit 1's copies left, so unit 1 (first of the 0.9 ties) is still best;
    # query 1: unit 1 gone, unit 3 next; query 2: unit 3 gone, unit 1 first again.
    assert res.best_non_gold_unit[:, 0].tolist() == [1, 3, 1]
    assert res.ranks[:, 0].tolist() == [1 + 2 + 2 + 1, 0 + 2 + 1 + 1, 3 + 0 + 1 + 1]


def test_a_weak_language_keeps_its_own_best_across_chunks():
    """One language scores far below the others: its best must not hide behind theirs in mixed chunks."""
    q, u, weight, lang, gold, removed, count = _pool_case(9, n_q=10, n_u=3_000, n_gold=2, n_lang=3, spread=60)
    u[lang == 1] = np.round(u[lang == 1] / 20)
    _assert_matches_brute_force(q, u, weight, lang, gold, removed, count)


def test_a_gold_text_listed_twice_counts_once():
    q = np.array([[1.0]], dtype=np.float32)
    u = np.array([[0.9], [0.5], [0.7]], dtype=np.float32)
    res = rank_golds(q, u, np.array([3, 1, 1]), np.array([[0, 0, 1]]))
    assert res.ranks.tolist() == [[1, 2, 5]]  # the two listings tie; unit 0 (3 copies) and unit 2 are above unit 1


def test_more_than_64_languages_match_brute_force():
    _assert_matches_brute_force(*_pool_case(5, n_q=12, n_u=1_500, n_gold=3, n_lang=70))


@pytest.mark.parametrize("seed", range(3))
def test_per_question_weights_in_several_languages(seed):
    """An XQuAD-shaped pool: each passage in 4 languages, copied once per question on it; golds are the
    passage in every language (multi) or in every other language, every copy of the query-language text
    removed (multi-1)."""
    rng = np.random.default_rng(seed)
    n_pass, n_lang, dim = 60, 4, 5
    n_q = 150
    item = np.concatenate([np.arange(n_pass), rng.integers(0, n_pass, n_q - n_pass)])  # every passage asked
    per_passage = np.bincount(item, minlength=n_pass)
    base = rng.integers(-2, 3, size=(n_pass, dim))
    u = np.concatenate([base + rng.integers(-1, 2, size=(n_pass, dim)) for _ in range(n_lang)]).astype(np.float32)
    lang = np.repeat(np.arange(n_lang), n_pass)
    weight = np.tile(per_passage, n_lang)
    q = (base[item] + rng.integers(-1, 2, size=(n_q, dim))).astype(np.float32)
    multi = np.stack([c * n_pass + item for c in range(n_lang)], axis=1)
    none = np.full(n_q, -1)
    _assert_matches_brute_force(q, u, weight, lang, multi, none, np.zeros(n_q, dtype=np.int64))
    query_lang = 2
    others = np.delete(multi, query_lang, axis=1)
    removed = multi[:, query_lang]
    _assert_matches_brute_force(q, u, weight, lang, others, removed, weight[removed])


def test_huge_weights_count_exactly():
    """Weights beyond the kernel's int32 per-chunk range take the int64 path; counts stay exact."""
    rng = np.random.default_rng(7)
    q = rng.integers(-2, 3, size=(20, 3)).astype(np.float32)
    u = rng.integers(-2, 3, size=(3_000, 3)).astype(np.float32)
    gold = np.stack([rng.choice(len(u), 3, replace=False) for _ in range(len(q))])
    removed = rng.integers(0, len(u), len(q))
    for top_weight in (3, 3 * 10**9):
        weight = rng.integers(1, top_weight, size=len(u)).astype(np.int64)
        count = np.minimum(weight[removed], 12_345)
        count[np.isin(removed, gold)] = 0
        rem = np.where(count > 0, removed, -1)
        res = rank_golds(q, u, weight, gold, rem, removed_count=count)
        scores = q @ u.T
        g = scores[np.arange(len(q))[:, None], gold]
        higher = ((scores[:, None, :] > g[:, :, None]) * weight).sum(axis=2)
        higher -= np.where((rem >= 0)[:, None] & (scores[np.arange(len(q)), rem][:, None] > g), count[:, None], 0)
        tied = np.stack([(g[:, :j] == g[:, j : j + 1]).sum(axis=1) for j in range(3)], axis=1)
        np.testing.assert_array_equal(res.ranks, 1 + higher + tied)


def test_inputs_are_left_untouched():
    q, u, weight, lang, gold, removed, count = _pool_case(8, n_q=20, n_u=50, n_gold=3, n_lang=3)
    before = [x.copy() for x in (q, u, weight, lang, gold, removed, count)]
    rank_golds(q, u, weight, gold, removed, lang, removed_count=count)
    for x, y in zip(before, (q, u, weight, lang, gold, removed, count), strict=True):
        np.testing.assert_array_equal(x, y)


def test_concurrent_calls_from_eight_threads_match_single_threaded(monkeypatch):
    """The web app ranks from several sessions at once: 8 threads, each also splitting its own blocks
    across the shared helper threads, must agree with the same calls made one at a time, serially."""
    cases = [_pool_case(100 + t, n_q=70, n_u=6_000, n_gold=2 + t % 3, n_lang=2 + t % 4,
                        layout="sorted" if t % 2 else "random") for t in range(8)]
    blocks = [DEFAULT_BLOCK_ELEMENTS, 100_000, 6_000 * 33, DEFAULT_BLOCK_ELEMENTS] * 2

    def call(t: int):
        q, u, weight, lang, gold, removed, count = cases[t]
        return rank_golds(q, u, weight, gold, removed, lang, removed_count=count, block_elements=blocks[t])

    monkeypatch.setattr(ranking, "_MIN_PARALLEL_ELEMENTS", 1 << 62)  # one thread per call
    expected = [call(t) for t in range(8)]
    monkeypatch.setattr(ranking, "_MIN_PARALLEL_ELEMENTS", 1)  # every block split across threads
    barrier = threading.Barrier(8)

    def worker(t: int):
        barrier.wait()
        return [call(t) for _ in range(3)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(worker, range(8)))
    for t in range(8):
        for got in results[t]:
            for field in ("ranks", "gold_scores", "best_non_gold", "best_non_gold_unit"):
                np.testing.assert_array_equal(getattr(got, field), getattr(expected[t], field), f"{t} {field}")


def test_ranking_benchmark_runs_and_its_baselines_agree():
    """Smoke test of benchmarks/bench_ranking.py on a tiny pool: every method's ranks are asserted equal
    inside ``run``; no timing is checked."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_ranking.py"
    spec = importlib.util.spec_from_file_location("bench_ranking", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.run(sizes=(600,), queries=12, dim=8, repeat=1, first_call=False)
    assert {(r["mode"], r["method"]) for r in rows} == {(m, x) for m in ("expanded", "deduplicated") for x in bench.METHODS}
    report = bench.markdown(rows)
    assert "| 600 | expanded | 600 | xlalign rank_golds |" in report
    assert "| 600 | deduplicated | 120 | naive counting |" in report


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("mixed", [False, True])
def test_above_counts_non_gold_documents_per_language(seed, mixed):
    """``above[q, g, l]`` = weighted non-gold documents of language l strictly above gold g (removed copies out),
    against a count on the materialised pool; units grouped by language or interleaved (mixed stretches)."""
    rng = np.random.default_rng(seed)
    n_q, n_u, n_g, n_l = 30, 3000, 3, 4
    q = rng.integers(-2, 3, size=(n_q, 4)).astype(np.float32)
    u = rng.integers(-2, 3, size=(n_u, 4)).astype(np.float32)
    weight = rng.integers(1, 4, size=n_u)
    lang = rng.integers(0, n_l, size=n_u) if mixed else np.sort(rng.integers(0, n_l, size=n_u))
    gold = np.stack([rng.choice(n_u, n_g, replace=False) for _ in range(n_q)])
    removed = np.array([rng.choice([x for x in range(n_u) if x not in gold[i]]) for i in range(n_q)])
    count = np.minimum(rng.integers(1, 3, size=n_q), weight[removed])
    res = rank_golds(q, u, weight, gold, removed, lang, removed_count=count)
    scores = q @ u.T
    for i in range(n_q):
        w = weight.copy()
        w[removed[i]] -= count[i]
        w[gold[i]] = 0  # golds are not counted
        for j in range(n_g):
            above = scores[i] > scores[i, gold[i, j]]
            expected = np.bincount(lang[above], weights=w[above], minlength=n_l).astype(np.int64)
            np.testing.assert_array_equal(res.above[i, j], expected, err_msg=f"query {i} gold {j}")
    golds_above = (res.gold_scores[:, None, :] > res.gold_scores[:, :, None]).sum(-1)
    assert (res.above.sum(-1) + golds_above < res.ranks).all()  # the rest is tied golds before it
