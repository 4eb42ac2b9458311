"""The registry of alignment methods: a fifth method defined only here runs end to end (align → compare → export)
through the same code as the built-in four, and no layer above ``align`` dispatches on a method's name."""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fakes import BagOfCharsEncoder

from xlalign.align.base import (
    AlignerBase,
    AlignerRecord,
    AlignSpec,
    ApplyInputs,
    FitInputs,
    aligner_class,
    method_names,
    register,
    unregister,
)
from xlalign.cli import build_parser, main
from xlalign.core.encoder import l2_normalise
from xlalign.core.evaluate import PIVOT_ALIASES
from xlalign.core.loaders import load_demo
from xlalign.errors import ConfigError
from xlalign.services.pipeline import run_alignment
from xlalign.specs import EvalSpec, ModelSpec, check_numbers, from_dict, opt, to_dict
from xlalign.store.runs import Run

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- a toy method, defined only here
@dataclass(frozen=True)
class ToyOptions:
    """Scale the first coordinate (a toy method)."""

    gain: float = field(default=2.0, metadata=opt("multiply every embedding's first coordinate by this",
                                                  label="Toy gain", bounds=(0, 100), what="toy gain"))

    def __post_init__(self) -> None:
        check_numbers(self)


@dataclass
class ToyRecord(AlignerRecord):
    gain: float = 0.0
    n_fit_passages: int = 0


class ToyAligner(AlignerBase):
    name = "toy"
    Options = ToyOptions
    summary = "a toy method defined in a test"
    flag_prefix = "toy-"
    key_options = ("gain",)
    artefacts = ("toy.json",)
    options: ToyOptions

    def fit(self, inputs: FitInputs) -> ToyRecord:
        train = inputs.training_embeddings()
        self.gain_ = float(self.options.gain)
        return ToyRecord(gain=self.gain_, n_fit_passages=sum(len(x) for x in train.passages.values()),
                         warnings=["toy: a warning from the fit"])

    def save(self, folder: Path) -> None:
        (Path(folder) / "toy.json").write_text(json.dumps({"gain": self.gain_}), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, options: ToyOptions) -> ToyAligner:
        aligner = cls(options)
        aligner.gain_ = json.loads((Path(folder) / "toy.json").read_text(encoding="utf-8"))["gain"]
        return aligner

    def apply(self, inputs: ApplyInputs):
        def scale(lang: str, role: str, x: np.ndarray) -> np.ndarray:
            y = np.array(x, dtype=np.float64)
            y[:, 0] *= self.gain_
            return l2_normalise(y).astype(np.float32)

        return inputs.base().map(scale)

    def export(self, into: Path, *, base_model: str) -> None:
        (Path(into) / "toy.json").write_text(json.dumps({"gain": self.gain_, "base": base_model}), encoding="utf-8")


@pytest.fixture
def toy():
    register(ToyAligner)
    yield ToyAligner
    unregister("toy")


def _run(root: Path, align: AlignSpec, name: str, **kw) -> Path:
    enc = BagOfCharsEncoder(lang_offset={"en": 2.0})
    run_alignment(ModelSpec("fake"), EvalSpec(langs=("en", "de")), align, root / name, encoder=enc, **kw)
    return root / name


# ----------------------------------------------------------------------------- tests
def test_builtin_methods_are_registered_in_display_order():
    assert method_names() == ("centering", "lsar", "procrustes", "finetune")
    # what each method leaves in its run folder (the pipeline tests open these files)
    artefacts = {"centering": ("transform",), "lsar": ("lsar.safetensors",), "procrustes": ("transform",),
                 "finetune": ("model",)}
    for name in method_names():
        cls = aligner_class(name)
        assert cls.name == name and cls.artefacts == artefacts[name] and cls.Options().__class__ is cls.Options
        assert isinstance(cls.summary, str) and cls.summary.strip()  # the method list's one-line description


