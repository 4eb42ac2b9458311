"""Retrieval metrics as pure functions of gold ranks.

Input convention: ``ranks`` is an int array of shape (Q, G): the 1-based rank of each of a
query's G gold documents (every gold is relevant with grade 1), distinct within a row, as produced
by :mod:`xlalign.ranking` (whose docstring documents the tie policy). Per-query functions return a
(Q,) float array; aggregate by taking the mean. Scales follow Hong et al. (ICLR 2026): Complete@K,
NDCG@k, Recall@k and Max@R_norm in 0–100, MRR in 0–1, Max@R in ranks.
"""

from __future__ import annotations

import numpy as np


def _check(ranks: np.ndarray) -> np.ndarray:
    r = np.asarray(ranks)
    if r.ndim == 1:
        r = r[:, None]
    if r.ndim != 2 or r.shape[1] == 0:
        raise ValueError(f"ranks must have shape (Q, G) with G ≥ 1, got {np.shape(ranks)}")
    if not np.issubdtype(r.dtype, np.integer):
        raise TypeError(f"ranks must be integers, got {r.dtype}")
    if r.size and r.min() < 1:
        raise ValueError("ranks are 1-based; found a rank < 1")
    return r


def _check_k(k: int) -> None:
    if int(k) != k or k < 1:
        raise ValueError(f"cutoff k must be a positive integer, got {k}")


def max_r(ranks: np.ndarray) -> np.ndarray:
    """Max@R (Hong et al. 2026, Eq. 1): rank of the worst-placed gold document, max_{r∈R_q} rank(r)."""
    out: np.ndarray = _check(ranks).max(axis=1).astype(np.float64)
    return out


def normalise_max_r(value: np.ndarray | float, pool_size: np.ndarray | float, n_gold: int) -> np.ndarray | float:
    """100 · (log2|D| − log2 v) / (log2|D| − log2|R|) for a Max@R value (or arrays of values and sizes)."""
    if np.any(np.asarray(pool_size) <= n_gold):
        raise ValueError(f"Max@R_norm needs pool_size > n_gold, got {np.min(pool_size)} ≤ {n_gold}")
    if n_gold < 1:
        raise ValueError(f"n_gold must be ≥ 1, got {n_gold}")
    out: np.ndarray | float = 100.0 * (np.log2(pool_size) - np.log2(value)) / (np.log2(pool_size) - np.log2(n_gold))
    return out


def max_r_norm(ranks: np.ndarray, pool_size: int | np.ndarray) -> np.ndarray:
    """Per-query Max@R_norm (Hong et al. 2026, §5.1):

        100 · (log2|D| − log2 Max@R) / (log2|D| − log2|R|)

    with |D| the pool size (an int, or a (Q,) array when pools differ by query) and |R| the
    number of golds. 100 when the golds fill the top |R|
    positions, 0 when the worst gold is last. Average over queries for the paper's formula.
    """
    r = _check(ranks)
    if r.size and (r.max(axis=1) > np.asarray(pool_size)).any():
        raise ValueError(f"a rank exceeds the pool size {pool_size}")
    return np.asarray(normalise_max_r(max_r(r), pool_size, r.shape[1]), dtype=np.float64)


def max_r_norm_of_mean(mean_max_r: float, pool_size: float, n_gold: int) -> float:
    """The Max@R_norm formula applied to the *mean* Max@R.

    Hong et al.'s printed tables match this form, not the per-query average: Table 1,
    multilingual-e5-base, En+Zh, Zh queries: mean Max@R 650.95 with |D| = 2380, |R| = 2 gives
    100·(log2 2380 − log2 650.95)/(log2 2380 − 1) = 18.31, the printed value.
    """
    if not 1 <= mean_max_r <= pool_size:
        raise ValueError(f"mean Max@R must lie in [1, {pool_size}], got {mean_max_r}")
    return float(normalise_max_r(float(mean_max_r), pool_size, n_gold))


def complete_at_k(ranks: np.ndarray, k: int) -> np.ndarray:
    """Complete@K (Qu et al. 2024): 100 if every gold is in the top K, else 0."""
    _check_k(k)
    out = np.asarray(100.0 * (_check(ranks) <= k).all(axis=1))
    return out


