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


@dataclass(frozen=True)
class RankResult:
    """Ranks and the scores behind them. L = number of distinct ``unit_lang`` codes."""

    ranks: np.ndarray  # (Q, G) int64, 1-based, tie policy above
    gold_scores: np.ndarray  # (Q, G) float32
    best_non_gold: np.ndarray  # (Q, L) float32: best score of a non-gold document per language, -inf if none
    best_non_gold_unit: np.ndarray  # (Q, L) int64: the unit holding it, -1 if none
    above: np.ndarray  # (Q, G, L) int64: non-gold documents of language l scoring strictly above gold g

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
    chunk_langs: np.ndarray, chunk_single: np.ndarray, lang_bit: np.ndarray, row_off: int, r0: int, r1: int,
    ranks: np.ndarray, gold_out: np.ndarray, best: np.ndarray, best_unit: np.ndarray, above: np.ndarray,
) -> None:
    """Fused pass over rows ``r0:r1`` of one score block (numba ``nopython``, GIL released).

    ``scores`` is rank_golds' scratch block and is overwritten: each row's gold units and removed
    unit are first read, then set to -inf, so that the sweep needs no per-document exclusion test;
    their contributions are added back exactly afterwards. ``keys`` is the same block viewed as int32.

    Per row, one sweep in stretches of at most ``_CHUNK`` units (L1-resident; ``chunk_bounds``,
    planned by :func:`_plan_chunks`):

    * counts: weighted number of documents strictly above each gold, branch-free, int32 per
      stretch (``_NARROW_MAX_WEIGHT``) or int64 (``wide``), summed in int64: exact;
    * best non-gold per language: max of a stretch as an integer max of order-preserving int32
      keys of the float32 bits (vectorises, unlike a float max without fast-math); a stretch of one
      language (``chunk_single``) takes one such pass, a mixed one first checks whether any score
      beats the lowest running best among its languages (``chunk_langs`` bit masks), and only
      then takes one pass per language present. The unit kept among equal scores is the first,
      as ``np.argmax`` does; NaN scores are never best; negative language codes are not tracked.

    Then the masked units are added back (golds above a gold, and the removed unit minus its
    removed copies), the tied-golds rule applies, and a partly removed unit competes for best.

    ``above[row, j, c]`` splits the non-gold part of gold j's count by language: a one-language
    stretch adds its count to its language; a mixed stretch (rare: pools group units by language)
    adds per unit.

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
    cntl = np.empty((n_g, n_l), np.int64)
    before_j = np.empty(n_g, np.int64)
    bl = np.empty(n_l, np.float32)
    blk = np.empty(n_l, np.int32)  # keys of bl
    bu = np.empty(n_l, np.int64)
    for i in range(r0, r1):
        s = scores[i]
        kb = keys[i]
        r = rem[i]
        for j in range(n_g):
            gs[j] = s[gold[i, j]]
            cnt[j] = 0
            for c in range(n_l):
                cntl[j, c] = 0
        s_rem = s[r] if r >= 0 else neg_inf
        for j in range(n_g):
            s[gold[i, j]] = neg_inf
        if r >= 0:
            s[r] = neg_inf
        for c in range(n_l):
            bl[c] = neg_inf
            blk[c] = neg_inf_key
            bu[c] = -1
        for k in range(chunk_single.shape[0]):
            c0 = chunk_bounds[k]
            # Views of the stretch, indexed from 0: numba then knows every index is ≥ 0, drops its
            # negative-index wraparound, and the loops below vectorise.
            sv = s[c0 : chunk_bounds[k + 1]]
            kv = kb[c0 : chunk_bounds[k + 1]]
            wv = weight[c0 : chunk_bounds[k + 1]]
            lv = lang[c0 : chunk_bounds[k + 1]]
            n = sv.shape[0]
            for j in range(n_g):
                before_j[j] = cnt[j]
            for j in range(n_g):
                g = gs[j]
                if unweighted:
                    a = np.int32(0)
                    for x in range(n):
                        a = np.int32(a + np.int32(sv[x] > g))
                    cnt[j] += a
                elif wide:
                    a64 = 0
                    for x in range(n):
                        a64 += wv[x] * (sv[x] > g)
                    cnt[j] += a64
                else:
                    a = np.int32(0)
                    for x in range(n):
                        a = np.int32(a + wv[x] * np.int32(sv[x] > g))
                    cnt[j] += a
                if chunk_single[k] >= 0:
                    cntl[j, chunk_single[k]] += cnt[j] - before_j[j]
                else:
                    for x in range(n):
                        if lv[x] >= 0 and sv[x] > g:
                            cntl[j, lv[x]] += wv[x]
            one = chunk_single[k]
            present = chunk_langs[k]
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
        row = row_off + i
        for j in range(n_g):
            n_above = cnt[j]
            for h in range(n_g):  # golds above gold j, each unit once
                unique = True
                for h2 in range(h):
                    if gold[i, h2] == gold[i, h]:
                        unique = False
                if unique and gs[h] > gs[j]:
                    n_above += weight[gold[i, h]]
                    if gold[i, h] == r:
                        n_above -= rem_n[i]  # the removed copies are not in the pool
            if r >= 0 and s_rem > gs[j]:
                is_gold = False
                for h in range(n_g):
                    if gold[i, h] == r:
                        is_gold = True
                if not is_gold:
                    n_above += weight[r] - rem_n[i]
                    if lang[r] >= 0:
                        cntl[j, lang[r]] += weight[r] - rem_n[i]
            for h in range(j):
                if gs[h] == gs[j]:
                    n_above += 1  # tied golds take consecutive positions, in gold order
            ranks[row, j] = 1 + n_above
            gold_out[row, j] = gs[j]
            for c in range(n_l):
                above[row, j, c] = cntl[j, c]
        if r >= 0 and not rem_gone[i] and lang[r] >= 0:  # a partly removed unit still competes
            is_gold = False
            for h in range(n_g):
                if gold[i, h] == r:
                    is_gold = True
            c = lang[r]
            if not is_gold and (s_rem > bl[c] or (s_rem == bl[c] and bu[c] >= 0 and r < bu[c])):
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


def rank_golds(
    query_emb: np.ndarray,
    unit_emb: np.ndarray,
    unit_weight: np.ndarray,
    gold_units: np.ndarray,
    removed_unit: np.ndarray | None = None,
    unit_lang: np.ndarray | None = None,
    *,
    removed_count: np.ndarray | None = None,
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
        block_elements: bound on the Q_block × U score block held in memory.

    One BLAS product per block of queries, then one fused compiled pass over the block (see
    ``_scan_rows``): counts are exact integers, whatever the pool size. Thread-safe.
    Memory is O(block_elements + U); time O(Q·U·(d + G)).
    """
    q, u = query_emb.shape[0], unit_emb.shape[0]
    removed_unit, removed_count, lang = _checked(query_emb, unit_emb, unit_weight, gold_units, removed_unit,
                                                 removed_count, unit_lang)
    has = removed_unit >= 0
    n_lang = int(lang.max()) + 1
    g = gold_units.shape[1]
    ranks = np.empty((q, g), dtype=np.int64)
    gold_out = np.empty((q, g), dtype=np.float32)
    best = np.empty((q, n_lang), dtype=np.float32)  # every row is written by the kernel
    best_unit = np.empty((q, n_lang), dtype=np.int64)
    above = np.empty((q, g, n_lang), dtype=np.int64)
    if q == 0:
        return RankResult(ranks, gold_out, best, best_unit, above)

    per_unit, per_query = _kernel_arrays(unit_weight, lang, n_lang, gold_units, removed_unit, removed_count, has)
    step = max(1, block_elements // u)
    qe = np.ascontiguousarray(query_emb, dtype=np.float32)
    ue = np.ascontiguousarray(unit_emb, dtype=np.float32)
    scores = np.empty((min(step, q), u), dtype=np.float32)  # the one score block, reused
    outputs = (ranks, gold_out, best, best_unit, above)
    for start in range(0, q, step):
        stop = min(q, start + step)
        block = scores[: stop - start]
        np.matmul(qe[start:stop], ue.T, out=block)
        args = (block, block.view(np.int32), *(a[start:stop] for a in per_query), *per_unit)
        _scan_block(stop - start, u, args, outputs, start)
    return RankResult(ranks, gold_out, best, best_unit, above)
