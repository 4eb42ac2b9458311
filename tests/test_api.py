"""The notebook API: ``xlalign.diagnose`` / ``align`` / ``compare`` with a model id, a SentenceTransformer in memory,
or any object with ``encode(texts, *, lang, role)``; the README's example runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fakes import PlantedEncoder
from tiny_model import build_tiny_model

import xlalign
from xlalign.core.evaluate import encode_corpus, evaluate_embeddings
from xlalign.core.loaders import load_demo
from xlalign.core.verdict import CLUSTERING, WEAK, verdicts
from xlalign.errors import ConfigError, XlalignError
from xlalign.report.verdict_text import sentence
from xlalign.specs import EvalSpec

ROOT = Path(__file__).resolve().parents[1]


class Served:
    """Only what the protocol asks for: ``encode(texts, *, lang, role)`` returning a list of lists (a service's JSON)."""

    def __init__(self, planted: PlantedEncoder) -> None:
        self.planted = planted
        self.calls: list[tuple[str, str]] = []

    def encode(self, texts, *, lang, role):
        self.calls.append((lang, role))
        return [list(map(float, row)) for row in self.planted.encode(texts, lang=lang, role=role)]


@pytest.fixture(scope="module")
def en_zh():
    return load_demo(["en", "zh"])


@pytest.fixture(scope="module")
def planted(en_zh):
    return PlantedEncoder(en_zh, signal=1.0, own=0.6)


def test_diagnose_takes_any_object_with_the_encoder_protocol(en_zh, planted):
    served = Served(planted)
    result = xlalign.diagnose(served, data="demo", langs=["en", "zh"], progress=False)
    assert {("en", "query"), ("en", "passage"), ("zh", "query"), ("zh", "passage")} == set(served.calls)
    spec = EvalSpec(langs=("en", "zh"))
    direct = evaluate_embeddings(en_zh, encode_corpus(en_zh, planted, spec.langs), spec)
    expected = verdicts(direct.summary_frame(), direct.matrix_frame(), "en", spec.langs)
    assert [(v.query_lang, v.kind) for v in result.verdicts] == [("zh", CLUSTERING), ("en", CLUSTERING)]
    for got, want in zip(result.verdicts, expected, strict=True):  # the same rule, the same numbers as every view
        assert got.kind == want.kind and got.preference == pytest.approx(want.preference, abs=1e-9)
        assert got.impact == want.impact and got.mono_same == pytest.approx(want.mono_same, abs=1e-9)
    assert isinstance(result.summary, pd.DataFrame) and isinstance(result.matrix, pd.DataFrame)
    assert len(result.per_query) == len(direct.per_query)
    assert result.sentences() == [sentence(v) for v in result.verdicts]


def test_the_notebook_cell_shows_the_finding_first(planted):
    result = xlalign.diagnose(Served(planted), data="demo", langs=["en", "zh"], progress=False)
    page = result._repr_html_()
    order = [page.index(x) for x in ("Finding — Chinese: same-language clustering",
                                     "Chinese queries: same-language clustering — ", "Rule:", "fingerprint")]
    assert order == sorted(order) and "<script" not in page
    assert repr(result).startswith("<DiagnosisResult Served on demo (en+zh): Finding — Chinese: same-language clustering")
    table = result.verdict_table()
    assert list(table.query_lang) == ["zh", "en"] and list(table.kind) == [CLUSTERING, CLUSTERING]


def test_the_figures_are_the_apps(planted):
    result = xlalign.diagnose(Served(planted), data="demo", langs=["en", "zh"], progress=False)
    pref = result.preference_figure()
    assert pref.layout.xaxis.range == (-2, 102) and list(pref.data[0].y) == ["zh"]
    assert pref.data[0].x[0] == pytest.approx(result.verdicts[0].preference)
    assert result.matrix_figure().data[0].type == "heatmap"
    assert result.overview_figure().layout.yaxis.range == (0, 118)
    assert len(result.rank_figure().data) >= 2


def test_a_dataframe_is_data_too(planted, en_zh):
    rows = [{"id": en_zh.item_ids[i], "lang": lang, "passage": en_zh.passages[lang][i],
             "question": en_zh.questions[lang][i], "group": en_zh.groups[i]} for i in range(len(en_zh))
            for lang in ("en", "zh")]
    result = xlalign.diagnose(Served(planted), data=pd.DataFrame(rows), langs=["en", "zh"], progress=False)
    assert result.corpus.name == "dataframe" and len(result.corpus) == len(en_zh)
    assert [v.kind for v in result.verdicts] == [CLUSTERING, CLUSTERING]


def test_write_gives_the_files_the_cli_writes(planted, tmp_path):
    result = xlalign.diagnose(Served(planted), data="demo", langs=["en", "zh"], progress=False)
    out = result.write(tmp_path / "diag")
    assert {p.name for p in out.iterdir()} >= {"summary.csv", "matrix.csv", "per_query.csv", "run.json", ".xlalign.json"}
    matrix = pd.read_csv(out / "matrix.csv")
    assert verdicts(None, matrix, "en", ("en", "zh")) == result.verdicts  # a reader of the CSV gets the same verdict
    with pytest.raises(XlalignError):
        result.write(tmp_path / "diag")  # an earlier result is not replaced without overwrite
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.docx").write_text("x")
    with pytest.raises(XlalignError):
        result.write(tmp_path / "mine", overwrite=True)
    assert (tmp_path / "mine" / "thesis.docx").read_text() == "x"


class Wrong:
    def __init__(self, make) -> None:
        self.make = make

    def encode(self, texts, *, lang, role):
        return self.make(texts)


@pytest.mark.parametrize(("make", "match"), [
    (lambda texts: np.ones((len(texts) + 1, 4)), "returned shape"),
    (lambda texts: np.ones(len(texts)), "returned shape"),
    (lambda texts: np.full((len(texts), 4), np.nan), "NaN or infinite"),
    (lambda texts: [["a"] * 4 for _ in texts], "not an array of numbers"),
])
def test_a_misbehaving_encoder_gets_a_clear_error(make, match):
    with pytest.raises(ConfigError, match=match):
        xlalign.diagnose(Wrong(make), data="demo", langs=["en", "zh"], progress=False)


def test_an_encoder_that_changes_width_is_refused():
    widths = iter([4, 5, 5, 5])
    with pytest.raises(ConfigError, match=r"expected \(\d+, 4\)"):
        xlalign.diagnose(Wrong(lambda texts: np.ones((len(texts), next(widths)))), data="demo", langs=["en", "zh"],
                         progress=False)


@pytest.mark.parametrize(("model", "data", "error", "match"), [
    (object(), "demo", TypeError, "no encode"),
    ("x", 42, TypeError, "data must be"),
])
def test_wrong_arguments_are_refused(model, data, error, match):
    with pytest.raises(error, match=match):
        xlalign.diagnose(model, data=data, langs=["en", "zh"], progress=False)


def test_unknown_attribute_of_the_package():
    with pytest.raises(AttributeError, match="no attribute 'diagnoze'"):
        xlalign.diagnoze  # noqa: B018


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    demo = load_demo(["en", "zh"])
    texts = [t for lang in demo.langs for t in (*demo.passages[lang], *demo.questions[lang])]
    return build_tiny_model(tmp_path_factory.mktemp("tiny-api"), texts)


def test_a_sentence_transformer_in_memory_is_diagnosed_like_its_folder(tiny, tmp_path):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(tiny), device="cpu")
    in_memory = xlalign.diagnose(model, data="demo", langs=["en", "zh"], progress=False)
    by_folder = xlalign.diagnose(str(tiny), data="demo", langs=["en", "zh"], precision="fp32", device="cpu",
                                 cache_dir=tmp_path, progress=False)
    assert in_memory.made_with.fingerprint.startswith("sentence-transformers-object:")
    a = in_memory.summary.set_index(["scenario", "query_lang", "doc_lang", "metric"])["value"]
    b = by_folder.summary.set_index(["scenario", "query_lang", "doc_lang", "metric"])["value"]
    # the same model with the same prompts: every metric agrees (float32 batches of other shapes may move a tie)
    assert (a - b).abs().max() < 1.0
    assert [v.kind for v in in_memory.verdicts] == [v.kind for v in by_folder.verdicts]


