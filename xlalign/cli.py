"""Command line: ``python -m xlalign evaluate|align|compare`` (thin: parse, call, print)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xlalign.errors import ConfigError, XlalignError
from xlalign.scenarios import POOL_MODES, SCENARIOS

DEFAULT_MODEL = "bundled:multilingual-e5-small"


class TqdmProgress:
    """Encoder progress as tqdm bars on stderr, one bar per encode call."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.label = "encoding"

    def status(self, message: str, fraction: float) -> None:
        self.close()
        self.label = message
        if message.startswith("ranking") or message == "done":
            print(f"· {message}", file=sys.stderr)

    def __call__(self, done: int, total: int) -> None:
        from tqdm import tqdm

        if self.bar is None or self.bar.total != total or done < self.bar.n:
            self.close()
            self.bar = tqdm(total=total, desc=self.label, unit="text", file=sys.stderr, leave=False)
        self.bar.update(done - self.bar.n)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _langs(value: str) -> tuple[str, str]:
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if len(parts) != 2 or parts[0] == parts[1]:
        raise argparse.ArgumentTypeError(f"expected two distinct languages like en,zh, got {value!r}")
    return parts[0], parts[1]


def _scenarios(value: str) -> tuple[str, ...]:
    parts = tuple(p.strip() for p in value.split(",") if p.strip())
    bad = [p for p in parts if p not in SCENARIOS]
    if bad or not parts:
        raise argparse.ArgumentTypeError(f"unknown scenario(s) {bad or value!r}; choose from {','.join(SCENARIOS)}")
    return parts


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default="demo",
                   help="demo | xquad | belebele | xquad:LOCALDIR | a folder of SQuAD <name>.<lang>.json | a JSONL/CSV file")
    p.add_argument("--langs", type=_langs, default=("en", "zh"), help="pivot,target (default en,zh)")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"hub id, local path or {DEFAULT_MODEL} (default)")
    p.add_argument("--pool", choices=POOL_MODES, default="dedup", help="dedup (default) or per-question")
    p.add_argument("--scenarios", type=_scenarios, default=SCENARIOS, help="comma list (default: all four)")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-seq-length", type=int, default=None)
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: best available)")
    p.add_argument("--trust-remote-code", action="store_true", help="allow models that run their own code")
    p.add_argument("--cache-dir", type=Path, default=None, help="embedding cache folder (default ~/.cache/xlalign)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m xlalign", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("evaluate", help="diagnose a model on the four scenarios")
    add_common(ev)
    ev.set_defaults(func=cmd_evaluate)
    from xlalign.align.cli import add_align_parsers

    add_align_parsers(sub, add_common)
    return parser


def make_cli_encoder(args: argparse.Namespace, progress: TqdmProgress) -> Any:
    from xlalign.encoders import EmbeddingCache, make_encoder

    cache = EmbeddingCache(args.cache_dir / "embeddings.sqlite") if args.cache_dir else None
    return make_encoder(
        args.model, cache=cache, trust_remote_code=args.trust_remote_code, batch_size=args.batch_size,
        max_seq_length=args.max_seq_length, device=args.device, progress=progress,
        status=lambda m: print(f"· {m}", file=sys.stderr),
    )


def cmd_evaluate(args: argparse.Namespace) -> int:
    from xlalign.evaluate import EvalConfig, evaluate
    from xlalign.loaders import load_corpus
    from xlalign.runs import write_evaluation
    from xlalign.tables import format_summary

    config = EvalConfig(langs=args.langs, scenarios=args.scenarios, pool=args.pool)
    corpus = load_corpus(args.data, list(args.langs))
    progress = TqdmProgress()
    encoder = make_cli_encoder(args, progress)
    started = time.time()
    result = evaluate(corpus, encoder, config, status=progress.status)
    progress.close()
    record = {
        "command": "evaluate",
        "data": args.data,
        "corpus": {"name": corpus.name, "items": len(corpus), "passages": corpus.n_passages, **corpus.meta},
        "config": {"langs": list(config.langs), "scenarios": list(config.scenarios), "pool": config.pool,
                   "ks": list(config.ks), "ndcg_ks": list(config.ndcg_ks)},
        "model": {"id": args.model, "fingerprint": encoder.fingerprint, "max_seq_length": args.max_seq_length,
                  "prompts": {"query": encoder.prompt_for("query"), "passage": encoder.prompt_for("passage")}},
        "encoder_calls": {"model_calls": encoder.n_model_calls, "texts_encoded": encoder.n_texts_encoded},
        "seconds": round(time.time() - started, 2),
    }
    out = write_evaluation(args.out, result, record)
    print(format_summary(result.summary_frame(),
                         f"{args.model} on {corpus.name} ({len(corpus)} queries, {args.pool} pool)"))
    print(f"\nwrote {out / 'summary.csv'}, {out / 'per_query.csv'}, {out / 'run.json'} "
          f"({encoder.n_texts_encoded} texts encoded, the rest from cache)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "batch_size", 1) < 1:
        parser.error("--batch-size must be ≥ 1")
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (XlalignError, ConfigError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
