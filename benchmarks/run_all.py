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
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench_encode
import bench_evaluators
import bench_languages
import bench_ranking
import bench_training

HERE = Path(__file__).resolve().parent


def machine() -> str:
    import numpy as np
    import torch

    from xlalign.device import cpu_has_bf16_units, cpu_model

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
    args = ap.parse_args()
    only = set(args.only.split(","))
    parts = [f"# Benchmark results\n\nOne run of `python benchmarks/run_all.py` on: {machine()}.\n"]
    if "ranking" in only:
        sizes = (2_400, 20_000) if args.quick else (2_400, 100_000, 1_000_000)
        rows = bench_ranking.run(sizes=sizes, queries=200 if args.quick else 1000)
        parts.append("## Ranking, like for like\n\n" + bench_ranking.markdown(rows))
    if "evaluators" in only:
        parts.append("## Against the evaluator users run\n\n" + bench_evaluators.markdown(
            bench_evaluators.run(langs=("en", "zh"))))
    if "encode" in only:
        parts.append("## Encoding\n\n" + bench_encode.markdown(
            bench_encode.run(texts=150 if args.quick else 600, repeat=1 if args.quick else 2,
                             with_quality=not args.quick)))
    if "training" in only:
        parts.append("## Training\n\n" + bench_training.markdown(bench_training.run(batch=8 if args.quick else 16,
                                                                                   steps=2 if args.quick else 3)))
    if "languages" in only:
        parts.append("## k-language evaluation cost\n\n" + bench_languages.markdown(
            bench_languages.run(pairwise=not args.quick)))
    text = "\n\n".join(parts) + "\n"
    print(text)
    if not args.quick:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
