"""xlalign against the evaluator users run: sentence-transformers' ``InformationRetrievalEvaluator``.

    python benchmarks/bench_evaluators.py [--xquad ../shared/data/xquad] [--langs en,zh,es,ar,de]

Same model (the bundled multilingual-e5-small, fp32), same texts, same pools: every Mono-Same and
Mono-Cross pool (dedup) of the languages, in one process. The baseline builds one
``InformationRetrievalEvaluator`` per pool (query prompt ``query: ``, corpus prompt ``passage: ``),
as a user would, and runs them all; xlalign runs ``evaluate`` once for the same pools with a cold
embedding cache (each text encoded once for all pools). Reports wall time, the ratio, and the
agreement of NDCG@10 and MRR@10 per pool (and, where ``ranx`` is installed, a third opinion).
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
from xlalign.models.encoders import SentenceTransformerEncoder
from xlalign.specs import EvalSpec, ModelSpec

DEFAULT_XQUAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "xquad"


def _pools(corpus: Any, langs: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(q, d) for q in langs for d in langs]


def st_baseline(model: Any, corpus: Any, langs: tuple[str, ...]) -> tuple[float, dict[tuple[str, str], dict[str, float]]]:
    """One InformationRetrievalEvaluator per (query language, document language) pool."""
    from sentence_transformers.evaluation import InformationRetrievalEvaluator

    keys, item_to_passage = corpus.unique_passages()
    first = corpus.passage_first_items()
    out = {}
    start = time.perf_counter()
    for q, d in _pools(corpus, langs):
        queries = {f"q{i}": corpus.questions[q][i] for i in range(len(corpus))}
        docs = {f"p{u}": corpus.passages[d][first[u]] for u in range(len(keys))}
        relevant = {f"q{i}": {f"p{item_to_passage[i]}"} for i in range(len(corpus))}
        ev = InformationRetrievalEvaluator(queries, docs, relevant, name=f"{q}-{d}", ndcg_at_k=[10], mrr_at_k=[10],
                                           accuracy_at_k=[1], precision_recall_at_k=[10], map_at_k=[10],
                                           show_progress_bar=False, batch_size=32, query_prompt="query: ",
                                           corpus_prompt="passage: ", score_functions=None)
        res = ev(model)
        out[(q, d)] = {"ndcg@10": 100 * res[f"{q}-{d}_cosine_ndcg@10"], "mrr@10": res[f"{q}-{d}_cosine_mrr@10"]}
    return time.perf_counter() - start, out


def xlalign_run(model_dir: Path, corpus: Any, langs: tuple[str, ...]) -> tuple[float, dict, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        enc = SentenceTransformerEncoder(ModelSpec(str(model_dir), device="cpu", precision="fp32"),
                                         cache=EmbeddingCache(Path(tmp) / "emb.sqlite"))
        _ = enc.model  # loaded outside the timed region, as the baseline's model is
        start = time.perf_counter()
        result = evaluate(corpus, enc, EvalSpec(data="xquad", langs=langs, scenarios=("mono-same", "mono-cross")))
        seconds = time.perf_counter() - start
    pq = result.per_query
    out = {}
    for (q, d), sel in pq.groupby(["query_lang", "doc_lang"]):
        rank = sel[f"rank_{d}"].astype(int).to_numpy()
        out[(q, d)] = {"ndcg@10": float(sel["ndcg@10"].mean()), "mrr@10": float(np.where(rank <= 10, 1 / rank, 0).mean())}
    return seconds, out, result


def ranx_check(result: Any) -> dict[tuple[str, str], dict[str, float]] | None:
    """NDCG@10 and MRR@10 from ranx on xlalign's exact ranks (a third implementation), if installed."""
    try:
        from ranx import Qrels, Run
        from ranx import evaluate as ranx_evaluate
    except ImportError:
        return None
    out = {}
    for (q, d), sel in result.per_query.groupby(["query_lang", "doc_lang"]):
        rank = sel[f"rank_{d}"].astype(int).to_numpy()
        ids = [f"q{i}" for i in range(len(sel))]
        qrels = Qrels({qid: {"gold": 1} for qid in ids})
        # a run with the gold at its exact rank among distinct filler documents scored above it
        run = Run({qid: {"gold": 1000.0 - r, **{f"x{j}": 1000.0 - j for j in range(1, min(r, 11))}}
                   for qid, r in zip(ids, rank, strict=True)})
        res = ranx_evaluate(qrels, run, ["ndcg@10", "mrr@10"])
        out[(q, d)] = {"ndcg@10": 100 * res["ndcg@10"], "mrr@10": res["mrr@10"]}
    return out


def run(xquad: Path = DEFAULT_XQUAD, langs: tuple[str, ...] = ("en", "zh", "es", "ar", "de")) -> dict[str, Any]:
    from sentence_transformers import SentenceTransformer

    corpus = load_squad_folder(xquad, list(langs))
    model_dir = bundled_model_dir()
    model = SentenceTransformer(str(model_dir), device="cpu")
    t_st, st = st_baseline(model, corpus, langs)
    t_x, ours, result = xlalign_run(model_dir, corpus, langs)
    third = ranx_check(result)
    diffs = {m: max(abs(st[k][m] - ours[k][m]) for k in st) for m in ("ndcg@10", "mrr@10")}
    ranx_diffs = {m: max(abs(third[k][m] - ours[k][m]) for k in third) for m in ("ndcg@10", "mrr@10")} if third else None
    return {"pools": len(st), "queries": len(corpus), "docs_per_pool": corpus.n_passages, "st_seconds": t_st,
            "xlalign_seconds": t_x, "ratio": t_x / t_st, "max_abs_diff": diffs, "ranx_max_abs_diff": ranx_diffs,
            "per_pool": {f"{q}->{d}": {"st": st[(q, d)], "xlalign": ours[(q, d)]} for q, d in st}}


def markdown(r: dict[str, Any]) -> str:
    lines = [f"Mono-Same and Mono-Cross pools of {r['pools'] ** 0.5:.0f} XQuAD languages ({r['pools']} pools, "
             f"{r['queries']} queries × {r['docs_per_pool']} passages each), bundled multilingual-e5-small, fp32, "
             "cold caches, same process.", "",
             "| | wall time | ratio |", "|---|---|---|",
             f"| sentence-transformers `InformationRetrievalEvaluator` (one per pool) | {r['st_seconds']:.1f} s | 1.00 |",
             f"| xlalign `evaluate` (same pools, each text encoded once) | {r['xlalign_seconds']:.1f} s | "
             f"**{r['ratio']:.2f}×** (target ≤ 0.5×) |", "",
             f"Agreement (max |Δ| over the {r['pools']} pools): NDCG@10 {r['max_abs_diff']['ndcg@10']:.2e} points, "
             f"MRR@10 {r['max_abs_diff']['mrr@10']:.2e}."]
    if r["ranx_max_abs_diff"]:
        lines.append(f"ranx on xlalign's ranks: NDCG@10 {r['ranx_max_abs_diff']['ndcg@10']:.2e}, MRR@10 "
                     f"{r['ranx_max_abs_diff']['mrr@10']:.2e}.")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--xquad", type=Path, default=DEFAULT_XQUAD)
    ap.add_argument("--langs", default="en,zh,es,ar,de")
    args = ap.parse_args()
    print(markdown(run(args.xquad, tuple(args.langs.split(",")))))


if __name__ == "__main__":
    main()
