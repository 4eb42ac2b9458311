"""``evaluate`` writes bitext.csv, purity.csv and probe.csv (and index.csv with --index); the figures recomputed
from the model's own embeddings, as the README says, agree; a refused index is one line and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tiny_model import build_tiny_model

from xlalign.cli import main
from xlalign.core.loaders import load_squad_folder
from xlalign.models.cache import EmbeddingCache
from xlalign.models.encoders import SentenceTransformerEncoder
from xlalign.specs import ModelSpec


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    texts = ["Cats purr when content.", "Katzen schnurren, wenn sie zufrieden sind.", "The Nile is 6650 km long.",
             "Der Nil ist 6650 km lang.", "Why do cats purr?", "Wie lang ist der Nil?"]
    return build_tiny_model(tmp_path_factory.mktemp("tiny-nb"), texts)


def _evaluate(tiny_model: Path, squad_folder: Path, out: Path, *extra: str) -> int:
    return main(["evaluate", "--data", str(squad_folder), "--langs", "en,de", "--model", str(tiny_model),
                 "--device", "cpu", "--precision", "fp32", "--out", str(out), "--cache-dir", str(out.parent / "cache"),
                 *extra])


def _brute(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Top-1 accuracy and ratio-margin xsim error (k = min(4, n)) as the README states them, with numpy."""
    s = x.astype(np.float64) @ y.astype(np.float64).T
    n, k = len(x), min(4, len(x))
    top1 = np.argmax(s, axis=1)
    near_xy, near_yx = np.argsort(-s, axis=1, kind="stable")[:, :k], np.argsort(-s.T, axis=1, kind="stable")[:, :k]
    mean_x = np.take_along_axis(s, near_xy, axis=1).mean(axis=1)
    mean_y = np.take_along_axis(s.T, near_yx, axis=1).mean(axis=1)
    margin = np.take_along_axis(s, near_xy, axis=1) / ((mean_x[:, None] + mean_y[near_xy]) / 2)
    chosen = near_xy[np.arange(n), np.argmax(margin, axis=1)]
    return 100.0 * float((top1 == np.arange(n)).mean()), 100.0 * float((chosen != np.arange(n)).mean())


def test_evaluate_writes_neighbourhood_tables_that_the_model_reproduces(tiny_model, squad_folder, tmp_path, capsys):
    out = tmp_path / "eval"
    assert _evaluate(tiny_model, squad_folder, out) == 0
    printed = capsys.readouterr().out
    assert "neighbourhoods (faiss k-NN" in printed and "Neighbourhood purity (passages" in printed
    assert "Language-identity probe" in printed and "bitext.csv, purity.csv, probe.csv" in printed
    bitext = pd.read_csv(out / "bitext.csv")
    assert list(bitext.columns[:8]) == ["kind", "source_lang", "target_lang", "metric", "value", "ci_low", "ci_high",
                                        "n"]
    purity, probe = pd.read_csv(out / "purity.csv"), pd.read_csv(out / "probe.csv")
    # k = 10, or every other text of a smaller pool: 3 passages × 2 languages, 5 questions × 2
    assert set(purity[purity.kind == "passages"].metric) == {"purity@5", "expected@5"}
    assert set(purity[purity.kind == "questions"].metric) == {"purity@9", "expected@9"}
    assert set(probe.metric) == {"accuracy", "chance"}
    # The README's recipe, from the model itself: questions in the query role, distinct passages in the passage role.
    corpus = load_squad_folder(squad_folder)
    encoder = SentenceTransformerEncoder(ModelSpec(str(tiny_model), device="cpu", precision="fp32"),
                                         cache=EmbeddingCache(tmp_path / "other.sqlite"))
    first = corpus.passage_first_items()
    texts = {("passages", x): [corpus.passages[x][i] for i in first] for x in ("en", "de")}
    texts |= {("questions", x): list(corpus.questions[x]) for x in ("en", "de")}
    for kind, role in (("passages", "passage"), ("questions", "query")):
        emb = {x: encoder.encode(texts[(kind, x)], lang=x, role=role) for x in ("en", "de")}
        for s, t in (("en", "de"), ("de", "en")):
            accuracy, xsim = _brute(emb[s], emb[t])
            got = bitext[(bitext.kind == kind) & (bitext.source_lang == s) & (bitext.target_lang == t)]
            got = got.set_index("metric").value
            assert got["accuracy"] == pytest.approx(accuracy, abs=1e-6) and got["xsim_error"] == pytest.approx(xsim,
                                                                                                              abs=1e-6)


