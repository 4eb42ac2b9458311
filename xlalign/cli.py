"""Command line: ``xlalign`` (the installed command) or ``python -m xlalign``, with the subcommands
``evaluate|align|compare|export|sweep``. This module is thin: it parses, calls, prints.

The options are generated from :mod:`xlalign.specs`, so every default, choice and help text lives
there once. Building the parser and ``--help`` import neither torch nor sentence-transformers; a
command imports what it needs when it runs. Results go to stdout; progress, warnings and
diagnostics (``logging``, ``-v``) to stderr. A user error is one line (exit 2); a bug prints a short
message, and its traceback with ``--debug`` (exit 3). Ctrl-C exits 130 and SIGTERM 143, both recorded
as an interruption, with nothing half-written. The alignment methods and their option groups come from
the registry (:mod:`xlalign.align.base`).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import signal
import sys
import traceback
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

from tqdm.contrib.logging import logging_redirect_tqdm

from xlalign.align.base import AlignSpec, aligner_class, registered
from xlalign.errors import ConfigError, XlalignError, disk_full
from xlalign.specs import EvalSpec, IndexSpec, ModelSpec, OptionInfo, option, options, split_list


# --------------------------------------------------------------------------------------------
# Parser generated from the specs
# --------------------------------------------------------------------------------------------
def _flag(o: OptionInfo, prefix: str) -> str:
    return o.flag or "--" + prefix + o.name.replace("_", "-")


def _number(text: str) -> int | float:
    """A number as typed; whole numbers become ints. Whether it is valid (finite, whole, in range) is the spec's
    to say, so that the command line, the app and the API give the same message."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    return int(value) if math.isfinite(value) and value.is_integer() else value


def _type(o: OptionInfo) -> Any:
    if o.parse is not None:
        return o.parse
    return _number if o.kind in (int, float) else str


def add_spec_options(parser: argparse.ArgumentParser | Any, spec: type, key: str, prefix: str = "",
                     skip: Sequence[str] = ()) -> None:
    """One argument per CLI option of ``spec``; ``dest`` is ``"<key>.<field>"``, the default the spec's."""
    for o in options(spec):
        if not o.cli or o.name in skip:
            continue
        dest = f"{key}.{o.name}"
        shows_default = o.default not in (None, False) and "(default" not in o.help  # a help may say its own
        text = o.help + (f" (default: {_shown(o.default)})" if shows_default else "")
        if o.kind is bool:
            parser.add_argument(_flag(o, prefix), dest=dest, action=argparse.BooleanOptionalAction, default=o.default,
                                help=o.help)
        else:
            parser.add_argument(_flag(o, prefix), dest=dest, type=_type(o), default=o.default, choices=o.choices,
                                metavar=_metavar(o), help=text)


def _metavar(o: OptionInfo) -> str | None:
    """What ``--help`` shows for the value: the spec's, the choices ({a,b}), or the field's name (``MODEL``, never
    argparse's ``MODEL.MODEL`` from the dest)."""
    if o.metavar is not None or o.choices:
        return o.metavar
    return o.name.upper()


def _shown(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def spec_from_args(spec: type, args: argparse.Namespace, key: str, **nested: Any) -> Any:
    """Build ``spec`` from the parsed ``<key>.<field>`` values (validation happens in the spec)."""
    values = {o.name: getattr(args, f"{key}.{o.name}") for o in options(spec) if o.cli}
    return spec(**values, **nested)


def align_spec_from_args(args: argparse.Namespace) -> AlignSpec:
    """The alignment spec with the chosen method's options; an option of another method is refused."""
    chosen = aligner_class(getattr(args, "align.method"))
    built = {name: spec_from_args(cls.Options, args, name) for name, cls in registered().items()}  # every value checked
    for name, cls in registered().items():
        if cls is chosen:
            continue
        for o in options(cls.Options):
            if o.cli and getattr(args, f"{name}.{o.name}", o.default) != o.default:
                raise ConfigError(f"{_flag(o, cls.flag_prefix)} is an option of --method {name}, not of "
                                  f"--method {chosen.name}")
    spec: AlignSpec = spec_from_args(AlignSpec, args, "align", options=built[chosen.name])
    return spec


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache-dir", type=Path, default=None, help="embedding cache folder (default: ~/.cache/xlalign)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="diagnostic logging on stderr, with the time of each phase (encode, rank, metrics, fit)")
    p.add_argument("--debug", action="store_true", help="show the traceback of an internal error")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``error: …`` and exit 2), like every other user error of the CLI."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


