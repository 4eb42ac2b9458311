"""Typed specifications of what to run: the model, the evaluation and the alignment.

Every option is declared once, here, as a field of a frozen dataclass with its default, its
choices and its help text (``metadata=opt(...)``). The command line (:mod:`xlalign.cli`) and the
app's controls (``app.py``) are generated from these fields, so a default lives in exactly one
place; ``__post_init__`` validates every value with a one-line :class:`~xlalign.errors.ConfigError`.

This module imports nothing heavy (no torch, no sentence-transformers): ``--help`` stays fast.
"""

from __future__ import annotations

import dataclasses
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
METHODS: tuple[str, ...] = ("centering", "lsar", "procrustes", "finetune")
CENTERING_MODES: tuple[str, ...] = ("subtract", "shift")
#: How centering treats queries: ``own`` estimates query means from training questions (per role),
#: ``passage`` applies the passage offsets to queries too, ``none`` leaves queries unchanged.
CENTER_QUERIES: tuple[str, ...] = ("own", "passage", "none")
FIT_ON: tuple[str, ...] = ("both", "passages", "questions")
LSAR_ROLES: tuple[str, ...] = ("both", "passages")
VARIANTS: tuple[str, ...] = ("jsd+nce", "nce", "jsd", "nce_psg")
_LANG = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)*$")
_DEVICE = re.compile(r"^(cpu|mps|cuda(:\d+)?)$")


def opt(help: str, *, choices: Sequence[Any] | None = None, label: str | None = None, flag: str | None = None,
        parse: Callable[[str], Any] | None = None, metavar: str | None = None, cli: bool = True,
        ui: bool = True) -> dict[str, Any]:
    """Field metadata read by the CLI and app generators (``label`` is the app's short label)."""
    return {"help": help, "choices": tuple(choices) if choices is not None else None, "label": label,
            "flag": flag, "parse": parse, "metavar": metavar, "cli": cli, "ui": ui}


def split_list(value: str) -> tuple[str, ...]:
    """``"en, zh,ar"`` → ``("en", "zh", "ar")``."""
    return tuple(p.strip() for p in str(value).split(",") if p.strip())


def _choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(map(str, choices))}, got {value!r}")


def _positive(name: str, value: Any, *, allow_none: bool = False, minimum: float = 1) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise ConfigError(f"{name} must be a number ≥ {minimum:g}, got {value!r}")


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
        label="Encode batch size", ui=False))
    max_seq_length: int | None = field(default=None, metadata=opt(
        "truncate texts to this many tokens (default: the model's own limit)", label="Max sequence length", ui=False))
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
        _positive("batch size", self.batch_size, allow_none=True)
        _positive("max sequence length", self.max_seq_length, allow_none=True, minimum=8)


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
        label="LSAR rank (empty: choose on held-out data)", flag="--rank"))
    roles: str = field(default="both", metadata=opt(
        "estimate the subspace from passage and query means (both) or passage means only", choices=LSAR_ROLES,
        label="LSAR means from"))

    def __post_init__(self) -> None:
        _positive("LSAR rank", self.rank, allow_none=True)
        _choice("LSAR roles", self.roles, LSAR_ROLES)