def test_evaluate_with_an_index_writes_it_beside_the_exact_figures(tiny_model, squad_folder, tmp_path, capsys):
    out = tmp_path / "indexed"
    assert _evaluate(tiny_model, squad_folder, out, "--index", "HNSW8", "--index-params", "efSearch=16") == 0
    printed = capsys.readouterr().out
    assert "Your index HNSW8 (efSearch=16): trained on the pool's 6 passages (seed 1234)" in printed
    table = pd.read_csv(out / "index.csv")
    assert {"exact", "index", "change"} <= set(table.columns) and "index_recall@100" in set(table.metric)
    assert np.allclose(table.change, 0.0)  # 6 documents: HNSW finds them all
    verdicts = pd.read_csv(out / "index_verdicts.csv")
    assert list(verdicts.columns[:5]) == ["query_lang", "against", "exact", "index", "flipped"]
    record = json.loads((out / "run.json").read_text())
    assert record["index"]["index"] == "HNSW8" and record["index"]["seed"] == 1234 and "train_s" in record["index"]


def test_evaluate_refuses_an_index_faiss_cannot_build_in_one_line(tiny_model, squad_folder, tmp_path, capsys):
    out = tmp_path / "refused"
    assert _evaluate(tiny_model, squad_folder, out, "--index", "PQ7") == 2
    err = capsys.readouterr().err  # the progress bar, then one line
    assert err.splitlines()[-1] == ("error: index 'PQ7': faiss cannot build it (The dimension of the vector (d) "
                                    "should be a multiple of the number of subquantizers (M))")
    assert "Traceback" not in err and not out.exists()


def test_evaluate_refuses_a_malformed_index_before_any_work(tmp_path, capsys):
    assert main(["evaluate", "--index", "HNSW32;x", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a faiss index factory string" in err


def test_an_alignment_run_keeps_each_sides_neighbourhoods(tmp_path):
    """A planted language offset (LatentEncoder): centering lowers the probe and the purity on held-out data, and
    the run folder keeps both sides' tables."""
    from fakes import LatentEncoder

    from xlalign.align.base import AlignSpec
    from xlalign.core.loaders import load_demo
    from xlalign.services.pipeline import run_alignment
    from xlalign.specs import EvalSpec
    from xlalign.store.runs import Run

    corpus = load_demo(["en", "de", "zh"])
    enc = LatentEncoder(corpus, {"en": 1.0, "de": 0.8, "zh": 1.2}, query_pull=0.0)
    run_alignment(ModelSpec("latent"), EvalSpec(langs=("en", "de", "zh")), AlignSpec(method="centering"), tmp_path,
                  encoder=enc, corpus=corpus)
    run = Run(tmp_path)
    before, after = run.neighbourhoods("before"), run.neighbourhoods("after")
    assert before is not None and after is not None and before.probe is not None and after.probe is not None
    for name in ("bitext.csv", "purity.csv", "probe.csv"):
        assert (tmp_path / "before" / name).is_file() and (tmp_path / "after" / name).is_file()
    probe = {side: t.probe.set_index(["kind", "metric"]).value for side, t in (("before", before), ("after", after))}
    assert probe["before"][("passages", "accuracy")] > 95
    assert probe["after"][("passages", "accuracy")] < probe["after"][("passages", "chance")] + 15
    purity = {side: t.purity.query("kind == 'passages' and metric == 'purity@10'").value.mean()
              for side, t in (("before", before), ("after", after))}
    assert purity["before"] == 100.0 and purity["after"] < 45  # a language-blind space: about a third
    assert set(before.bitext.model) == {"latent"}  # stamped with how it was made


def test_a_run_made_before_neighbourhoods_has_none(tmp_path):
    from xlalign.store.runs import Run

    (tmp_path / "before").mkdir()
    assert Run(tmp_path).neighbourhoods("before") is None