#: What ``xlalign --help`` says first (the module docstring is for developers).
DESCRIPTION = ("Diagnose and fix cross-lingual misalignment in multilingual retrievers: evaluate a model, align it "
               "(centering, LSAR, Procrustes or fine-tune), compare runs, export an alignment, sweep models. "
               "Run `%(prog)s COMMAND --help` for a command's options.")


def _prog() -> str:
    """``xlalign`` when run as the installed command, else ``python -m xlalign``."""
    return "xlalign" if Path(sys.argv[0]).name == "xlalign" else "python -m xlalign"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=_prog(), description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)

    ev = sub.add_parser("evaluate", help="diagnose a model: every scenario, the language-bias matrix, the verdict")
    add_spec_options(ev.add_argument_group("model"), ModelSpec, "model")
    add_spec_options(ev.add_argument_group("evaluation"), EvalSpec, "eval")
    add_spec_options(ev.add_argument_group("your index (faiss)"), IndexSpec, "index")
    ev.add_argument("--out", type=Path, required=True,
                    help="output folder (summary.csv, matrix.csv, per_query.csv, bitext.csv, purity.csv, probe.csv, "
                         "run.json; with --index also index.csv, index_verdicts.csv)")
    ev.add_argument("--overwrite", action="store_true", help="replace the results of an earlier evaluation in --out")
    _common(ev)
    ev.set_defaults(func=cmd_evaluate)

    al = sub.add_parser("align", help="align a model (centering, LSAR, Procrustes or fine-tune) and compare before/after")
    add_spec_options(al.add_argument_group("model"), ModelSpec, "model")
    add_spec_options(al.add_argument_group("evaluation"), EvalSpec, "eval")
    add_spec_options(al.add_argument_group("alignment"), AlignSpec, "align")
    for name, method in registered().items():
        add_spec_options(al.add_argument_group(f"{name} ({method.summary})"), method.Options, name,
                         method.flag_prefix)
    al.add_argument("--out", type=Path, required=True, help="run folder (new, empty, or an earlier run of xlalign)")
    al.add_argument("--overwrite", action="store_true",
                    help="replace a finished run in --out (the new run is built beside it and replaces it when done)")
    _common(al)
    al.set_defaults(func=cmd_align)

    cp = sub.add_parser("compare", help="put several alignment runs side by side")
    cp.add_argument("runs", nargs="+", type=Path, help="run folders (each with compare.csv)")
    cp.add_argument("--out", type=Path, required=True, help="output folder (compare.csv, side_by_side.csv)")
    cp.add_argument("--overwrite", action="store_true", help="replace an earlier compare output in --out")
    _common(cp)
    cp.set_defaults(func=cmd_compare)

    ex = sub.add_parser("export", help="export a run's alignment as something users can load")
    ex.add_argument("run", type=Path, help="a finished alignment run folder")
    ex.add_argument("--out", type=Path, required=True, help="a new folder for the export")
    ex.add_argument("--overwrite", action="store_true", help="replace an earlier export in --out")
    _common(ex)
    ex.set_defaults(func=cmd_export)

    sw = sub.add_parser("sweep", help="models × language pairs on one dataset → one leaderboard CSV")
    sw.add_argument("--models", type=split_list, required=True, help="comma-separated model ids or paths")
    sw.add_argument("--data", default=EvalSpec.data, help="as for evaluate --data")
    sw.add_argument("--pivot", default=EvalSpec.langs[0], help="pivot language")
    sw.add_argument("--targets", type=split_list, required=True, help="comma-separated target languages")
    sw.add_argument("--pool", default=EvalSpec.pool, choices=option(EvalSpec, "pool").choices)
    sw.add_argument("--engine", default="local", choices=("local", "ray"), help="local, or Ray tasks (pip install ray)")
    sw.add_argument("--ray-address", default=None, help="Ray cluster address (default: start or join a local one)")
    sw.add_argument("--out", type=Path, required=True, help="output folder (leaderboard.csv)")
    sw.add_argument("--overwrite", action="store_true", help="replace an earlier leaderboard in --out")
    add_spec_options(sw.add_argument_group("model options (every model)"), ModelSpec, "model", skip=("model",))
    _common(sw)
    sw.set_defaults(func=cmd_sweep)
    return parser


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------
def _cache(args: argparse.Namespace) -> Any:
    from xlalign.models.cache import EmbeddingCache

    return EmbeddingCache(args.cache_dir / "embeddings.sqlite") if args.cache_dir else EmbeddingCache()


