"""The service layer, the figures and every app callback, on fake encoders (no model, no browser)."""

from __future__ import annotations

import importlib
import json
import zipfile
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
import pytest
from fakes import LatentEncoder

from xlalign.core.loaders import load_demo
from xlalign.report import figures
from xlalign.services.lab import Lab
from xlalign.specs import AlignSpec, EvalSpec, ModelSpec

LATENT = ModelSpec(model="latent")


class _Select:
    """What gradio passes to a .select handler."""

    def __init__(self, index):
        self.index = index


def _no_progress(*args, **kwargs) -> None:
    return None


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """The app module wired to a Lab whose 'latent' model is a fake with a planted German→English pull."""
    root = tmp_path_factory.mktemp("app")
    mp = pytest.MonkeyPatch()
    mp.setenv("XLALIGN_RUNS_DIR", str(root / "runs"))
    mp.setenv("XLALIGN_NO_WARMUP", "1")
    from xlalign.app import ui as app

    app = importlib.reload(app)
    lab = Lab(root / "runs")
    corpus = load_demo()
    lab._encoders.put(LATENT, LatentEncoder(corpus, dict.fromkeys(corpus.langs, 0.5), query_pull=0.0,
                                            pull_by_lang={"de": 1.6}))
    app._LAB = lab
    yield app
    mp.undo()


@pytest.fixture(scope="module")
def diagnosed(ui):
    return ui.run_diagnosis("demo", None, "en", ["de", "zh"], "latent", "auto", "dedup", False, progress=_no_progress)


def test_diagnosis_states_the_finding_first(ui, diagnosed):
    diag, verdict, _summary, _full, overview, cdf, _matrix_fig, matrix_tab, per_query, files, *_ = diagnosed
    assert diag.spec.langs == ("en", "de", "zh")
    assert verdict.startswith("### Finding — German: English inclination")
    assert "**German queries: English inclination** — for 100% of queries" in verdict
    assert {"summary.csv", "matrix.csv", "per_query.csv"} == {Path(f).name for f in files}
    assert "query_lang" in per_query.columns and len(per_query) == 3 * 168
    assert list(matrix_tab.columns) == ["query ↓ / documents →", "en", "de", "zh"]
    # the overview labels n/a (pivot queries have no pivot inclination) instead of drawing 0
    en = next(t for t in overview.data if t.name == "en queries")
    assert "n/a" in en.text and en.marker.opacity[list(en.text).index("n/a")] == 0.0
    assert overview.layout.yaxis.range == (0, 110)
    assert cdf.layout.xaxis.type == "log" and cdf.layout.yaxis.range == (0, 100)


def test_exports_neutralise_formulas(ui, diagnosed):
    files = diagnosed[9]
    text = Path(next(f for f in files if f.endswith("per_query.csv"))).read_text()
    assert "\n=" not in text and ",=" not in text and ",+" not in text
    assert oct(Path(files[0]).stat().st_mode & 0o777) == "0o644"


def test_changing_the_configuration_clears_every_result(ui):
    cleared = ui.clear_results()
    assert cleared[0] is None and cleared[1] == ui.STALE
    assert all(len(cleared[i]) == 0 and len(cleared[i].columns) > 1 for i in (2, 3, 7, 8))  # empty, with headers
    assert cleared[9] is None and cleared[10] == cleared[11] == "" and len(cleared) == 19
    assert all(len(cleared[i]) == 0 for i in (15, 17))  # the language ranking and the model comparison too


def test_drill_down_shows_full_wrapped_text_and_the_parallel_queries(ui, diagnosed):
    diag = diagnosed[0]
    qid = diag.corpus.item_ids[3]
    info, docs = ui.on_drill(diag, "multi", "de", "(all)", qid, 5)
    assert diag.corpus.questions["de"][3] in info and diag.corpus.questions["en"][3] in info
    assert "German gold at rank" in info or "German gold at rank".lower() in info.lower()
    assert docs.count("<tr") == 6 and "dir='auto'" in docs
    first_en = next(t for t in diag.corpus.passages["en"] if t in docs)
    assert first_en in docs  # never cut
    table = Lab.drill_down(diag, "multi", "de", qid, 5)
    assert table.lang.iloc[0] == "en"  # the planted pull: an English document first


