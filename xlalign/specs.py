"""Typed specifications of what to run: the model, the evaluation, and each alignment method's options.

Every option is declared once, here, as a field of a frozen dataclass with its default, its
choices and its help text (``metadata=opt(...)``). The command line (:mod:`xlalign.cli`) and the
app's controls (``app.py``) are generated from these fields, so a default lives in exactly one
place; ``__post_init__`` validates every value with a one-line :class:`~xlalign.errors.ConfigError`
(numbers: finite and within the range their field declares, :func:`check_numbers`). The alignment
spec itself (:class:`xlalign.align.base.AlignSpec`) lives with the registry of methods it names.

This module imports nothing heavy (no torch, no sentence-transformers): ``--help`` stays fast.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from xlalign.errors import ConfigError

DEFAULT_MODEL_ID = "bundled:multilingual-e5-small"
#: Scenario names in display order (Hong et al. 2026, §5.1; k-language generalisation in scenarios.py).
SCENARIOS: tuple[str, ...] = ("multi", "multi-1", "mono-same", "mono-cross")
POOL_MODES: tuple[str, ...] = ("dedup", "per-question")
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16")
CENTERING_MODES: tuple[str, ...] = ("subtract", "shift")
#: How centering treats queries: ``own`` estimates query means from training questions (per role),
#: ``passage`` applies the passage offsets to queries too, ``none`` leaves queries unchanged.
CENTER_QUERIES: tuple[str, ...] = ("own", "passage", "none")
FIT_ON: tuple[str, ...] = ("both", "passages", "questions")
LSAR_ROLES: tuple[str, ...] = ("both", "passages")
VARIANTS: tuple[str, ...] = ("jsd+nce", "nce", "jsd", "nce_psg")
_LANG = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)*$")
_DEVICE = re.compile(r"^(cpu|mps|cuda(:\d+)?)$")


def opt(help: str | Callable[[], str], *, choices: Sequence[Any] | Callable[[], Sequence[Any]] | None = None,
        label: str | None = None, flag: str | None = None, parse: Callable[[str], Any] | None = None,
        metavar: str | None = None, cli: bool = True, ui: bool = True,
        bounds: tuple[float, float] | tuple[float, float, str] | None = None, integer: bool = False,
        what: str | None = None) -> dict[str, Any]:
    """Field metadata read by the CLI and app generators (``label`` is the app's short label).

    ``help`` and ``choices`` may be callables (resolved when the front ends are built, e.g. from a registry).
    ``bounds=(lo, hi[, "[]" | "(]" | "[)" | "()"])`` declares the valid range of a number (closed by default)
    and ``integer`` that it must be whole: :func:`check_numbers` enforces both with one message for every
    front end, and the help text states the range. ``what`` names the option in messages (default: the
    field name with spaces).
    """
    if bounds is not None:
        lo, hi, *rest = bounds
        bounds = (lo, hi, rest[0] if rest else "[]")
        text = f"range {_range_text(*bounds, integer=integer)}"
        help = _with_note(help, text)
    return {"help": help, "choices": choices if callable(choices) or choices is None else tuple(choices),
            "label": label, "flag": flag, "parse": parse, "metavar": metavar, "cli": cli, "ui": ui, "bounds": bounds,
            "integer": integer, "what": what}


def _with_note(help: str | Callable[[], str], note: str) -> str | Callable[[], str]:
    if callable(help):
        return lambda: f"{help()} ({note})"
    return f"{help} ({note})"


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _range_text(lo: float, hi: float, kind: str, *, integer: bool = False) -> str:
    if integer and kind == "[]":
        return f"{_fmt(lo)}–{_fmt(hi)}"
    return f"{kind[0]}{_fmt(lo)}, {_fmt(hi)}{kind[1]}"


def check_number(what: str, value: Any, lo: float, hi: float, kind: str = "[]", *, integer: bool = False) -> Any:
    """``value`` if it is a finite number in the range (integral floats become ints when ``integer``), else a
    one-line :class:`ConfigError`: the same message whether it came from the CLI, the app or the API.

    Intervals whose upper end is 1 are described as intervals (``must be in (0, 1)``); other ranges name the
    side that was crossed (``must be a number ≥ 1``, ``must be ≤ 65536``).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{what} must be a number, got {value!r}")
    v = float(value)
    shown = str(int(v)) if math.isfinite(v) and v.is_integer() else repr(v)  # 1e9 and 1000000000 read the same
    if not math.isfinite(v):
        raise ConfigError(f"{what} must be a finite number, got {shown}")
    if integer:
        if not v.is_integer():
            raise ConfigError(f"{what} must be a whole number, got {shown}")
        value = math.trunc(value)
    low_ok = v > lo if kind[0] == "(" else v >= lo
    high_ok = v < hi if kind[1] == ")" else v <= hi
    if low_ok and high_ok:
        return value
    if hi <= 1:
        raise ConfigError(f"{what} must be in {_range_text(lo, hi, kind)}, got {shown}")
    if not low_ok:
        raise ConfigError(f"{what} must be {'>' if kind[0] == '(' else 'a number ≥'} {_fmt(lo)}, got {shown}")
    raise ConfigError(f"{what} must be {'<' if kind[1] == ')' else '≤'} {_fmt(hi)}, got {shown}")


def check_numbers(spec: Any) -> None:
    """Validate (and normalise) every field of ``spec`` declared with ``bounds``; None passes where allowed."""
    hints = typing.get_type_hints(type(spec))
    for f in dataclasses.fields(spec):
        bounds = f.metadata.get("bounds")
        value = getattr(spec, f.name)
        if bounds is None or (value is None and _base_type(hints[f.name])[1]):
            continue
        what = f.metadata.get("what") or f.name.replace("_", " ")
        object.__setattr__(spec, f.name, check_number(what, value, *bounds, integer=f.metadata.get("integer", False)))


def split_list(value: str) -> tuple[str, ...]:
    """``"en, zh,ar"`` → ``("en", "zh", "ar")``."""
    return tuple(p.strip() for p in str(value).split(",") if p.strip())


def _choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(map(str, choices))}, got {value!r}")