def cmd_evaluate(args: argparse.Namespace) -> int:
    model, evaluation = spec_from_args(ModelSpec, args, "model"), spec_from_args(EvalSpec, args, "eval")
    index = spec_from_args(IndexSpec, args, "index")
    from xlalign.core.evaluate import encode_corpus, evaluate_embeddings
    from xlalign.core.loaders import load_corpus
    from xlalign.models.encoders import SentenceTransformerEncoder
    from xlalign.progress import TqdmProgress
    from xlalign.report.neighbourhoods import format_neighbourhoods, index_text
    from xlalign.report.provenance import made_with, stamp
    from xlalign.report.tables import format_report
    from xlalign.services.neighbourhoods import index_report, neighbourhood_tables
    from xlalign.store.runs import ResultFolder, csv_text, evaluation_record

    with ResultFolder(args.out, overwrite=args.overwrite, kind="evaluate") as folder:
        corpus = load_corpus(evaluation.data, list(evaluation.langs))
        encoder = SentenceTransformerEncoder(model, cache=_cache(args))
        progress = TqdmProgress()
        try:
            emb = encode_corpus(corpus, encoder, evaluation.langs, progress)
            result = evaluate_embeddings(corpus, emb, evaluation, progress)
            found = neighbourhood_tables(corpus, emb, evaluation.langs, probe=True)
            mine = None if index.exact else index_report(corpus, emb, result, index, progress)
        finally:
            progress.close()
        made = made_with(encoder, model, evaluation.pool)
        record = {**evaluation_record(corpus, model, evaluation, encoder), "made_with": made.to_dict()}
        files = {"summary.csv": result.summary_frame(), "matrix.csv": result.matrix_frame(),
                 "per_query.csv": result.per_query, "bitext.csv": found.bitext, "purity.csv": found.purity,
                 "probe.csv": found.probe}
        if mine is not None:
            record["index"] = mine.record
            files |= {"index.csv": mine.table, "index_verdicts.csv": mine.verdicts}
        texts = {name: csv_text(stamp(frame, made)) for name, frame in files.items() if frame is not None}
        folder.write({**texts, "run.json": json.dumps(record, indent=2, ensure_ascii=False, default=str) + "\n"})
    print(format_report(result, f"{model.model} on {corpus.name} ({len(corpus)} queries, {evaluation.pool} pools)"))
    print("\n" + format_neighbourhoods(found, result))
    if mine is not None:
        print("\n" + index_text(mine.record, mine.table, mine.flips))
    print(f"\nmade with: {made.footer()}")
    print(f"wrote {args.out}/{', '.join(texts)}, run.json "
          f"({record['encoder_calls']['texts_encoded']} texts encoded, the rest from the cache)")
    return 0