def test_drill_down_needs_a_diagnosis(ui):
    with pytest.raises(gr.Error, match="Run a diagnosis first"):
        ui.on_drill(None, "multi", "de", "(all)", "x", 5)


def test_query_search_and_clicks_open_the_drill_down(ui, diagnosed):
    diag = diagnosed[0]
    word = diag.corpus.questions["zh"][7][:3]
    found = ui.on_search(diag, "zh", word)
    assert diag.corpus.item_ids[7] in [v for _, v in found.choices]
    tabs, scenario, lang, doc, _query, _info, _docs = ui.on_matrix_select(diag, _Select((1, 1)))
    assert (scenario.value, lang.value, doc.value) == ("multi", "de", "en") and tabs.selected == "drill"
    _tabs, _scenario, lang, _doc, query, _info, docs = ui.on_row_select(diag, _Select((170, 2)))
    row = ui.per_query_view(diag).iloc[170]
    assert (lang.value, query.value) == (row.query_lang, row.query_id) and "<table" in docs


def test_umap_map_of_passages_and_questions(ui, diagnosed):
    pytest.importorskip("umap")
    before, after = ui.on_umap(diagnosed[0], 12, True, "")
    names = [t.name for t in before.data]
    assert names[0] == "translations joined" and {"en passages", "de questions", "zh questions"} <= set(names)
    assert len(before.data[1].x) == 12
    assert "pick a finished run" in after.layout.annotations[0].text


def test_language_view_puts_both_biases_on_a_fixed_axis(ui):
    fig, table, text = ui.on_inclination("demo", None, "en", "latent", "auto", "dedup", False, progress=_no_progress)
    by_target = table.set_index("target")
    assert set(by_target.index) == {"es", "de", "zh", "ar", "hi", "ur"}
    assert by_target.loc["de", "verdict"] == "pivot inclination" and by_target.loc["zh", "verdict"] != "pivot inclination"
    assert fig.layout.xaxis.range == (-2, 102)
    assert "German queries: English inclination" in text


def test_models_side_by_side_and_paper_columns(ui):
    board, _chart, path = ui.on_leaderboard("demo", None, "en", ["de"], "dedup", "auto", ["latent"], "",
                                           progress=_no_progress)
    assert set(board.query_lang) == {"en", "de"} and "paper complete@10" in board.columns
    assert board["paper complete@10"].isna().all()  # the paper reports XQuAD per-question pools only
    assert Path(path).name == "leaderboard.csv"


def test_upload_of_new_languages_sets_the_language_lists(ui, tmp_path):
    rows = [{"id": f"i{i}", "lang": lang, "passage": f"{lang} passage {i} text", "question": f"{lang} q{i}?",
             "group": f"g{i % 4}"} for i in range(12) for lang in ("en", "fr")]
    path = tmp_path / "mine.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    pivot, targets, note = ui.on_data("demo", str(path), "en")
    assert pivot.value == "en" and targets.value == ["fr"] and "fr" in note


def test_upload_errors_name_the_users_file_not_the_server_path(ui, tmp_path):
    path = tmp_path / "deep" / "server" / "broken.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text('{"id": 1}\n')
    with pytest.raises(gr.Error) as e:
        ui.on_data("demo", str(path), "en")
    assert "broken.jsonl" in str(e.value) and str(path.parent) not in str(e.value)