def recall_at_k(ranks: np.ndarray, k: int) -> np.ndarray:
    """Recall@k: 100 · |{gold with rank ≤ k}| / |R|."""
    _check_k(k)
    out: np.ndarray = 100.0 * (_check(ranks) <= k).mean(axis=1)
    return out


def ndcg_at_k(ranks: np.ndarray, k: int) -> np.ndarray:
    """NDCG@k (Järvelin & Kekäläinen 2002) with binary relevance, in 0–100:

        DCG = Σ_{r∈R_q, rank(r)≤k} 1/log2(rank(r)+1),   IDCG = Σ_{i=1}^{min(|R|,k)} 1/log2(i+1)
    """
    _check_k(k)
    r = _check(ranks)
    gains = np.where(r <= k, 1.0 / np.log2(r.astype(np.float64) + 1.0), 0.0).sum(axis=1)
    ideal = (1.0 / np.log2(np.arange(2, min(r.shape[1], k) + 2))).sum()
    out: np.ndarray = 100.0 * gains / ideal
    return out


def reciprocal_rank(ranks: np.ndarray) -> np.ndarray:
    """Reciprocal rank of the first gold, 1/min_{r∈R_q} rank(r); its mean is MRR (0–1)."""
    out: np.ndarray = 1.0 / _check(ranks).min(axis=1)
    return out


def average_precision(ranks: np.ndarray) -> np.ndarray:
    """Average precision over the golds (LAReQA's mAP when averaged; Roy et al. 2020), in 0–1:

        AP = 1/|R| · Σ_{i=1}^{|R|} i / rank_(i)

    with rank_(1) < … < rank_(|R|) the sorted gold ranks (distinct by the tie policy). With one
    gold this is the reciprocal rank.
    """
    r = np.sort(_check(ranks), axis=1).astype(np.float64)
    hits = np.arange(1, r.shape[1] + 1, dtype=np.float64)
    out: np.ndarray = (hits / r).mean(axis=1)
    return out


