"""What every alignment method is, and the one registry that finds them.

An alignment method is one class (:class:`Aligner`) registered under its name with :func:`register`:

* its options: a frozen dataclass declared like every spec (``Options``; fields with ``opt(...)``
  metadata; the CLI's option group and the app's controls are generated from it, flags prefixed with
  ``flag_prefix``);
* ``fit(inputs) -> record``: learns from the training data and returns its typed record (an
  :class:`AlignerRecord` subclass; it lands in ``run.json`` under the method's name);
* ``save(folder)`` / ``load(folder, options)``: its artefact inside a run folder (``artefacts`` names
  the files or folders, so that a damaged one can be named);
* ``apply(inputs) -> CorpusEmbeddings``: a corpus embedded as the aligned model would embed it (the
  "after" evaluation, the app's views);
* ``export(into, base_model)``: what users load without xlalign, written into a new folder.

Callers (the pipeline, the app's service layer, exports, the CLI and the app) look a method up with
:func:`aligner_class` and never test its name. A new method is one module that defines its options and
its class and calls :func:`register`; :class:`AlignSpec` then accepts it, the CLI grows its option
group, and a run of it can be compared and exported like any other.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from xlalign.errors import ConfigError
from xlalign.specs import check_langs, check_numbers, opt, options, split_list

if TYPE_CHECKING:
    from xlalign.core.corpus import ParallelCorpus
    from xlalign.core.encoder import Encoder
    from xlalign.core.evaluate import CorpusEmbeddings
    from xlalign.policy import PublicLimits
    from xlalign.progress import Progress
    from xlalign.specs import EvalSpec, ModelSpec


class Cancelled(Exception):
    """The run was cancelled; nothing was saved."""


# --------------------------------------------------------------------------------------------
# What a method gets and returns
# --------------------------------------------------------------------------------------------
@dataclass
class AlignerRecord:
    """The typed record a fit returns (``run.json[<method>]``); methods subclass it with their fields.

    ``warnings`` are shown with the run (they are moved to the run's warnings, not kept here).
    """

    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, ``warnings`` excluded."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "warnings"}

    def details(self) -> dict[str, int | float | str]:
        """The scalar fields (for run lists and model cards)."""
        return {k: v for k, v in self.to_dict().items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)}


@dataclass
class TrainingData:
    """What the aligner learns from, and the part of the evaluation corpus it is judged on."""

    source: str
    eval_corpus: ParallelCorpus
    train_corpus: ParallelCorpus | None
    triplets: list[dict[str, str]]
    split: dict[str, Any]


@dataclass
class FitInputs:
    """Everything a fit may use. ``work_dir`` is the run folder being built: a method whose artefact is
    large (a tuned model) may write it there during the fit; ``save`` then only checks it is in place."""

    model: ModelSpec
    evaluation: EvalSpec
    align: AlignSpec
    data: TrainingData
    encoder: Encoder
    eval_embeddings: CorpusEmbeddings
    work_dir: Path
    progress: Progress
    should_stop: Callable[[], bool] | None = None
    _train: CorpusEmbeddings | None = field(default=None, repr=False)

    @property
    def langs(self) -> tuple[str, ...]:
        """The languages the fit may use: the evaluated ones, then ``AlignSpec.fit_langs`` extras."""
        return languages_to_fit(self.evaluation, self.align)

    def training_embeddings(self) -> CorpusEmbeddings:
        """Training passages (distinct) and questions per language, encoded once; from triplets: passages only."""
        if self._train is None:
            self._train = _training_embeddings(self.data, self.encoder, self.langs, self.evaluation.pivot,
                                               self.progress)
        return self._train


def _training_embeddings(data: TrainingData, encoder: Encoder, langs: Sequence[str], pivot: str,
                         progress: Progress) -> CorpusEmbeddings:
    from xlalign.core.evaluate import CorpusEmbeddings, encode_corpus

    if data.train_corpus is not None:
        return encode_corpus(data.train_corpus, encoder, langs, progress)
    pairs = list(dict.fromkeys((t["p_en"], t["p_tgt"], t["lang"]) for t in data.triplets))
    passages = {pivot: encoder.encode(list(dict.fromkeys(p for p, _, _ in pairs)), lang=pivot, role="passage",
                                      progress=progress)}
    for lang in dict.fromkeys(x for _, _, x in pairs):
        passages[lang] = encoder.encode([t for _, t, x in pairs if x == lang], lang=lang, role="passage",
                                        progress=progress)
    return CorpusEmbeddings(passages, {})


@dataclass
class ApplyInputs:
    """A corpus to embed as the aligned model would: ``base()`` gives the base model's embeddings (computed
    only when asked), ``encoder_for(spec)`` an encoder for another model (a tuned copy)."""

    corpus: ParallelCorpus
    langs: tuple[str, ...]
    model: ModelSpec
    base: Callable[[], CorpusEmbeddings]
    encoder_for: Callable[[ModelSpec], Encoder]
    progress: Progress | None = None


# --------------------------------------------------------------------------------------------
# The protocol
# --------------------------------------------------------------------------------------------
@runtime_checkable
class Aligner(Protocol):
    """One alignment method (see the module docstring). Class attributes describe it to the front ends.

    Optional classmethods (defaults in :class:`AlignerBase`; callers look them up with ``getattr``):
    ``label_parts(options, done)`` (the runs list's short label), ``described(text, done)`` (a model card's
    title with what the run chose), ``bounded(options, limits)`` (public mode's caps) and ``caps(limits)`` (those
    caps in words, per option: the public app's controls state them); and the optional class attribute
    ``card_what``: a model card's "What it is" for the method (plain text; ``{base}`` and ``{method}`` are filled
    in), None for the generic text of its kind (a language-agnostic linear map, a language-aware transform);
    ``work_files``, the files its fit writes into the run folder besides its artefacts."""

    #: Registry key, ``AlignSpec.method`` and ``run.json`` key.
    name: ClassVar[str]
    #: Its options: a frozen dataclass of ``opt(...)`` fields.
    Options: ClassVar[type]
    #: One line: the CLI's ``--method`` help and option-group title, the app's accordion.
    summary: ClassVar[str]
    #: Prefix of its CLI flags (``--<prefix><field>``; a field's own ``flag`` wins).
    flag_prefix: ClassVar[str]
    #: Options always shown in :meth:`AlignSpec.describe`.
    key_options: ClassVar[tuple[str, ...]]
    #: Whether ``AlignSpec.fit_langs`` (extra languages to fit on) applies.
    uses_fit_langs: ClassVar[bool]
    #: True: one map for every text, no language tag (exported as a sentence-transformers model).
    language_agnostic: ClassVar[bool]
    #: Files or folders its ``save`` writes into a run folder.
    artefacts: ClassVar[tuple[str, ...]]
    #: An artefact that is itself a sentence-transformers model folder (it gets the run's model card), or None.
    model_folder: ClassVar[str | None]
    #: Glob patterns of scratch files a killed fit may leave in a run folder (removed on recovery).
    scratch: ClassVar[tuple[str, ...]]

    options: Any

    def __init__(self, options: Any) -> None: ...

    @classmethod
    def check(cls, options: Any, evaluation: EvalSpec, align: AlignSpec) -> None:
        """Refuse, before any work, what the specs alone show cannot run."""

    def fit(self, inputs: FitInputs) -> AlignerRecord: ...

    def save(self, folder: Path) -> None: ...

    @classmethod
    def load(cls, folder: Path, options: Any) -> Aligner: ...

    def apply(self, inputs: ApplyInputs) -> CorpusEmbeddings: ...

    def export(self, into: Path, *, base_model: str) -> None:
        """Write the user-facing artefact into the new, empty folder ``into`` (the caller adds the model card)."""


class AlignerBase:
    """Defaults for :class:`Aligner` implementations (subclassing it is optional)."""

    name: ClassVar[str]
    Options: ClassVar[type]
    summary: ClassVar[str] = ""
    flag_prefix: ClassVar[str] = ""
    key_options: ClassVar[tuple[str, ...]] = ()
    uses_fit_langs: ClassVar[bool] = False
    language_agnostic: ClassVar[bool] = False
    artefacts: ClassVar[tuple[str, ...]] = ()
    model_folder: ClassVar[str | None] = None
    scratch: ClassVar[tuple[str, ...]] = ()
    #: Optional (see :class:`Aligner`): a model card's "What it is" for this method.
    card_what: ClassVar[str | None] = None
    #: Optional: files its fit writes into the run folder besides its artefacts (logs, training data).
    work_files: ClassVar[tuple[str, ...]] = ()

    def __init__(self, options: Any) -> None:
        self.options = options

    @classmethod
    def check(cls, options: Any, evaluation: EvalSpec, align: AlignSpec) -> None:
        return None

    @classmethod
    def label_parts(cls, options: Any, done: Mapping[str, object]) -> list[str] | None:
        """The short run label's parts (the runs list) from the options and what the run's record says it did
        (``done``: the record's section of this method); None: the long :meth:`AlignSpec.describe`."""
        return None

    @classmethod
    def bounded(cls, options: Any, limits: PublicLimits) -> Any:
        """Public mode: ``options`` within the server's ``limits`` (raise PolicyError beyond them); default unchanged."""
        return options

    @classmethod
    def described(cls, text: str, done: Mapping[str, object]) -> str:
        """:meth:`AlignSpec.describe` (``text``) completed with what the run chose (a model card's title)."""
        return text


# --------------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------------
_REGISTRY: dict[str, type[Aligner]] = {}
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_REQUIRED = ("name", "Options", "fit", "save", "load", "apply", "export")


def register(cls: type[Any]) -> type[Any]:
    """Register an :class:`Aligner` class under ``cls.name`` (usable as a class decorator)."""
    missing = [a for a in _REQUIRED if not hasattr(cls, a)]
    if missing:
        raise TypeError(f"{cls.__name__} is not an Aligner: it lacks {', '.join(missing)}")
    name = cls.name
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"aligner name must be a lower-case identifier, got {name!r}")
    params = getattr(cls.Options, "__dataclass_params__", None) if isinstance(cls.Options, type) else None
    if params is None or not params.frozen:
        raise TypeError(f"{cls.__name__}.Options must be a frozen dataclass")
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"an aligner named {name!r} is already registered ({_REGISTRY[name].__name__})")
    _REGISTRY[name] = cls
    return cls


