"""Run every benchmark in one process and write ``benchmarks/RESULTS.md``.

    python benchmarks/run_all.py [--quick] [--only ranking,evaluators,encode,training]

Each section compares like with like (same pool, same texts, same process) against a named
baseline and prints ratios with their targets. Run it on an idle machine: the figures are wall times.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
from pathlib import Path

import bench_encode
import bench_evaluators
import bench_languages
import bench_ranking
import bench_training

HERE = Path(__file__).resolve().parent


def machine() -> str:
    import numpy as np
    import torch

    from xlalign.models.device import cpu_has_bf16_units, cpu_model

    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return (f"{datetime.date.today().isoformat()} · {cpu_model()} · {os.cpu_count()} cores · {mem:.0f} GiB · "
            f"bf16 matrix units: {'yes' if cpu_has_bf16_units() else 'no'} · GPU: {gpu} · Python "
            f"{platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run, not for RESULTS.md)")
    ap.add_argument("--only", default="ranking,evaluators,encode,training,languages")
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    ap.add_argument("--queries", type=int, default=1000, help="ranking: queries per pool")
    ap.add_argument("--repeat", type=int, default=3, help="ranking: timed repeats (best of)")
    ap.add_argument("--texts", type=int, default=600, help="encoding: texts per kind")
    ap.add_argument("--no-quality", action="store_true", help="encoding: skip the bf16-vs-fp32 XQuAD quality check")
    ap.add_argument("--no-pairwise", action="store_true", help="languages: skip the pair-by-pair reference")
    args = ap.parse_args()
    only = set(args.only.split(","))
    settings = (f"ranking {args.queries} queries, best of {args.repeat}; encoding {args.texts} texts"
                f"{', no quality check' if args.no_quality else ''}{'; no pair-by-pair reference' if args.no_pairwise else ''}")
    parts = [f"# Benchmark results\n\nOne run of `python benchmarks/run_all.py` ({settings}) on: {machine()}.\n"]

    def add(section: str) -> None:  # written after every section, so that a failure later loses nothing
        parts.append(section)
        print(section, flush=True)
        if not args.quick:
            args.out.write_text("\n\n".join(parts) + "\n", encoding="utf-8")

    if "ranking" in only:
        sizes = (2_400, 20_000) if args.quick else (2_400, 100_000, 1_000_000)
        rows = bench_ranking.run(sizes=sizes, queries=200 if args.quick else args.queries, repeat=args.repeat)
        add("## Ranking, like for like\n\n" + bench_ranking.markdown(rows))
    if "evaluators" in only:
        add("## Against the evaluator users run\n\n" + bench_evaluators.markdown(bench_evaluators.run(langs=("en", "zh"))))
    if "encode" in only:
        add("## Encoding\n\n" + bench_encode.markdown(
            bench_encode.run(texts=150 if args.quick else args.texts, repeat=1 if args.quick else 2,
                             with_quality=not (args.quick or args.no_quality))))
    if "training" in only:
        add("## Training\n\n" + bench_training.markdown(bench_training.run(batch=8 if args.quick else 16,
                                                                           steps=2 if args.quick else 3)))
    if "languages" in only:
        add("## k-language evaluation cost\n\n" + bench_languages.markdown(
            bench_languages.run(pairwise=not (args.quick or args.no_pairwise))))


if __name__ == "__main__":
    main()
