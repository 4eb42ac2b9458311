"""Neighbourhoods at scale, with faiss: bitext mining and purity for 100 languages × 1,000 sentences against a
numpy brute force, a user's index over 1M vectors in bounded memory, and the new views' cost on the demo pool.

    python benchmarks/bench_neighbours.py [--langs 100] [--sentences 1000] [--dim 384] [--brute-pairs 99]
                                          [--purity-sample 2000] [--vectors 1000000] [--no-demo]

1. **Bitext mining**: synthetic parallel sentences (shared content + per-language noise and a language offset),
   every pair of languages mined both ways by xlalign (``bitext_rows``: two exact faiss k-NN searches per pair);
   the brute force (one numpy score matrix per pair, argmax and the ratio margin from it) on the first
   ``--brute-pairs`` pairs (the pivot's): the same accuracy and xsim error, and the time per pair of each.
2. **Purity**: the whole pool (languages × sentences) through ``purity_rows`` (faiss, k = 10); the brute force
   (blocked numpy products and ``argpartition`` over the whole pool) for a ``--purity-sample`` of texts, whose
   per-text shares must be identical; time per text of each.
3. **An index over 1M vectors**: xlalign's ``trained_index`` (IVF1024,SQ8, seed 1234) trained on 50,000 of them,
   filled in chunks of 20,000 generated on the fly (the raw vectors, 1.5 GB in float32, never exist at once);
   1,000 queries searched (nprobe = 16) against the exact top 10 found by a streamed flat search. Peak RSS.
4. **The demo pool** (7 languages, bundled model, fp32, from the embedding cache): a cached diagnosis
   (``evaluate_embeddings``), what the page adds at once (each target mined against the pivot), and what it
   computes on demand (every pair, purity, the probe; the user's HNSW32).
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import time
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from bench_kscale import lang_codes

from xlalign.core.corpus import ParallelCorpus
from xlalign.core.evaluate import CorpusEmbeddings
from xlalign.core.neighbours import MARGIN_K, bitext_rows, purity_rows
from xlalign.specs import IndexSpec


def synthetic(k: int, n: int, d: int, seed: int = 0) -> tuple[ParallelCorpus, CorpusEmbeddings]:
    """k languages × n parallel sentences: content shared by translations, noise and an offset per language."""
    langs = lang_codes(k)
    ids = tuple(f"i{j}" for j in range(n))
    corpus = ParallelCorpus("synthetic", ids, ids, ids, {x: tuple(f"p {x} {j}" for j in range(n)) for x in langs},
                            {x: tuple(f"q {x} {j}" for j in range(n)) for x in langs})
    rng = np.random.default_rng(seed)
    content = rng.standard_normal((n, d)).astype(np.float32)

    def one(lang_offset: np.ndarray) -> np.ndarray:
        x = content + 2.5 * rng.standard_normal((n, d)).astype(np.float32) + lang_offset
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    passages = {x: one(0.6 * rng.standard_normal(d).astype(np.float32)) for x in langs}
    return corpus, CorpusEmbeddings(passages, passages)  # one kind of text is enough here


def brute_pair(x: np.ndarray, y: np.ndarray, k: int = MARGIN_K) -> tuple[float, float, float, float]:
    """Top-1 accuracy and ratio-margin xsim error (%), both directions, from one numpy score matrix."""
    s = x @ y.T
    n = len(x)
    out = []
    for m in (s, s.T):
        near = np.argpartition(-m, k - 1, axis=1)[:, :k]
        near_back = np.argpartition(-m.T, k - 1, axis=1)[:, :k]
        mean = np.take_along_axis(m, near, axis=1).mean(axis=1)
        mean_back = np.take_along_axis(m.T, near_back, axis=1).mean(axis=1)
        margin = np.take_along_axis(m, near, axis=1) / ((mean[:, None] + mean_back[near]) / 2)
        chosen = near[np.arange(n), np.argmax(margin, axis=1)]
        out += [100.0 * float((np.argmax(m, axis=1) == np.arange(n)).mean()),
                100.0 * float((chosen != np.arange(n)).mean())]
    return out[0], out[1], out[2], out[3]


def bench_bitext(corpus: ParallelCorpus, emb: CorpusEmbeddings, langs: list[str], brute_pairs: int) -> dict[str, Any]:
    start = time.perf_counter()
    frame = pd.DataFrame(bitext_rows(corpus, emb, langs, kinds=("passages",), resamples=0))
    faiss_s = time.perf_counter() - start
    pairs = list(combinations(langs, 2))
    checked = pairs[:brute_pairs]
    start = time.perf_counter()
    brute = {p: brute_pair(emb.passages[p[0]], emb.passages[p[1]]) for p in checked}
    brute_s = time.perf_counter() - start
    mine = frame.set_index(["source_lang", "target_lang", "metric"]).value
    worst = 0.0
    for (a, b), (acc_ab, err_ab, acc_ba, err_ba) in brute.items():
        for got, want in ((mine[(a, b, "accuracy")], acc_ab), (mine[(a, b, "xsim_error")], err_ab),
                          (mine[(b, a, "accuracy")], acc_ba), (mine[(b, a, "xsim_error")], err_ba)):
            worst = max(worst, abs(float(got) - want))
    acc = frame[frame.metric == "accuracy"].value
    return {"pairs": len(pairs), "faiss_s": faiss_s, "per_pair_faiss": faiss_s / len(pairs), "checked": len(checked),
            "brute_s": brute_s, "per_pair_brute": brute_s / max(len(checked), 1), "max_diff": worst,
            "accuracy": (float(acc.min()), float(acc.median()), float(acc.max()))}


def brute_purity(x: np.ndarray, codes: np.ndarray, rows: np.ndarray, k: int = 10, block: int = 500) -> np.ndarray:
    """Each sampled text's share of same-language texts among its k nearest (itself excluded), by numpy."""
    out = np.empty(len(rows))
    for s in range(0, len(rows), block):
        part = rows[s:s + block]
        scores = x[part] @ x.T
        scores[np.arange(len(part)), part] = -np.inf
        near = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        out[s:s + block] = (codes[near] == codes[part][:, None]).mean(axis=1)
    return out