def wilson_interval(successes: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a proportion, in 0–100 (95% by default); (0, 100) when n = 0."""
    if n < 0 or not 0 <= successes <= max(n, 0):
        raise ValueError(f"need 0 ≤ successes ≤ n, got {successes} of {n}")
    if n == 0:
        return 0.0, 100.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return 100.0 * max(0.0, centre - half), 100.0 * min(1.0, centre + half)


def preference_rate(first_ranks: np.ndarray, second_ranks: np.ndarray) -> np.ndarray:
    """100 where the first gold outranks the second, 50 on a tie, 0 otherwise (per query).

    With the query-language gold first this is the *language preference rate*: the share of
    queries whose best-ranked gold is in the query's language.
    """
    a, b = np.asarray(first_ranks), np.asarray(second_ranks)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"expected two (Q,) arrays of equal shape, got {a.shape} and {b.shape}")
    out: np.ndarray = 100.0 * ((a < b) + 0.5 * (a == b))
    return out


def intrusion_rate(intruder_best: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """100 where the best irrelevant other-language score beats ``reference`` strictly (per query).

    With ``reference`` = the same-language gold's score this is the share of queries where an
    irrelevant English document outranks the relevant target-language one; with ``reference`` =
    the best score of every other document it is the share whose top-1 is an irrelevant English
    document (``english_intrusion@1``). Strict: ties favour the gold (see the tie policy).
    """
    a, b = np.asarray(intruder_best, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"expected two (Q,) arrays of equal shape, got {a.shape} and {b.shape}")
    out: np.ndarray = 100.0 * (a > b)
    return out


def displaced(n_above: np.ndarray, k: int) -> np.ndarray:
    """100 where at least ``k`` irrelevant documents (of the language counted) outrank the gold, else 0.

    ``n_above`` (Q,) counts, per query, the irrelevant documents of one language scoring strictly above
    a gold (:attr:`xlalign.ranking.RankResult.above`): with k = 10 the gold cannot be on the first page
    because of that language alone.
    """
    _check_k(k)
    a = np.asarray(n_above)
    if a.ndim != 1 or (a.size and a.min() < 0):
        raise ValueError(f"expected a (Q,) array of non-negative counts, got shape {a.shape}")
    out: np.ndarray = 100.0 * (a >= k)
    return out


def _t_quantile(level: float, df: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.5 + level / 2.0, df)) if df >= 1 else float("inf")


def _cluster_variance(values: np.ndarray, clusters: np.ndarray) -> tuple[float, int]:
    """(variance of the mean, number of clusters): the cluster-robust (CR1) estimate

        Var(x̄) = G/(G − 1) · Σ_g (Σ_{i∈g} (x_i − x̄))² / n²

    with G clusters (e.g. the questions of one passage). With one value per cluster it is s²/n.
    """
    _, inverse = np.unique(np.asarray(clusters), return_inverse=True)
    g = int(inverse.max()) + 1 if inverse.size else 0
    if g < 2:
        return float("inf"), g
    sums = np.bincount(inverse.ravel(), weights=values - values.mean(), minlength=g)
    return float(g / (g - 1) * (sums**2).sum() / len(values) ** 2), g


def clustered_mean_ci(values: np.ndarray, clusters: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): the mean of per-query values with a cluster-robust t interval (G − 1 degrees of
    freedom, G = number of clusters).

    Queries that share a passage (XQuAD: ~5 questions per paragraph) are not independent; clustering on
    the passage keeps the interval honest. Fewer than two clusters: an infinite interval.
    """
    x = np.asarray(values, dtype=np.float64)
    c = np.asarray(clusters)
    if x.ndim != 1 or x.size == 0 or c.shape != x.shape:
        raise ValueError(f"expected non-empty (Q,) values and clusters of the same shape, got {x.shape} and {c.shape}")
    if not np.isfinite(x).all():
        raise ValueError("values must be finite")
    var, g = _cluster_variance(x, c)
    half = _t_quantile(level, g - 1) * float(np.sqrt(var))
    m = float(x.mean())
    return m, m - half, m + half


def crossed_mean_ci(row_values: np.ndarray, row_clusters: np.ndarray, col_values: np.ndarray,
                    level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) of a statistic averaged over a queries × documents grid.

    ``row_values`` (Q,) are the per-query means (each over the same number of documents, so their mean is
    the grid's mean) and ``col_values`` (N,) the per-document means. Both queries and documents are samples,
    so the variance of the grand mean has a query part and a document part; the interval adds them
    (Owen 2007, "The pigeonhole bootstrap", the crossed random-effects variance without the interaction
    term, which only makes it wider):

        Var ≈ Var_cluster(row means) + s²(column means) / N

    with the query part cluster-robust (:func:`clustered_mean_ci`), and a t quantile with
    min(G, N) − 1 degrees of freedom. Without the document part, an encoder whose documents happen to
    lean one way for every query (a shared query direction) would look significant on one draw of documents.
    """
    rows = np.asarray(row_values, dtype=np.float64)
    cols = np.asarray(col_values, dtype=np.float64)
    if rows.ndim != 1 or cols.ndim != 1 or rows.size == 0 or cols.size == 0:
        raise ValueError(f"expected non-empty (Q,) and (N,) arrays, got {rows.shape} and {cols.shape}")
    if np.shape(row_clusters) != rows.shape:
        raise ValueError(f"row clusters must have shape {rows.shape}, got {np.shape(row_clusters)}")
    if not (np.isfinite(rows).all() and np.isfinite(cols).all()):
        raise ValueError("values must be finite")
    var_rows, g = _cluster_variance(rows, np.asarray(row_clusters))
    var_cols = float(cols.var(ddof=1)) / cols.size if cols.size > 1 else float("inf")
    half = _t_quantile(level, min(g, cols.size) - 1) * float(np.sqrt(var_rows + var_cols))
    m = float(rows.mean())
    return m, m - half, m + half


def preference_wins(score_difference: np.ndarray) -> np.ndarray:
    """1 where the first of two documents scores higher (difference > 0), ½ on an exact tie, 0 otherwise.

    With the difference s(q, d_A) − s(q, d_B) for a document d_A and its translation d_B this is one
    comparison of the verdict's language preference (:mod:`xlalign.core.preference`).
    """
    d = np.asarray(score_difference)
    out: np.ndarray = (d > 0).astype(np.float64) + 0.5 * (d == 0)
    return out