def unregister(name: str) -> None:
    """Remove a registered method (for tests that register their own)."""
    _REGISTRY.pop(name, None)


def method_names() -> tuple[str, ...]:
    """Registered method names, in registration order."""
    return tuple(_REGISTRY)


def aligner_class(name: str) -> type[Aligner]:
    """The class registered as ``name`` (one-line ConfigError otherwise)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"method must be one of {', '.join(_REGISTRY)}, got {name!r}") from None


def registered() -> dict[str, type[Aligner]]:
    """Name → class of every registered method."""
    return dict(_REGISTRY)


# --------------------------------------------------------------------------------------------
# The alignment spec
# --------------------------------------------------------------------------------------------
def _method_help() -> str:
    return " | ".join(f"{n} ({c.summary})" if c.summary else n for n, c in _REGISTRY.items())


@dataclass(frozen=True, init=False)
class AlignSpec:
    """One alignment: the method, its training data, the held-out split and the method's options.

    ``options`` holds the chosen method's options object (default: its defaults). For callers that pass
    one options object per method (``AlignSpec(method="lsar", lsar=LsarOptions(rank=2), centering=...)``),
    keyword arguments named after registered methods are accepted: the chosen method's is kept, the others
    are only type-checked.
    """

    method: str = field(default="centering", metadata=opt(_method_help, choices=method_names, label="Method"))
    train_data: str = field(default="split", metadata=opt(
        "split (group-disjoint split of the data; default), demo, or a triplet JSONL/CSV (q_en, p_en, p_tgt)",
        label="Training data"))
    test_fraction: float = field(default=0.5, metadata=opt("held-out share of the groups (split only)",
                                                           label="Held-out fraction", bounds=(0, 1, "()")))
    split_seed: int = field(default=42, metadata=opt("seed of the group split", label="Split seed", ui=False,
                                                     bounds=(0, 2**32 - 1), integer=True))
    fit_langs: tuple[str, ...] | None = field(default=None, metadata=opt(
        "extra languages whose training text the method also fits on, for methods that use them (default: the "
        "evaluated languages only); more languages give LSAR a better language subspace", parse=split_list,
        metavar="LANG[,LANG...]", label="Fit languages", ui=False))
    options: Any = field(default=None, metadata=opt("the method's options", cli=False, ui=False))

    def __init__(self, method: str = "centering", train_data: str = "split", test_fraction: float = 0.5,
                 split_seed: int = 42, fit_langs: Sequence[str] | None = None, options: Any = None,
                 **per_method: Any) -> None:
        for name, value in (("method", method), ("train_data", train_data), ("test_fraction", test_fraction),
                            ("split_seed", split_seed), ("fit_langs", fit_langs), ("options", options)):
            object.__setattr__(self, name, value)
        self._validate(per_method)

    def _validate(self, per_method: Mapping[str, Any]) -> None:
        cls = aligner_class(self.method)
        unknown = sorted(set(per_method) - set(_REGISTRY))
        if unknown:
            raise TypeError(f"AlignSpec got unexpected keyword argument(s) {', '.join(unknown)}")
        for name, value in per_method.items():
            if not isinstance(value, _REGISTRY[name].Options):
                raise ConfigError(f"{name} options must be a {_REGISTRY[name].Options.__name__}")
        chosen = self.options if self.options is not None else per_method.get(self.method)
        if chosen is None:
            chosen = cls.Options()
        if not isinstance(chosen, cls.Options):
            raise ConfigError(f"{self.method} options must be a {cls.Options.__name__}")
        object.__setattr__(self, "options", chosen)
        check_numbers(self)
        if not isinstance(self.train_data, str) or not self.train_data.strip():
            raise ConfigError("train data must be split, demo or a triplet file")
        if self.fit_langs is not None:
            object.__setattr__(self, "fit_langs", check_langs(self.fit_langs, minimum=2, what="fit langs"))

    @property
    def aligner(self) -> type[Aligner]:
        """The chosen method's class."""
        return aligner_class(self.method)

    def describe(self) -> str:
        """``method (key options)`` for run lists and page titles."""
        o, key = self.options, self.aligner.key_options
        shown = {f.name: getattr(o, f.name) for f in dataclasses.fields(o)
                 if getattr(o, f.name) != f.default and f.name not in ("warmup_ratio", "weight_decay")}
        parts = [f"{k}={'auto' if getattr(o, k) is None else getattr(o, k)}" for k in key] + \
            [f"{k}={v}" for k, v in shown.items() if k not in key]
        if self.train_data != "split":
            parts.append(f"train={self.train_data if self.train_data == 'demo' else 'triplets'}")
        return f"{self.method} ({', '.join(parts)})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the scalar fields, then ``options`` as a dict."""
        from xlalign.specs import to_dict

        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "options"}
        out["fit_langs"] = list(self.fit_langs) if self.fit_langs is not None else None
        return {**out, "options": to_dict(self.options)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlignSpec:
        """Rebuild from :meth:`to_dict` output; the former layout (one key per method) is read too."""
        from xlalign.specs import from_dict

        if not isinstance(data, Mapping):
            raise ConfigError(f"AlignSpec: expected an object, got {type(data).__name__}")
        method = data.get("method", "centering")
        opts_cls = aligner_class(method).Options
        scalars = {f.name for f in dataclasses.fields(cls)} - {"options"}
        legacy = {k for k in data if k in _REGISTRY and k not in scalars}
        unknown = sorted(set(data) - scalars - {"options"} - legacy)
        if unknown:
            raise ConfigError(f"AlignSpec: unknown option(s) {', '.join(unknown)}")
        raw = data.get("options", data.get(method, {}))
        kwargs: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in scalars}
        return cls(**kwargs, options=from_dict(opts_cls, raw or {}))


def languages_to_fit(evaluation: EvalSpec, align: AlignSpec) -> tuple[str, ...]:
    """The evaluated languages, then ``align.fit_langs`` extras where the method uses them."""
    extra = align.fit_langs if align.aligner.uses_fit_langs and align.fit_langs else ()
    return tuple(dict.fromkeys([*evaluation.langs, *extra]))


def method_options() -> dict[str, type]:
    """Method name → its options class (the CLI's and the app's option groups)."""
    return {name: cls.Options for name, cls in _REGISTRY.items()}


def option_fields(name: str) -> list[str]:
    """The option names of method ``name``'s options class."""
    return [o.name for o in options(aligner_class(name).Options)]


__all__ = ["AlignSpec", "Aligner", "AlignerBase", "AlignerRecord", "ApplyInputs", "Cancelled", "FitInputs",
           "TrainingData", "aligner_class", "languages_to_fit", "method_names", "method_options", "option_fields",
           "register", "registered", "unregister"]
