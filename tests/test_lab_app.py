"""The service layer, the figures and every app callback, on fake encoders (no model, no browser)."""

from __future__ import annotations

import html
import json
import logging
import zipfile
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
import pytest
from conftest import free_port
from conftest import table_frame as _frame
from fakes import LatentEncoder

from xlalign.align.base import AlignSpec
from xlalign.app import assemble
from xlalign.app.controls import METHOD_FIELDS
from xlalign.app.formatting import BOARD_FAILED, MATRIX_CORNER, PAIR_LABEL, STALE, START, per_query_view
from xlalign.app.inputs import UPLOADED
from xlalign.core.loaders import load_demo
from xlalign.report import figures
from xlalign.services.lab import Lab
from xlalign.specs import EvalSpec, ModelSpec

LATENT = ModelSpec(model="latent")


class _Select:
    """What gradio passes to a .select handler."""

    def __init__(self, index, row_value=None):
        self.index = index
        self.row_value = row_value


def _no_progress(*args, **kwargs) -> None:
    return None


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The app built on a Lab whose 'latent' model is a fake with a planted German→English pull."""
    root = tmp_path_factory.mktemp("app")
    mp = pytest.MonkeyPatch()
    mp.setenv("XLALIGN_NO_WARMUP", "1")
    mp.setenv("XLALIGN_RUNS_DIR", str(root / "runs"))  # public mode's run-model check reads it
    lab = Lab(root / "runs")
    corpus = load_demo()
    lab._encoders.put(LATENT, LatentEncoder(corpus, dict.fromkeys(corpus.langs, 0.5), query_pull=0.0,
                                            pull_by_lang={"de": 1.6}))
    yield assemble(lab)
    lab.jobs.shutdown()
    mp.undo()


def _wired_outputs(app, name: str) -> set:
    """The output components of every event wired to the callback ``name`` (all the same)."""
    found = [fn.outputs for fn in app.blocks.fns.values() if fn.name == name]
    assert found, name
    assert all(set(f) == set(found[0]) for f in found), name
    return set(found[0])


@pytest.fixture(scope="module")
def diagnosed(app):
    return app.diagnose.run_diagnosis("demo", None, "en", ["de", "zh"], "latent", "auto", "dedup", False,
                                      progress=_no_progress)


def test_diagnosis_states_the_finding_first(app, diagnosed):
    p = app.page
    assert set(diagnosed) == _wired_outputs(app, "run_diagnosis")  # a value for every output, nothing unwired
    diag, verdict, overview, cdf = diagnosed[p.diag], diagnosed[p.verdict], diagnosed[p.overview], diagnosed[p.cdf]
    assert diag.spec.langs == ("en", "de", "zh")
    assert verdict.startswith("### Finding — ") and "German: English inclination" in verdict.splitlines()[0]
    assert "**German queries: English inclination** — preference: irrelevant English documents outrank their German " \
           "translations in " in verdict
    assert {"summary.csv", "matrix.csv", "per_query.csv"} == {Path(f).name for f in diagnosed[p.exports]}
    per_query = _frame(diagnosed[p.per_query])
    assert list(per_query.columns)[:5] == ["lang", "query_id", "en", "de", "zh"] and len(per_query) == 3 * 168
    assert list(_frame(diagnosed[p.matrix_table]).columns) == [MATRIX_CORNER, "en", "de", "zh"]
    # the drill-down is ready on the first target's queries against the pivot gold, worst-placed query first
    table = _frame(diagnosed[p.dd_table])
    assert (diagnosed[p.dd_lang].value, diagnosed[p.dd_gold].value) == ("de", "en")
    assert diagnosed[p.dd_query].value == table.query_id.iloc[0] and table["en gold rank"].is_monotonic_decreasing
    # the chart controls are back at their defaults, every control's value among its choices
    assert (diagnosed[p.cdf_scenario], diagnosed[p.matrix_metric], diagnosed[p.pq_search]) == ("multi",
                                                                                               "best_gold_share", "")
    curves = diagnosed[p.cdf_curves]
    assert curves.value == ["en>en", "de>en", "zh>en"] and set(curves.value) <= {v for _, v in curves.choices}
    assert len(cdf.data) == 3  # q → pivot curves by default, not k² of them
    # the overview labels n/a (pivot queries have no pivot inclination) instead of drawing 0
    en = next(t for t in overview.data if t.name == "en queries")
    assert "n/a" in en.text and en.marker.opacity[list(en.text).index("n/a")] == 0.0
    assert overview.layout.yaxis.range == (0, 118)  # fixed, room for labels above 100%
    assert cdf.layout.xaxis.type == "log" and cdf.layout.yaxis.range == (0, 100)


def test_exports_neutralise_formulas(app, diagnosed):
    files = diagnosed[app.page.exports]
    text = Path(next(f for f in files if f.endswith("per_query.csv"))).read_text()
    assert "\n=" not in text and ",=" not in text and ",+" not in text
    assert oct(Path(files[0]).stat().st_mode & 0o777) == "0o644"


def test_changing_the_configuration_clears_every_result(app, diagnosed):
    p = app.page
    cleared = app.diagnose.clear_results(diagnosed[p.diag])
    assert set(cleared) == _wired_outputs(app, "clear_results")
    assert cleared[p.diag] is None and cleared[p.verdict] == STALE
    tables = (p.summary, p.summary_full, p.matrix_table, p.per_query, p.dd_table)
    assert all(len(_frame(cleared[c])) == 0 and len(_frame(cleared[c]).columns) > 1 for c in tables)  # with headers
    assert cleared[p.dd_table].label == PAIR_LABEL  # not the old pair's caption ("Chinese queries … 168 of 168")
    assert cleared[p.exports] is None and cleared[p.dd_info] == cleared[p.dd_docs] == ""
    assert (cleared[p.dd_lang].value, cleared[p.dd_gold].value, cleared[p.dd_query].value) == (None, None, None)
    assert (cleared[p.cdf_scenario], cleared[p.matrix_metric], cleared[p.pq_search], cleared[p.dd_search]) == (
        "multi", "best_gold_share", "", "")
    assert all(cleared[c].layout.annotations[0].text == "settings changed: run again"
               for c in (p.overview, p.cdf, p.matrix_plot, p.umap_before, p.umap_after))
    # every configuration control clears them
    config_ids = {c._id for c in p.config}
    triggers = {t[0] for fn in app.blocks.fns.values() if fn.name == "clear_results" for t in fn.targets}
    assert triggers == config_ids
    # the targets by their input event: their change event comes again, unchanged, whenever the page redraws
    assert {t[1] for fn in app.blocks.fns.values() if fn.name == "clear_results" for t in fn.targets
            if t[0] == p.targets._id} == {"input"}
    # before any diagnosis nothing says "settings changed"
    fresh = app.diagnose.clear_results(None)
    assert fresh[p.verdict] == START and all(fresh[c] is None for c in (p.overview, p.cdf, p.umap_before))


def test_languages_and_models_tabs_are_cleared_only_by_what_they_read_once_they_ran(app):
    """The Languages tab does not read the targets, the Models tab not the model menu: those leave them as they
    are; before either ever ran, no change makes it say "settings changed"."""
    p = app.page

    def triggers(name: str) -> set:
        return {t[0] for fn in app.blocks.fns.values() if fn.name == name for t in fn.targets}

    assert triggers("clear_languages") == {c._id for c in (p.dataset, p.upload, p.pivot, p.model, p.precision,
                                                           p.pool, p.remote)}
    assert triggers("clear_models") == {c._id for c in (p.dataset, p.upload, p.pivot, p.targets, p.precision, p.pool)}
    for name, shown, panels in (("clear_languages", "- German queries: …", (p.rank_plot, p.rank_table, p.rank_text)),
                                ("clear_models", "comparable only on XQuAD …", (p.lb_table, p.lb_plot, p.lb_note,
                                                                                 p.lb_file))):
        fn = getattr(app.diagnose, name)
        assert set(fn(shown)) == set(panels) == _wired_outputs(app, name)
        assert all(v == gr.skip() for v in fn("").values())  # never ran: untouched
    langs, models = app.diagnose.clear_languages("ran"), app.diagnose.clear_models("ran")
    assert langs[p.rank_plot].layout.annotations[0].text.startswith("settings changed")
    assert len(langs[p.rank_table]) == 0 and langs[p.rank_text] == ""
    assert models[p.lb_file] is None and len(models[p.lb_table]) == 0  # no CSV of the previous leaderboard


def test_pair_drill_down_lists_the_queries_and_everything_above_the_gold(app, diagnosed):
    p = app.page
    diag = diagnosed[p.diag]
    out = app.diagnose.on_pair(diag, "multi", "de", "en", 0, "")
    assert set(out) == _wired_outputs(app, "on_pair")
    table = _frame(out[p.dd_table])
    ranks = Lab.pair_queries(diag, "multi", "de", "en")
    assert len(table) == 168 and list(table.query_id) == list(ranks.query_id)
    pq = diag.result.per_query
    multi_de = pq[(pq.scenario == "multi") & (pq.query_lang == "de")].set_index("query_id")
    assert (ranks.set_index("query_id").gold_rank == multi_de.rank_en.loc[ranks.query_id]).all()  # the same ranks
    qid = out[p.dd_query].value
    assert qid == table.query_id.iloc[0]  # worst first
    docs = Lab.docs_above(diag, "multi", "de", "en", qid)
    assert docs.position.iloc[-1] == multi_de.loc[qid, "rank_en"]  # the gold, at its rank
    assert docs.copies.iloc[:-1].sum() == multi_de.loc[qid, "rank_en"] - 1  # exactly the documents above it
    html_docs = out[p.dd_docs]
    for lang, n in docs.iloc[:-1].groupby("lang").size().items():
        assert f"{n} document{'' if n == 1 else 's'} above the English gold" in html_docs, lang
    irrelevant = docs[~docs.gold]  # the per-language counts the table shows: the same documents, copies counted
    row = ranks.set_index("query_id").loc[qid]
    langs = [c.removeprefix("above_") for c in ranks.columns if c.startswith("above_")]
    assert set(irrelevant.lang) <= set(langs) and len(langs) > 1
    assert [row[f"above_{x}"] for x in langs] == [irrelevant.copies[irrelevant.lang == x].sum() for x in langs]
    assert diag.corpus.questions["de"][diag.corpus.item_ids.index(qid)] in out[p.dd_info]
    # the filter: only queries whose gold ranks below k
    k = int(ranks.gold_rank.median())
    filtered = _frame(app.diagnose.on_pair(diag, "multi", "de", "en", k, "")[p.dd_table])
    assert len(filtered) == int((ranks.gold_rank > k).sum()) and (filtered["en gold rank"] > k).all()
    # a gold language that is not in the scenario's pool falls back to a valid one
    out = app.diagnose.on_pair(diag, "mono-same", "de", "en", 0, "")
    assert (out[p.dd_gold].value, [v for _, v in out[p.dd_gold].choices]) == ("de", ["de"])


def test_drill_down_equals_a_brute_force_ranking_and_marks_the_gold_documents(app, diagnosed):
    """The rows above the German gold of an English query, recomputed here from the embeddings: score every
    passage of every pool language against the query, keep those above the gold, best first, gold last."""
    diag = diagnosed[app.page.diag]
    corpus, emb = diag.corpus, diag.embeddings
    qi = 3
    qid = corpus.item_ids[qi]
    _, item_to_passage = corpus.unique_passages()
    first_item = corpus.passage_first_items()
    query = emb.queries["en"][qi]
    pool = [(lang, p, float(emb.passages[lang][p] @ query)) for lang in ("en", "de", "zh")
            for p in range(len(first_item))]
    assert len({corpus.passages[lang][first_item[p]] for lang, p, _ in pool}) == len(pool)  # no shared texts
    gold = item_to_passage[qi]
    target = next(score for lang, p, score in pool if (lang, p) == ("de", gold))
    tied = [(lang, p) for lang, p, score in pool if score == target and (lang, p) != ("de", gold)]
    assert all(p == gold for _, p in tied)  # only other golds tie with it (the fake's languages share an offset)
    # the tie policy: a gold beats a tied irrelevant document, tied golds keep their order (en, de, zh)
    above = [(lang, p) for lang, p, score in pool if score > target] + [(lang, p) for lang, p in tied if lang == "en"]
    docs = Lab.docs_above(diag, "multi", "en", "de", qid)
    shown = list(zip(docs.lang, docs.passage_of, strict=True))
    assert shown[-1] == ("de", qid) and sorted(shown[:-1]) == sorted((lang, corpus.item_ids[first_item[p]])
                                                                     for lang, p in above)
    scores = dict(((lang, corpus.item_ids[first_item[p]]), score) for lang, p, score in pool)
    np.testing.assert_allclose(docs.score, [scores[d] for d in shown], rtol=1e-5)
    assert (np.diff(docs.score) <= 0).all()  # best first
    assert list(docs.position) == [1 + sum(s > scores[d] for *_, s in pool) for d in shown[:-1]] + [len(shown)]
    assert (docs.copies == 1).all() and list(docs.gold) == [passage == qid for _, passage in shown]
    pq = diag.result.per_query
    assert pq[(pq.scenario == "multi") & (pq.query_lang == "en") & (pq.query_id == qid)].rank_de.item() == len(shown)
    out = app.diagnose.on_query(diag, "multi", "en", "de", qid)
    golds_above = sum(p == gold for _, p in above)  # the query's passage in another language, ranked higher
    assert out[app.page.dd_docs].count("✔ gold") == 1 + golds_above


def test_drill_down_needs_a_diagnosis(app):
    with pytest.raises(gr.Error, match="Run a diagnosis first"):
        app.diagnose.on_query(None, "multi", "de", "en", "x")
    assert app.diagnose.on_pair(None, "multi", "de", "en", 0, "")[app.page.dd_lang].value is None


def test_clicks_open_the_pair_drill_down(app, diagnosed):
    p = app.page
    diag = diagnosed[p.diag]
    out = app.diagnose.on_matrix_select(diag, _Select((2, 1), ["zh", 1.0, 2.0, 3.0]))  # cell zh → en
    assert set(out) == _wired_outputs(app, "on_matrix_select")
    assert (out[p.dd_scenario].value, out[p.dd_lang].value, out[p.dd_gold].value) == ("multi", "zh", "en")
    assert out[p.tabs].selected == "drill" and (out[p.dd_k], out[p.dd_search]) == (0, "")
    view = per_query_view(diag)
    row = view.iloc[170]
    column = list(view.columns).index("zh")  # the Chinese gold's rank
    out = app.diagnose.on_row_select(diag, "", _Select((170, column)))
    assert set(out) == _wired_outputs(app, "on_row_select")
    assert (out[p.dd_lang].value, out[p.dd_gold].value, out[p.dd_query].value) == (row.lang, "zh", row.query_id)
    assert "<table" in out[p.dd_docs] and html.escape(row.query_id) in out[p.dd_info]
    out = app.diagnose.on_open_pair(diag, json.dumps({"point": ["zh", row.query_id]}))  # a map point
    assert (out[p.dd_lang].value, out[p.dd_gold].value, out[p.dd_query].value) == ("zh", "en", row.query_id)
    out = app.diagnose.on_open_pair(diag, json.dumps({"q": "en", "l": "de"}))  # a heatmap cell
    assert (out[p.dd_lang].value, out[p.dd_gold].value) == ("en", "de")
    with pytest.raises(gr.Error, match="not in this diagnosis"):
        app.diagnose.on_open_pair(diag, json.dumps({"q": "xx", "l": "de"}))


def test_per_query_filter_says_how_many_rows_match(app, diagnosed):
    diag = diagnosed[app.page.diag]
    qid = diag.corpus.item_ids[5]
    out = app.diagnose.on_pq_search(diag, qid)
    assert len(_frame(out)) == 3 and f"3 of {3 * 168} rows match '{qid}'" in out.label


def test_umap_map_of_passages_and_questions(app, diagnosed, fake_umap):
    out = app.explore.on_umap(diagnosed[app.page.diag], 12, True, "")
    # one reducer, as the real map makes it: cosine, 15 neighbours (of 3 languages × 12 passages × 2), seeded
    assert fake_umap == [{"n_neighbors": 15, "metric": "cosine", "random_state": 42, "init": "random", "n_jobs": 1}]
    assert set(out) == _wired_outputs(app, "on_umap")
    before, after = out[app.page.umap_before], out[app.page.umap_after]
    diag = diagnosed[app.page.diag]
    points = [t for t in before.data if t.mode == "markers" and t.customdata is not None]
    assert {t.name for t in points} == {"en (English)", "de (German)", "zh (Chinese)"}
    # each language is one legend group (a legend click hides all its points and its translation lines) of several
    # traces drawn interleaved with the other languages' (no language always underneath)
    assert {t.legendgroup for t in before.data if t.legendgroup} == {"en", "de", "zh"}
    order = [t.legendgroup for t in points]
    assert len(set(order[-3:])) > 1 or len(set(order[:3])) > 1
    assert sum(len(t.customdata) for t in points) == 2 * 3 * 12
    for t in points:
        lang = t.legendgroup
        assert {c[0] for c in t.customdata} == {lang} and t.marker.color == figures.lang_color(lang)
        assert {c[1] for c in t.customdata} <= set(diag.corpus.item_ids)  # click → drill-down
        for (_, item), text in zip(t.customdata, t.text, strict=True):  # the hover shows the point's own text
            i = diag.corpus.item_ids.index(item)
            own = {diag.corpus.passages[lang][i], diag.corpus.questions[lang][i]}
            assert any(figures.hover_text(x)[:20] in text for x in own), (lang, item, text)
    assert "pick a finished run" in after.layout.annotations[0].text


def test_language_view_puts_the_preference_on_a_fixed_axis(app):
    p = app.page
    out = app.explore.on_inclination("demo", None, "en", "latent", "auto", "dedup", False, progress=_no_progress)
    assert set(out) == _wired_outputs(app, "on_inclination")
    by_target = _frame(out[p.rank_table]).set_index("target")
    assert set(by_target.index) == {"es", "de", "zh", "ar", "hi", "ur"}
    assert by_target.loc["de", "verdict"] == "pivot inclination" and by_target.loc["zh", "verdict"] != "pivot inclination"
    assert by_target.loc["de", "preference %"] < 45.0  # German queries favour English documents over German ones
    assert out[p.rank_plot].layout.xaxis.range == (-2, 102)
    assert "German queries: English inclination" in out[p.rank_text]


def test_models_side_by_side_a_broken_model_keeps_the_others(app, tmp_path):
    p = app.page
    broken = tmp_path / "not-a-model"
    broken.mkdir()
    (broken / "config.json").write_text("{ not json")
    out = app.explore.on_leaderboard("demo", None, "en", ["de"], "dedup", "auto", ["latent", str(broken)], "",
                                     progress=_no_progress)
    assert set(out) == _wired_outputs(app, "on_leaderboard")
    board = _frame(out[p.lb_table])
    ok, bad = board[board.model == "latent"], board[board.model == "…/not-a-model"]  # a folder by its last part
    assert set(ok.query_lang) == {"en", "de"} and "error" not in board.columns
    assert len(bad) == 1 and bad.verdict.iloc[0] == BOARD_FAILED  # one short row; the reason is in the note
    assert (bad.drop(columns=["model", "verdict"]) == "n/a").all(axis=None)  # n/a, never blank
    assert not any(c.startswith("paper ") for c in board.columns)  # no empty paper columns…
    note = out[p.lb_note]
    assert "comparable only on XQuAD with per-question pools" in note and "the data is demo" in note  # …but why
    assert f"**{broken}** could not be evaluated: could not load model" in note and "latent: fingerprint latent" in note
    csv = pd.read_csv(out[p.lb_file])
    assert set(csv.model) == {"latent", str(broken)} and "model_fingerprint" in csv.columns
    assert [t.name for t in out[p.lb_plot].data] == ["en queries", "de queries"]
    assert out[p.lb_plot].data[0].marker.color == figures.lang_color("en")


def test_models_not_on_this_machine_are_marked(monkeypatch):
    from xlalign.app.inputs import NOT_OFFLINE, model_choices

    monkeypatch.setenv("HF_HUB_CACHE", "/nonexistent-hub-cache")
    labels = dict((v, k) for k, v in model_choices())
    assert labels["bundled:multilingual-e5-small"] == "bundled:multilingual-e5-small"
    assert labels["BAAI/bge-m3"] == "BAAI/bge-m3" + NOT_OFFLINE


def test_upload_of_new_languages_sets_the_language_lists(app, tmp_path):
    rows = [{"id": f"i{i}", "lang": lang, "passage": f"{lang} passage {i} text", "question": f"{lang} q{i}?",
             "group": f"g{i % 4}"} for i in range(12) for lang in ("en", "fr")]
    path = tmp_path / "mine.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    p = app.page
    out = app.diagnose.on_data("demo", str(path), "en")
    assert set(out) == _wired_outputs(app, "on_data")
    assert out[p.pivot].value == "en" and out[p.targets].value == ["fr"] and "fr" in out[p.data_note]
    # the dataset menu names the upload while it is in use (its value among its choices)
    assert (out[p.dataset].value, dict(out[p.dataset].choices)["your file: mine.jsonl"]) == (UPLOADED, UPLOADED)
    out = app.diagnose.on_dataset("demo", str(path), "en")  # a listed dataset chosen: the upload is set aside
    assert set(out) == _wired_outputs(app, "on_dataset")
    assert out[p.upload] is None and out[p.dataset].value == "demo" and "7 languages" in out[p.data_note]
    out = app.diagnose.on_data(UPLOADED, None, "en")  # the upload removed: back to the demo
    assert out[p.dataset].value == "demo" and UPLOADED not in [v for _, v in out[p.dataset].choices]


def test_upload_errors_name_the_users_file_not_the_server_path(app, tmp_path):
    path = tmp_path / "deep" / "server" / "broken.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text('{"id": 1}\n')
    with pytest.raises(gr.Error) as e:
        app.diagnose.on_data("demo", str(path), "en")
    assert "broken.jsonl" in str(e.value) and str(path.parent) not in str(e.value)


def test_alignment_run_lifecycle_through_the_app(app, diagnosed, fake_umap):
    p, runs = app.page, app.runs
    out = runs.on_submit("centering", "demo", None, "en", ["de"], "latent", "auto", "dedup", False, "split", None,
                         0.5, *[option_default(g, n) for g, n in METHOD_FIELDS])
    assert set(out) == _wired_outputs(app, "on_submit")
    assert "Submitted **centering · subtract · queries own**" in out[p.submit_msg]  # the run's short label
    run_id = out[p.run_pick].value  # the run just submitted is preselected
    assert run_id in out[p.submit_msg] and out[p.watch] == run_id
    assert app.lab.jobs.wait(120)
    out = runs.on_refresh()
    assert set(out) == _wired_outputs(app, "on_refresh")
    table, models = out[p.runs], out[p.lb_models]
    run_id = table.run.iloc[0]
    assert f"run:{run_id}" in [v for _, v in models.choices]  # a finished run's aligned model can be compared
    assert [v for _, v in out[p.cmp_pick].choices] == [run_id]
    assert table.state.iloc[0] == "succeeded" and table.progress.iloc[0] == "100%"
    opened = runs.on_refresh(run_id, "align")  # the page watching its run: the comparison opens by itself
    assert opened[p.tabs].selected == "compare" and opened[p.cmp_pick].value == run_id and opened[p.watch] is None
    assert opened[p.cmp_header].startswith("### centering · subtract · queries own") and "has finished" in \
        opened[p.submit_msg]
    assert runs.on_refresh(run_id, "drill")[p.tabs] == gr.skip()  # a visitor on another tab stays there
    out = runs.on_show_run(run_id, "complete@10")
    assert set(out) == _wired_outputs(app, "on_show_run")
    header, head = out[p.cmp_header], out[p.cmp_table]
    assert header.startswith("### centering · subtract · queries own\n\n**Finding**")  # the run's short label
    # the verdict before → after (the rule every view uses), then the changes with their CIs
    assert "- **German queries**: English inclination → " in header and "Multi Complete@10" in header
    assert "German documents over their English translations" in header and "changed significantly" in header
    assert f"**Run** `{run_id}` · **model** `latent` · **data** demo · **languages** en+de (pivot en)" in header
    assert head.query_lang.iloc[0] == "de"  # target-language queries first
    q = pd.to_numeric(head.q_value)  # written as text: 2 decimals, scientific notation below 0.01
    assert set(head.significant) <= {"✔ q<0.05", ""} and (head.significant != "").sum() == (q < 0.05).sum()
    assert {Path(f).name for f in out[p.cmp_files]} == {"compare.csv", "before_per_query.csv", "after_per_query.csv"}
    assert "change" in out[p.cmp_plot].layout.yaxis.title.text
    assert runs.on_compare_metric(run_id, "max_r").layout.title.text.startswith("Change in Max@R")
    assert out[p.export_file] is None  # a run's page never offers another run's export
    archive = runs.on_export(run_id)
    names = zipfile.ZipFile(archive).namelist()
    picked = runs.on_pick_run()  # another run picked: this run's page and export go
    assert set(picked) == _wired_outputs(app, "on_pick_run") and picked[p.export_file] is None
    assert picked[p.cmp_files] is None and "Show before / after" in picked[p.cmp_header]
    assert any(n.endswith("xlalign_apply.py") for n in names) and any(n.endswith("README.md") for n in names)
    out = runs.on_side_by_side([run_id])
    assert set(out) == _wired_outputs(app, "on_side_by_side")
    assert {"R1 after", "R1 change (95% CI)", "R1 q"} <= set(_frame(out[p.sbs_table]).columns)  # short headers…
    assert out[p.sbs_legend].startswith(f"**R1** = `{run_id}` · centering")  # …and the run id in the legend
    wide = pd.read_csv(next(f for f in out[p.sbs_files] if f.endswith("side_by_side.csv")))
    assert {f"{run_id} delta", f"{run_id} lo", f"{run_id} hi", f"{run_id} q"} <= set(wide.columns)  # the CSV: full
    with pytest.raises(gr.Error, match="has no map for zh"):  # the run aligned en+de; the diagnosis has zh too
        app.explore.on_umap(diagnosed[p.diag], 8, False, run_id)
    out = app.explore.on_leaderboard("demo", None, "en", ["de"], "dedup", "auto", ["latent", f"run:{run_id}"],
                                     "", progress=_no_progress)
    board = _frame(out[p.lb_table])
    de = board[board.query_lang == "de"].set_index("model")
    column = "own-language preference % (own_preference)"  # German over English: centering moves it towards 50
    assert abs(de.loc[f"run:{run_id}", column] - 50.0) < abs(de.loc["latent", column] - 50.0)
    out = runs.on_cancel(run_id)
    assert set(out) == _wired_outputs(app, "on_cancel")
    assert "is not queued or running" in out[p.submit_msg]


def test_run_header_is_plain_facts(app):
    """The service layer titles a run with values, not markdown; the page formats them."""
    run_id = app.lab.submit_alignment(LATENT, EvalSpec(langs=("en", "de")), AlignSpec(method="centering"))
    assert app.lab.jobs.wait(120)
    header = app.lab.run_header(run_id)
    assert header["describe"].startswith("centering") and header["state"] == "succeeded"
    assert (header["run"], header["model"], header["langs"], header["pivot"]) == (run_id, "latent", ["en", "de"], "en")
    assert not any("**" in str(v) or "###" in str(v) or "✔" in str(v) for v in header.values())


def test_cancel_and_show_refuse_names_outside_the_runs_folder(app):
    with pytest.raises(gr.Error, match="is not valid"):
        app.runs.on_cancel("../etc")
    with pytest.raises(gr.Error, match="is not valid"):
        app.runs.on_show_run("/etc", "complete@10")


def option_default(group: str, name: str):
    from xlalign.align.base import method_options
    from xlalign.specs import option

    return option(method_options()[group], name).default


# ----------------------------------------------------------------------------- figures on their own
def test_inclination_view_never_scales_to_the_maximum():
    rows = pd.DataFrame({"target": ["ur"], "verdict": ["well aligned"], "preference %": [50.6],
                         "preference CI": [(49.1, 52.0)], "en queries: preference %": [51.0],
                         "en queries: preference CI": [(50.2, 51.8)]})
    fig = figures.inclination_view(rows, "en")
    assert fig.layout.xaxis.range == (-2, 102)


def test_compare_change_draws_the_change_with_its_ci():
    table = pd.DataFrame({"scenario": ["multi"], "query_lang": ["de"], "doc_lang": ["en+de"], "metric": ["complete@10"],
                          "before": [10.0], "after": [40.0], "delta": [30.0], "ci_low": [20.0], "ci_high": [35.0],
                          "q_value": [0.001]})
    fig = figures.compare_change(table, "complete@10")
    bar = fig.data[0]
    assert list(bar.y) == [30.0] and list(bar.error_y.array) == [5.0] and list(bar.error_y.arrayminus) == [10.0]
    label = fig.data[1]
    assert label.text[0] == "+30.00 *" and label.y[0] > 35.0  # the label sits beyond the whisker, not across it
    assert fig.layout.yaxis.title.text == "change (percentage points)"
    assert figures.change_unit("max_r") == "ranks" and figures.change_unit("mrr") == "on the metric's 0–1 scale"


def test_compare_finding_states_the_change_its_ci_and_the_cost():
    from xlalign.core.verdict import direction
    from xlalign.report.verdict_text import compare_finding

    rows = [("multi", "de", "complete@10", 10.0, 40.0, 20.0, 35.0, 0.001),
            ("multi", "de", "displaced_by_own@10", 50.0, 5.0, -55.0, -35.0, 0.002),
            ("multi", "de", "displaced_by_pivot@10", 30.0, 20.0, -15.0, -5.0, 0.01),
            ("multi", "de", "same_lang_preference", 100.0, 60.0, -50.0, -30.0, 0.001),
            ("mono-same", "de", "ndcg@10", 90.0, 88.0, -3.0, -1.0, 0.03),
            ("multi", "en", "max_r", 20.0, 25.0, 1.0, 9.0, 0.2)]
    table = pd.DataFrame(rows, columns=["scenario", "query_lang", "metric", "before", "after", "ci_low", "ci_high",
                                        "q_value"])
    table["delta"] = table.after - table.before
    text = compare_finding(table, "en")
    assert text.splitlines()[0] == (
        "- **German queries**: Multi Complete@10 10.0% → 40.0% (+30.0, 95% CI +20.0…+35.0, q = 0.001); "
        "first page lost to own-language documents (displaced_by_own@10) 50.0% → 5.0% (-45.0, 95% CI -55.0…-35.0, "
        "q = 0.002); own-language search (Mono-Same NDCG@10) 90.0 → 88.0 (-2.0, 95% CI -3.0…-1.0, q = 0.03).")
    # complete@10 and both falling rates improved; the NDCG loss is worse; same_lang_preference is neutral
    assert text.splitlines()[1] == ("- Of 6 tests, 5 changed significantly (Benjamini–Hochberg q < 0.05): "
                                    "3 for the better, 1 for the worse, 1 neutral.")
    assert "**" not in compare_finding(table, "en", markdown=False)
    assert (direction("max_r", -1.0), direction("ndcg@10", -1.0), direction("same_lang_preference", 5.0)) == (1, -1, 0)


def test_bias_matrix_uses_a_fixed_scale():
    m = pd.DataFrame({"query_lang": ["en", "en", "de", "de"], "doc_lang": ["en", "de", "en", "de"],
                      "metric": "best_gold_share", "value": [90.0, 10.0, 70.0, 30.0], "n_queries": 5, "pool_size": 10})
    fig = figures.bias_matrix(m, "best_gold_share")
    assert (fig.data[0].zmin, fig.data[0].zmax) == (0, 100)
    np.testing.assert_allclose(fig.data[0].z, [[90, 10], [70, 30]])


def test_lab_diagnose_directly(tmp_path):
    lab = Lab(tmp_path / "runs")
    corpus = load_demo(["en", "de"])
    lab._encoders.put(LATENT, LatentEncoder(corpus, {"en": 1.0, "de": 0.5}, query_pull=0.8))
    diag = lab.diagnose(LATENT, EvalSpec(langs=("en", "de")))
    assert [v.query_lang for v in diag.verdicts] == ["de", "en"]
    run_id = lab.submit_alignment(LATENT, EvalSpec(langs=("en", "de")), AlignSpec(method="lsar"))
    assert lab.jobs.wait(120)
    assert lab.runs_table().set_index("run").loc[run_id, "state"] == "succeeded"
    emb, label = lab.run_embeddings(run_id, diag.model, diag.corpus, diag.embeddings, diag.spec.langs)
    # The run's subspace, read from its file here (safetensors, not xlalign), applied by hand: x ↦ normalise(x − x U Uᵀ)
    from safetensors import safe_open

    with safe_open(str(lab.run(run_id).dir / "lsar.safetensors"), "numpy") as f:
        rank = int(f.metadata()["rank_"])
        u = f.get_tensor("components")[:, :rank].astype(np.float64)
    assert rank >= 1 and label.split(" · ")[:2] == ["LSAR", f"rank {rank} (held-out)"]  # the rank the run chose
    for role in ("passages", "queries"):
        for lang in ("en", "de"):
            x = getattr(diag.embeddings, role)[lang].astype(np.float64)
            removed = x - (x @ u) @ u.T
            expected = removed / np.linalg.norm(removed, axis=1, keepdims=True)
            np.testing.assert_allclose(getattr(emb, role)[lang], expected, atol=1e-5)
            assert np.abs(getattr(emb, role)[lang] @ u).max() < 1e-5  # nothing left along the language subspace
    gap = [np.linalg.norm(e.passages["de"].mean(0) - e.passages["en"].mean(0)) for e in (diag.embeddings, emb)]
    assert gap[1] < 0.5 * gap[0]  # the planted language offset is mostly gone


def test_public_mode_reads_only_listed_datasets_and_uploads(app, monkeypatch, tmp_path):
    monkeypatch.setenv("XLALIGN_PUBLIC", "1")
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "uploads"))
    (tmp_path / "uploads").mkdir()
    with pytest.raises(gr.Error, match="dataset must be one of demo, xquad, belebele"):
        app.diagnose.on_data("/etc", None, "en")
    outside = tmp_path / "elsewhere.jsonl"
    outside.write_text('{"id": "1", "lang": "en", "passage": "p", "question": "q"}\n')
    with pytest.raises(gr.Error, match="not an upload"):
        app.diagnose.on_data("demo", str(outside), "en")
    with pytest.raises(gr.Error) as e:
        app.diagnose.run_diagnosis("demo", str(outside), "en", ["fr"], "latent", "auto", "dedup", True,
                                   progress=_no_progress)
    assert str(tmp_path) not in str(e.value)


# ----------------------------------------------------------------------------- what a failure shows and logs
def test_a_user_error_logs_one_line_without_a_traceback(app, tmp_path, caplog):
    path = tmp_path / "server" / "broken.jsonl"
    path.parent.mkdir()
    path.write_text('{"id": 1}\n')
    with caplog.at_level(logging.INFO, logger="xlalign.app"), pytest.raises(gr.Error) as e:
        app.diagnose.on_data("demo", str(path), "en")
    assert e.value.print_exception is False  # gradio prints no traceback either
    assert "\n" not in e.value.message and "broken.jsonl" in e.value.message
    records = [r for r in caplog.records if r.name.startswith("xlalign.app")]
    assert len(records) == 1 and records[0].exc_info is None and records[0].levelno == logging.INFO
    assert records[0].getMessage().startswith("on_data refused: ") and "\n" not in records[0].getMessage()


def test_an_unexpected_error_logs_its_traceback_once_and_shows_one_line(app, monkeypatch, caplog):
    def broken(data):
        raise RuntimeError("index 7 is out of bounds in /srv/xlalign/secret/table.bin\nsecond line of details")

    monkeypatch.setattr(app.lab, "languages", broken)
    monkeypatch.setenv("XLALIGN_PUBLIC", "1")
    with caplog.at_level(logging.INFO, logger="xlalign.app"), pytest.raises(gr.Error) as e:
        app.diagnose.on_data("demo", None, "en")
    assert e.value.message == ("Unexpected error (RuntimeError: index 7 is out of bounds in …/table.bin); "
                               "it has been logged on the server.")
    assert e.value.print_exception is False
    records = [r for r in caplog.records if r.name.startswith("xlalign.app")]
    assert len(records) == 1 and records[0].levelno == logging.ERROR
    assert records[0].exc_info is not None and records[0].exc_info[0] is RuntimeError
    assert "/srv/xlalign/secret" in caplog.text  # the server's log keeps the details


def test_served_errors_print_no_gradio_traceback(app, monkeypatch, capfd, caplog):
    """Through the real server: a refused input and a failure each reach the visitor as one line, and
    the server's output holds no traceback besides the one logged for the failure."""
    from gradio_client import Client

    app.blocks.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        client = Client(app.blocks.local_url, verbose=False)
        with caplog.at_level(logging.INFO, logger="xlalign.app"):
            with pytest.raises(Exception, match="choose at least one target language"):
                client.predict("demo", None, "en", [], "latent", "auto", "dedup", False, api_name="/run_diagnosis")
            with pytest.raises(Exception, match="not in the list of choices"):  # gradio's own checks
                client.predict("/srv", None, "en", api_name="/on_data")
            with pytest.raises(Exception, match="invalid input: 1 validation error for FileData"):
                client.predict("demo", "/etc/passwd", "en", api_name="/on_data")  # a path, not an upload
            monkeypatch.setattr(app.lab, "languages", lambda data: 1 / 0)
            with pytest.raises(Exception, match=r"Unexpected error \(ZeroDivisionError: division by zero\)"):
                client.predict("demo", None, "en", api_name="/on_data")
    finally:
        app.blocks.close()
    records = [r for r in caplog.records if r.name.startswith("xlalign.app")]
    assert [(r.levelno, r.exc_info is not None) for r in records] == [(logging.INFO, False)] * 3 + [
        (logging.ERROR, True)]
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err


def test_a_press_cancels_the_pages_pending_clears_of_its_tab(app):
    """Events of different queues may finish in any order: a clear still pending when Diagnose (Rank languages,
    Compare models) is pressed is cancelled, so that it never empties the result just asked for."""
    fns = {i: fn for i, fn in app.blocks.fns.items()}
    for button, clear in (("run_diagnosis", "clear_results"), ("on_inclination", "clear_languages"),
                          ("on_leaderboard", "clear_models")):
        press = next(fn for fn in fns.values() if fn.name == button)
        clears = {i for i, fn in fns.items() if fn.name == clear}
        cancelled = {i for fn in fns.values() if fn.is_cancel_function and fn.targets == press.targets
                     for i in fn.cancels}
        assert clears and cancelled == clears, button
