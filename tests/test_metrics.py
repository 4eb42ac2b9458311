"""Metrics: hand-computed examples, the paper's printed numbers, a brute-force path, bad inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import import_or_skip
from oracles import brute_force_ranks

from xlalign.core import metrics as M
from xlalign.core.ranking import rank_golds

RANKS = np.array([[1, 2], [3, 7]])


def test_max_r_is_worst_gold_rank():
    assert M.max_r(RANKS).tolist() == [2.0, 7.0]


def test_max_r_norm_hand_computed():
    got = M.max_r_norm(RANKS, pool_size=10)
    expected_q2 = 100 * (math.log2(10) - math.log2(7)) / (math.log2(10) - 1)
    assert got[0] == pytest.approx(100.0)
    assert got[1] == pytest.approx(expected_q2)
    assert expected_q2 == pytest.approx(22.1614, abs=1e-3)


def test_max_r_norm_with_per_query_pool_sizes():
    got = M.max_r_norm(np.array([[4], [4]]), np.array([16, 8]))
    np.testing.assert_allclose(got, [100 * (4 - 2) / 4, 100 * (3 - 2) / 3])
    with pytest.raises(ValueError, match="exceeds"):
        M.max_r_norm(np.array([[4], [9]]), np.array([16, 8]))


def test_max_r_norm_zero_when_worst_gold_is_last():
    assert M.max_r_norm(np.array([[1, 10]]), 10)[0] == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("mean_max_r", "pool", "printed"),
    [(650.95, 2380, 18.31), (106.42, 2380, 43.88), (23.10, 2380, 65.45), (13.63, 2380, 72.90)],
)
def test_max_r_norm_of_mean_matches_paper_table_1(mean_max_r, pool, printed):
    # Hong et al. 2026, Table 1 (XQuAD, per-question pool |D| = 2380, |R| = 2).
    assert M.max_r_norm_of_mean(mean_max_r, pool, 2) == pytest.approx(printed, abs=0.01)


def test_complete_and_recall_at_k():
    assert M.complete_at_k(RANKS, 5).tolist() == [100.0, 0.0]
    assert M.complete_at_k(RANKS, 7).tolist() == [100.0, 100.0]
    assert M.recall_at_k(RANKS, 5).tolist() == [100.0, 50.0]
    assert M.recall_at_k(RANKS, 1).tolist() == [50.0, 0.0]


def test_ndcg_hand_computed():
    got = M.ndcg_at_k(RANKS, 10)
    assert got[0] == pytest.approx(100.0)
    assert got[1] == pytest.approx(100 * (1 / 2 + 1 / 3) / (1 + 1 / math.log2(3)))
    assert M.ndcg_at_k(RANKS, 1).tolist() == [100.0, 0.0]
    # One gold: NDCG@k = 1/log2(rank+1) inside the cutoff.
    assert M.ndcg_at_k(np.array([[3]]), 10)[0] == pytest.approx(50.0)
    assert M.ndcg_at_k(np.array([[3]]), 2)[0] == 0.0


def test_reciprocal_rank_uses_best_gold():
    assert M.reciprocal_rank(RANKS).tolist() == pytest.approx([1.0, 1 / 3])
    assert M.reciprocal_rank(np.array([4, 2])).tolist() == pytest.approx([0.25, 0.5])  # 1-D = one gold each


def test_average_precision_hand_computed():
    # golds at 1 and 3: (1/1 + 2/3) / 2; at 2 and 5: (1/2 + 2/5) / 2; the order of the gold columns does not matter
    assert M.average_precision(np.array([[1, 3], [2, 5], [3, 1]])).tolist() == pytest.approx([5 / 6, 0.45, 5 / 6])
    assert M.average_precision(np.array([[4]])).tolist() == [0.25]  # one gold: the reciprocal rank


def test_preference_and_intrusion_rates():
    assert M.preference_rate(np.array([1, 5, 3]), np.array([2, 4, 3])).tolist() == [100.0, 0.0, 50.0]
    assert M.intrusion_rate(np.array([0.9, 0.5, 0.7]), np.array([0.8, 0.6, 0.7])).tolist() == [100.0, 0.0, 0.0]


# ----------------------------------------------------------------------------- displaced at its boundary
def test_displaced_counts_a_gold_pushed_off_the_first_page_from_k_documents_on():
    # k = 10: 9 documents above still leave the gold 10th (on the page); 10 or 11 push it to 11th or 12th
    assert M.displaced(np.array([9, 10, 11]), 10).tolist() == [0.0, 100.0, 100.0]
    assert M.displaced(np.array([0, 1, 2]), 1).tolist() == [0.0, 100.0, 100.0]
    assert M.displaced(np.array([], dtype=int), 10).tolist() == []


def test_displaced_rejects_negative_counts():
    with pytest.raises(ValueError, match="non-negative counts"):
        M.displaced(np.array([3, -1]), 10)


def test_displaced_rejects_a_two_dimensional_array():
    with pytest.raises(ValueError, match=r"\(Q,\) array"):
        M.displaced(np.zeros((2, 2), dtype=int), 10)


def test_displaced_rejects_a_bad_cutoff():
    with pytest.raises(ValueError, match="positive integer"):
        M.displaced(np.array([3]), 0)


# ----------------------------------------------------------------------------- Wilson score interval
# Newcombe (1998), "Two-sided confidence intervals for the single proportion", Statistics in Medicine 17:857–872:
# its worked examples, 95% score interval without continuity correction (method 3), as printed to 4 decimals.
NEWCOMBE_1998 = [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)]


@pytest.mark.parametrize(("k", "n", "low", "high"), NEWCOMBE_1998)
def test_wilson_interval_matches_newcombes_printed_values(k, n, low, high):
    lo, hi = M.wilson_interval(k, n)
    assert (lo, hi) == (pytest.approx(100 * low, abs=0.005), pytest.approx(100 * high, abs=0.005))


def test_wilson_interval_by_hand():
    # 3 of 10, z = 1.96: centre (0.3 + 1.96²/20) / (1 + 1.96²/10), half 1.96·√(0.3·0.7/10 + 1.96²/400) / (same)
    z = 1.959964
    denom = 1 + z * z / 10
    centre, half = (0.3 + z * z / 20) / denom, z * math.sqrt(0.021 + z * z / 400) / denom
    assert M.wilson_interval(3, 10) == (pytest.approx(100 * (centre - half)), pytest.approx(100 * (centre + half)))
    assert M.wilson_interval(3, 10) == (pytest.approx(10.779, abs=1e-3), pytest.approx(60.322, abs=1e-3))


def test_wilson_interval_agrees_with_statsmodels_for_every_count():
    proportion = import_or_skip("statsmodels.stats.proportion")
    for n in (1, 2, 7, 40, 333):
        for k in range(n + 1):
            low, high = proportion.proportion_confint(k, n, alpha=0.05, method="wilson")
            assert M.wilson_interval(k, n) == (pytest.approx(100 * low, abs=1e-4), pytest.approx(100 * high, abs=1e-4))
    low, high = proportion.proportion_confint(2.5, 7, alpha=0.05, method="wilson")  # a half-counted tie
    assert M.wilson_interval(2.5, 7) == (pytest.approx(100 * low, abs=1e-4), pytest.approx(100 * high, abs=1e-4))
    low, high = proportion.proportion_confint(3, 10, alpha=0.10, method="wilson")  # another level through z
    assert M.wilson_interval(3, 10, z=1.6448536) == (pytest.approx(100 * low, abs=1e-4), pytest.approx(100 * high, abs=1e-4))


def test_wilson_interval_edges():
    assert M.wilson_interval(0, 0) == (0.0, 100.0)  # nothing observed: every rate is possible
    lo, hi = M.wilson_interval(0, 5)
    assert lo == pytest.approx(0.0, abs=1e-12) and lo >= 0.0 and hi == pytest.approx(100 * 3.8415 / (5 + 3.8415), abs=1e-3)
    lo, hi = M.wilson_interval(5, 5)
    assert hi == pytest.approx(100.0, abs=1e-12) and hi <= 100.0 and lo == pytest.approx(100 * 5 / (5 + 3.8415), abs=1e-3)
    lo, hi = M.wilson_interval(1, 1)  # the widest one-observation interval still stays inside [0, 100]
    assert 0.0 <= lo < hi <= 100.0
    for n in range(1, 101):  # centre ± half overshoots [0, 1] by a rounding error for some n (20/20: 1 + 2⁻⁵²)
        assert M.wilson_interval(0, n)[0] >= 0.0 and M.wilson_interval(n, n)[1] <= 100.0, n


@pytest.mark.parametrize(("k", "n"), [(6, 5), (-1, 5), (0, -1)])
def test_wilson_interval_rejects_impossible_counts(k, n):
    with pytest.raises(ValueError, match="need 0 ≤ successes ≤ n"):
        M.wilson_interval(k, n)


# ----------------------------------------------------------------------------- brute force
def _brute_metrics(order_is_gold: np.ndarray, k: int) -> dict[str, float]:
    """Metrics read off a fully sorted list (True where the position holds a gold document)."""
    positions = np.flatnonzero(order_is_gold) + 1
    n_gold = len(positions)
    dcg = sum(1 / math.log2(p + 1) for p in positions if p <= k)
    idcg = sum(1 / math.log2(i + 1) for i in range(1, min(n_gold, k) + 1))
    return {"max_r": positions.max(), "complete": 100.0 * (positions.max() <= k), "mrr": 1 / positions.min(),
            "ndcg": 100 * dcg / idcg, "recall": 100 * np.mean(positions <= k)}


@pytest.mark.parametrize("seed", range(6))
def test_metrics_agree_with_full_argsort(seed):
    rng = np.random.default_rng(seed)
    n_q, n_u, dim, n_gold = 30, 25, 3, 2
    # Small integer embeddings: integer scores, hence many exact ties.
    q = rng.integers(-2, 3, size=(n_q, dim)).astype(np.float32)
    u = rng.integers(-2, 3, size=(n_u, dim)).astype(np.float32)
    weight = rng.integers(1, 4, size=n_u)
    gold = np.stack([rng.choice(n_u, n_gold, replace=False) for _ in range(n_q)])
    scores = q @ u.T
    doc_unit = np.repeat(np.arange(n_u), weight)
    first_doc = np.searchsorted(doc_unit, np.arange(n_u))
    gold_docs = first_doc[gold]
    ranks = rank_golds(q, u, weight, gold).ranks
    ref = brute_force_ranks(scores, doc_unit, gold_docs)
    np.testing.assert_array_equal(ranks, ref)
    pool = len(doc_unit)
    for k in (1, 3, 10):
        for i in range(n_q):
            s = scores[i, doc_unit]
            is_gold = np.zeros(pool, bool)
            is_gold[gold_docs[i]] = True
            gold_rank = np.full(pool, n_gold)
            gold_rank[gold_docs[i]] = np.arange(n_gold)
            order = np.lexsort((np.arange(pool), gold_rank, -s))
            b = _brute_metrics(is_gold[order], k)
            r = ranks[i : i + 1]
            assert M.max_r(r)[0] == b["max_r"]
            assert M.complete_at_k(r, k)[0] == b["complete"]
            assert M.reciprocal_rank(r)[0] == pytest.approx(b["mrr"])
            assert M.ndcg_at_k(r, k)[0] == pytest.approx(b["ndcg"])
            assert M.recall_at_k(r, k)[0] == pytest.approx(b["recall"])


# ----------------------------------------------------------------------------- invalid input
def test_ranks_must_be_integers():
    with pytest.raises(TypeError, match="integers"):
        M.max_r(np.array([[1.0, 2.0]]))


def test_ranks_must_be_one_based():
    with pytest.raises(ValueError, match="1-based"):
        M.max_r(np.array([[0, 2]]))


def test_ranks_need_a_gold_column():
    with pytest.raises(ValueError, match="shape"):
        M.max_r(np.zeros((3, 0), dtype=int))


def test_ranks_must_be_two_dimensional_at_most():
    with pytest.raises(ValueError, match="shape"):
        M.max_r(np.ones((2, 2, 2), dtype=int))


@pytest.mark.parametrize("metric", [M.complete_at_k, M.ndcg_at_k, M.recall_at_k])
@pytest.mark.parametrize("k", [0, -1, 2.5])
def test_cutoff_must_be_positive_integer(metric, k):
    with pytest.raises(ValueError, match=f"cutoff k must be a positive integer, got {k}"):
        metric(RANKS, k)


def test_max_r_norm_rejects_pool_not_larger_than_gold_set():
    with pytest.raises(ValueError, match="pool_size > n_gold"):
        M.max_r_norm(np.array([[1, 2]]), pool_size=2)


def test_max_r_norm_rejects_rank_beyond_pool():
    with pytest.raises(ValueError, match="exceeds the pool size"):
        M.max_r_norm(np.array([[1, 11]]), pool_size=10)


@pytest.mark.parametrize("mean", [0.5, 101])
def test_max_r_norm_of_mean_rejects_out_of_range_mean(mean):
    with pytest.raises(ValueError, match=rf"mean Max@R must lie in \[1, 100\], got {mean}"):
        M.max_r_norm_of_mean(mean, 100, 2)


def test_max_r_norm_of_mean_rejects_bad_gold_count():
    with pytest.raises(ValueError, match="n_gold"):
        M.max_r_norm_of_mean(5, 100, 0)


@pytest.mark.parametrize(("rate", "a", "b"), [(M.preference_rate, np.array([1, 2]), np.array([1])),
                                               (M.intrusion_rate, np.array([0.1]), np.array([[0.2]]))])
def test_rates_reject_mismatched_shapes(rate, a, b):
    with pytest.raises(ValueError, match="expected two \\(Q,\\) arrays of equal shape"):
        rate(a, b)
