"""``align`` and ``compare`` subcommands (thin wrappers over :mod:`xlalign.align.pipeline`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xlalign.align.centering import MODES
from xlalign.align.losses import VARIANTS
from xlalign.align.pipeline import CENTER_QUERIES, FIT_ON, METHODS


def add_align_parsers(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    al = sub.add_parser("align", help="align a model (centering, Procrustes or fine-tune) and compare before/after")
    add_common(al)
    al.add_argument("--method", choices=METHODS, required=True)
    al.add_argument("--train-data", default="split",
                    help="split (group-disjoint split of --data; default), demo, or a q_en,p_en,p_tgt JSONL/CSV")
    al.add_argument("--test-fraction", type=float, default=0.5)
    al.add_argument("--split-seed", type=int, default=42)
    al.add_argument("--centering-mode", choices=MODES, default="subtract",
                    help="subtract each language's mean (default) or shift the target mean onto the pivot's")
    al.add_argument("--centering-queries", choices=CENTER_QUERIES, default="own",
                    help="query means from training questions (own, default), the passage offsets, or none")
    al.add_argument("--no-procrustes-center", dest="procrustes_center", action="store_false",
                    help="fit the rotation without removing the means first")
    al.add_argument("--fit-on", choices=FIT_ON, default="both", help="Procrustes pairs: passages, questions or both")
    ft = al.add_argument_group("fine-tune (Hong et al. 2026, Appendix C defaults)")
    ft.add_argument("--variant", choices=VARIANTS, default="jsd+nce")
    ft.add_argument("--epochs", type=float, default=1.0)
    ft.add_argument("--train-batch-size", type=int, default=32)
    ft.add_argument("--lr", type=float, default=None, help="default: the model family's rate")
    ft.add_argument("--max-steps", type=int, default=-1)
    ft.add_argument("--train-max-seq-length", type=int, default=256)
    ft.add_argument("--freeze-word-embeddings", action="store_true")
    ft.add_argument("--seed", type=int, default=42)
    al.set_defaults(func=cmd_align)

    cp = sub.add_parser("compare", help="put several alignment runs side by side")
    cp.add_argument("runs", nargs="+", type=Path, help="run directories (each with compare.csv)")
    cp.add_argument("--out", type=Path, required=True)
    cp.set_defaults(func=cmd_compare)


def cmd_align(args: argparse.Namespace) -> int:
    from xlalign.align.finetune import Cancelled
    from xlalign.align.pipeline import AlignConfig, run_alignment
    from xlalign.cli import TqdmProgress
    from xlalign.runs import now_iso, write_status

    config = AlignConfig(
        method=args.method, data=args.data, langs=args.langs, model=args.model, pool=args.pool,
        scenarios=args.scenarios, train_data=args.train_data, test_fraction=args.test_fraction,
        split_seed=args.split_seed, centering_mode=args.centering_mode,
        centering_queries=args.centering_queries, procrustes_center=args.procrustes_center,
        procrustes_fit_on=args.fit_on, trust_remote_code=args.trust_remote_code, batch_size=args.batch_size,
        max_seq_length=args.max_seq_length,
        finetune={"variant": args.variant, "epochs": args.epochs, "batch_size": args.train_batch_size,
                  "learning_rate": args.lr, "max_steps": args.max_steps, "max_seq_length": args.train_max_seq_length,
                  "freeze_word_embeddings": args.freeze_word_embeddings, "seed": args.seed, "device": args.device},
    )
    out: Path = args.out
    if (out / "compare.csv").exists():
        print(f"error: {out} already holds a finished run; choose another --out", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    write_status(out, state="running", started=now_iso(), message="running", method=config.method)
    progress = TqdmProgress()

    def on_train(entry: dict[str, Any]) -> None:
        if entry.get("step") == 0:
            return
        parts = " ".join(f"{k}={entry[k]:.4f}" for k in ("loss", "jsd", "nce", "nce_psg") if k in entry)
        eta = f" eta {entry['eta_s']:.0f}s" if entry.get("eta_s") is not None else ""
        print(f"· step {entry['step']}/{entry['total']} {parts}{eta}", file=sys.stderr)

    try:
        outcome = run_alignment(config, out, status=lambda m, f: print(f"· {m}", file=sys.stderr),
                                train_progress=on_train, cache_dir=args.cache_dir)
    except Cancelled as e:
        write_status(out, state="cancelled", message=str(e), finished=now_iso())
        print(f"cancelled: {e}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        write_status(out, state="cancelled", message="interrupted", finished=now_iso())
        raise
    except Exception as e:
        write_status(out, state="failed", message=f"{type(e).__name__}: {e}", error=str(e), finished=now_iso())
        raise
    finally:
        progress.close()
    write_status(out, state="succeeded", message="done", progress=1.0, finished=now_iso())
    print(format_compare(outcome.compare, f"{config.method} on {config.data} ({'/'.join(config.langs)}), held-out"))
    for key in ("procrustes", "centering", "finetune"):
        if key in outcome.record:
            info = {k: v for k, v in outcome.record[key].items() if not isinstance(v, (list, dict))}
            print(f"{key}: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in info.items()))
            for w in outcome.record[key].get("warnings", []):
                print(f"warning: {w}")
    print(f"\nwrote {out / 'compare.csv'} and the run record in {out}")
    return 0


def format_compare(table: Any, title: str) -> str:
    from xlalign.tables import HEADLINE

    keep = table[[m in HEADLINE.get(s, ()) for s, m in zip(table.scenario, table.metric, strict=True)]]
    shown = keep[["scenario", "query_lang", "metric", "before", "after", "delta", "ci_low", "ci_high", "p_value"]]
    return title + "\n" + shown.to_string(index=False, float_format=lambda v: f"{v:.3f}")


def cmd_compare(args: argparse.Namespace) -> int:
    from xlalign.compare import compare_run_dirs, side_by_side
    from xlalign.runs import atomic_write_csv

    stacked = compare_run_dirs(args.runs)
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_csv(args.out / "compare.csv", stacked)
    wide = side_by_side(stacked)
    atomic_write_csv(args.out / "side_by_side.csv", wide.reset_index())
    print(wide.to_string(na_rep="–"))
    print(f"\nwrote {args.out / 'compare.csv'} and {args.out / 'side_by_side.csv'}")
    return 0
