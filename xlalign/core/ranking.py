"""Exact ranks of every gold document, by blocked matrix products.

Tie policy (used everywhere in xlalign)
---------------------------------------
Scores are inner products of L2-normalised embeddings (cosine). The ranked list orders documents
by descending score; among equal scores, gold documents come before non-gold ones, and gold
documents among themselves keep their gold order. Hence the rank (1-based position) of gold ``g``:

    rank_g = 1 + #{docs d ∉ gold : s_d > s_g} + #{gold h : s_h > s_g or (s_h = s_g and h < g)}

which is "1 + number of documents scoring strictly higher", made distinct between tied golds so
that two golds never share a position (Max@R ≥ |R| and NDCG ≤ 1 hold). Copies of one passage
(``per-question`` pools) score exactly alike, since each distinct text is scored once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Scores held in memory at once by :func:`rank_golds` (float32 elements; 32 Mi ≈ 128 MB).
DEFAULT_BLOCK_ELEMENTS = 1 << 25

#: Units per chunk of a score row in the fused scan: 4 KB of scores, L1-resident while every gold
#: and the per-language maxima are checked against it. Per-chunk counts are int32, so weights up to
#: ``_NARROW_MAX_WEIGHT`` are summed exactly in 32 bits; heavier pools take an int64 path.
_CHUNK = 1024
#: Stretches are cut where the language changes when language runs average at least this many units
#: (pools group units by language: 100 languages × 900 passages must give one-language stretches,
#: whose counts and maxima vectorise, not 1024-unit stretches straddling two languages).
_MIN_RUN = 64
_NARROW_MAX_WEIGHT = (2**31 - 1) // _CHUNK
#: Below this many scores in a block the scan runs on the calling thread only: a helper thread
#: would mostly compete with BLAS's own threads, which keep spinning for a while after the product.
_MIN_PARALLEL_ELEMENTS = 1 << 22
#: Scores per run of rows handed to a scan thread (≈ 1 ms of work).
_RUN_ELEMENTS = 1 << 20
#: From this many golds per query on, a row's counts come from one histogram pass over its scores instead of
#: one dense pass per gold (both exact). Measured (2-core AMD EPYC, AVX512, shared; one Multi pool of k
#: languages × 900 random unit vectors, d = 384, 900 queries, ``rank_golds`` CPU s, best of 4–5, both paths
#: forced): k = 26: 0.22–0.25 dense / 0.22–0.26 histogram; k = 52: 0.49–0.54 / 0.51–0.52; k = 78: 0.81 / 0.73;
#: k = 104: 1.17–1.25 / 1.03. A wash up to about 52 golds, then the histogram wins.
_HIST_MIN_GOLDS = 64
#: Bins of that histogram: at most this many, about one per 8 units below (zeroing and summing them per row
#: must stay small beside the pass over the units).
_HIST_BINS = 8192


@dataclass(frozen=True)
class RankResult:
    """Ranks and the scores behind them. L = number of distinct ``unit_lang`` codes.

    Of the per-language counts "non-gold documents of language l scoring strictly above gold g" (a (Q, G, L)
    table, k³·n entries over the k pools of a k-language evaluation) two slices are kept, the ones the rates
    read: language ``count_lang`` above every gold (the query language's documents above each gold:
    clustering) and every language above gold ``count_gold`` (each language's documents above the
    query-language gold: inclination). :meth:`above` reads either.
    """

    ranks: np.ndarray  # (Q, G) int64, 1-based, tie policy above
    gold_scores: np.ndarray  # (Q, G) float32
    best_non_gold: np.ndarray  # (Q, L) float32: best score of a non-gold document per language, -inf if none
    best_non_gold_unit: np.ndarray  # (Q, L) int64: the unit holding it, -1 if none
    lang_above: np.ndarray  # (Q, G) int64: non-gold documents of language count_lang strictly above gold g
    gold_above: np.ndarray  # (Q, L) int64: non-gold documents of language l strictly above gold count_gold
    count_lang: int = 0
    count_gold: int = 0

    def above(self, gold: int, lang: int) -> np.ndarray:
        """(Q,) non-gold documents of language ``lang`` scoring strictly above gold ``gold`` (removed copies out),
        from whichever kept slice holds them; a ValueError when neither does (rank again with ``count_lang`` or
        ``count_gold`` set)."""
        if lang == self.count_lang and 0 <= gold < self.lang_above.shape[1]:
            out: np.ndarray = self.lang_above[:, gold]
            return out
        if gold == self.count_gold and 0 <= lang < self.gold_above.shape[1]:
            out = self.gold_above[:, lang]
            return out
        raise ValueError(f"counts of language {lang} above gold {gold} were not kept (count_lang={self.count_lang}, "
                         f"count_gold={self.count_gold})")

    def top1_units(self, gold_units: np.ndarray) -> np.ndarray:
        """(Q,) the first-ranked unit: the best gold when a gold ranks first (ties go to golds), else
        the best non-gold document of any language."""
        lang = np.argmax(self.best_non_gold, axis=1)
        rows = np.arange(len(lang))
        best_gold = gold_units[rows, np.argmin(self.ranks, axis=1)]
        top: np.ndarray = np.where(self.ranks.min(axis=1) == 1, best_gold, self.best_non_gold_unit[rows, lang])
        return top


def _scan_rows(  # pragma: no cover - compiled by numba; long: a numba kernel, one fused pass over each row
    scores: np.ndarray, keys: np.ndarray, gold: np.ndarray, rem: np.ndarray, rem_n: np.ndarray, rem_gone: np.ndarray,
    weight: np.ndarray, unweighted: bool, wide: bool, lang: np.ndarray, chunk_bounds: np.ndarray,
    chunk_langs: np.ndarray, chunk_single: np.ndarray, lang_bit: np.ndarray, own: int, row_gold: int, n_bins: int,
    row_off: int, r0: int, r1: int,
    ranks: np.ndarray, gold_out: np.ndarray, best: np.ndarray, best_unit: np.ndarray, lang_above: np.ndarray,
    gold_above: np.ndarray,
) -> None:
    """Fused pass over rows ``r0:r1`` of one score block (numba ``nopython``, GIL released).

    ``scores`` is rank_golds' scratch block and is overwritten: each row's gold units and removed
    unit are first read, then set to -inf, so that the sweep needs no per-document exclusion test;
    their contributions are added back exactly afterwards. ``keys`` is the same block viewed as int32.

    Per row, one sweep in stretches of at most ``_CHUNK`` units (L1-resident; ``chunk_bounds``,
    planned by :func:`_plan_chunks`):

    * counts: weighted number of documents strictly above each gold, exact integers, one of two ways:

      - dense (``n_bins == 0``): per gold, a branch-free count over the stretch, int32 per stretch
        (``_NARROW_MAX_WEIGHT``) or int64 (``wide``), summed in int64 — G passes over the stretch;
      - histogram (``n_bins > 0``, many golds): each score gets a bin by one monotone float32 map of
        [lowest gold, highest gold] onto ``1..n_bins`` (0 below or NaN, ``n_bins + 1`` above every gold),
        the bins are counted, and the count above gold g is the documents in higher bins (suffix sums)
        plus the documents of g's own bin that score above g, compared exactly (a linked list per bin
        of the golds in it). A monotone map never puts a lower score in a higher bin, so the count is
        exact; one pass over the stretch instead of G. A row whose gold scores are not finite, or whose
        span is too small to bin, is counted densely;

    * best non-gold per language: max of a stretch as an integer max of order-preserving int32
      keys of the float32 bits (vectorises, unlike a float max without fast-math); a stretch of one
      language (``chunk_single``) takes one such pass, a mixed one first checks whether any score
      beats the lowest running best among its languages (``chunk_langs`` bit masks), and only
      then takes one pass per language present. The unit kept among equal scores is the first,
      as ``np.argmax`` does; NaN scores are never best; negative language codes are not tracked.

    Then the masked units are added back (golds above a gold, and the removed unit minus its
    removed copies), the tied-golds rule applies, and a partly removed unit competes for best.

    Per-language splits of the counts, only the two slices kept (:class:`RankResult`):
    ``lang_above[row, j]``, the non-gold documents of language ``own`` above gold j, and
    ``gold_above[row, c]``, those of language c above gold ``row_gold``. A one-language stretch adds its
    count to its language; a mixed stretch (rare: pools group units by language) adds per unit. The
    histogram path still counts densely, but only gold ``row_gold`` everywhere and every gold on the
    ``own`` language's stretches (1/L of the pool).

    Long on purpose: numba compiles this as one fused kernel, and the per-element loops must stay
    inline (a call per stretch or per gold would cost more than the comparison it wraps).
    """
    n_g = gold.shape[1]
    n_l = best.shape[1]
    neg_inf = np.float32(-np.inf)
    key_min = np.int32(-2147483648)
    low31 = np.int32(0x7FFFFFFF)
    neg_inf_key = np.int32(-2139095041)  # key of -inf: bits 0xFF800000 ^ 0x7FFFFFFF
    pos_inf_key = np.int32(0x7F800000)  # key of +inf: its bits
    gs = np.empty(n_g, np.float32)
    cnt = np.empty(n_g, np.int64)
    own_c = np.empty(n_g, np.int64)
    gold_w = np.empty(n_g, np.int64)
    row_c = np.empty(n_l, np.int64)
    bl = np.empty(n_l, np.float32)
    blk = np.empty(n_l, np.int32)  # keys of bl
    bu = np.empty(n_l, np.int64)
    longest = 0
    for k in range(chunk_single.shape[0]):
        longest = max(longest, chunk_bounds[k + 1] - chunk_bounds[k])
    bins = np.empty(longest if n_bins > 0 else 0, np.int32)
    hist = np.zeros(n_bins + 2, np.int64)
    first_gold = np.full(n_bins + 2, -1, np.int32)  # per bin, a linked list of its golds (next_gold)
    next_gold = np.empty(n_g, np.int32)
    gold_bin = np.empty(n_g, np.int32)
    exact = np.empty(n_g, np.int64)  # documents in the gold's own bin scoring above it
    top_bin = np.int32(n_bins + 1)
    last_in = np.float32(n_bins - 1)
    for i in range(r0, r1):
        s = scores[i]
        kb = keys[i]
        r = rem[i]
        for j in range(n_g):
            gs[j] = s[gold[i, j]]
            cnt[j] = 0
            own_c[j] = 0
        for c in range(n_l):
            row_c[c] = 0
        s_rem = s[r] if r >= 0 else neg_inf
        for j in range(n_g):
            s[gold[i, j]] = neg_inf
        if r >= 0:
            s[r] = neg_inf
        for c in range(n_l):
            bl[c] = neg_inf
            blk[c] = neg_inf_key
            bu[c] = -1
        binned = n_bins > 0 and n_g > 0
        g_lo = np.float32(np.inf)
        g_hi = np.float32(-np.inf)
        scale = np.float32(0)
        if binned:
            for j in range(n_g):
                if not np.isfinite(gs[j]):
                    binned = False
                g_lo = min(g_lo, gs[j])
                g_hi = max(g_hi, gs[j])
        if binned:
            span = np.float32(g_hi - g_lo)
            if span > 0 and np.isfinite(span):
                scale = np.float32(n_bins / np.float64(span))
            binned = span > 0 and np.isfinite(span) and np.isfinite(scale)
        if binned:
            for b in range(n_bins + 2):
                hist[b] = 0
            for j in range(n_g):  # the golds' bins, by the same map as the documents' below
                gb = np.int32(np.int32(1) + np.int32(min((gs[j] - g_lo) * scale, last_in)))
                gold_bin[j] = gb
                next_gold[j] = first_gold[gb]
                first_gold[gb] = j
                exact[j] = 0
        for k in range(chunk_single.shape[0]):
            c0 = chunk_bounds[k]
            # Views of the stretch, indexed from 0: numba then knows every index is ≥ 0, drops its
            # negative-index wraparound, and the loops below vectorise.
            sv = s[c0 : chunk_bounds[k + 1]]
            kv = kb[c0 : chunk_bounds[k + 1]]
            wv = weight[c0 : chunk_bounds[k + 1]]
            lv = lang[c0 : chunk_bounds[k + 1]]
            n = sv.shape[0]
            one = chunk_single[k]
            present = chunk_langs[k]
            if binned:
                for x in range(n):  # the bin of every score, branch-free (vectorises)
                    inside = sv[x] > g_lo  # false for NaN
                    t = min((sv[x] - g_lo) * scale if inside else np.float32(0), last_in)
                    bx = np.int32(np.int32(np.int32(1) + np.int32(t)) * np.int32(inside))
                    bins[x] = max(bx, np.int32(top_bin * np.int32(sv[x] > g_hi)))
                for x in range(n):
                    bx = bins[x]
                    hist[bx] += wv[x]
                    h = first_gold[bx]
                    while h >= 0:
                        if sv[x] > gs[h]:
                            exact[h] += wv[x]
                        h = next_gold[h]
            own_here = own >= 0 and (one == own or (one < 0 and (present & lang_bit[own]) != 0))
            for j in range(n_g):
                if binned and j != row_gold and not own_here:
                    continue  # the total comes from the histogram; no split of this gold's count needed here
                g = gs[j]
                if unweighted:
                    a = np.int32(0)
                    for x in range(n):
                        a = np.int32(a + np.int32(sv[x] > g))
                    a64 = np.int64(a)
                elif wide:
                    a64 = np.int64(0)
                    for x in range(n):
                        a64 += wv[x] * (sv[x] > g)
                else:
                    a = np.int32(0)
                    for x in range(n):
                        a = np.int32(a + wv[x] * np.int32(sv[x] > g))
                    a64 = np.int64(a)
                if not binned:
                    cnt[j] += a64
                if one >= 0:
                    if one == own:
                        own_c[j] += a64
                    if j == row_gold:
                        row_c[one] += a64
                else:
                    for x in range(n):
                        if lv[x] >= 0 and sv[x] > g:
                            if lv[x] == own:
                                own_c[j] += wv[x]
                            if j == row_gold:
                                row_c[lv[x]] += wv[x]
            if one < 0:
                thr = np.float32(np.inf)
                for c in range(n_l):
                    if (present & lang_bit[c]) != 0 and bl[c] < thr:
                        thr = bl[c]
                if thr > neg_inf:  # else some language present has no best yet: no need to look
                    hit = np.int32(0)
                    for x in range(n):
                        hit = np.int32(hit | np.int32(sv[x] > thr))
                    if hit == 0:
                        continue
            for c in range(one if one >= 0 else 0, one + 1 if one >= 0 else n_l):
                if one < 0 and (present & lang_bit[c]) == 0:
                    continue
                c32 = np.int32(c)
                # Largest key of language c in the stretch, then its first offset (int32 throughout,
                # branch-free: these loops vectorise). Keys above +inf's are NaNs: never best.
                top = key_min
                if one >= 0:
                    for x in range(n):
                        kx = np.int32(kv[x] ^ ((kv[x] >> np.int32(31)) & low31))
                        top = max(top, kx if kx <= pos_inf_key else key_min)
                else:
                    for x in range(n):
                        kx = np.int32(kv[x] ^ ((kv[x] >> np.int32(31)) & low31))
                        top = max(top, kx if (kx <= pos_inf_key) & (lv[x] == c32) else key_min)
                if top <= blk[c]:  # key order is float order, but -0.0 < 0.0
                    continue
                n32 = np.int32(n)
                off = n32
                if one >= 0:
                    for x in range(n):
                        kx = np.int32(kv[x] ^ ((kv[x] >> np.int32(31)) & low31))
                        off = min(off, np.int32(x) if kx == top else n32)
                else:
                    for x in range(n):
                        kx = np.int32(kv[x] ^ ((kv[x] >> np.int32(31)) & low31))
                        off = min(off, np.int32(x) if (kx == top) & (lv[x] == c32) else n32)
                v = sv[off]
                if v > bl[c]:
                    if v == 0:  # -0.0 == 0.0: keep the first of either
                        for y in range(off):
                            if lv[y] == c and sv[y] == v:
                                off = np.int32(y)
                                break
                    bl[c] = v
                    blk[c] = top
                    bu[c] = c0 + off
        if binned:  # count above gold j = documents in higher bins + those of its bin above it
            acc = np.int64(0)
            for b in range(n_bins + 1, -1, -1):
                acc += hist[b]
                hist[b] = acc
            for j in range(n_g):
                cnt[j] = hist[gold_bin[j] + 1] + exact[j]
                first_gold[gold_bin[j]] = -1
        row = row_off + i
        r_is_gold = False
        for h in range(n_g):  # what each gold adds to the golds below it: its documents, each unit once
            unique = True
            for h2 in range(h):
                if gold[i, h2] == gold[i, h]:
                    unique = False
            gold_w[h] = 0
            if unique:
                gold_w[h] = weight[gold[i, h]]
                if gold[i, h] == r:
                    r_is_gold = True
                    gold_w[h] -= rem_n[i]  # the removed copies are not in the pool
        for j in range(n_g):
            n_above = cnt[j]
            for h in range(n_g):  # golds above gold j (O(G²) per row, branch-free: G is 100 with 100 languages)
                n_above += gold_w[h] * (gs[h] > gs[j])
            if r >= 0 and s_rem > gs[j] and not r_is_gold:
                n_above += weight[r] - rem_n[i]
                if lang[r] == own:
                    own_c[j] += weight[r] - rem_n[i]
                if j == row_gold and lang[r] >= 0:
                    row_c[lang[r]] += weight[r] - rem_n[i]
            for h in range(j):
                if gs[h] == gs[j]:
                    n_above += 1  # tied golds take consecutive positions, in gold order
            ranks[row, j] = 1 + n_above
            gold_out[row, j] = gs[j]
            lang_above[row, j] = own_c[j]
        for c in range(n_l):
            gold_above[row, c] = row_c[c]
        if r >= 0 and not rem_gone[i] and lang[r] >= 0:  # a partly removed unit still competes
            c = lang[r]
            if not r_is_gold and (s_rem > bl[c] or (s_rem == bl[c] and bu[c] >= 0 and r < bu[c])):
                bl[c] = s_rem
                bu[c] = r
        for c in range(n_l):
            best[row, c] = bl[c]
            best_unit[row, c] = bu[c] if np.isfinite(bl[c]) else -1


def _plan_chunks(  # pragma: no cover - compiled by numba
    lang: np.ndarray, n_lang: int, chunk: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stretches of units the kernel scans at once: ``(bounds, single, present, lang_bit)``.

    At most ``chunk`` units each and, when language runs average ``_MIN_RUN`` units or more (units
    grouped by language, as pools are), cut where the language changes, so that most stretches hold one language: one max
    pass instead of one per language. ``single[k]``: the one language of stretch k, or -1;
    ``present[k]``: bit mask of its languages (every bit when there are more than 64), to be
    and-ed with ``lang_bit[c]`` (bit c, or every bit when there are more than 64).
    """
    u = lang.shape[0]
    changes = 0
    for x in range(1, u):
        if lang[x] != lang[x - 1]:
            changes += 1
    split = changes <= max(16, u // _MIN_RUN)
    bounds = np.empty(u // chunk + (changes + 2 if split else 2), np.int64)
    n = 0
    x = 0
    while x < u:
        end = min(u, x + chunk)
        if split:
            for y in range(x + 1, end):
                if lang[y] != lang[x]:
                    end = y
                    break
        bounds[n] = x
        n += 1
        x = end
    bounds[n] = u
    single = np.empty(n, np.int32)
    present = np.empty(n, np.uint64)
    for k in range(n):
        lo = lang[bounds[k]]
        hi = lo
        mask = np.uint64(0)
        for x in range(bounds[k], bounds[k + 1]):
            c = lang[x]
            lo = min(lo, c)
            hi = max(hi, c)
            if 0 <= c < 64:
                mask |= np.uint64(1) << np.uint64(c)
        single[k] = lo if lo == hi and lo >= 0 else -1
        present[k] = mask if n_lang <= 64 else ~np.uint64(0)
    lang_bit = np.empty(max(n_lang, 0), np.uint64)
    for c in range(lang_bit.shape[0]):
        lang_bit[c] = np.uint64(1) << np.uint64(c) if n_lang <= 64 else ~np.uint64(0)
    return bounds[: n + 1], single, present, lang_bit


_KERNELS: tuple[Callable[..., None], Callable[..., tuple[np.ndarray, ...]]] | None = None
_KERNEL_LOCK = threading.Lock()


def _kernels() -> tuple[Callable[..., None], Callable[..., tuple[np.ndarray, ...]]]:
    """``(_scan_rows, _plan_chunks)`` compiled, on first use (numba is imported lazily; ``cache=True``
    stores the machine code next to this module, so later processes load it instead of compiling).

    ``nogil=True`` and no ``parallel=True``: numba's default ``workqueue`` threading layer aborts the
    process on concurrent parallel launches (from this module or any other numba user, e.g. umap), and
    the web app ranks from several threads at once. :func:`_scan_block` parallelises with plain
    threads instead, each running the kernel on its own rows.
    """
    global _KERNELS
    with _KERNEL_LOCK:
        if _KERNELS is None:
            import numba

            def jit(f: Callable[..., Any]) -> Callable[..., Any]:
                try:
                    return numba.njit(cache=True, nogil=True)(f)
                except RuntimeError:  # no writable cache location (read-only install, no home)
                    return numba.njit(cache=False, nogil=True)(f)

            _KERNELS = (jit(_scan_rows), jit(_plan_chunks))
        return _KERNELS


def _n_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


_POOL: tuple[int, ThreadPoolExecutor] | None = None  # (pid, helpers), one per process
_POOL_LOCK = threading.Lock()


def _helpers(n: int) -> ThreadPoolExecutor:
    """Process-wide helper threads for the scan (made again after a fork: threads do not survive it)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL[0] != os.getpid():
            _POOL = (os.getpid(), ThreadPoolExecutor(max_workers=n, thread_name_prefix="xlalign-rank"))
        return _POOL[1]


def _scan_block(block_rows: int, n_units: int, args: tuple[Any, ...], outputs: tuple[np.ndarray, ...],
                row_off: int) -> None:
    """Run the kernel over ``block_rows`` rows: on the calling thread, helped for large blocks.

    Rows are handed out in small runs from a shared counter: the calling thread takes runs until none
    are left, and so do helper tasks (one per other CPU, from a pool shared by every caller) for as
    long as they get to run. A helper that has not started when the rows run out is cancelled, so a
    busy machine or many concurrent callers never leave a call waiting on a thread that is elsewhere.
    Runs write disjoint output rows; the kernel releases the GIL.
    """
    kernel = _kernels()[0]
    n = min(_n_threads(), block_rows)
    if n <= 1 or block_rows * n_units < _MIN_PARALLEL_ELEMENTS:
        kernel(*args, row_off, 0, block_rows, *outputs)
        return
    run = max(1, min(-(-block_rows // (2 * n)), _RUN_ELEMENTS // n_units))
    lock = threading.Lock()
    next_row = [0]

    def work() -> None:
        while True:
            with lock:
                r0 = next_row[0]
                next_row[0] = r0 + run
            if r0 >= block_rows:
                return
            kernel(*args, row_off, r0, min(block_rows, r0 + run), *outputs)

    pool = _helpers(_n_threads() - 1)
    futures = [pool.submit(work) for _ in range(n - 1)]
    try:
        work()
    finally:
        for f in futures:
            if not f.cancel():
                f.result()


def _checked(query_emb: np.ndarray, unit_emb: np.ndarray, unit_weight: np.ndarray, gold_units: np.ndarray,
             removed_unit: np.ndarray | None, removed_count: np.ndarray | None, unit_lang: np.ndarray | None,
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate :func:`rank_golds`' inputs (a ValueError naming the bad one); return removed units,
    removed counts and integer language codes with their defaults filled in."""
    q, d = query_emb.shape
    u = unit_emb.shape[0]
    if u == 0:
        raise ValueError("empty document pool")
    if unit_emb.shape[1] != d:
        raise ValueError(f"query dim {d} != document dim {unit_emb.shape[1]}")
    if unit_weight.shape != (u,):
        raise ValueError(f"unit_weight has shape {unit_weight.shape}, expected ({u},)")
    if (unit_weight < 1).any():
        raise ValueError("unit weights must be ≥ 1")
    if gold_units.ndim != 2 or gold_units.shape[0] != q:
        raise ValueError(f"gold_units has shape {gold_units.shape}, expected ({q}, G)")
    if gold_units.size and (gold_units.min() < 0 or gold_units.max() >= u):
        raise ValueError("gold unit index out of range")
    if removed_unit is None:
        removed_unit = np.full(q, -1, dtype=np.int64)
    if removed_unit.shape != (q,):
        raise ValueError(f"removed_unit has shape {removed_unit.shape}, expected ({q},)")
    if removed_count is None:
        removed_count = (removed_unit >= 0).astype(np.int64)
    if removed_count.shape != (q,):
        raise ValueError(f"removed_count has shape {removed_count.shape}, expected ({q},)")
    has = removed_unit >= 0
    if (removed_count[has] > unit_weight[removed_unit[has]]).any() or (removed_count[has] < 1).any():
        raise ValueError("removed_count must be between 1 and the unit's weight")
    lang = np.zeros(u, dtype=np.int64) if unit_lang is None else np.asarray(unit_lang, dtype=np.int64)
    if lang.shape != (u,):
        raise ValueError(f"unit_lang has shape {lang.shape}, expected ({u},)")
    return removed_unit, removed_count, lang


def _kernel_arrays(unit_weight: np.ndarray, lang: np.ndarray, n_lang: int, gold_units: np.ndarray,
                   removed_unit: np.ndarray, removed_count: np.ndarray, has: np.ndarray
                   ) -> tuple[tuple[Any, ...], tuple[np.ndarray, ...]]:
    """The kernel's O(U) side arguments (weights, languages, chunks) and its per-query arrays (gold units,
    removed unit, removed count, whether that text is gone from the pool), in ``_scan_rows``' order."""
    max_w = int(unit_weight.max())
    wide = max_w > _NARROW_MAX_WEIGHT
    weight = unit_weight.astype(np.int64 if wide else np.int32)
    unweighted = max_w == 1
    lang32 = lang.astype(np.int32)
    chunk_bounds, chunk_single, chunk_langs, lang_bit = _kernels()[1](lang32, n_lang, _CHUNK)
    gold_all = np.ascontiguousarray(gold_units, dtype=np.int64)
    rem_all = np.ascontiguousarray(removed_unit, dtype=np.int64)
    rem_n_all = np.ascontiguousarray(removed_count, dtype=np.int64)
    gone_all = has & (unit_weight[np.maximum(rem_all, 0)] <= rem_n_all)
    per_unit = (weight, unweighted, wide, lang32, chunk_bounds, chunk_langs, chunk_single, lang_bit)
    return per_unit, (gold_all, rem_all, rem_n_all, gone_all)


def _histogram_bins(n_units: int, n_golds: int) -> int:
    """Bins of the kernel's histogram count, or 0 for the dense count (few golds)."""
    return min(_HIST_BINS, max(64, n_units // 8)) if n_golds >= _HIST_MIN_GOLDS else 0


def _check_kept(count_lang: int, count_gold: int, n_lang: int, n_gold: int) -> None:
    """A ValueError unless ``count_lang`` is a language code and ``count_gold`` a gold of the pool."""
    if not 0 <= count_lang < n_lang:
        raise ValueError(f"count_lang {count_lang} is not a language code of this pool (0..{n_lang - 1})")
    if n_gold and not 0 <= count_gold < n_gold:
        raise ValueError(f"count_gold {count_gold} is not a gold of this pool (0..{n_gold - 1})")


def _outputs(q: int, g: int, n_lang: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The kernel's outputs, every row of which it writes, in :class:`RankResult`'s order: ranks, gold scores,
    best non-gold score and unit per language, the two kept count slices."""
    return (np.empty((q, g), dtype=np.int64), np.empty((q, g), dtype=np.float32),
            np.empty((q, n_lang), dtype=np.float32), np.empty((q, n_lang), dtype=np.int64),
            np.empty((q, g), dtype=np.int64), np.empty((q, n_lang), dtype=np.int64))


def rank_golds(
    query_emb: np.ndarray,
    unit_emb: np.ndarray,
    unit_weight: np.ndarray,
    gold_units: np.ndarray,
    removed_unit: np.ndarray | None = None,
    unit_lang: np.ndarray | None = None,
    *,
    removed_count: np.ndarray | None = None,
    count_lang: int = 0,
    count_gold: int = 0,
    block_elements: int = DEFAULT_BLOCK_ELEMENTS,
) -> RankResult:
    """Rank of every gold document under the tie policy above, without sorting.

    Args:
        query_emb: (Q, d) query embeddings.
        unit_emb: (U, d) embeddings of the distinct document texts.
        unit_weight: (U,) number of pool documents carrying each text.
        gold_units: (Q, G) unit of each gold document.
        removed_unit: (Q,) copies of this unit are not in query q's pool, or -1.
        removed_count: (Q,) how many copies of ``removed_unit`` are gone (default 1 where set).
        unit_lang: (U,) integer language code 0..L-1 of each unit (for ``best_non_gold``);
            None puts every unit in one language.
        count_lang: the language whose non-gold documents above every gold are counted
            (``RankResult.lang_above``; the query language of a Multi pool).
        count_gold: the gold above which every language's non-gold documents are counted
            (``RankResult.gold_above``; gold 0, the query-language gold of a Multi pool).
        block_elements: bound on the Q_block × U score block held in memory.

    One BLAS product per block of queries, then one fused compiled pass over the block (see
    ``_scan_rows``): counts are exact integers, whatever the pool size. Thread-safe.
    Memory is O(block_elements + U + Q·(G + L)); time O(Q·U·d) for the products, plus O(Q·U·G) for the
    counts with few golds, O(Q·U) with many (``_HIST_MIN_GOLDS``).
    """
    q, u = query_emb.shape[0], unit_emb.shape[0]
    removed_unit, removed_count, lang = _checked(query_emb, unit_emb, unit_weight, gold_units, removed_unit,
                                                 removed_count, unit_lang)
    has = removed_unit >= 0
    n_lang = int(lang.max()) + 1
    g = gold_units.shape[1]
    _check_kept(count_lang, count_gold, n_lang, g)
    outputs = _outputs(q, g, n_lang)
    if q == 0:
        return RankResult(*outputs, count_lang=count_lang, count_gold=count_gold)

    per_unit, per_query = _kernel_arrays(unit_weight, lang, n_lang, gold_units, removed_unit, removed_count, has)
    per_unit += (count_lang, count_gold, _histogram_bins(u, g))
    step = max(1, block_elements // u)
    qe = np.ascontiguousarray(query_emb, dtype=np.float32)
    ue = np.ascontiguousarray(unit_emb, dtype=np.float32)
    scores = np.empty((min(step, q), u), dtype=np.float32)  # the one score block, reused
    for start in range(0, q, step):
        stop = min(q, start + step)
        block = scores[: stop - start]
        np.matmul(qe[start:stop], ue.T, out=block)
        args = (block, block.view(np.int32), *(a[start:stop] for a in per_query), *per_unit)
        _scan_block(stop - start, u, args, outputs, start)
    return RankResult(*outputs, count_lang=count_lang, count_gold=count_gold)