def bench_purity(corpus: ParallelCorpus, emb: CorpusEmbeddings, langs: list[str], sample: int) -> dict[str, Any]:
    from xlalign.core.neighbours import _pool, knn

    x, codes, _ = _pool(corpus, emb, "passages", langs)
    start = time.perf_counter()
    frame = pd.DataFrame(purity_rows(corpus, emb, langs))
    faiss_s = time.perf_counter() - start
    rows = np.random.default_rng(1).choice(len(x), size=min(sample, len(x)), replace=False)
    start = time.perf_counter()
    brute = brute_purity(x, codes, rows)
    brute_s = time.perf_counter() - start
    _, ids = knn(x[rows], x, 11)  # the sampled texts through faiss again, to compare text by text
    ids = np.array([[j for j in r if j != i][:10] for r, i in zip(ids, rows, strict=True)])
    mine = (codes[ids] == codes[rows][:, None]).mean(axis=1)
    purity = frame[frame.metric == "purity@10"].value
    blind = float(frame[frame.metric == "expected@10"].value.iloc[0])
    return {"texts": len(x), "faiss_s": faiss_s, "per_text_faiss": faiss_s / len(x), "sample": len(rows),
            "brute_s": brute_s, "per_text_brute": brute_s / len(rows), "max_diff": float(np.abs(mine - brute).max()),
            "purity": (float(purity.min()), float(purity.max())), "blind": blind}