def check_langs(langs: Sequence[str], *, minimum: int = 2, what: str = "langs") -> tuple[str, ...]:
    """Distinct language codes (ISO 639-1 or FLORES style), at least ``minimum`` of them."""
    out = tuple(str(x).strip() for x in langs)
    bad = [x for x in out if not _LANG.match(x)]
    if bad:
        raise ConfigError(f"{what}: {', '.join(map(repr, bad))} is not a language code (e.g. en, zh, zho_Hans)")
    if len(out) < minimum:
        raise ConfigError(f"{what} must name at least {minimum} language(s), got {list(out)}")
    dup = sorted({x for x in out if out.count(x) > 1})
    if dup:
        raise ConfigError(f"{what}: {', '.join(dup)} listed twice")
    return out


# --------------------------------------------------------------------------------------------
# Specs
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelSpec:
    """Which model, and how to run it."""

    model: str = field(default=DEFAULT_MODEL_ID, metadata=opt(
        f"sentence-transformers hub id, local model folder, or {DEFAULT_MODEL_ID} (offline default)", label="Model"))
    device: str | None = field(default=None, metadata=opt(
        "cpu, cuda, cuda:N or mps (default: the best available)", label="Device", ui=False))
    precision: str = field(default="auto", metadata=opt(
        "encoding precision: auto = bf16 where the hardware has bf16 matrix units (CUDA, AMX/AVX512-BF16 CPUs), "
        "else fp32", choices=PRECISIONS, label="Precision"))
    batch_size: int | None = field(default=None, metadata=opt(
        "texts per encoding batch (default: 32 on CPU; on GPU it starts at 256 and halves on out-of-memory)",
        label="Encode batch size", ui=False, bounds=(1, 65536), integer=True, what="batch size"))
    max_seq_length: int | None = field(default=None, metadata=opt(
        "truncate texts to this many tokens (default: the model's own limit; more than the model's limit is an "
        "error)", label="Max sequence length", ui=False, bounds=(8, 32768), integer=True, what="max sequence length"))
    trust_remote_code: bool = field(default=False, metadata=opt(
        "allow models that run code from their repository (gte-multilingual, jina-v3); refused in public mode",
        label="Trust remote code"))

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise ConfigError("model must be a non-empty model id or path")
        object.__setattr__(self, "model", self.model.strip())
        if self.device is not None and not _DEVICE.match(str(self.device)):
            raise ConfigError(f"device must be cpu, cuda, cuda:N or mps, got {self.device!r}")
        _choice("precision", self.precision, PRECISIONS)
        check_numbers(self)


