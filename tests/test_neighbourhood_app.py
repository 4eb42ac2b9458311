"""The neighbourhood panels of the app (bitext beside the verdict, the on-demand section, the visitor's index, the
map's purity, the Languages columns, a run's before/after), on a fake whose truth is planted: Chinese sits far
along its own axis (every Chinese document outranks the English gold) while each passage's nearest passage in the
other language is still its translation."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
import pytest
from conftest import import_or_skip
from conftest import table_frame as _frame
from fakes import LatentEncoder

from xlalign.app import assemble
from xlalign.app.controls import METHOD_FIELDS
from xlalign.core.loaders import load_demo
from xlalign.report.neighbourhoods import MINES_WELL
from xlalign.services.lab import Lab
from xlalign.specs import ModelSpec

PLANTED = ModelSpec(model="planted")


def _no_progress(*args, **kwargs) -> None:
    return None


def _outputs(app, name: str) -> set:
    found = [fn.outputs for fn in app.blocks.fns.values() if fn.name == name]
    assert found, name
    return set(found[0])


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("nb-app")
    mp = pytest.MonkeyPatch()
    mp.setenv("XLALIGN_NO_WARMUP", "1")
    mp.setenv("XLALIGN_RUNS_DIR", str(root / "runs"))
    lab = Lab(root / "runs")
    corpus = load_demo()
    # Chinese far along its own direction; small offsets elsewhere (and a slight pull of Chinese queries towards
    # English) keep the English and German golds of a Chinese query from tying exactly
    weights = dict.fromkeys(corpus.langs, 0.0) | {"en": 0.05, "de": 0.1, "zh": 1.5}
    lab._encoders.put(PLANTED, LatentEncoder(corpus, weights, query_pull=0.0, pull_by_lang={"zh": 0.3}))
    yield assemble(lab)
    lab.jobs.shutdown()
    mp.undo()


@pytest.fixture(scope="module")
def diag(app):
    out = app.diagnose.run_diagnosis("demo", None, "en", ["de", "zh"], "planted", "auto", "dedup", False,
                                     progress=_no_progress)
    return out[app.page.diag]


def test_bitext_beside_the_verdict_says_when_good_mining_still_clusters(app, diag):
    out = app.neighbours.on_diag(diag)
    assert set(out) == _outputs(app, "on_diag")
    zh = next(v for v in diag.verdicts if v.query_lang == "zh")
    assert zh.kind == "same-language clustering"
    text = out[app.page.nb_mining]
    assert "Bitext mining, Chinese ↔ English passages: top-1 100% (zh → en) and 100% (en → zh)" in text
    assert "It mines bitext well, yet clusters in a mixed pool" in text
    german = next(line for line in text.splitlines() if "German ↔ English" in line)
    assert "yet clusters" not in german  # German is well aligned: nothing to reconcile
    assert out[app.page.nb_text].startswith("_Press **Mine bitext")
    assert app.neighbours.on_diag(None)[app.page.nb_mining] == ""  # settings changed: nothing stale


def test_the_neighbourhood_section_on_demand(app, diag):
    p = app.page
    out = app.neighbours.on_neighbourhoods(diag)
    assert set(out) == _outputs(app, "on_neighbourhoods")
    bitext, purity = _frame(out[p.nb_bitext]), _frame(out[p.nb_purity])
    assert len(bitext) == 3 * 2 * 2  # pairs × directions × kinds
    assert set(bitext.direction) == {"en → de", "de → en", "en → zh", "zh → en", "de → zh", "zh → de"}
    zh = purity[(purity.texts == "passages") & (purity.language == "zh")].iloc[0]
    assert zh["purity %"] == 100.0 and zh["language-blind %"] == pytest.approx(100 * 167 / 503, abs=0.05)
    assert "Language-identity probe" in out[p.nb_text] and "Neighbourhood purity (questions" in out[p.nb_text]
    assert {Path(f).name for f in out[p.nb_files]} == {"bitext.csv", "purity.csv", "probe.csv"}
    assert pd.read_csv(out[p.nb_files][0]).model.iloc[0] == "planted"  # the CSVs say how they were made
    assert diag.neighbourhoods is not None  # computed once per diagnosis


def test_the_visitors_own_index(app, diag):
    p = app.page
    out = app.neighbours.on_index(diag, "Flat", "", 100, progress=_no_progress)
    assert set(out) == _outputs(app, "on_index")
    table = _frame(out[p.idx_table])
    assert np.allclose(table.change.astype(float), 0.0) and not out[p.idx_verdicts].flipped.any()
    assert "Your index Flat: trained on the pool's 504 passages (seed 1234)" in out[p.idx_text]
    assert "No verdict changes." in out[p.idx_text]
    with pytest.raises(gr.Error, match=r"index 'Nope': faiss cannot build it \(could not parse index string Nope\)"):
        app.neighbours.on_index(diag, "Nope", "", 100, progress=_no_progress)
    with pytest.raises(gr.Error, match="Name an index"):
        app.neighbours.on_index(diag, "exact", "", 100, progress=_no_progress)
    with pytest.raises(gr.Error, match="index depth must be a number ≥ 10"):
        app.neighbours.on_index(diag, "HNSW16", "", 3, progress=_no_progress)


@pytest.mark.slow  # UMAP's first layout compiles (~25 s)
def test_the_map_shows_purity_beside_it(app, diag):
    import_or_skip("umap")
    out = app.explore.on_umap(diag, 12, False, "")
    text = out[app.page.umap_purity_before]
    assert text.startswith("**planted** — Neighbourhood purity (passages;") and "zh 100%" in text
    assert out[app.page.umap_purity_after] == ""


def test_languages_puts_bitext_beside_each_verdict(app):
    p = app.page
    out = app.explore.on_inclination("demo", None, "en", "planted", "auto", "dedup", False, progress=_no_progress)
    table = _frame(out[p.rank_table]).set_index("target")
    assert table.loc["zh", "bitext top-1 % to en"] >= MINES_WELL and "xsim error % to en" in table.columns
    assert "It mines bitext well, yet clusters in a mixed pool" in out[p.rank_text]


def test_compare_shows_each_sides_neighbourhoods(app, diag):
    p, runs = app.page, app.runs
    submitted = runs.on_submit("centering", "demo", None, "en", ["zh"], "planted", "auto", "dedup", False, "split",
                               None, 0.5, *_method_defaults())
    assert app.lab.jobs.wait(120)
    out = runs.on_show_run(submitted[p.run_pick].value, "complete@10")
    table = _frame(out[p.cmp_nb_table]).set_index("figure")
    probe = table.loc["language probe accuracy %, passages (chance 50%)"]
    assert probe.before > 95 and probe.after < 70  # centering removes the planted offset the probe reads
    purity = table.loc[next(f for f in table.index if f.startswith("purity %, zh passages"))]
    assert purity.before == 100.0 and purity.after < purity.before
    assert "Neighbourhood purity of passages, before → after" in out[p.cmp_nb_text]
    assert runs.on_pick_run()[p.cmp_nb_text] == ""


def _method_defaults() -> list:
    from xlalign.align.base import method_options
    from xlalign.specs import option

    classes = method_options()
    return [option(classes[group], name).default for group, name in METHOD_FIELDS]


def test_pivot_mining_is_the_cheap_part():
    """What the page computes at once is only each target against the pivot, passages, no bootstrap."""
    corpus = load_demo(["en", "zh", "de"])
    lab_emb = LatentEncoder(corpus, dict.fromkeys(corpus.langs, 0.5), query_pull=0.0)
    from xlalign.core.evaluate import encode_corpus
    from xlalign.services.neighbourhoods import pivot_mining

    frame = pivot_mining(corpus, encode_corpus(corpus, lab_emb, ("en", "zh", "de")), "en", ["zh", "de"])
    assert set(frame.kind) == {"passages"} and set(zip(frame.source_lang, frame.target_lang, strict=True)) == {
        ("zh", "en"), ("en", "zh"), ("de", "en"), ("en", "de")}
    assert frame[frame.metric == "precision"].ci_low.isna().all()
