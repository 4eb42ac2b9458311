"""The README's evidence: every alignment method side by side on held-out data, with CIs.

    python benchmarks/evidence.py xquad --xquad ../shared/data/xquad --out evidence/xquad
    python benchmarks/evidence.py demo --out evidence/demo

``xquad``: XQuAD en+zh, article-disjoint halves (the held-out half only is evaluated): baseline,
centering, LSAR, Procrustes and the JSD + InfoNCE fine-tune (1 epoch, CPU); with ``--ablations`` also
its ablations (nce, jsd, nce_psg) and a small sweep of the JSD weight λ (≈ 25 min of CPU each).
``demo``: the demo corpus, every target language against English, the same
methods (fine-tune 1 epoch), plus LSAR fitted on all seven languages.
Each run is a normal run folder (``python -m xlalign compare`` reads them); the script prints the
Markdown tables the README quotes: Multi Complete@10 and Max@R for target-language queries, and
Mono-Same NDCG@10 (the cost), each after-value with the 95% CI of its change.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from xlalign.align.base import AlignSpec
from xlalign.models.cache import EmbeddingCache
from xlalign.services.pipeline import run_alignment
from xlalign.specs import EvalSpec, FinetuneOptions, LsarOptions, ModelSpec
from xlalign.store.runs import Run

DEFAULT_XQUAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "xquad"
DEMO_LANGS = ("en", "es", "de", "zh", "ar", "hi", "ur")


def methods(with_ablations: bool) -> dict[str, AlignSpec]:
    ft = FinetuneOptions()
    out = {"centering": AlignSpec(method="centering"), "lsar": AlignSpec(method="lsar"),
           "procrustes": AlignSpec(method="procrustes"), "finetune jsd+nce": AlignSpec(method="finetune", finetune=ft)}
    if with_ablations:
        for variant in ("nce", "jsd", "nce_psg"):
            out[f"finetune {variant}"] = AlignSpec(method="finetune", finetune=replace(ft, variant=variant))
        for lam in (10.0, 100.0):
            out[f"finetune jsd+nce λ={lam:g}"] = AlignSpec(method="finetune", finetune=replace(ft, jsd_weight=lam))
    return out


def run_one(out: Path, name: str, model: ModelSpec, evaluation: EvalSpec, align: AlignSpec,
            cache: EmbeddingCache) -> pd.DataFrame:
    folder = out / name.replace(" ", "_").replace("=", "").replace("+", "-")
    run = Run(folder)
    if not run.is_finished():
        record = run_alignment(model, evaluation, align, folder, cache=cache).record
    else:
        record = run.record()
    table = run.compare()
    table.insert(0, "method", name)
    extra = record.get("finetune") or record.get("lsar") or {}
    table["detail"] = json.dumps({k: extra.get(k) for k in ("rank", "steps", "seconds", "seconds_per_step") if k in extra})
    return table


def rows(table: pd.DataFrame, target: str) -> dict[str, Any]:
    def cell(scenario: str, metric: str, digits: int = 1) -> str:
        r = table[(table.scenario == scenario) & (table.query_lang == target) & (table.metric == metric)].iloc[0]
        return f"{r.after:.{digits}f} ({r.ci_low:+.{digits}f}…{r.ci_high:+.{digits}f})"

    base = table[(table.scenario == "multi") & (table.query_lang == target)].set_index("metric")["before"]
    same = table[(table.scenario == "mono-same") & (table.query_lang == target) & (table.metric == "ndcg@10")]
    return {"multi complete@10": cell("multi", "complete@10"), "multi max_r": cell("multi", "max_r"),
            "mono-same ndcg@10": cell("mono-same", "ndcg@10"), "_base_c10": base["complete@10"],
            "_base_maxr": base["max_r"], "_base_ndcg": float(same.before.iloc[0]), "detail": table.detail.iloc[0]}


def markdown(results: dict[str, pd.DataFrame], target: str, title: str) -> str:
    first = rows(next(iter(results.values())), target)
    lines = [f"**{title}** — target-language ({target}) queries; after-value (95% CI of the change)", "",
             "| method | Multi Complete@10 | Multi Max@R | Mono-Same NDCG@10 |", "|---|---|---|---|",
             f"| baseline | {first['_base_c10']:.1f} | {first['_base_maxr']:.1f} | {first['_base_ndcg']:.1f} |"]
    for name, table in results.items():
        r = rows(table, target)
        lines.append(f"| {name} | {r['multi complete@10']} | {r['multi max_r']} | {r['mono-same ndcg@10']} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("which", choices=("xquad", "demo"))
    ap.add_argument("--xquad", type=Path, default=DEFAULT_XQUAD)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "auto"),
                    help="encoding precision (default fp32: the same figures on every CPU)")
    ap.add_argument("--targets", default=",".join(DEMO_LANGS[1:]))
    ap.add_argument("--langs", default="en,zh", help="xquad: the pair")
    ap.add_argument("--no-finetune", action="store_true", help="training-free methods only")
    ap.add_argument("--ablations", action="store_true", help="xquad: also the loss ablations and the λ sweep")
    ap.add_argument("--only", default=None, help="xquad: comma-separated method names to run or read (e.g. "
                                                 "'centering,finetune jsd'); default all")
    args = ap.parse_args()
    cache = EmbeddingCache(args.cache_dir / "embeddings.sqlite") if args.cache_dir else EmbeddingCache()
    model = ModelSpec(precision=args.precision)
    if args.which == "xquad":
        pivot, target = args.langs.split(",")
        evaluation = EvalSpec(data=str(args.xquad), langs=(pivot, target))
        chosen = {n: s for n, s in methods(with_ablations=args.ablations and not args.no_finetune).items()
                  if not (args.no_finetune and s.method == "finetune")}
        if args.only:
            wanted = [n.strip() for n in args.only.split(",")]
            unknown = [n for n in wanted if n not in chosen]
            if unknown:
                ap.error(f"unknown method(s) {unknown}; choose from {list(chosen)}")
            chosen = {n: chosen[n] for n in wanted}
        results = {name: run_one(args.out, name, model, evaluation, spec, cache) for name, spec in chosen.items()}
        print(markdown(results, target, f"XQuAD {pivot}+{target}, held-out articles (dedup pools)"))
        return
    for target in args.targets.split(","):
        evaluation = EvalSpec(data="demo", langs=("en", target))
        specs = {**methods(with_ablations=False),
                 "lsar (fit on 7 languages)": AlignSpec(method="lsar", fit_langs=DEMO_LANGS, lsar=LsarOptions())}
        results = {name: run_one(args.out / target, name, model, evaluation, spec, cache) for name, spec in specs.items()}
        print(markdown(results, target, f"demo en+{target}, held-out topic groups"), "\n", flush=True)


if __name__ == "__main__":
    main()