@dataclass(frozen=True)
class EvalSpec:
    """What to evaluate: the data, the languages (pivot first) and the pools."""

    data: str = field(default="demo", metadata=opt(
        "demo | xquad | belebele (Hub) | xquad:DIR | belebele:DIR (local copies in Hub schema) | "
        "a folder of SQuAD <name>.<lang>.json | a JSONL/CSV file (id, lang, passage, question[, group])",
        label="Dataset"))
    langs: tuple[str, ...] = field(default=("en", "zh"), metadata=opt(
        "comma-separated languages, the pivot first (e.g. en,zh or en,es,de,zh); two or more",
        parse=split_list, metavar="PIVOT,LANG[,LANG...]", label="Languages"))
    pool: str = field(default="dedup", metadata=opt(
        "dedup: each distinct passage once per language (MTEB); per-question: one document per question "
        "(the paper's Table 1)", choices=POOL_MODES, label="Pool"))
    scenarios: tuple[str, ...] = field(default=SCENARIOS, metadata=opt(
        f"comma-separated scenarios (default: all of {','.join(SCENARIOS)})", parse=split_list,
        metavar="SCENARIO[,...]", label="Scenarios", ui=False))
    ks: tuple[int, ...] = field(default=(1, 5, 10, 20, 100), metadata=opt("Complete@K / Recall@K cutoffs", cli=False,
                                                                          ui=False))
    ndcg_ks: tuple[int, ...] = field(default=(1, 10), metadata=opt("NDCG@k cutoffs", cli=False, ui=False))

    def __post_init__(self) -> None:
        if not isinstance(self.data, str) or not self.data.strip():
            raise ConfigError("data must name a dataset, folder or file")
        object.__setattr__(self, "langs", check_langs(self.langs))
        object.__setattr__(self, "scenarios", tuple(self.scenarios))
        if not self.scenarios:
            raise ConfigError("no scenarios selected")
        for s in self.scenarios:
            _choice("scenario", s, SCENARIOS)
        if len(set(self.scenarios)) != len(self.scenarios):
            raise ConfigError(f"scenario listed twice: {list(self.scenarios)}")
        _choice("pool mode", self.pool, POOL_MODES)
        for k in (*self.ks, *self.ndcg_ks):
            if isinstance(k, bool) or not isinstance(k, int) or k < 1:
                raise ConfigError(f"cutoffs must be positive integers, got {k!r}")

    @property
    def pivot(self) -> str:
        return self.langs[0]

    @property
    def targets(self) -> tuple[str, ...]:
        return self.langs[1:]


#: The index value that means "no index of yours: the exact ranker only".
EXACT_INDEX = "exact"
#: What a faiss index factory string may hold (components such as HNSW32, IVF256, PQ32x8, OPQ16_64, SQ8, Flat);
#: faiss itself judges the rest. Bounds keep a visitor's string from asking for gigabytes: an IVF list count is at
#: most _INDEX_NUMBER_MAX, every other number (dimensions, sub-quantisers, search parameters) at most
#: _INDEX_OTHER_MAX, and an HNSW graph's M at most _HNSW_M_MAX (its memory grows with M per vector).
_INDEX = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(?:,[A-Za-z][A-Za-z0-9_]*)*$")
_INDEX_PARAMS = re.compile(r"^[A-Za-z_]+=[0-9]+(?:\.[0-9]+)?(?:,[A-Za-z_]+=[0-9]+(?:\.[0-9]+)?)*$")
_INDEX_NUMBER_MAX = 65536
_INDEX_OTHER_MAX = 4096
_HNSW_M_MAX = 256


