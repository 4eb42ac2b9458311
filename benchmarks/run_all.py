"""Run every benchmark in one process and write ``benchmarks/RESULTS.md``.

    python benchmarks/run_all.py [--quick] [--only ranking,evaluators,encode,training,languages,kscale,neighbours]
                                 [--texts 480] [--encode-repeat 3] [--quality-items 0] [--ks 13,26,52,104] ...

Each section compares like with like (same pool, same texts, same process) against a named baseline,
prints ratios with their targets, and names the machine it ran on (CPU, vector and bf16/AMX flags,
cores, torch/oneDNN versions, load average). Run it on an idle machine: most figures are wall times.
``--only`` writes only the sections named (to another ``--out`` when the others should be kept).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import bench_encode
import bench_evaluators
import bench_kscale
import bench_languages
import bench_neighbours
import bench_ranking
import bench_training
import machine

HERE = Path(__file__).resolve().parent
SECTIONS = ("ranking", "evaluators", "encode", "training", "languages", "kscale", "neighbours", "gpu")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run, not for RESULTS.md)")
    ap.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections of {','.join(SECTIONS)}")
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    ap.add_argument("--queries", type=int, default=1000, help="ranking: queries per pool")
    ap.add_argument("--repeat", type=int, default=3, help="ranking: timed repeats (best of)")
    ap.add_argument("--data", default=None, help="encoding: a SQuAD folder or text files (default: XQuAD en+zh)")
    ap.add_argument("--texts", type=int, default=400, help="encoding: texts timed per path")
    ap.add_argument("--encode-extra", action="store_true", help="encoding: also xlalign fp32 through PyTorch")
    ap.add_argument("--encode-repeat", type=int, default=3, help="encoding: timed passes per path (interleaved)")
    ap.add_argument("--quality-items", type=int, default=100,
                    help="encoding: XQuAD questions in the end-to-end cold evaluate (0: all 1190)")
    ap.add_argument("--no-e2e", action="store_true", help="encoding: skip the end-to-end cold evaluate")
    ap.add_argument("--train-batch", type=int, default=16)
    ap.add_argument("--train-steps", type=int, default=3)
    ap.add_argument("--evidence", type=Path, default=None,
                    help="training: folder of the fine-tune ablation runs (benchmarks/evidence.py xquad --ablations --out)")
    ap.add_argument("--no-estimate", action="store_true", help="training: skip the CPU estimate check (4 fine-tunes)")
    ap.add_argument("--no-pairwise", action="store_true", help="languages: skip the pair-by-pair reference")
    ap.add_argument("--ks", default="13,26,52,104", help="k-scale: languages per Multi pool")
    ap.add_argument("--passages", type=int, default=900, help="k-scale: passages per language")
    ap.add_argument("--nb-langs", type=int, default=100, help="neighbours: languages of the synthetic bitext")
    ap.add_argument("--nb-vectors", type=int, default=1_000_000, help="neighbours: vectors in the index (0: skip)")
    args = ap.parse_args()
    only = [s for s in SECTIONS if s in set(args.only.split(","))]
    unknown = set(args.only.split(",")) - set(SECTIONS)
    if unknown:
        ap.error(f"unknown sections {sorted(unknown)}; choose from {','.join(SECTIONS)}")
    settings = (f"sections {','.join(only)}; ranking {args.queries} queries, best of {args.repeat}; encoding {args.texts} "
                f"texts × {args.encode_repeat}, end-to-end on {args.quality_items or 'all'} XQuAD questions"
                f"{' (skipped)' if args.no_e2e else ''}; training batch {args.train_batch} × {args.train_steps} steps; "
                f"k-scale k = {args.ks} × {args.passages} passages{'; no pair-by-pair reference' if args.no_pairwise else ''}")
    parts = [f"# Benchmark results\n\nOne run of `python benchmarks/run_all.py` ({settings}).\n\n"
             f"Machine at the start: {machine.line()}.\n"]

    def add(title: str, body: str) -> None:  # written after every section, so that a failure later loses nothing
        parts.append(f"## {title}\n\nMachine: {machine.line()}.\n\n{body}")
        print(parts[-1], flush=True)
        if not args.quick:
            args.out.write_text("\n\n".join(parts) + "\n", encoding="utf-8")

    quick = args.quick
    for section in only:
        if section == "ranking":
            sizes = (2_400, 20_000) if quick else (2_400, 100_000, 1_000_000)
            rows = bench_ranking.run(sizes=sizes, queries=200 if quick else args.queries, repeat=args.repeat)
            add("Ranking, like for like", bench_ranking.markdown(rows))
        elif section == "evaluators":
            add("Against the evaluator users run",
                bench_evaluators.markdown(bench_evaluators.run(langs=("en", "zh"))))
        elif section == "encode":
            r = bench_encode.run(args.data, texts=30 if quick else args.texts, repeat=1 if quick else args.encode_repeat,
                                 quality_items=40 if quick else args.quality_items, e2e=not args.no_e2e,
                                 extra=args.encode_extra)
            add("Encoding", bench_encode.markdown(r))
        elif section == "training":
            add("Training", bench_training.markdown(bench_training.run(batch=8 if quick else args.train_batch,
                                                                       steps=2 if quick else args.train_steps,
                                                                       evidence=args.evidence,
                                                                       estimate=not (quick or args.no_estimate))))
        elif section == "languages":
            add("k-language evaluation cost", bench_languages.markdown(
                bench_languages.run(pairwise=not (quick or args.no_pairwise))))
        elif section == "gpu":
            import torch

            if not torch.cuda.is_available():
                add("GPU figures", bench_encode.GPU_NOTE)
            else:
                tps = bench_encode.gpu_speed(bench_encode.speed_requests(bench_encode.DEFAULT_XQUAD, args.texts))
                add("GPU figures", "\n".join(["| path | texts/s | × fp32 |", "|---|---:|---:|"] +
                                             [f"| {k} | {v:.0f} | {v / tps['fp32']:.2f} |" for k, v in tps.items()]))
        elif section == "neighbours":
            add("Neighbourhoods with faiss: bitext mining, purity, an index over 1M vectors", bench_neighbours.markdown(
                bench_neighbours.run(langs=6 if quick else args.nb_langs, sentences=200 if quick else 1000,
                                     vectors=50_000 if quick else args.nb_vectors, demo=not quick)))
        elif section == "kscale":
            ks = (4, 8, 16) if quick else tuple(int(x) for x in args.ks.split(","))
            add("Scale in languages: one Multi pool of k languages", bench_kscale.markdown(
                bench_kscale.run(ks, 100 if quick else args.passages, repeat=1 if quick else 2)))


if __name__ == "__main__":
    main()
