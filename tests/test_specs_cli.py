"""Typed specs: validation, the CLI and the app generated from them, a light ``--help``, the progress protocol."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from xlalign.align.base import AlignSpec, method_options
from xlalign.cli import build_parser
from xlalign.errors import ConfigError
from xlalign.progress import TqdmProgress, fraction, span
from xlalign.specs import (
    CenteringOptions,
    EvalSpec,
    FinetuneOptions,
    LsarOptions,
    ModelSpec,
    ProcrustesOptions,
    from_dict,
    options,
    to_dict,
)

ROOT = Path(__file__).resolve().parents[1]
METHOD_OPTIONS = method_options()  # method name → its options class, from the registry
SPECS = {"model": ModelSpec, "eval": EvalSpec, "align": AlignSpec, **METHOD_OPTIONS}


def _defaults(parser_args: list[str]) -> dict[str, object]:
    return vars(build_parser().parse_args(parser_args))


@pytest.mark.parametrize("command", [["evaluate", "--out", "o"], ["align", "--out", "o"]])
def test_cli_defaults_are_the_specs(command):
    ns = _defaults(command)
    checked = 0
    for key, spec in SPECS.items():
        for o in options(spec):
            dest = f"{key}.{o.name}"
            if dest in ns:
                assert ns[dest] == o.default, dest
                checked += 1
    assert checked >= (10 if command[0] == "evaluate" else 35)


def test_app_controls_default_to_the_specs(monkeypatch, tmp_path):
    """Every generated control of the app starts at its spec's default (so one edit in specs.py moves both)."""
    monkeypatch.setenv("XLALIGN_NO_WARMUP", "1")
    from xlalign.app import build_app
    from xlalign.app.controls import METHOD_FIELDS, number
    from xlalign.services.lab import Lab

    blocks = build_app(Lab(tmp_path / "runs"))
    found = {c.elem_id: c for c in blocks.blocks.values() if getattr(c, "elem_id", None)}
    checked = 0
    for spec in (ModelSpec, EvalSpec, AlignSpec, *METHOD_OPTIONS.values()):
        for o in options(spec):
            comp = found.get(f"opt-{spec.__name__}-{o.name}")
            if comp is None:
                continue
            shown = number(comp.value, o.kind) if o.optional and o.kind in (int, float) else comp.value
            assert shown == o.default, (spec.__name__, o.name, comp.value)
            assert comp.label == o.label
            checked += 1
    assert checked >= 15
    # the method-option controls are wired in the order the app reads them back
    assert len(METHOD_FIELDS) == sum(1 for cls in METHOD_OPTIONS.values() for o in options(cls) if o.ui)
    submit = next(fn for fn in blocks.fns.values() if fn.name == "on_submit")
    assert [c.elem_id for c in submit.inputs[-len(METHOD_FIELDS):]] == [
        f"opt-{METHOD_OPTIONS[group].__name__}-{name}" for group, name in METHOD_FIELDS]


def test_a_changed_default_reaches_both_front_ends(monkeypatch):
    """Change one default in the spec: the CLI's parser follows without any other edit."""
    field = CenteringOptions.__dataclass_fields__["mode"]
    monkeypatch.setattr(field, "default", "shift")
    assert vars(build_parser().parse_args(["align", "--out", "o"]))["centering.mode"] == "shift"