@dataclass(frozen=True)
class IndexSpec:
    """The index a user deploys (faiss), searched beside the exact ranker: ``evaluate --index``, the app's Diagnose."""

    index: str = field(default=EXACT_INDEX, metadata=opt(
        "a faiss index factory string to search every pool with as well, e.g. HNSW32, IVF256,Flat or IVF256,PQ32 "
        "(inner product; trained on the pool, seed 1234); exact: the exact ranker only", flag="--index",
        metavar="FACTORY", label="Your index (faiss factory string)"))
    params: str = field(default="", metadata=opt(
        "faiss search parameters for that index, e.g. nprobe=16 or efSearch=128 (default: faiss's)",
        flag="--index-params", metavar="NAME=VALUE[,...]", label="Index search parameters"))
    depth: int = field(default=100, metadata=opt(
        "results fetched from the index per query; its K-metrics are reported for every K up to it",
        flag="--index-depth", label="Search depth", bounds=(10, 1000), integer=True, what="index depth"))

    def __post_init__(self) -> None:
        for name in ("index", "params"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise ConfigError(f"index {name} must be text, got {value!r}")
            object.__setattr__(self, name, "".join(value.split()))
        text = self.index or EXACT_INDEX
        if text.lower() == EXACT_INDEX:
            text = EXACT_INDEX
        elif len(text) > 100 or not _INDEX.match(text):
            raise ConfigError(f"index {self.index[:40]!r} is not a faiss index factory string (e.g. HNSW32, "
                              "IVF256,PQ32, Flat): letters, digits, underscores, commas")
        object.__setattr__(self, "index", text)
        if self.params and (len(self.params) > 200 or not _INDEX_PARAMS.match(self.params)):
            raise ConfigError(f"index parameters {self.params[:40]!r} must read name=value[,name=value…], "
                              "e.g. nprobe=16")
        lists = [int(x) for x in re.findall(r"IVF(\d+)", text)]
        others = [float(x) for x in re.findall(r"\d+(?:\.\d+)?", re.sub(r"IVF\d+", "IVF", f"{text},{self.params}"))]
        if any(x > _INDEX_NUMBER_MAX for x in lists) or any(x > _INDEX_OTHER_MAX for x in others):
            shown = repr(text) + (f" with {self.params!r}" if self.params else "")
            raise ConfigError(f"index {shown}: an IVF list count must be ≤ {_INDEX_NUMBER_MAX} and every other number "
                              f"≤ {_INDEX_OTHER_MAX}")
        hnsw = [int(m) for m in re.findall(r"HNSW(\d+)", text)]
        if any(m > _HNSW_M_MAX for m in hnsw):
            raise ConfigError(f"index {text!r}: an HNSW graph's M must be ≤ {_HNSW_M_MAX}, got {max(hnsw)}")
        check_numbers(self)
        if self.params and text == EXACT_INDEX:
            raise ConfigError("index parameters need an index (--index), not the exact ranker")

    @property
    def exact(self) -> bool:
        return self.index == EXACT_INDEX


@dataclass(frozen=True)
class CenteringOptions:
    """Language-mean centering (Libovický et al., 2020)."""

    mode: str = field(default="subtract", metadata=opt(
        "subtract each language's mean, or shift each language's mean onto the pivot's", choices=CENTERING_MODES,
        label="Centering mode"))
    queries: str = field(default="own", metadata=opt(
        "query means from training questions (own), the passage offsets (passage), or none", choices=CENTER_QUERIES,
        label="Centering: queries"))

    def __post_init__(self) -> None:
        _choice("centering mode", self.mode, CENTERING_MODES)
        _choice("centering queries", self.queries, CENTER_QUERIES)


@dataclass(frozen=True)
class ProcrustesOptions:
    """Orthogonal Procrustes onto the pivot (LREC 2026 SIGUL)."""

    center: bool = field(default=True, metadata=opt("remove the means before fitting the rotation",
                                                    label="Procrustes: centre first"))
    fit_on: str = field(default="both", metadata=opt("parallel pairs to fit on: passages, questions or both",
                                                     choices=FIT_ON, label="Procrustes pairs", flag="--fit-on"))

    def __post_init__(self) -> None:
        _choice("procrustes fit-on", self.fit_on, FIT_ON)


@dataclass(frozen=True)
class LsarOptions:
    """Language-subspace removal (Xie et al., 2022): one matrix for every language, no language tag."""

    rank: int | None = field(default=None, metadata=opt(
        "rank of the removed language subspace (default: chosen on a held-out part of the training data)",
        label="LSAR rank (empty: choose on held-out data)", flag="--rank", bounds=(1, 4096), integer=True,
        what="LSAR rank"))
    roles: str = field(default="both", metadata=opt(
        "estimate the subspace from passage and query means (both) or passage means only", choices=LSAR_ROLES,
        label="LSAR means from"))

    def __post_init__(self) -> None:
        check_numbers(self)
        _choice("LSAR roles", self.roles, LSAR_ROLES)


@dataclass(frozen=True)
class FinetuneOptions:
    """JSD + InfoNCE fine-tune (Hong et al. 2026, §4; defaults from Appendix C)."""

    variant: str = field(default="jsd+nce", metadata=opt(
        "loss: jsd+nce (the paper), nce or jsd (ablations), nce_psg (passage-passage InfoNCE baseline)",
        choices=VARIANTS, label="Loss"))
    jsd_weight: float = field(default=1.0, metadata=opt(
        "λ in L = λ·sqrt-JSD + InfoNCE (1 = the paper)", label="JSD weight λ", flag="--jsd-weight",
        bounds=(0, 1000), what="JSD weight"))
    epochs: float = field(default=1.0, metadata=opt("training epochs", label="Epochs", bounds=(0, 1000, "(]")))
    max_steps: int | None = field(default=None, metadata=opt(
        "cap on optimizer steps (default: no cap, the full epochs)", label="Max steps (empty: full epochs)",
        bounds=(1, 10_000_000), integer=True))
    batch_size: int = field(default=32, metadata=opt("training batch size (in-batch negatives)",
                                                     label="Train batch size", flag="--train-batch-size",
                                                     bounds=(2, 4096), integer=True, what="train batch size"))
    learning_rate: float | None = field(default=None, metadata=opt(
        "peak learning rate (default: the model family's rate from Appendix C; 2e-5 otherwise)",
        label="Learning rate (empty: model default)", flag="--lr", bounds=(0, 1, "()")))
    max_seq_length: int | None = field(default=256, metadata=opt("truncate training texts to this many tokens",
                                                                 label="Train max sequence length",
                                                                 flag="--train-max-seq-length", bounds=(8, 8192),
                                                                 integer=True, what="train max sequence length"))
    freeze_word_embeddings: bool = field(default=False, metadata=opt(
        "keep the word-embedding matrix fixed (faster on CPU)", label="Freeze word embeddings"))
    seed: int = field(default=42, metadata=opt("training seed (data order and batches)", label="Seed",
                                               bounds=(0, 2**32 - 1), integer=True))
    warmup_ratio: float = field(default=0.15, metadata=opt("linear warm-up share of the steps", ui=False,
                                                           bounds=(0, 1, "[)"), what="warm-up ratio"))
    weight_decay: float = field(default=0.01, metadata=opt("AdamW weight decay", ui=False, bounds=(0, 10)))
    adam_beta1: float = field(default=0.9, metadata=opt("AdamW β1", ui=False, bounds=(0, 1, "[)"),
                                                        what="Adam betas (β1)"))
    adam_beta2: float = field(default=0.99, metadata=opt("AdamW β2", ui=False, bounds=(0, 1, "[)"),
                                                         what="Adam betas (β2)"))
    scale: float = field(default=20.0, metadata=opt("InfoNCE scale (1/temperature)", ui=False,
                                                    bounds=(0, 1000, "(]"), what="InfoNCE scale"))
    bf16: bool | None = field(default=None, metadata=opt(
        "train in bf16 mixed precision (default: on CUDA with bf16 support, and on CPUs with bf16 units as bf16 "
        "weights over fp32 master weights)", ui=False, cli=False))
    gradient_checkpointing: bool | None = field(default=None, metadata=opt(
        "recompute activations in the backward pass instead of keeping them: the same gradients in about a third "
        "of the memory (XQuAD, batch 32: 5.9 vs 16.5 GB) (default: on for CPU, where memory is the limit; off on GPU)",
        ui=False))

    def __post_init__(self) -> None:
        _choice("loss variant", self.variant, VARIANTS)
        check_numbers(self)


# --------------------------------------------------------------------------------------------
# Introspection for the generators (CLI, app) and for records on disk
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OptionInfo:
    """One field as the generators see it."""

    spec: type
    name: str
    default: Any
    kind: type  # bool, int, float, str or tuple
    optional: bool
    help: str
    choices: tuple[Any, ...] | None
    label: str
    flag: str | None
    parse: Callable[[str], Any] | None
    metavar: str | None
    cli: bool
    ui: bool
    bounds: tuple[float, float, str] | None = None
    integer: bool = False


def options(spec: type) -> Iterator[OptionInfo]:
    """The options of a spec class (fields marked neither ``cli`` nor ``ui`` are included: callers filter)."""
    hints = typing.get_type_hints(spec)
    for f in dataclasses.fields(spec):
        kind, optional = _base_type(hints[f.name])
        meta = dict(f.metadata)
        factory = f.default_factory
        default = f.default if f.default is not dataclasses.MISSING else (
            factory() if callable(factory) else None)
        help_text = meta.get("help", "")
        choices = meta.get("choices")
        yield OptionInfo(spec, f.name, default, kind, optional, help_text() if callable(help_text) else help_text,
                         tuple(choices()) if callable(choices) else choices,
                         meta.get("label") or f.name.replace("_", " "), meta.get("flag"), meta.get("parse"),
                         meta.get("metavar"), meta.get("cli", True), meta.get("ui", True), meta.get("bounds"),
                         meta.get("integer", False))


def option(spec: type, name: str) -> OptionInfo:
    """One option of a spec class by name (KeyError naming the class otherwise)."""
    for o in options(spec):
        if o.name == name:
            return o
    raise KeyError(f"{spec.__name__} has no option {name!r}")


def _base_type(hint: Any) -> tuple[type, bool]:
    args = typing.get_args(hint)
    optional = type(None) in args
    core = [a for a in args if a is not type(None)] if args and typing.get_origin(hint) is not tuple else [hint]
    base = core[0]
    origin = typing.get_origin(base)
    return (tuple if origin is tuple or base is tuple else base), optional


def to_dict(spec: Any) -> dict[str, Any]:
    """JSON-ready dict (tuples become lists)."""
    def plain(v: Any) -> Any:
        if isinstance(v, tuple):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return {k: plain(v) for k, v in dataclasses.asdict(spec).items()}


def from_dict(spec: type, data: Mapping[str, Any]) -> Any:
    """Rebuild a spec from :func:`to_dict` output; unknown keys are a ConfigError naming them.

    A spec class with its own ``from_dict`` classmethod (one holding another spec) rebuilds itself.
    """
    own = getattr(spec, "from_dict", None)
    if callable(own):
        return own(data)
    if not isinstance(data, Mapping):
        raise ConfigError(f"{spec.__name__}: expected an object, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(spec)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{spec.__name__}: unknown option(s) {', '.join(unknown)}")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    try:
        return spec(**kwargs)
    except TypeError as e:
        raise ConfigError(f"{spec.__name__}: {e}") from None


__all__ = [
    "CENTERING_MODES",
    "CENTER_QUERIES",
    "DEFAULT_MODEL_ID",
    "EXACT_INDEX",
    "FIT_ON",
    "LSAR_ROLES",
    "POOL_MODES",
    "PRECISIONS",
    "SCENARIOS",
    "VARIANTS",
    "CenteringOptions",
    "EvalSpec",
    "FinetuneOptions",
    "IndexSpec",
    "LsarOptions",
    "ModelSpec",
    "OptionInfo",
    "ProcrustesOptions",
    "check_langs",
    "check_number",
    "check_numbers",
    "from_dict",
    "opt",
    "option",
    "options",
    "split_list",
    "to_dict",
]