def cmd_align(args: argparse.Namespace) -> int:
    model, evaluation = spec_from_args(ModelSpec, args, "model"), spec_from_args(EvalSpec, args, "eval")
    align = align_spec_from_args(args)
    from xlalign.align.base import Cancelled
    from xlalign.progress import TqdmProgress
    from xlalign.report.provenance import from_dict as provenance_from_dict
    from xlalign.report.tables import format_compare
    from xlalign.services.pipeline import run_alignment

    progress = TqdmProgress()
    try:
        outcome = run_alignment(model, evaluation, align, args.out, overwrite=args.overwrite, cache=_cache(args),
                                progress=progress)
    except Cancelled as e:
        print(f"cancelled: {e}", file=sys.stderr)
        return 130
    finally:
        progress.close()
    from xlalign.core.verdict import verdicts

    found = {side: verdicts(res.summary_frame(), res.matrix_frame(), evaluation.pivot, evaluation.langs)
             for side, res in (("before", outcome.before), ("after", outcome.after))}
    print(format_compare(outcome.compare, f"{align.describe()} · {model.model} on {evaluation.data} "
                                          f"({'+'.join(evaluation.langs)}), held-out part", evaluation.pivot,
                         found["before"], found["after"]))
    made = provenance_from_dict(outcome.record.get("made_with"))
    if made is not None:
        print(f"\nmade with: {made.footer()}")
    for w in outcome.record.get("warnings", []):
        print(f"warning: {w}")
    print(f"\nwrote {args.out}/compare.csv and the run record; export it with: python -m xlalign export {args.out} "
          "--out EXPORT_DIR")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from xlalign.report.tables import format_side_by_side
    from xlalign.store.runs import ResultFolder, compare_runs, csv_text

    found = compare_runs(args.runs)
    wide = found.wide()
    with ResultFolder(args.out, overwrite=args.overwrite, names=("compare.csv", "side_by_side.csv"), kind="compare",
                      inputs=args.runs) as folder:
        folder.write({"compare.csv": csv_text(found.stacked), "side_by_side.csv": csv_text(wide.reset_index())})
    for note in found.notes:
        print(f"note: {note}")
    print(format_side_by_side(wide))
    print("", *found.made_with_lines(), sep="\n")
    print(f"\nwrote {args.out}/compare.csv and side_by_side.csv")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from xlalign.store.export import export_run

    out = export_run(args.run, args.out, overwrite=args.overwrite)
    print(f"exported {args.run} to {out}; see {out}/README.md")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from xlalign.progress import TqdmProgress
    from xlalign.report.provenance import short_fingerprint
    from xlalign.services.sweep import SweepSpec, run_sweep
    from xlalign.store.runs import ResultFolder, csv_text

    template = {o.name: getattr(args, f"model.{o.name}") for o in options(ModelSpec) if o.cli and o.name != "model"}
    models = [ModelSpec(model=m, **template) for m in args.models]
    spec = SweepSpec(models=tuple(models), data=args.data, pivot=args.pivot, targets=tuple(args.targets), pool=args.pool)
    with ResultFolder(args.out, overwrite=args.overwrite, names=("leaderboard.csv",), kind="sweep") as folder:
        progress = TqdmProgress()
        try:
            board = run_sweep(spec, engine=args.engine, ray_address=args.ray_address,
                              cache_dir=args.cache_dir, progress=progress)
        finally:
            progress.close()
        folder.write({"leaderboard.csv": csv_text(board)})
    failed = board.attrs.get("failed", {})
    shown = board[board["error"] == ""].drop(columns="error") if "error" in board else board
    print(shown.drop(columns=["model_fingerprint", "xlalign_version"], errors="ignore").to_string(
        index=False, float_format=lambda v: f"{v:.2f}"))
    if {"model_fingerprint", "precision", "xlalign_version"} <= set(shown.columns) and len(shown):
        made = shown[["model", "model_fingerprint", "precision"]].drop_duplicates()
        print("\nmade with: " + "; ".join(f"{m} (fingerprint {short_fingerprint(f)}, precision {p})"
                                          for m, f, p in made.itertuples(index=False))
              + f" · {args.pool} pools · xlalign {shown['xlalign_version'].iloc[0]}")
    print(f"wrote {args.out}/leaderboard.csv")
    if failed:
        for name, reason in failed.items():
            print(f"error: {name}: {reason}", file=sys.stderr)
        print(f"error: {len(failed)} of {len(models)} model(s) failed; the leaderboard keeps the other models' rows "
              "and marks the failed ones", file=sys.stderr)
        return 1
    return 0


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------
def _setup_logging(verbose: bool) -> None:
    """Warnings on stderr; ``-v`` adds INFO from everything and DEBUG from xlalign (the phase timings)."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    if verbose:
        logging.getLogger("xlalign").setLevel(logging.DEBUG)

    def show(message: Warning | str, category: type[Warning], *rest: Any, **kw: Any) -> None:
        print(f"warning: {message}", file=sys.stderr)

    warnings.showwarning = show


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While a command runs, SIGTERM raises :class:`~xlalign.store.runs.Terminated` (a KeyboardInterrupt), so
    that it is cleaned up and recorded like Ctrl-C instead of leaving a run "running" for ever."""
    from xlalign.store.runs import Terminated

    def handler(signum: int, frame: Any) -> None:
        raise Terminated("terminated (SIGTERM)")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    from xlalign.store.runs import Terminated

    try:
        with sigterm_as_interrupt(), logging_redirect_tqdm():  # a log line never lands inside a progress bar
            return int(args.func(args))
    except Terminated:
        print("terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except XlalignError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        where = f": {e.filename}" if getattr(e, "filename", None) else ""
        print(f"error: {e.strerror or e}{where}", file=sys.stderr)
        return 2
    except Exception as e:
        if args.debug:
            traceback.print_exc()
        if disk_full(e):  # a library's own wording of a full disk, where no writer named what it wrote
            print(f"error: no space left on the device ({type(e).__name__}: {str(e).splitlines()[0][:200]})",
                  file=sys.stderr)
            return 2
        print(f"internal error: {type(e).__name__}: {e} — this is a bug; rerun with --debug for the traceback",
              file=sys.stderr)
        return 3