def test_a_toy_fifth_method_runs_end_to_end(toy, tmp_path, capsys):
    spec = AlignSpec(method="toy", options=ToyOptions(gain=3.0))
    assert spec.describe() == "toy (gain=3.0)"
    assert from_dict(AlignSpec, to_dict(spec)) == spec
    toy_run = _run(tmp_path, spec, "toy")
    centering_run = _run(tmp_path, AlignSpec(method="centering"), "centering")

    # align: the run folder holds the toy's artefact and its typed record, through the one pipeline
    record = json.loads((toy_run / "run.json").read_text())
    train_items = set(json.loads((toy_run / "split.json").read_text())["train_items"])
    demo = load_demo(["en", "de"])
    train_passages = {key for key, item in zip(demo.passage_keys, demo.item_ids, strict=True) if item in train_items}
    assert record["toy"] == {"gain": 3.0, "n_fit_passages": 2 * len(train_passages)}  # the split's passages, en and de
    assert record["warnings"] == ["toy: a warning from the fit"]
    assert json.loads((toy_run / "toy.json").read_text()) == {"gain": 3.0}
    assert Run(toy_run).config().align == spec and Run(toy_run).is_finished()
    table = pd.read_csv(toy_run / "compare.csv").fillna({"doc_lang": ""})
    keys = ["scenario", "pool", "query_lang", "doc_lang", "metric"]
    for side in ("before", "after"):  # one row per metric the evaluation wrote (less the english_* aliases)
        written = pd.read_csv(toy_run / side / "summary.csv").fillna({"doc_lang": ""})
        written = written[~written.metric.isin(list(PIVOT_ALIASES))].set_index(keys)["value"]
        assert sorted(table.set_index(keys).index) == sorted(written.index)
        np.testing.assert_allclose(table.set_index(keys)[side], written.loc[table.set_index(keys).index], rtol=1e-12)
    assert (table["after"] != table["before"]).any()  # the toy map changed the scores

    # compare: side by side with a built-in method, from the command line
    assert main(["compare", str(toy_run), str(centering_run), "--out", str(tmp_path / "cmp")]) == 0
    wide = pd.read_csv(tmp_path / "cmp" / "side_by_side.csv")
    assert {"baseline", "toy", "toy delta", "toy lo", "toy hi", "toy q", "centering"} <= set(wide.columns)

    # export: through the method's own export, with the run's model card
    assert main(["export", str(toy_run), "--out", str(tmp_path / "export")]) == 0
    assert json.loads((tmp_path / "export" / "toy.json").read_text()) == {"gain": 3.0, "base": "fake"}
    card = (tmp_path / "export" / "README.md").read_text()
    assert "toy (gain=3.0)" in card and "gain: 3" in card
    capsys.readouterr()


def test_the_command_line_grows_the_toy_option_group(toy, tmp_path, capsys):
    parser = build_parser()
    text = parser._subparsers._group_actions[0].choices["align"].format_help()  # type: ignore[union-attr]
    assert "--toy-gain" in text and "toy (a toy method defined in a test)" in text and "range [0, 100]" in text
    code = main(["align", "--method", "toy", "--toy-gain", "nan", "--out", str(tmp_path / "x")])
    assert code == 2 and capsys.readouterr().err.strip() == "error: toy gain must be a finite number, got nan"
    code = main(["align", "--method", "centering", "--toy-gain", "5", "--out", str(tmp_path / "x")])
    assert code == 2
    assert capsys.readouterr().err.strip() == "error: --toy-gain is an option of --method toy, not of --method centering"
    assert not (tmp_path / "x").exists()


def test_an_unregistered_method_is_one_refusal(toy):
    unregister("toy")
    with pytest.raises(ConfigError, match="method must be one of centering, lsar, procrustes, finetune, got 'toy'"):
        AlignSpec(method="toy")
    register(ToyAligner)


def test_registry_refuses_what_is_not_an_aligner():
    class NoLoad:
        name = "broken"
        Options = ToyOptions

    with pytest.raises(TypeError, match="lacks fit, save, load, apply, export"):
        register(NoLoad)
    with pytest.raises(ValueError, match="already registered"):
        register(type("Other", (ToyAligner,), {"name": "centering"}))
    assert "broken" not in method_names()


def test_former_run_configs_with_one_section_per_method_still_load():
    old = {"method": "lsar", "train_data": "split", "test_fraction": 0.5, "split_seed": 42, "fit_langs": None,
           "centering": {"mode": "subtract", "queries": "own"}, "procrustes": {"center": True, "fit_on": "both"},
           "lsar": {"rank": 2, "roles": "both"}, "finetune": {}}
    spec = from_dict(AlignSpec, old)
    assert spec.method == "lsar" and spec.options.rank == 2


# Files above the align layer must not branch on a method's name: only the registry knows the methods.
DISPATCHERS = ["xlalign/services/pipeline.py", "xlalign/services/lab.py", "xlalign/services/sweep.py",
               "xlalign/store/export.py", "xlalign/store/runs.py", "xlalign/store/jobs.py", "xlalign/cli.py",
               *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "xlalign" / "app").glob("*.py")),
               *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "xlalign" / "report").glob("*.py"))]


@pytest.mark.parametrize("path", DISPATCHERS)
def test_no_layer_above_align_names_a_method(path):
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    names = set(method_names())
    found = [(node.lineno, node.value) for node in ast.walk(tree)
             if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names]
    assert found == [], f"{path} names methods: {found}"