@dataclass(frozen=True)
class FinetuneOptions:
    """JSD + InfoNCE fine-tune (Hong et al. 2026, §4; defaults from Appendix C)."""

    variant: str = field(default="jsd+nce", metadata=opt(
        "loss: jsd+nce (the paper), nce or jsd (ablations), nce_psg (passage-passage InfoNCE baseline)",
        choices=VARIANTS, label="Loss"))
    jsd_weight: float = field(default=1.0, metadata=opt(
        "λ in L = λ·sqrt-JSD + InfoNCE (1 = the paper)", label="JSD weight λ", flag="--jsd-weight"))
    epochs: float = field(default=1.0, metadata=opt("training epochs", label="Epochs"))
    max_steps: int | None = field(default=None, metadata=opt(
        "cap on optimizer steps (default: no cap, the full epochs)", label="Max steps (empty: full epochs)"))
    batch_size: int = field(default=32, metadata=opt("training batch size (in-batch negatives)",
                                                     label="Train batch size", flag="--train-batch-size"))
    learning_rate: float | None = field(default=None, metadata=opt(
        "peak learning rate (default: the model family's rate from Appendix C; 2e-5 otherwise)",
        label="Learning rate (empty: model default)", flag="--lr"))
    max_seq_length: int | None = field(default=256, metadata=opt("truncate training texts to this many tokens",
                                                                 label="Train max sequence length",
                                                                 flag="--train-max-seq-length"))
    freeze_word_embeddings: bool = field(default=False, metadata=opt(
        "keep the word-embedding matrix fixed (faster on CPU)", label="Freeze word embeddings"))
    seed: int = field(default=42, metadata=opt("training seed (data order and batches)", label="Seed"))
    warmup_ratio: float = field(default=0.15, metadata=opt("linear warm-up share of the steps", ui=False))
    weight_decay: float = field(default=0.01, metadata=opt("AdamW weight decay", ui=False))
    adam_beta1: float = field(default=0.9, metadata=opt("AdamW β1", ui=False))
    adam_beta2: float = field(default=0.99, metadata=opt("AdamW β2", ui=False))
    scale: float = field(default=20.0, metadata=opt("InfoNCE scale (1/temperature)", ui=False))
    bf16: bool | None = field(default=None, metadata=opt(
        "train in bf16 mixed precision (default: on CUDA with bf16 support only)", ui=False, cli=False))
    gradient_checkpointing: bool | None = field(default=None, metadata=opt(
        "recompute activations in the backward pass instead of keeping them: the same gradients in about a third "
        "of the memory (XQuAD, batch 32: 5.9 vs 16.5 GB) (default: on for CPU, where memory is the limit; off on GPU)",
        ui=False))

    def __post_init__(self) -> None:
        _choice("loss variant", self.variant, VARIANTS)
        if isinstance(self.jsd_weight, bool) or not isinstance(self.jsd_weight, (int, float)) or self.jsd_weight < 0:
            raise ConfigError(f"JSD weight must be ≥ 0, got {self.jsd_weight!r}")
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, (int, float)) or not self.epochs > 0:
            raise ConfigError(f"epochs must be > 0, got {self.epochs!r}")
        _positive("max steps", self.max_steps, allow_none=True)
        _positive("train batch size", self.batch_size, minimum=2)
        if self.learning_rate is not None and not (isinstance(self.learning_rate, (int, float))
                                                   and 0 < self.learning_rate < 1):
            raise ConfigError(f"learning rate must be in (0, 1), got {self.learning_rate!r}")
        _positive("train max sequence length", self.max_seq_length, allow_none=True, minimum=8)
        if not 0 <= self.warmup_ratio < 1:
            raise ConfigError(f"warm-up ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.weight_decay < 0:
            raise ConfigError(f"weight decay must be ≥ 0, got {self.weight_decay}")
        if not (0 <= self.adam_beta1 < 1 and 0 <= self.adam_beta2 < 1):
            raise ConfigError("Adam betas must be in [0, 1)")
        if self.scale <= 0:
            raise ConfigError(f"InfoNCE scale must be > 0, got {self.scale}")


@dataclass(frozen=True)
class AlignSpec:
    """One alignment: the method, its training data, the held-out split and the per-method options."""

    method: str = field(default="centering", metadata=opt(
        "centering | lsar (language-subspace removal) | procrustes | finetune (JSD + InfoNCE)", choices=METHODS,
        label="Method"))
    train_data: str = field(default="split", metadata=opt(
        "split (group-disjoint split of the data; default), demo, or a triplet JSONL/CSV (q_en, p_en, p_tgt)",
        label="Training data"))
    test_fraction: float = field(default=0.5, metadata=opt("held-out share of the groups (split only)",
                                                           label="Held-out fraction"))
    split_seed: int = field(default=42, metadata=opt("seed of the group split", label="Split seed", ui=False))
    fit_langs: tuple[str, ...] | None = field(default=None, metadata=opt(
        "languages whose training text fits centering/LSAR (default: the evaluated languages); more languages "
        "give LSAR a better language subspace", parse=split_list, metavar="LANG[,LANG...]", label="Fit languages",
        ui=False))
    centering: CenteringOptions = field(default_factory=CenteringOptions)
    procrustes: ProcrustesOptions = field(default_factory=ProcrustesOptions)
    lsar: LsarOptions = field(default_factory=LsarOptions)
    finetune: FinetuneOptions = field(default_factory=FinetuneOptions)

    def __post_init__(self) -> None:
        _choice("method", self.method, METHODS)
        if isinstance(self.test_fraction, bool) or not 0 < self.test_fraction < 1:
            raise ConfigError(f"test fraction must be in (0, 1), got {self.test_fraction!r}")
        if not isinstance(self.train_data, str) or not self.train_data.strip():
            raise ConfigError("train data must be split, demo or a triplet file")
        if self.fit_langs is not None:
            object.__setattr__(self, "fit_langs", check_langs(self.fit_langs, minimum=2, what="fit langs"))
        for name, cls in NESTED.items():
            if not isinstance(getattr(self, name), cls):
                raise ConfigError(f"{name} options must be a {cls.__name__}")

    def options(self) -> object:
        """The options of the chosen method (None-like for methods without options)."""
        return getattr(self, self.method)

    def describe(self) -> str:
        """``method (key options)`` for run lists and page titles."""
        o = self.options()
        shown = {f.name: getattr(o, f.name) for f in dataclasses.fields(o)
                 if getattr(o, f.name) != f.default and f.name not in ("warmup_ratio", "weight_decay")}
        key = {"centering": ("mode", "queries"), "procrustes": ("center", "fit_on"), "lsar": ("rank", "roles"),
               "finetune": ("variant", "jsd_weight", "epochs", "max_steps")}[self.method]
        parts = [f"{k}={getattr(o, k)}" for k in key] + [f"{k}={v}" for k, v in shown.items() if k not in key]
        if self.train_data != "split":
            parts.append(f"train={self.train_data if self.train_data == 'demo' else 'triplets'}")
        return f"{self.method} ({', '.join(parts)})"


NESTED: dict[str, type] = {"centering": CenteringOptions, "procrustes": ProcrustesOptions, "lsar": LsarOptions,
                           "finetune": FinetuneOptions}


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


def options(spec: type) -> Iterator[OptionInfo]:
    """The scalar options of a spec class (nested option groups are not included)."""
    hints = typing.get_type_hints(spec)
    for f in dataclasses.fields(spec):
        if f.name in NESTED and spec is AlignSpec:
            continue
        kind, optional = _base_type(hints[f.name])
        meta = dict(f.metadata)
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        yield OptionInfo(spec, f.name, default, kind, optional, meta.get("help", ""), meta.get("choices"),
                         meta.get("label") or f.name.replace("_", " "), meta.get("flag"), meta.get("parse"),
                         meta.get("metavar"), meta.get("cli", True), meta.get("ui", True))


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

    return plain(dataclasses.asdict(spec))


def from_dict(spec: type, data: Mapping[str, Any]) -> Any:
    """Rebuild a spec from :func:`to_dict` output; unknown keys are a ConfigError naming them."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{spec.__name__}: expected an object, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(spec)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{spec.__name__}: unknown option(s) {', '.join(unknown)}")
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(spec):
        if f.name not in data:
            continue
        value = data[f.name]
        if spec is AlignSpec and f.name in NESTED:
            value = from_dict(NESTED[f.name], value)
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[f.name] = value
    try:
        return spec(**kwargs)
    except TypeError as e:
        raise ConfigError(f"{spec.__name__}: {e}") from None


__all__ = [
    "CENTERING_MODES",
    "CENTER_QUERIES",
    "DEFAULT_MODEL_ID",
    "FIT_ON",
    "LSAR_ROLES",
    "METHODS",
    "POOL_MODES",
    "PRECISIONS",
    "SCENARIOS",
    "VARIANTS",
    "AlignSpec",
    "CenteringOptions",
    "EvalSpec",
    "FinetuneOptions",
    "LsarOptions",
    "ModelSpec",
    "OptionInfo",
    "ProcrustesOptions",
    "check_langs",
    "from_dict",
    "option",
    "options",
    "split_list",
    "to_dict",
]
