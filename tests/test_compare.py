"""The before/after statistics of ``compare.csv`` against oracles that do not come from the code under test:
Benjamini–Hochberg by hand and by statsmodels, the paired bootstrap's exact resampling distribution, the
permutation p-value by enumerating every sign flip, Max@R_norm of the mean by hand, and the query pairing."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from conftest import TEST_RESAMPLES, import_or_skip, suite_resamples

from xlalign.core.compare import COMPARE_COLUMNS, DEFAULT_RESAMPLES, adjusted_p, compare_results, paired_test, resamples
from xlalign.policy import PolicyError


# ----------------------------------------------------------------------------- Benjamini–Hochberg
@pytest.mark.parametrize(("p", "q"), [
    # sorted p·m/i = .04, .04, .04, .5: no step-down needed
    ([0.01, 0.02, 0.03, 0.5], [0.04, 0.04, 0.04, 0.5]),
    # the same family in another order: each q stays with its own p
    ([0.5, 0.03, 0.01, 0.02], [0.5, 0.04, 0.04, 0.04]),
    # p·m/i = .03, .06, .045: the middle one steps down to the running minimum from the top, .045
    ([0.01, 0.04, 0.045], [0.03, 0.045, 0.045]),
    # sorted p·m/i = 1.2, .9: the smaller p's 1.2 steps down to .9 (the largest p is its own q, so q ≤ 1)
    ([0.9, 0.6], [0.9, 0.9]),
    ([0.2], [0.2]),  # one test: nothing to adjust
])
def test_q_values_are_benjamini_hochberg_by_hand(p, q):
    np.testing.assert_allclose(adjusted_p(np.array(p)), q, rtol=1e-12)


def test_q_values_of_no_tests_are_empty():
    assert adjusted_p(np.array([])).tolist() == []


def test_q_values_agree_with_statsmodels():
    multitest = import_or_skip("statsmodels.stats.multitest")
    rng = np.random.default_rng(7)
    for m in (2, 5, 130):
        p = np.concatenate([rng.uniform(0, 0.02, m // 3), rng.uniform(0, 1, m - m // 3)])
        p[: m // 4] = p[0]  # ties too
        np.testing.assert_allclose(adjusted_p(p), multitest.multipletests(p, method="fdr_bh")[1], rtol=1e-12)


# ----------------------------------------------------------------------------- paired bootstrap CI
def _binomial_quantile(n: int, prob: float, level: float) -> int:
    """Smallest x with P(X ≤ x) ≥ level for X ~ Binomial(n, prob), and a check that the level lies far from
    both neighbouring steps of the CDF (so that a Monte-Carlo percentile of 20,000 draws lands on x)."""
    cdf = np.cumsum([math.comb(n, x) * prob**x * (1 - prob) ** (n - x) for x in range(n + 1)])
    x = int(np.searchsorted(cdf, level))
    below = cdf[x - 1] if x else 0.0
    margin = 5 * math.sqrt(level * (1 - level) / 20_000)
    assert below < level - margin and cdf[x] > level + margin, "the exact quantile is too close to a step"
    return x


@pytest.mark.parametrize(("n", "n_ones"), [(10, 5), (20, 4)])
def test_bootstrap_interval_is_the_exact_resampling_distributions_percentiles(n, n_ones):
    """After − before is 1 on ``n_ones`` queries and 0 elsewhere. A paired resample of n queries draws the
    number of ones X ~ Binomial(n, n_ones/n), and its mean delta is X/n: the 95% percentile interval is
    [q(2.5%), q(97.5%)] / n of that binomial. Before varies a lot, so resampling the sides independently
    (unpaired) would give a far wider interval; the skewed case (4 of 20) tells percentile from basic."""
    before = np.linspace(0.0, 50.0, n)
    delta = np.zeros(n)
    delta[np.random.default_rng(n).choice(n, n_ones, replace=False)] = 1.0
    got = paired_test(before, before + delta, n_boot=20_000, n_perm=200, seed=3)
    low, high = _binomial_quantile(n, n_ones / n, 0.025) / n, _binomial_quantile(n, n_ones / n, 0.975) / n
    assert (low, high) == {(10, 5): (0.2, 0.8), (20, 4): (0.05, 0.4)}[(n, n_ones)]  # by hand, from the tables
    assert got["delta"] == pytest.approx(n_ones / n, abs=1e-12)
    assert (got["ci_low"], got["ci_high"]) == (pytest.approx(low, abs=1e-9), pytest.approx(high, abs=1e-9))


def test_bootstrap_interval_of_a_mean_is_close_to_the_normal_one():
    """400 queries, a symmetric delta: the percentile interval is mean ± 1.96·s/√n within 4% (s with divisor
    n, the bootstrap's own); a 90% interval (1.645) or a one-sided resampling would miss it."""
    rng = np.random.default_rng(5)
    before = rng.uniform(0, 100, 400)
    delta = np.tile([-2.0, 0.0, 1.0, 3.0, 6.0, 4.0, -1.0, 1.0], 50)
    got = paired_test(before, before + delta, n_boot=20_000, n_perm=200, seed=1)
    half = 1.959964 * delta.std() / math.sqrt(len(delta))
    assert got["delta"] == pytest.approx(1.5, abs=1e-12)
    assert got["ci_high"] - got["delta"] == pytest.approx(half, rel=0.04)
    assert got["delta"] - got["ci_low"] == pytest.approx(half, rel=0.04)


# ----------------------------------------------------------------------------- paired permutation p-value
def _sign_flip_p(delta: np.ndarray) -> float:
    """Two-sided p by enumerating every sign flip of the per-query deltas (each query's sides swapped or not)."""
    observed = abs(delta.sum())
    flips = itertools.product((1, -1), repeat=len(delta))
    return sum(abs(np.dot(s, delta)) >= observed - 1e-9 for s in flips) / 2 ** len(delta)


@pytest.mark.parametrize(("delta", "by_hand"), [
    ([1, 1, 1, 1, 1, -1], 14 / 64),  # |sum| ≥ 4 when 0, 1, 5 or 6 of the six ±1 flip: 1 + 6 + 6 + 1 of 64
    ([1, 2, 3, 4, 5, 6], 2 / 64),  # only no flip and all flipped reach |sum| = 21
    ([3, -1, 2, 5, 0, 4, -2, 7, 1, 2], None),
    ([0.5, 0.25, -0.75, 1.0, 0.5, 0.0, 2.0], None),
])
def test_permutation_p_value_is_the_exact_sign_flip_enumeration(delta, by_hand):
    d = np.array(delta, dtype=np.float64)
    before = np.arange(len(d), dtype=np.float64) * 10.0
    exact = _sign_flip_p(d)
    if by_hand is not None:
        assert exact == by_hand
    # 2^n ≤ n_perm: scipy enumerates every flip too, so the p-value is exact, not sampled
    assert paired_test(before, before + d, n_boot=200, n_perm=2000)["p_value"] == pytest.approx(exact, abs=1e-12)


def test_permutation_p_value_keeps_ties_that_float_sums_break():
    """Large per-query values (up to 1000) changed by thirds and tenths: two sign flips with equal sums (exact, in
    fractions) give means that differ in the last bits, beyond scipy's relative tolerance; they are still ties."""
    rng = np.random.default_rng(0)
    for _ in range(4):
        delta = [Fraction(x) for x in rng.choice(["0", "1/3", "-1/3", "2/3", "1/10", "-1/10"], 10)]
        before = rng.uniform(0, 1000, 10)
        observed = abs(sum(delta))
        flips = itertools.product((1, -1), repeat=10)
        exact = sum(abs(sum(s * d for s, d in zip(signs, delta, strict=True))) >= observed for signs in flips) / 1024
        after = before + np.array([float(d) for d in delta])
        assert paired_test(before, after, n_boot=50, n_perm=2000)["p_value"] == pytest.approx(exact, abs=1e-12)


# ----------------------------------------------------------------------------- compare_results on a tiny frame
POOL, N_GOLD = 64, 2  # log2|D| − log2|R| = 6 − 1 = 5


def _frames(max_r: dict[str, list[int]], query_ids: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A summary and a per-query frame for one side: Multi pools of query languages en and de, two golds a query
    (the en gold first, the de gold at the given Max@R), pool size 64; Complete@10 and MRR follow from the ranks."""
    rows, summary = [], []
    for lang, worst in max_r.items():
        for qid, m in zip(query_ids, worst, strict=True):
            rows.append({"scenario": "multi", "pool": "dedup", "query_lang": lang, "doc_lang": "en+de", "query_id": qid,
                         "pool_size": POOL, "rank_en": 1, "rank_de": m, "max_r": float(m),
                         "complete@10": 100.0 * (m <= 10), "mrr": 1.0})
        mean = float(np.mean(worst))
        for metric, value in (("complete@10", 100 * np.mean(np.array(worst) <= 10)), ("max_r", mean),
                              ("max_r_norm_of_mean", 100 * (6 - math.log2(mean)) / 5), ("mrr", 1.0)):
            summary.append({"scenario": "multi", "pool": "dedup", "query_lang": lang, "doc_lang": "en+de",
                            "metric": metric, "value": float(value), "n_queries": len(worst), "pool_size": POOL})
    return pd.DataFrame(summary), pd.DataFrame(rows).astype({"rank_en": "Int64", "rank_de": "Int64"})


QIDS = ["q1", "q2", "q3", "q4"]
# en: mean Max@R 8 → 4; de: every Max@R halved (mean 16 → 8)
BEFORE = _frames({"en": [2, 2, 12, 16], "de": [4, 12, 16, 32]}, QIDS)
AFTER = _frames({"en": [2, 2, 4, 8], "de": [2, 6, 8, 16]}, QIDS)


def _row(table: pd.DataFrame, lang: str, metric: str) -> pd.Series:
    rows = table[(table.query_lang == lang) & (table.metric == metric)]
    assert len(rows) == 1
    return rows.iloc[0]


def test_compare_recomputes_max_r_norm_of_the_mean_by_hand():
    """en: mean Max@R 8 → 4 is Max@R_norm 100·(6 − 3)/5 = 60 → 100·(6 − 2)/5 = 80, a change of 20 (the mean of
    the per-query norms would change by 12.9). de: every Max@R is halved, so every resample's mean halves too and
    the norm rises by exactly 100/5 = 20 on each: the interval is [20, 20]."""
    table = compare_results(*BEFORE, *AFTER, n_boot=500, n_perm=500)
    assert list(table.columns) == COMPARE_COLUMNS
    en = _row(table, "en", "max_r_norm_of_mean")
    assert (en.before, en.after, en.delta, en.n_queries) == (pytest.approx(60), pytest.approx(80), pytest.approx(20), 4)
    de = _row(table, "de", "max_r_norm_of_mean")
    assert (de.delta, de.ci_low, de.ci_high) == (pytest.approx(20), pytest.approx(20), pytest.approx(20))
    assert _row(table, "de", "max_r").delta == pytest.approx(-8.0)  # (2 + 6 + 8 + 16)/4 − (4 + 12 + 16 + 32)/4
    same = _row(table, "de", "mrr")  # unchanged on every query: no change, p = 1
    assert (same.delta, same.ci_low, same.ci_high, same.p_value) == (0.0, 0.0, 0.0, 1.0)
    for lang in ("en", "de"):  # +100 on two queries, 0 on two: |Σ| = 200 when both flip alike, 8 of 16 flips
        gain = _row(table, lang, "complete@10")
        assert (gain.delta, gain.p_value) == (pytest.approx(50.0), pytest.approx(0.5))


def test_compare_q_values_are_benjamini_hochberg_over_the_whole_table():
    multitest = import_or_skip("statsmodels.stats.multitest")
    table = compare_results(*BEFORE, *AFTER, n_boot=200, n_perm=500)
    assert len(table) == 8 and table.p_value.nunique() > 2  # one family of eight tests, not one per language
    np.testing.assert_allclose(table.q_value, multitest.multipletests(table.p_value, method="fdr_bh")[1], rtol=1e-12)


def test_compare_pairs_queries_by_id_not_by_row_order():
    summary, per_query = AFTER
    shuffled = per_query.iloc[[5, 2, 7, 0, 3, 6, 1, 4]].reset_index(drop=True)
    expected = compare_results(*BEFORE, summary, per_query, n_boot=300, n_perm=300)
    got = compare_results(*BEFORE, summary, shuffled, n_boot=300, n_perm=300)
    pd.testing.assert_frame_equal(got, expected)
    assert _row(got, "de", "max_r_norm_of_mean").ci_low == pytest.approx(20)  # still every query halved


def _drop_q4(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame.query_id != "q4"]


def _rename_q4(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(query_id=frame.query_id.replace("q4", "q9"))


def _repeat_q4(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([frame, frame[frame.query_id == "q4"]], ignore_index=True)


@pytest.mark.parametrize("change", [_drop_q4, _rename_q4, _repeat_q4], ids=["missing", "other", "repeated"])
@pytest.mark.parametrize("side", ["before", "after"])
def test_compare_refuses_sides_with_different_queries(change, side):
    (b_sum, b_pq), (a_sum, a_pq) = BEFORE, AFTER
    if side == "before":
        b_pq = change(b_pq)
    else:
        a_pq = change(a_pq)
    with pytest.raises(ValueError, match=r"^multi/en: before and after cover different queries; cannot pair them$"):
        compare_results(b_sum, b_pq, a_sum, a_pq, n_boot=50, n_perm=50)


# ----------------------------------------------------------------------------- how many resamples a run uses
def test_a_run_resamples_2000_times_unless_told_otherwise(monkeypatch):
    monkeypatch.delenv("XLALIGN_RESAMPLES")
    assert resamples() == DEFAULT_RESAMPLES == 2000
    monkeypatch.setenv("XLALIGN_RESAMPLES", "300")
    assert resamples() == 300


def test_the_test_suite_runs_resample_200_times():
    assert resamples() == suite_resamples()  # tests/conftest.py: 200 unless XLALIGN_RESAMPLES was set outside
    assert TEST_RESAMPLES == "200"


def test_compare_uses_the_resamples_setting(monkeypatch):
    """With 3 resamples every bootstrap interval holds at most 3 distinct deltas, and the smallest p-value a
    permutation test of more than 2 queries can give is 1/(3 + 1)."""
    monkeypatch.setenv("XLALIGN_RESAMPLES", "3")
    table = compare_results(*BEFORE, *AFTER)
    changed = table[table.delta != 0]
    assert len(changed) == 6 and (changed.p_value >= 0.25).all()


@pytest.mark.parametrize("value", ["0", "-5", "2.5", "many", "nan"])
def test_a_bad_resamples_setting_is_refused(monkeypatch, value):
    monkeypatch.setenv("XLALIGN_RESAMPLES", value)
    with pytest.raises(PolicyError, match=r"^XLALIGN_RESAMPLES=.* is not valid: set it to a whole number ≥ 1"):
        resamples()
