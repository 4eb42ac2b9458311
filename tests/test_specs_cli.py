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
    IndexSpec,
    LsarOptions,
    ModelSpec,
    ProcrustesOptions,
    from_dict,
    options,
    to_dict,
)

ROOT = Path(__file__).resolve().parents[1]
METHOD_OPTIONS = method_options()  # method name → its options class, from the registry


def _defaults(parser_args: list[str]) -> dict[str, object]:
    return vars(build_parser().parse_args(parser_args))


#: The documented defaults, written out (not read back from the specs the front ends are generated from).
MODEL_EVAL_DEFAULTS = {
    "model.model": "bundled:multilingual-e5-small", "model.device": None, "model.precision": "auto",
    "model.batch_size": None, "model.max_seq_length": None, "model.trust_remote_code": False,
    "eval.data": "demo", "eval.langs": ("en", "zh"), "eval.pool": "dedup",
    "eval.scenarios": ("multi", "multi-1", "mono-same", "mono-cross"),
}
#: ``evaluate`` only: the user's own faiss index (none: the exact ranker alone).
INDEX_DEFAULTS = {"index.index": "exact", "index.params": "", "index.depth": 100}
ALIGN_DEFAULTS = {
    "align.method": "centering", "align.train_data": "split", "align.test_fraction": 0.5, "align.split_seed": 42,
    "align.fit_langs": None,
    "centering.mode": "subtract", "centering.queries": "own",
    "lsar.rank": None, "lsar.roles": "both",
    "procrustes.center": True, "procrustes.fit_on": "both",
    "finetune.variant": "jsd+nce", "finetune.jsd_weight": 1.0, "finetune.epochs": 1.0, "finetune.max_steps": None,
    "finetune.batch_size": 32, "finetune.learning_rate": None, "finetune.max_seq_length": 256,
    "finetune.freeze_word_embeddings": False, "finetune.seed": 42, "finetune.warmup_ratio": 0.15,
    "finetune.weight_decay": 0.01, "finetune.adam_beta1": 0.9, "finetune.adam_beta2": 0.99, "finetune.scale": 20.0,
    "finetune.gradient_checkpointing": None,
}
#: The app's generated controls: elem_id → (initial value as the component holds it, label).
APP_DEFAULTS = {
    "opt-AlignSpec-method": ("centering", "Method"),
    "opt-CenteringOptions-mode": ("subtract", "Centering mode"),
    "opt-CenteringOptions-queries": ("own", "Centering: queries"),
    "opt-EvalSpec-pool": ("dedup", "Pool"),
    "opt-IndexSpec-index": ("exact", "Your index (faiss factory string)"),
    "opt-IndexSpec-params": ("", "Index search parameters"),
    "opt-IndexSpec-depth": (100, "Search depth"),
    "opt-FinetuneOptions-batch_size": (32, "Train batch size"),
    "opt-FinetuneOptions-epochs": (1.0, "Epochs"),
    "opt-FinetuneOptions-freeze_word_embeddings": (False, "Freeze word embeddings"),
    "opt-FinetuneOptions-jsd_weight": (1.0, "JSD weight λ"),
    "opt-FinetuneOptions-learning_rate": ("", "Learning rate (empty: model default)"),
    "opt-FinetuneOptions-max_seq_length": ("256", "Train max sequence length"),
    "opt-FinetuneOptions-max_steps": ("", "Max steps (empty: full epochs)"),
    "opt-FinetuneOptions-seed": (42, "Seed"),
    "opt-FinetuneOptions-variant": ("jsd+nce", "Loss"),
    "opt-LsarOptions-rank": ("", "LSAR rank (empty: choose on held-out data)"),
    "opt-LsarOptions-roles": ("both", "LSAR means from"),
    "opt-ModelSpec-precision": ("auto", "Precision"),
    "opt-ModelSpec-trust_remote_code": (False, "Trust remote code"),
    "opt-ProcrustesOptions-center": (True, "Procrustes: centre first"),
    "opt-ProcrustesOptions-fit_on": ("both", "Procrustes pairs"),
}


@pytest.mark.parametrize(("command", "expected"), [(["evaluate", "--out", "o"], {**MODEL_EVAL_DEFAULTS, **INDEX_DEFAULTS}),
                                                   (["align", "--out", "o"], {**MODEL_EVAL_DEFAULTS, **ALIGN_DEFAULTS})])
def test_cli_defaults_are_the_documented_ones(command, expected):
    ns = _defaults(command)
    assert {k: v for k, v in ns.items() if "." in k} == expected


def test_the_specs_hold_the_same_defaults():
    """The dataclasses themselves (constructed with no arguments) carry the defaults written out above."""
    for key, value in {**MODEL_EVAL_DEFAULTS, **INDEX_DEFAULTS, **ALIGN_DEFAULTS}.items():
        group, name = key.split(".")
        spec = {"model": ModelSpec(), "eval": EvalSpec(), "index": IndexSpec(),
                "align": AlignSpec()}.get(group) or METHOD_OPTIONS[group]()
        assert getattr(spec, name) == value, key


def test_app_controls_default_to_the_documented_values(monkeypatch, tmp_path):
    """Every generated control of the app starts at its documented default, with its label."""
    monkeypatch.setenv("XLALIGN_NO_WARMUP", "1")
    from xlalign.app import build_app
    from xlalign.app.controls import METHOD_FIELDS
    from xlalign.services.lab import Lab

    blocks = build_app(Lab(tmp_path / "runs"))
    found = {c.elem_id: (c.value, c.label) for c in blocks.blocks.values()
             if str(getattr(c, "elem_id", None) or "").startswith("opt-")}
    assert found == APP_DEFAULTS
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


def test_top_level_help_speaks_to_users_not_developers():
    text = build_parser().format_help()
    assert "Diagnose and fix cross-lingual misalignment" in text
    assert "(thin" not in text and "parse, call, print" not in text and "``" not in text


@pytest.mark.parametrize("command", ["evaluate", "align", "compare", "export", "sweep"])
def test_no_option_states_its_default_twice(command):
    parser = build_parser()._subparsers._group_actions[0].choices[command]  # type: ignore[union-attr]
    for action in parser._actions:
        assert (action.help or "").count("(default") <= 1, (action.option_strings, action.help)
    for action in parser._actions:
        if "--scenarios" in action.option_strings:
            assert action.help == "comma-separated scenarios (default: all of multi,multi-1,mono-same,mono-cross)"


def test_the_installed_command_names_itself_xlalign(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/venv/bin/xlalign", "--help"])
    assert build_parser().format_usage().startswith("usage: xlalign ")
    monkeypatch.setattr(sys, "argv", ["/repo/xlalign/__main__.py", "--help"])
    assert build_parser().format_usage().startswith("usage: python -m xlalign ")


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