@pytest.mark.parametrize("command", ["evaluate", "align", "compare", "export", "sweep"])
def test_help_imports_neither_torch_nor_sentence_transformers(command):
    code = (f"import sys\nfrom xlalign.cli import main\ntry:\n    main([{command!r}, '--help'])\nexcept SystemExit:\n"
            "    pass\nheavy = [m for m in ('torch', 'sentence_transformers', 'transformers', 'xlalign.services.pipeline')"
            " if m in sys.modules]\nprint('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120).stdout
    assert "HEAVY []" in out, out[-500:]
    assert "usage: python -m xlalign" in out


@pytest.mark.parametrize("command", ["evaluate", "align", "sweep"])
def test_help_shows_readable_metavars(command):
    text = build_parser()._subparsers._group_actions[0].choices[command].format_help()  # type: ignore[union-attr]
    assert "--model MODEL" in text if command != "sweep" else "--device DEVICE" in text
    assert not re.search(r"\b[A-Z_]+\.[A-Z_]+\b", text)  # never MODEL.MODEL or EVAL.DATA


def test_align_help_lists_every_method_option():
    text = build_parser()._subparsers._group_actions[0].choices["align"].format_help()  # type: ignore[union-attr]
    for flag in ("--method", "--centering-mode", "--procrustes-center", "--no-procrustes-center", "--fit-on", "--rank",
                 "--lsar-roles", "--variant", "--jsd-weight", "--max-steps", "--train-batch-size", "--lr", "--precision",
                 "--fit-langs"):
        assert flag in text, flag


# ----------------------------------------------------------------------------- validation, one test per bad input
@pytest.mark.parametrize(("cls", "kw", "msg"), [
    (ModelSpec, {"model": " "}, "non-empty model"),
    (ModelSpec, {"device": "tpu"}, "device must be"),
    (ModelSpec, {"precision": "fp16"}, "precision must be one of"),
    (ModelSpec, {"batch_size": 0}, "batch size"),
    (ModelSpec, {"max_seq_length": 0}, "max sequence length"),
    (ModelSpec, {"max_seq_length": 4}, "max sequence length"),
    (EvalSpec, {"langs": ("en", "zh", "en")}, "listed twice"),
    (EvalSpec, {"langs": ("en", "12")}, "not a language code"),
    (EvalSpec, {"ndcg_ks": (1.5,)}, "positive integers"),
    (LsarOptions, {"rank": 0}, "LSAR rank"),
    (LsarOptions, {"roles": "queries"}, "LSAR roles"),
    (ProcrustesOptions, {"fit_on": "x"}, "fit-on"),
    (FinetuneOptions, {"epochs": True}, "epochs"),
    (AlignSpec, {"fit_langs": ("en", "en")}, "listed twice"),
])
def test_specs_reject(cls, kw, msg):
    with pytest.raises(ConfigError, match=msg):
        cls(**kw)


def test_specs_round_trip_through_json_dicts():
    align = AlignSpec(method="lsar", lsar=LsarOptions(rank=2), fit_langs=("en", "de", "zh"))
    assert from_dict(AlignSpec, to_dict(align)) == align
    assert from_dict(EvalSpec, to_dict(EvalSpec(langs=("en", "es", "de")))) == EvalSpec(langs=("en", "es", "de"))
    with pytest.raises(ConfigError, match="unknown option"):
        from_dict(ModelSpec, {"model": "x", "colour": "red"})


def test_describe_names_method_and_key_options():
    assert AlignSpec().describe() == "centering (mode=subtract, queries=own)"
    ft = AlignSpec(method="finetune", finetune=FinetuneOptions(variant="jsd", jsd_weight=0.5, max_steps=30))
    assert ft.describe() == "finetune (variant=jsd, jsd_weight=0.5, epochs=1.0, max_steps=30)"


# ----------------------------------------------------------------------------- progress
def test_span_maps_a_phase_into_the_whole_task():
    seen = []
    p = span(lambda stage, done=0, total=None, **m: seen.append((stage, fraction(done, total, m))), 0.2, 0.6)
    p("encoding", 5, 10)
    p("encoding", 10, 10)
    nested = span(p, 0.5, 1.0)
    nested("inner", 0, 4)
    assert seen == [("encoding", pytest.approx(0.4)), ("encoding", pytest.approx(0.6)), ("inner", pytest.approx(0.4))]


def test_tqdm_progress_writes_bars_to_stderr_only(capsys):
    bar = TqdmProgress()
    bar("encoding zh passages", 0, 4)
    bar("encoding zh passages", 4, 4, loss=0.5)
    bar("ranking", 0, None)
    bar.close()
    out = capsys.readouterr()
    assert out.out == "" and "encoding zh passages" in out.err and "· ranking" in out.err
