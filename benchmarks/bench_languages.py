"""k-language evaluation cost: the demo corpus (7 languages) and XQuAD (5 languages) in one pool each.

    python benchmarks/bench_languages.py [--xquad ../shared/data/xquad]

Bundled multilingual-e5-small, CPU, a cold embedding cache: the time to encode every text once, then
to rank every scenario (Multi-k, Multi-k minus own, Mono-Same per language, Mono-Cross per ordered
pair) and build the matrix; and, as the reference, the sum of the same work done pair by pair
(pivot + each target) with a cold cache per pair, which is what a pair-only tool costs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from xlalign.core.evaluate import encode_corpus, evaluate_embeddings
from xlalign.core.loaders import load_corpus
from xlalign.models.bundled import bundled_model_dir
from xlalign.models.cache import EmbeddingCache
from xlalign.models.encoders import SentenceTransformerEncoder
from xlalign.specs import EvalSpec, ModelSpec

DEFAULT_XQUAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "xquad"


def one(data: str, langs: tuple[str, ...], pairwise: bool) -> dict[str, Any]:
    corpus = load_corpus(data, list(langs))
    model = ModelSpec(str(bundled_model_dir()), device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        enc = SentenceTransformerEncoder(model, cache=EmbeddingCache(Path(tmp) / "e.sqlite"))
        _ = enc.model
        start = time.perf_counter()
        emb = encode_corpus(corpus, enc, langs)
        encoded = time.perf_counter() - start
        start = time.perf_counter()
        result = evaluate_embeddings(corpus, emb, EvalSpec(data=data, langs=langs))
        ranked = time.perf_counter() - start
        texts = enc.n_texts_encoded
    out = {"data": data, "langs": langs, "items": len(corpus), "passages": corpus.n_passages, "texts": texts,
           "encode_s": encoded, "rank_s": ranked, "pools": len(result.pools),
           "multi_pool": next(p.pool_size for p in result.pools if p.scenario == "multi")}
    if pairwise:
        total, pair_texts = 0.0, 0
        for target in langs[1:]:
            pair = (langs[0], target)
            with tempfile.TemporaryDirectory() as tmp:
                enc = SentenceTransformerEncoder(model, cache=EmbeddingCache(Path(tmp) / "e.sqlite"))
                _ = enc.model
                start = time.perf_counter()
                emb = encode_corpus(corpus.select_langs(pair), enc, pair)
                evaluate_embeddings(corpus.select_langs(pair), emb, EvalSpec(data=data, langs=pair))
                total += time.perf_counter() - start
                pair_texts += enc.n_texts_encoded
        out.update(pairwise_s=total, pairwise_texts=pair_texts)
    return out


def run(xquad: Path = DEFAULT_XQUAD, pairwise: bool = True) -> list[dict[str, Any]]:
    rows = [one("demo", ("en", "es", "de", "zh", "ar", "hi", "ur"), pairwise)]
    if (xquad / "xquad.en.json").exists():
        rows.append(one(str(xquad), ("en", "zh", "es", "ar", "de"), pairwise))
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| data | languages | queries × passages | texts encoded | encode | rank all pools | pair by pair "
             "(cold, each pair) |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        name = "XQuAD" if "xquad" in r["data"] else r["data"]
        pair = (f"{r['pairwise_s']:.0f} s ({r['pairwise_texts']} texts; "
                f"{r['pairwise_s'] / (r['encode_s'] + r['rank_s']):.1f}× the k-language run)") if "pairwise_s" in r else "–"
        lines.append(f"| {name} | {len(r['langs'])} ({','.join(r['langs'])}) | {r['items']} × {r['passages']} | "
                     f"{r['texts']} | {r['encode_s']:.0f} s | {r['rank_s']:.1f} s ({r['pools']} pools, Multi "
                     f"{r['multi_pool']} documents) | {pair} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--xquad", type=Path, default=DEFAULT_XQUAD)
    ap.add_argument("--no-pairwise", action="store_true")
    args = ap.parse_args()
    print(markdown(run(args.xquad, not args.no_pairwise)))


if __name__ == "__main__":
    main()
