"""The app's service layer and the figures, on fake encoders (no model, no browser)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fakes import LatentEncoder

from xlalign import figures
from xlalign.evaluate import EvalConfig, encode_corpus, evaluate_embeddings
from xlalign.lab import Diagnosis, Lab
from xlalign.loaders import load_demo


@pytest.fixture(scope="module")
def diag() -> Diagnosis:
    corpus = load_demo(["en", "de"])
    enc = LatentEncoder(corpus, {"en": 1.0, "de": 0.5}, query_pull=0.8)
    emb = encode_corpus(corpus, enc, ("en", "de"))
    return Diagnosis(corpus, emb, evaluate_embeddings(corpus, emb, EvalConfig(("en", "de"))), "latent")


def test_drill_down_lists_top_documents_with_gold_flags(diag):
    qid = diag.corpus.item_ids[5]
    table = Lab.drill_down(diag, "multi", "de", qid, k=5)
    assert list(table.columns) == ["position", "lang", "passage_of", "score", "gold", "copies", "text"]
    assert table.position.tolist() == [1, 2, 3, 4, 5]
    assert table.score.is_monotonic_decreasing
    row = diag.result.per_query.query("scenario == 'multi' and query_lang == 'de' and query_id == @qid").iloc[0]
    # The planted inclination: an English document first, the German gold further down.
    assert table.lang.iloc[0] == "en" and row["english_over_gold"] == 100.0
    golds = table[table.gold == "✔"]
    for _, g in golds.iterrows():
        assert g["passage_of"] == qid and g["position"] == row[f"rank_{g['lang']}"]


def test_drill_down_multi_1_excludes_the_removed_gold(diag):
    qid = diag.corpus.item_ids[0]
    table = Lab.drill_down(diag, "multi-1", "de", qid, k=336)
    assert not ((table.lang == "de") & (table.passage_of == qid)).any()
    assert len(table) == 335


def test_figures_build(diag):
    summary = diag.result.summary_frame()
    fig = figures.multi_overview(summary)
    assert {t.name for t in fig.data} == {"en queries", "de queries"}
    ranks = figures.rank_distribution(diag.result.per_query, "multi")
    assert {t.name for t in ranks.data} == {"en query → en gold", "en query → de gold", "de query → en gold",
                                            "de query → de gold"}
    for t in ranks.data:
        assert sum(t.y) == pytest.approx(100.0)
    bars = figures.inclination_ranking(pd.DataFrame({"query_lang": ["de", "zh"], "value": [10.0, 50.0]}))
    assert list(bars.data[0].y) == ["de", "zh"]


def test_umap_links_parallel_pairs(diag):
    pytest.importorskip("umap")
    fig = figures.umap_pairs(diag.embeddings.passages["en"][:30], diag.embeddings.passages["de"][:30], ("en", "de"))
    lines, en, de = fig.data
    assert len(en.x) == len(de.x) == 30
    assert len(lines.x) == 3 * 30  # one segment (and a gap) per pair
    assert lines.x[0] == en.x[0] and lines.x[1] == de.x[0]
    with pytest.raises(ValueError, match="differ in shape"):
        figures.umap_pairs(np.zeros((5, 3)), np.zeros((4, 3)), ("en", "de"))


def test_compare_bars_error_bars_span_the_ci():
    table = pd.DataFrame({"scenario": ["multi"], "query_lang": ["de"], "metric": ["complete@10"], "before": [10.0],
                          "after": [40.0], "delta": [30.0], "ci_low": [20.0], "ci_high": [35.0]})
    fig = figures.compare_bars(table)
    err = fig.data[1].error_y
    assert list(err.array) == [5.0] and list(err.arrayminus) == [10.0]


def test_lab_runs_an_alignment_in_the_background(tmp_path, diag):
    from xlalign.align.pipeline import AlignConfig

    lab = Lab(tmp_path / "runs")
    enc = LatentEncoder(diag.corpus, {"en": 1.0, "de": 0.5})
    lab._encoders[("latent", False)] = enc  # the registry of loaded encoders, keyed by model id
    run_id = lab.submit_alignment(AlignConfig(method="centering", data="demo", langs=("en", "de"), model="latent"))
    assert lab.jobs.wait(60)
    runs = lab.runs_table()
    assert runs.set_index("run").loc[run_id, "state"] == "succeeded"
    table = lab.run_compare(run_id)
    assert len(table) > 0
    stacked, wide = lab.side_by_side([run_id])
    assert set(stacked.run) == {run_id}
    assert run_id in wide.columns
    with pytest.raises(FileNotFoundError, match="no run"):
        lab.run_dir("nope")
