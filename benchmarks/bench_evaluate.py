"""End-to-end evaluation benchmark on the bundled model: cold cache (baseline) vs warm cache.

    python benchmarks/bench_evaluate.py [--data demo] [--langs en,zh]

Both runs happen in this process on a fresh temporary embedding cache. The cold run encodes every
distinct text once; the warm run must make zero model calls, so the ratio is the cost of encoding.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xlalign.encoders import EmbeddingCache, make_encoder
from xlalign.evaluate import EvalConfig, evaluate
from xlalign.loaders import load_corpus


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="demo")
    ap.add_argument("--langs", default="en,zh")
    ap.add_argument("--model", default="bundled:multilingual-e5-small")
    ap.add_argument("--pool", default="dedup")
    args = ap.parse_args()
    langs = tuple(args.langs.split(","))
    corpus = load_corpus(args.data, list(langs))
    cfg = EvalConfig(langs, pool=args.pool)
    with tempfile.TemporaryDirectory() as tmp:
        cache = EmbeddingCache(Path(tmp) / "emb.sqlite")
        cold_enc = make_encoder(args.model, cache=cache)
        _ = cold_enc.model  # load outside the timed region, as the warm run has it loaded too
        t = time.perf_counter()
        evaluate(corpus, cold_enc, cfg)
        cold = time.perf_counter() - t
        warm_enc = make_encoder(args.model, cache=EmbeddingCache(Path(tmp) / "emb.sqlite"))
        t = time.perf_counter()
        evaluate(corpus, warm_enc, cfg)
        warm = time.perf_counter() - t
    print(f"{args.data} {args.langs}: {len(corpus)} queries, {corpus.n_passages} passages per language, "
          f"{args.pool} pools, 4 scenarios × 2 query languages")
    print(f"baseline 'cold cache': {cold:7.2f} s  ({cold_enc.n_texts_encoded} texts encoded, "
          f"{cold_enc.n_model_calls} model calls)")
    print(f"warm cache:            {warm:7.2f} s  ({warm_enc.n_texts_encoded} texts encoded, "
          f"{warm_enc.n_model_calls} model calls)")
    print(f"speed-up vs cold: {cold / warm:.1f}x")


if __name__ == "__main__":
    main()