def test_alignment_run_lifecycle_through_the_app(ui, diagnosed):
    msg, _runs = ui.on_submit("centering", "demo", None, "en", ["de"], "latent", "auto", "dedup", False, "split", None,
                             0.5, *[option_default(g, n) for g, n in ui.METHOD_FIELDS])
    assert "Submitted" in msg and "centering (mode=subtract, queries=own)" in msg
    app_lab = ui.lab()
    assert app_lab.jobs.wait(120)
    table, *_, models = ui.on_refresh()
    run_id = table.run.iloc[0]
    assert f"run:{run_id}" in [v for _, v in models.choices]  # a finished run's aligned model can be compared
    assert table.state.iloc[0] == "succeeded" and table.progress.iloc[0] == "100%"
    header, head, _full, plot, files, _metric = ui.on_show_run(run_id, "complete@10")
    assert header.startswith("### centering · subtract · queries own\n\n**Finding**")  # the run's short label
    assert "**German queries**: Multi Complete@10" in header and "changed significantly" in header
    assert head.query_lang.iloc[0] == "de"  # target-language queries first
    assert {Path(f).name for f in files} == {"compare.csv", "before_per_query.csv", "after_per_query.csv"}
    assert "change" in plot.layout.yaxis.title.text
    assert ui.on_compare_metric(run_id, "max_r").layout.title.text.startswith("Change in Max@R")
    archive = ui.on_export(run_id)
    names = zipfile.ZipFile(archive).namelist()
    assert any(n.endswith("xlalign_apply.py") for n in names) and any(n.endswith("README.md") for n in names)
    wide, _files = ui.on_side_by_side([run_id])
    assert f"{run_id} Δ (95% CI)" in wide.columns
    with pytest.raises(gr.Error, match="has no map for zh"):  # the run aligned en+de; the diagnosis has zh too
        ui.on_umap(diagnosed[0], 8, False, run_id)
    board, _chart, _path = ui.on_leaderboard("demo", None, "en", ["de"], "dedup", "auto", ["latent", f"run:{run_id}"],
                                             "", progress=_no_progress)
    de = board[board.query_lang == "de"].set_index("model")
    assert de.loc[f"run:{run_id}", "inclination % (displaced_by_pivot@10)"] < de.loc["latent",
                                                                                  "inclination % (displaced_by_pivot@10)"]
    msg, _ = ui.on_cancel(run_id)
    assert "is not queued or running" in msg


def test_cancel_and_show_refuse_names_outside_the_runs_folder(ui):
    with pytest.raises(gr.Error, match="is not valid"):
        ui.on_cancel("../etc")
    with pytest.raises(gr.Error, match="is not valid"):
        ui.on_show_run("/etc", "complete@10")


def option_default(group: str, name: str):
    from xlalign.specs import NESTED, option

    return option(NESTED[group], name).default


# ----------------------------------------------------------------------------- figures on their own
def test_inclination_view_never_scales_to_the_maximum():
    rows = pd.DataFrame({"target": ["ur"], "verdict": ["well aligned"], "inclination %": [0.6],
                         "inclination CI": [(0.1, 3.3)], "clustering %": [1.0], "clustering CI": [(0.2, 4.0)]})
    fig = figures.inclination_view(rows, "en")
    assert fig.layout.xaxis.range == (-2, 102)


def test_compare_change_draws_the_change_with_its_ci():
    table = pd.DataFrame({"scenario": ["multi"], "query_lang": ["de"], "doc_lang": ["en+de"], "metric": ["complete@10"],
                          "before": [10.0], "after": [40.0], "delta": [30.0], "ci_low": [20.0], "ci_high": [35.0],
                          "q_value": [0.001]})
    fig = figures.compare_change(table, "complete@10")
    bar = fig.data[0]
    assert list(bar.y) == [30.0] and list(bar.error_y.array) == [5.0] and list(bar.error_y.arrayminus) == [10.0]
    assert bar.text[0].endswith("*")


def test_compare_finding_states_the_change_its_ci_and_the_cost():
    from xlalign.core.verdict import compare_finding, direction

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
        "same-language clustering (displaced_by_own@10) 50.0% → 5.0% (-45.0, 95% CI -55.0…-35.0, q = 0.002); "
        "own-language search (Mono-Same NDCG@10) 90.0 → 88.0 (-2.0, 95% CI -3.0…-1.0, q = 0.03).")
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
    assert label.startswith("LSAR · rank ") and "None" not in label  # the rank the run chose, not "rank=None"
    assert emb.passages["de"].shape == diag.embeddings.passages["de"].shape


def test_public_mode_reads_only_listed_datasets_and_uploads(ui, monkeypatch, tmp_path):
    monkeypatch.setenv("XLALIGN_PUBLIC", "1")
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "uploads"))
    (tmp_path / "uploads").mkdir()
    with pytest.raises(gr.Error, match="dataset must be one of demo, xquad, belebele"):
        ui.on_data("/etc", None, "en")
    outside = tmp_path / "elsewhere.jsonl"
    outside.write_text('{"id": "1", "lang": "en", "passage": "p", "question": "q"}\n')
    with pytest.raises(gr.Error, match="not an upload"):
        ui.on_data("demo", str(outside), "en")
    with pytest.raises(gr.Error) as e:
        ui.run_diagnosis("demo", str(outside), "en", ["fr"], "latent", "auto", "dedup", True, progress=_no_progress)
    assert str(tmp_path) not in str(e.value)
