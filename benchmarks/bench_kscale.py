"""Scale in languages: the Multi scenario of k languages × n passages (every query language, so the whole
language-bias matrix), ranked by ``evaluate_embeddings``, against the GEMM floor.

    python benchmarks/bench_kscale.py [--ks 13,26,52,104] [--passages 900] [--dim 384]

Synthetic unit vectors (random, d = 384; random golds are the hard case for the fused scan: half the
pool scores above a random gold). For each k: k pools (one per query language) of k·n units and k
golds per query. The floor is the same k matrix products (n × d by d × k·n, in the same score-block
sized pieces) and nothing else. Time is process CPU time (both sides use the same threads; CPU time
is far less disturbed than wall time on a shared machine), best of ``repeat``. Peak memory is
tracemalloc's peak during the evaluation (numpy buffers; numba's small per-thread scratch not included).
The growth exponent is a least-squares fit of log(time) on log(k).
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from typing import Any

import numpy as np

from xlalign.core.corpus import ParallelCorpus
from xlalign.core.evaluate import CorpusEmbeddings, evaluate_embeddings
from xlalign.core.ranking import DEFAULT_BLOCK_ELEMENTS
from xlalign.specs import EvalSpec


def lang_codes(k: int) -> list[str]:
    return ["en"] + [f"x{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(k - 1)]


def synthetic(k: int, n: int, d: int, seed: int = 0) -> tuple[ParallelCorpus, CorpusEmbeddings]:
    langs = lang_codes(k)
    ids = tuple(f"i{j}" for j in range(n))
    corpus = ParallelCorpus("synthetic", ids, ids, ids, {x: tuple(f"p {x} {j}" for j in range(n)) for x in langs},
                            {x: tuple(f"q {x} {j}" for j in range(n)) for x in langs})
    rng = np.random.default_rng(seed)

    def unit(m: int) -> np.ndarray:
        x = rng.standard_normal((m, d)).astype(np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    return corpus, CorpusEmbeddings({x: unit(n) for x in langs}, {x: unit(n) for x in langs})


def gemm_floor(emb: CorpusEmbeddings, langs: list[str]) -> float:
    """CPU seconds of the k products query block × units, in score blocks of the ranker's size."""
    units = np.ascontiguousarray(np.vstack([emb.passages[x] for x in langs]))
    u = len(units)
    step = max(1, DEFAULT_BLOCK_ELEMENTS // u)
    block = np.empty((min(step, len(emb.queries[langs[0]])), u), dtype=np.float32)
    start = time.process_time()
    for x in langs:
        q = emb.queries[x]
        for s in range(0, len(q), step):
            np.matmul(q[s : s + step], units.T, out=block[: min(step, len(q) - s)])
    return time.process_time() - start


def one(k: int, n: int, d: int, repeat: int) -> dict[str, Any]:
    corpus, emb = synthetic(k, n, d)
    spec = EvalSpec(data="synthetic", langs=tuple(lang_codes(k)), scenarios=("multi",))
    floor, ours, wall = [], [], []
    peak = 0
    for r in range(repeat):
        floor.append(gemm_floor(emb, list(spec.langs)))
        if r == 0:
            tracemalloc.start()
        t0, w0 = time.process_time(), time.perf_counter()
        result = evaluate_embeddings(corpus, emb, spec)
        ours.append(time.process_time() - t0)
        wall.append(time.perf_counter() - w0)
        if r == 0:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    u = k * n
    block_rows = min(n, max(1, DEFAULT_BLOCK_ELEMENTS // u))
    return {"k": k, "n": n, "d": d, "units": u, "pools": len(result.pools), "matrix_cells": k * k,
            "floor_s": min(floor), "ours_s": min(ours), "wall_s": min(wall), "peak_mib": peak / 2**20,
            "block_mib": block_rows * u * 4 / 2**20, "units_mib": u * d * 4 / 2**20,
            "above_mib": n * 2 * k * 8 / 2**20, "per_query_rows": len(result.per_query)}


def fit_exponent(ks: list[int], seconds: list[float]) -> float:
    return float(np.polyfit(np.log(ks), np.log(seconds), 1)[0])


def run(ks: tuple[int, ...] = (13, 26, 52, 104), n: int = 900, d: int = 384, repeat: int = 2) -> dict[str, Any]:
    from xlalign.core.ranking import rank_golds

    rank_golds(np.eye(2, dtype=np.float32), np.eye(2, dtype=np.float32), np.ones(2, np.int64),
               np.zeros((2, 1), np.int64))  # compile / load the kernel outside the timings
    rows = [one(k, n, d, repeat) for k in ks]
    return {"rows": rows, "exp_ours": fit_exponent(list(ks), [r["ours_s"] for r in rows]),
            "exp_floor": fit_exponent(list(ks), [r["floor_s"] for r in rows]), "repeat": repeat}


def markdown(r: dict[str, Any]) -> str:
    lines = [f"Multi scenario, every query language (k pools of k·n units, k golds per query, the k × k matrix); "
             f"synthetic unit vectors, n = {r['rows'][0]['n']} passages per language, d = {r['rows'][0]['d']}; "
             f"process CPU seconds, best of {r['repeat']}; peak = tracemalloc peak of one evaluation.", "",
             "| languages k | units per pool | GEMM floor (CPU s) | xlalign `evaluate_embeddings` (CPU s) | × floor "
             "| wall s | peak MiB | of which: score block / pool embeddings / per-language counts kept (2k·n) |",
             "|---:|---:|---:|---:|---:|---:|---:|---|"]
    for x in r["rows"]:
        lines.append(f"| {x['k']} | {x['units']:,} | {x['floor_s']:.2f} | {x['ours_s']:.2f} | "
                     f"{x['ours_s'] / x['floor_s']:.2f} | {x['wall_s']:.1f} | {x['peak_mib']:.0f} | "
                     f"{x['block_mib']:.0f} / {x['units_mib']:.0f} / {x['above_mib']:.0f} |")
    big = r["rows"][-1]
    ratio = big["ours_s"] / big["floor_s"]
    lines += ["", f"Growth: time ∝ k^{r['exp_ours']:.2f} (floor k^{r['exp_floor']:.2f}; the work is k pools × k·n "
              "units, so k² is the floor's own exponent).",
              f"Target ≤ 1.5× the GEMM floor at k = {big['k']}: {ratio:.2f}× — {'met' if ratio <= 1.5 else 'NOT met'}."]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ks", default="13,26,52,104")
    ap.add_argument("--passages", type=int, default=900)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    print(markdown(run(tuple(int(x) for x in args.ks.split(",")), args.passages, args.dim, args.repeat)))


if __name__ == "__main__":
    main()