def _chunk(seed: int, n: int, basis: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """``n`` clustered unit vectors: a cluster centre plus spread in a 64-dimension latent space, projected to d, with
    a little isotropic noise (real embeddings are far from isotropic: an index has structure to find)."""
    rng = np.random.default_rng(seed)
    z = centres[rng.integers(0, len(centres), n)]
    z += 0.5 * rng.standard_normal(z.shape, dtype=np.float32)
    x = z @ basis  # float32 throughout, in place: a chunk's transient memory stays near its own size
    x += 0.02 * rng.standard_normal(x.shape, dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def _reset_peak_rss() -> float:
    """Reset the process's peak resident size (Linux: ``clear_refs`` 5) and return the current size, MiB."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    return _status_mib("VmRSS")


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_million(vectors: int, d: int, chunk: int = 20_000, queries: int = 1000) -> dict[str, Any]:
    """IVF1024,SQ8 over ``vectors`` clustered unit vectors, built in chunks; recall@10 against a streamed exact
    search; the peak resident size during this section (and the size before it)."""
    import faiss

    from xlalign.core.user_index import trained_index

    rss_before = _reset_peak_rss()

    rng = np.random.default_rng(7)
    basis = (rng.standard_normal((64, d)) / 8).astype(np.float32)
    centres = rng.standard_normal((2000, 64)).astype(np.float32)
    spec = IndexSpec(index="IVF1024,SQ8", params="nprobe=16")
    notes: list[str] = []
    start = time.perf_counter()
    index = trained_index(_chunk(0, 50_000, basis, centres), spec, notes)
    train_s = time.perf_counter() - start
    faiss.ParameterSpace().set_index_parameters(index, spec.params)
    q = _chunk(10**6, queries, basis, centres)
    heap = faiss.ResultHeap(queries, 10, keep_max=True)  # the exact top 10, merged chunk by chunk
    add_s = exact_s = 0.0
    for n, lo in enumerate(range(0, vectors, chunk)):
        x = _chunk(n + 1, min(chunk, vectors - lo), basis, centres)
        start = time.perf_counter()
        index.add(x)
        add_s += time.perf_counter() - start
        start = time.perf_counter()
        scores, ids = faiss.knn(q, x, 10, metric=faiss.METRIC_INNER_PRODUCT)
        heap.add_result(scores, ids + lo)
        exact_s += time.perf_counter() - start
    heap.finalize()
    start = time.perf_counter()
    _, found = index.search(q, 10)
    search_s = time.perf_counter() - start
    recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, heap.I, strict=True)]))
    peak = _status_mib("VmHWM")  # before serialising the index to weigh it (that makes two more copies of it)
    return {"vectors": vectors, "d": d, "train_s": train_s, "add_s": add_s, "search_s": search_s,
            "exact_s": exact_s, "recall": 100.0 * recall, "index_mib": len(faiss.serialize_index(index)) / 2**20,
            "raw_mib": vectors * d * 4 / 2**20, "peak_rss_mib": peak, "rss_before_mib": rss_before,
            "queries": queries}


def bench_demo(repeat: int = 3) -> dict[str, float]:
    """Best-of-``repeat`` seconds of each view on the demo pool (7 languages, fp32 embeddings from the cache)."""
    from xlalign.core.evaluate import encode_corpus, evaluate_embeddings
    from xlalign.core.loaders import load_demo
    from xlalign.core.neighbours import neighbourhoods
    from xlalign.models.cache import EmbeddingCache
    from xlalign.models.encoders import SentenceTransformerEncoder
    from xlalign.services.neighbourhoods import index_report, pivot_mining
    from xlalign.specs import EvalSpec, ModelSpec

    langs = ("en", "es", "de", "zh", "ar", "hi", "ur")
    corpus = load_demo(list(langs))
    encoder = SentenceTransformerEncoder(ModelSpec(precision="fp32"), cache=EmbeddingCache())
    emb = encode_corpus(corpus, encoder, langs)
    spec = EvalSpec(langs=langs)
    result = evaluate_embeddings(corpus, emb, spec)
    neighbourhoods(corpus, emb, langs, probe=True)  # imports and first calls out of the timing
    views = {
        "cached diagnosis (evaluate_embeddings: 63 pools ranked)": lambda: evaluate_embeddings(corpus, emb, spec),
        "beside the verdict at once (6 targets mined against en, passages)":
            lambda: pivot_mining(corpus, emb, "en", langs[1:]),
        "on demand: every pair, both kinds, bootstrap CIs": lambda: neighbourhoods(corpus, emb, langs),
        "on demand: … and the language-identity probe": lambda: neighbourhoods(corpus, emb, langs, probe=True),
        "on demand: your index HNSW32 (train, fill, search 63 pools, exact recall)":
            lambda: index_report(corpus, emb, result, IndexSpec(index="HNSW32")),
    }
    out = {}
    for name, fn in views.items():
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        out[name] = min(times)
    if encoder.n_texts_encoded:
        raise RuntimeError(f"the demo's fp32 embeddings were not all cached ({encoder.n_texts_encoded} encoded)")
    return out


def run(langs: int = 100, sentences: int = 1000, dim: int = 384, brute_pairs: int = 99, purity_sample: int = 2000,
        vectors: int = 1_000_000, demo: bool = True) -> dict[str, Any]:
    corpus, emb = synthetic(langs, sentences, dim)
    codes = lang_codes(langs)
    out: dict[str, Any] = {"langs": langs, "sentences": sentences, "dim": dim}
    out["bitext"] = bench_bitext(corpus, emb, codes, brute_pairs)
    out["purity"] = bench_purity(corpus, emb, codes, purity_sample)
    del corpus, emb
    out["million"] = bench_million(vectors, dim) if vectors else None
    out["demo"] = bench_demo() if demo else None
    return out


def markdown(r: dict[str, Any]) -> str:
    b, p, m, demo = r["bitext"], r["purity"], r["million"], r["demo"]
    lines = [f"Synthetic parallel sentences: {r['langs']} languages × {r['sentences']:,} sentences, d = {r['dim']} "
             "(shared content, noise and an offset per language); wall seconds.", "",
             "| | xlalign (faiss exact k-NN) | numpy brute force | agreement |", "|---|---:|---:|---|",
             f"| bitext mining, every pair both ways ({b['pairs']:,} pairs; top-1 and ratio-margin xsim, k = 4) | "
             f"{b['faiss_s']:.1f} s ({1000 * b['per_pair_faiss']:.1f} ms/pair) | "
             f"{1000 * b['per_pair_brute']:.1f} ms/pair (the {b['checked']} pivot pairs: {b['brute_s']:.1f} s) | "
             f"largest difference {b['max_diff']:.1e} points over those pairs |",
             f"| neighbourhood purity, k = 10, the whole pool ({p['texts']:,} texts) | {p['faiss_s']:.1f} s "
             f"({1000 * p['per_text_faiss']:.2f} ms/text) | {1000 * p['per_text_brute']:.2f} ms/text "
             f"({p['sample']:,} sampled texts: {p['brute_s']:.1f} s) | largest difference {p['max_diff']:.1e} per text |", "",
             f"Top-1 accuracy over the pairs: {b['accuracy'][0]:.1f}–{b['accuracy'][2]:.1f}% (median "
             f"{b['accuracy'][1]:.1f}); purity {p['purity'][0]:.1f}–{p['purity'][1]:.1f}% against a language-blind "
             f"{p['blind']:.2f}%."]
    if m is not None:
        lines += ["", f"**An index over {m['vectors']:,} vectors** (d = {m['d']}, clustered unit vectors generated in "
                  "chunks of 20,000): IVF1024,SQ8 through xlalign's `trained_index` (seed 1234), trained on 50,000, "
                  "filled chunk by chunk; nprobe = 16.", "",
                  "| train | fill | search 1,000 queries | exact top 10 (streamed flat) | recall@10 | index size | raw "
                  "vectors | peak resident size (before the section) |", "|---:|---:|---:|---:|---:|---:|---:|---:|",
                  f"| {m['train_s']:.1f} s | {m['add_s']:.1f} s | {m['search_s']:.2f} s | {m['exact_s']:.1f} s | "
                  f"{m['recall']:.1f}% | {m['index_mib']:.0f} MiB | {m['raw_mib']:.0f} MiB (never held) | "
                  f"{m['peak_rss_mib']:.0f} MiB ({m['rss_before_mib']:.0f} MiB) |"]
    if demo is not None:
        lines += ["", "**The new views on the demo pool** (7 languages, 1,176 passages + 1,176 questions, bundled "
                  "model fp32 from the embedding cache; best of 3):", "", "| view | seconds |", "|---|---:|"]
        lines += [f"| {name} | {sec:.3f} |" for name, sec in demo.items()]
    return "\n".join(lines)


def main() -> None:
    import machine

    ap = argparse.ArgumentParser()
    ap.add_argument("--langs", type=int, default=100)
    ap.add_argument("--sentences", type=int, default=1000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--brute-pairs", type=int, default=99)
    ap.add_argument("--purity-sample", type=int, default=2000)
    ap.add_argument("--vectors", type=int, default=1_000_000)
    ap.add_argument("--no-demo", action="store_true")
    args = ap.parse_args()
    print(f"Machine: {machine.line()}.\n", flush=True)
    print(markdown(run(args.langs, args.sentences, args.dim, args.brute_pairs, args.purity_sample, args.vectors,
                       not args.no_demo)))
    print(f"\nMachine at the end: {machine.line()}.")


if __name__ == "__main__":
    main()
