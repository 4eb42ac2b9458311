"""Exact gold ranks: tie policy, per-question copies, removed documents, blocking, faiss top-k."""

from __future__ import annotations

import numpy as np
import pytest

from xlalign.ranking import brute_force_ranks, gold_ranks, rank_golds, top_k


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


def test_rejects_removed_count_above_weight():
    with pytest.raises(ValueError, match="removed_count"):
        rank_golds(np.ones((1, 2), np.float32), np.ones((3, 2), np.float32), np.ones(3, int), np.array([[0]]),
                   np.array([1]), removed_count=np.array([2]))


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


def test_top_k_matches_numpy_and_skips_removed():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(5, 8)).astype(np.float32)
    u = rng.normal(size=(20, 8)).astype(np.float32)
    s, idx = top_k(q, u, 3)
    np.testing.assert_array_equal(idx, np.argsort(-(q @ u.T), axis=1)[:, :3])
    removed = idx[:, 0].copy()
    s2, idx2 = top_k(q, u, 3, removed, np.ones(20, dtype=int))
    np.testing.assert_array_equal(idx2, idx[:, [1, 2]].tolist() and np.argsort(-(q @ u.T), axis=1)[:, 1:4])
    assert (s2[:, 0] <= s[:, 0]).all()


# ----------------------------------------------------------------------------- invalid input
def test_rejects_empty_pool():
    with pytest.raises(ValueError, match="empty document pool"):
        gold_ranks(np.ones((1, 2), np.float32), np.ones((0, 2), np.float32), np.ones(0, int), np.zeros((1, 1), int))


def test_rejects_dimension_mismatch():
    with pytest.raises(ValueError, match="dim"):
        gold_ranks(np.ones((1, 2), np.float32), np.ones((3, 4), np.float32), np.ones(3, int), np.zeros((1, 1), int))


def test_rejects_weight_shape():
    with pytest.raises(ValueError, match="unit_weight"):
        gold_ranks(np.ones((1, 2), np.float32), np.ones((3, 2), np.float32), np.ones(2, int), np.zeros((1, 1), int))


def test_rejects_zero_weight():
    with pytest.raises(ValueError, match="≥ 1"):
        gold_ranks(np.ones((1, 2), np.float32), np.ones((3, 2), np.float32), np.array([1, 0, 1]), np.zeros((1, 1), int))


def test_rejects_gold_out_of_range():
    with pytest.raises(ValueError, match="out of range"):
        gold_ranks(np.ones((1, 2), np.float32), np.ones((3, 2), np.float32), np.ones(3, int), np.array([[3]]))


def test_rejects_gold_shape():
    with pytest.raises(ValueError, match="gold_units"):
        gold_ranks(np.ones((2, 2), np.float32), np.ones((3, 2), np.float32), np.ones(3, int), np.array([[0]]))


def test_rejects_removed_shape():
    with pytest.raises(ValueError, match="removed_unit"):
        gold_ranks(np.ones((2, 2), np.float32), np.ones((3, 2), np.float32), np.ones(3, int),
                   np.zeros((2, 1), int), np.array([0]))


def test_top_k_rejects_bad_k():
    with pytest.raises(ValueError, match="k must be"):
        top_k(np.ones((1, 2), np.float32), np.ones((3, 2), np.float32), 0)


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