def test_align_and_compare_return_what_the_cli_writes(tiny, tmp_path):
    run = xlalign.align(str(tiny), "centering", out=tmp_path / "run", data="demo", langs=["en", "zh"],
                        precision="fp32", cache_dir=tmp_path, progress=False)
    written = pd.read_csv(tmp_path / "run" / "compare.csv")
    assert len(written) == len(run.compare_table) and list(written.metric) == list(run.compare_table.metric)
    assert run.before and run.after and run.finding.startswith("- Chinese queries: ")
    assert "Of " in run.finding and "<li>" in run._repr_html_()
    both = xlalign.compare(tmp_path / "run", out=tmp_path / "cmp")
    assert (tmp_path / "cmp" / "side_by_side.csv").is_file() and (tmp_path / "cmp" / "compare.csv").is_file()
    assert len(both.stacked) == len(run.compare_table)
    with pytest.raises(ConfigError, match="unknown option"):
        xlalign.align(str(tiny), "centering", out=tmp_path / "r2", data="demo", langs=["en", "zh"], no_such=1,
                      progress=False)
    with pytest.raises(TypeError, match="model id or folder"):
        xlalign.align(object(), "centering", out=tmp_path / "r3")  # type: ignore[arg-type]


def _readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- notebook-example -->\n```python\n(.*?)```\n<!-- /notebook-example -->", text, re.S)
    assert found, "README.md has no notebook example between its markers"
    return found.group(1)


def test_the_readme_example_is_ten_lines_or_so():
    code = [line for line in _readme_example().splitlines() if line.strip()]
    assert 8 <= len(code) <= 14, code


@pytest.mark.slow
def test_the_readme_notebook_example_runs_as_written(bundled_cache_dir, bundled_dir, tmp_path):
    """The README's example, as written, in a fresh interpreter (the bundled model from the session cache)."""
    script = tmp_path / "example.py"
    script.write_text(_readme_example(), encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=1800,
                          env={**__import__("os").environ, "XLALIGN_CACHE_DIR": str(bundled_cache_dir)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith(f"zh {CLUSTERING} ")  # the bundled model on demo en+zh
    assert lines[-1].startswith(f"Finding — Chinese: {WEAK}")  # random vectors: weak retrieval, not a bias
