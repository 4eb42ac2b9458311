"""Encoding: xlalign's encode path against plain ``SentenceTransformer.encode``, and fp32 against bf16.

    python benchmarks/bench_encode.py [--xquad ../shared/data/xquad] [--texts 600]

Same model (the bundled multilingual-e5-small), same texts (XQuAD contexts and questions in en and
zh, passage/query prompts), same process, cold embedding caches. Rows:

* baseline: ``SentenceTransformer.encode(texts, prompt=…, batch_size=32, normalize_embeddings=True)``
* xlalign fp32: ``SentenceTransformerEncoder.encode`` (cache lookups, dedup, longest-first chunks)
* xlalign bf16: the same under ``torch.autocast("cpu", bfloat16)``

and the quality cost of bf16 on XQuAD en+zh: Mono-Same NDCG@10 and Multi Max@R, fp32 vs bf16.
The CPU's bf16 matrix units (AMX-BF16 / AVX512-BF16) decide whether bf16 is faster; ``auto`` picks
bf16 only where they exist.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from xlalign.core.evaluate import evaluate
from xlalign.core.loaders import load_squad_folder
from xlalign.models.bundled import bundled_model_dir
from xlalign.models.cache import EmbeddingCache
from xlalign.models.device import BF16_CPU_FLAGS, cpu_flags, cpu_has_bf16_units, resolve_precision
from xlalign.models.encoders import SentenceTransformerEncoder
from xlalign.specs import EvalSpec, ModelSpec

DEFAULT_XQUAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "xquad"


def _texts(xquad: Path, n: int) -> tuple[list[str], list[str]]:
    corpus = load_squad_folder(xquad, ["en", "zh"])
    first = corpus.passage_first_items()
    passages = [corpus.passages[x][i] for x in ("en", "zh") for i in first][: n // 3]
    questions = [q for x in ("en", "zh") for q in corpus.questions[x]][: n - len(passages)]
    return passages, questions


def _time(fn: Any, repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def speed(model_dir: Path, passages: list[str], questions: list[str], repeat: int) -> dict[str, Any]:
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(model_dir), device="cpu")

    def plain() -> np.ndarray:
        return np.vstack([st.encode(passages, prompt="passage: ", batch_size=32, normalize_embeddings=True),
                          st.encode(questions, prompt="query: ", batch_size=32, normalize_embeddings=True)])

    def ours(precision: str) -> Any:
        def go() -> np.ndarray:
            with tempfile.TemporaryDirectory() as tmp:
                enc = SentenceTransformerEncoder(ModelSpec(str(model_dir), device="cpu", precision=precision),
                                                 cache=EmbeddingCache(Path(tmp) / "e.sqlite"))
                enc._model = st  # the same loaded model object: only the encode path differs
                return np.vstack([enc.encode(passages, lang="en", role="passage"),
                                  enc.encode(questions, lang="en", role="query")])
        return go

    n = len(passages) + len(questions)
    t_plain, ref = _time(plain, repeat)
    t_fp32, fp32 = _time(ours("fp32"), repeat)
    t_bf16, bf16 = _time(ours("bf16"), repeat)
    return {"texts": n, "plain_tps": n / t_plain, "fp32_tps": n / t_fp32, "bf16_tps": n / t_bf16,
            "fp32_vs_plain": t_plain / t_fp32, "bf16_vs_fp32": t_fp32 / t_bf16,
            "cos_fp32_plain_min": float((ref * fp32).sum(1).min()), "cos_bf16_fp32_min": float((fp32 * bf16).sum(1).min())}


def quality(model_dir: Path, xquad: Path) -> dict[str, float]:
    corpus = load_squad_folder(xquad, ["en", "zh"])
    out = {}
    for precision in ("fp32", "bf16"):
        with tempfile.TemporaryDirectory() as tmp:
            enc = SentenceTransformerEncoder(ModelSpec(str(model_dir), device="cpu", precision=precision),
                                             cache=EmbeddingCache(Path(tmp) / "e.sqlite"))
            res = evaluate(corpus, enc, EvalSpec(data="xquad", langs=("en", "zh"), scenarios=("multi", "mono-same")))
        out[f"{precision}_mono_same_ndcg@10"] = float(np.mean([res.value("mono-same", q, "ndcg@10") for q in ("en", "zh")]))
        out[f"{precision}_multi_max_r"] = float(np.mean([res.value("multi", q, "max_r") for q in ("en", "zh")]))
    return out


def run(xquad: Path = DEFAULT_XQUAD, texts: int = 600, repeat: int = 2, with_quality: bool = True) -> dict[str, Any]:
    model_dir = bundled_model_dir()
    passages, questions = _texts(xquad, texts)
    result = {"bf16_units": cpu_has_bf16_units(), "flags": sorted(cpu_flags() & set(BF16_CPU_FLAGS)),
              "auto_on_cpu": resolve_precision("auto", "cpu"), **speed(model_dir, passages, questions, repeat)}
    if with_quality:
        result.update(quality(model_dir, xquad))
    return result


def markdown(r: dict[str, Any]) -> str:
    lines = [f"{r['texts']} texts (XQuAD en+zh contexts and questions), bundled multilingual-e5-small, batch 32, "
             f"same loaded model, cold caches. CPU bf16 matrix units: {'yes ' + str(r['flags']) if r['bf16_units'] else 'none'}"
             f" → `auto` = {r['auto_on_cpu']} here.", "",
             "| path | texts/s | ratio | target |", "|---|---|---|---|",
             f"| `SentenceTransformer.encode` (baseline) | {r['plain_tps']:.1f} | 1.00 | |",
             f"| xlalign encode, fp32 | {r['fp32_tps']:.1f} | {r['fp32_vs_plain']:.2f}× vs baseline | ≥ 1.0× |",
             f"| xlalign encode, bf16 autocast | {r['bf16_tps']:.1f} | {r['bf16_vs_fp32']:.2f}× vs fp32 | ≥ 2× "
             "(CPUs with bf16 units) |", "",
             f"Cosine to the baseline ≥ {r['cos_fp32_plain_min']:.6f} (fp32); bf16 vs fp32 ≥ {r['cos_bf16_fp32_min']:.5f}."]
    if "fp32_mono_same_ndcg@10" in r:
        d_ndcg = r["bf16_mono_same_ndcg@10"] - r["fp32_mono_same_ndcg@10"]
        d_max = 100 * (r["bf16_multi_max_r"] / r["fp32_multi_max_r"] - 1)
        lines.append(f"XQuAD en+zh quality: Mono-Same NDCG@10 {r['fp32_mono_same_ndcg@10']:.2f} (fp32) vs "
                     f"{r['bf16_mono_same_ndcg@10']:.2f} (bf16), Δ {d_ndcg:+.2f} points (target within 0.5); Multi "
                     f"Max@R {r['fp32_multi_max_r']:.2f} vs {r['bf16_multi_max_r']:.2f}, {d_max:+.1f}% (target within 3%).")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--xquad", type=Path, default=DEFAULT_XQUAD)
    ap.add_argument("--texts", type=int, default=600)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    print(markdown(run(args.xquad, args.texts, args.repeat)))


if __name__ == "__main__":
    main()
