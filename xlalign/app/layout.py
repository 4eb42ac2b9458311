"""The page: a configuration row over seven tabs, and :class:`Page`, which names every component on it.

Layout only: no events here (each callbacks module wires its own), nothing computed but the demo's
language list. Option controls come from the specs (:mod:`xlalign.app.controls`).
"""

from __future__ import annotations

from typing import Any

import gradio as gr
from gradio.blocks import Block

from xlalign.align.base import AlignSpec
from xlalign.app.controls import control, method_controls
from xlalign.app.formatting import (
    CDF_DEFAULT,
    EMPTY_MATRIX,
    EMPTY_PAIR,
    EMPTY_PER_QUERY,
    EMPTY_SUMMARY,
    HEADERS,
    MATRIX_DEFAULT,
    PAIR_LABEL,
    PER_QUERY_LABEL,
    RUNS_COLUMN_WIDTHS,
    START,
    empty_table,
)
from xlalign.app.inputs import DATASETS, default_model, language_choices, model_choices
from xlalign.app.visitors import browser_secret
from xlalign.policy import PublicLimits, max_upload_bytes, public_mode
from xlalign.report import figures
from xlalign.report.neighbourhoods import BITEXT_VIEW, COMPARE_VIEW, PURITY_VIEW
from xlalign.services.lab import Lab
from xlalign.services.neighbourhoods import INDEX_COLUMNS, VERDICT_COLUMNS
from xlalign.specs import SCENARIOS, EvalSpec, IndexSpec, ModelSpec, option

TITLE = ("# xlalign — cross-lingual alignment lab\nDoes a query in your language find the right document when "
         "documents in other languages share the pool? Scenarios and metrics from Hong et al. (ICLR 2026), "
         "k-language pools, and fixes you can export.")
#: What a callback with several outputs returns: ``{component: new value or gr.update}``; outputs left out
#: stay as they are.
Updates = dict[Block, Any]
#: Event options (keyword arguments of ``.click``/``.change``…). Events only the page itself sends: not offered
#: to API clients.
INTERNAL: dict[str, Any] = {"api_visibility": "private"}
#: Diagnoses of cached texts are light and run side by side; the encoding of new texts waits for the lab's
#: encoding slot inside (:meth:`Lab.encode`), so a cached diagnosis never queues behind someone's encoding.
DIAGNOSE: dict[str, Any] = {"concurrency_id": "diagnose", "concurrency_limit": 8}
#: Queue of the always-heavy requests (exports: a model copied or re-saved, then zipped); one at a time.
HEAVY: dict[str, Any] = {"concurrency_id": "heavy", "concurrency_limit": 1}


class Page:
    """Every component of the app by name; callbacks return ``{page.<name>: value}``."""

    # the session's diagnosis, the tab strip and the tab shown, the visitor's token (kept in the browser)
    diag: gr.State
    tabs: gr.Tabs
    current_tab: gr.State
    visitor: gr.BrowserState
    # configuration row (changing any of these clears every result)
    dataset: gr.Dropdown
    upload: gr.File
    pivot: gr.Dropdown
    targets: gr.Dropdown
    model: gr.Dropdown
    precision: gr.components.Component
    pool: gr.components.Component
    remote: gr.components.Component
    data_note: gr.Markdown
    # Diagnose
    run_btn: gr.Button
    verdict: gr.Markdown
    summary: gr.Dataframe
    summary_full: gr.Dataframe
    overview: gr.Plot
    cdf: gr.Plot
    cdf_scenario: gr.Radio
    cdf_curves: gr.Dropdown
    matrix_plot: gr.Plot
    matrix_metric: gr.Radio
    matrix_table: gr.Dataframe
    pq_search: gr.Textbox
    per_query: gr.Dataframe
    exports: gr.File
    # Diagnose: neighbourhoods (faiss) — mining beside the verdict, the on-demand section, the visitor's index
    nb_mining: gr.Markdown
    nb_btn: gr.Button
    nb_text: gr.Markdown
    nb_bitext: gr.Dataframe
    nb_purity: gr.Dataframe
    nb_files: gr.File
    idx_index: gr.components.Component
    idx_params: gr.components.Component
    idx_depth: gr.components.Component
    idx_btn: gr.Button
    idx_text: gr.Markdown
    idx_table: gr.Dataframe
    idx_verdicts: gr.Dataframe
    # Drill-down
    dd_scenario: gr.Dropdown
    dd_lang: gr.Dropdown
    dd_gold: gr.Dropdown
    dd_k: gr.Number
    dd_search: gr.Textbox
    dd_table: gr.Dataframe
    dd_query: gr.Dropdown
    dd_info: gr.HTML
    dd_docs: gr.HTML
    open_pair: gr.Textbox
    # Embedding map
    umap_n: gr.Slider
    umap_queries: gr.Checkbox
    umap_run: gr.Dropdown
    umap_btn: gr.Button
    umap_before: gr.Plot
    umap_after: gr.Plot
    umap_purity_before: gr.Markdown
    umap_purity_after: gr.Markdown
    # Languages
    rank_btn: gr.Button
    rank_plot: gr.Plot
    rank_table: gr.Dataframe
    rank_text: gr.Markdown
    # Models
    lb_models: gr.Dropdown
    lb_extra: gr.Textbox
    lb_btn: gr.Button
    lb_table: gr.Dataframe
    lb_plot: gr.Plot
    lb_file: gr.File
    lb_note: gr.Markdown
    # Align
    method: gr.components.Component
    train_data: gr.Radio
    train_upload: gr.File
    test_fraction: gr.Slider
    method_controls: list[gr.components.Component]
    submit_btn: gr.Button
    submit_msg: gr.Markdown
    runs: gr.Dataframe
    runs_btn: gr.Button
    run_pick: gr.Dropdown
    cancel_btn: gr.Button
    timer: gr.Timer
    watch: gr.State  # the run this page submitted last, until its comparison has been opened
    # Compare
    cmp_pick: gr.Dropdown
    cmp_btn: gr.Button
    export_btn: gr.Button
    cmp_header: gr.Markdown
    cmp_table: gr.Dataframe
    cmp_full: gr.Dataframe
    cmp_nb_text: gr.Markdown
    cmp_nb_table: gr.Dataframe
    cmp_metric: gr.Dropdown
    cmp_plot: gr.Plot
    cmp_files: gr.File
    export_file: gr.File
    sbs_pick: gr.Dropdown
    sbs_btn: gr.Button
    sbs_table: gr.Dataframe
    sbs_legend: gr.Markdown
    sbs_files: gr.File

    @property
    def config(self) -> list[gr.components.Component]:
        """The configuration controls, in the order :meth:`Diagnose.run_diagnosis` takes them."""
        return [self.dataset, self.upload, self.pivot, self.targets, self.model, self.precision, self.pool,
                self.remote]

    @property
    def languages_read(self) -> list[gr.components.Component]:
        """The configuration controls the Languages tab reads (not the targets: it ranks every language)."""
        return [self.dataset, self.upload, self.pivot, self.model, self.precision, self.pool, self.remote]

    @property
    def models_read(self) -> list[gr.components.Component]:
        """The configuration controls the Models tab reads (not the model menu: it has its own)."""
        return [self.dataset, self.upload, self.pivot, self.targets, self.precision, self.pool]


def upload_caps(texts: bool = True) -> str:
    """Public mode: what this server accepts of an upload, stated on the upload control (size; languages and
    texts encoded per request); elsewhere nothing."""
    if not public_mode():
        return ""
    limits = PublicLimits.from_env()
    more = f", {limits.max_langs} languages, {limits.max_texts:,} texts to encode" if texts else ""
    return f" — on this server: up to {max_upload_bytes() / 2**20:g} MB{more}"


def build_page(lab: Lab) -> Page:
    """Lay out the page inside the current ``gr.Blocks`` context and return its components."""
    page = Page()
    page.diag = gr.State(None, time_to_live=6 * 3600)
    page.current_tab = gr.State("diagnose")
    page.watch = gr.State(None)
    page.visitor = gr.BrowserState(None, storage_key="xlalign-visitor", secret=browser_secret(lab.store.root))
    gr.Markdown(TITLE)
    _config_row(page, lab)
    # Filled by the page's script when a heatmap cell or a map point is clicked (formatting.CLICK_JS); outside the
    # tabs, so that it is in the page whichever tab has been opened.
    page.open_pair = gr.Textbox(visible="hidden", elem_id="open-pair")
    with gr.Tabs() as page.tabs:
        _diagnose_tab(page)
        _drill_tab(page)
        _map_tab(page)
        _languages_tab(page)
        _models_tab(page)
        _align_tab(page)
        _compare_tab(page)
    return page


def _config_row(page: Page, lab: Lab) -> None:
    with gr.Row():
        page.dataset = gr.Dropdown(DATASETS, value="demo", label="Dataset", info="xquad/belebele load from the Hub",
                                   elem_id="dataset")
        page.upload = gr.File(label="…or your data: JSONL/CSV (id, lang, passage, question[, group])" + upload_caps(),
                              file_types=[".jsonl", ".csv"], elem_id="upload")
        demo_langs = list(lab.languages("demo"))
        page.pivot = gr.Dropdown(language_choices(demo_langs), value="en", label="Pivot language", elem_id="pivot")
        targets_info = "several = one k-language pool" + (
            f" (at most {PublicLimits.from_env().max_langs - 1} on this server)" if public_mode() else "")
        page.targets = gr.Dropdown(language_choices([x for x in demo_langs if x != "en"]), value=["zh"],
                                   multiselect=True, label="Target language(s)", info=targets_info, elem_id="targets")
    with gr.Row():
        model = option(ModelSpec, "model")
        page.model = gr.Dropdown(model_choices(), value=default_model(), allow_custom_value=not public_mode(),
                                 label=model.label, info=model.help, elem_id="model")
        page.precision = control(ModelSpec, "precision")
        page.pool = control(EvalSpec, "pool")
        page.remote = control(ModelSpec, "trust_remote_code", visible=not public_mode())
    page.data_note = gr.Markdown("", elem_id="data-note")


def _diagnose_tab(page: Page) -> None:
    with gr.Tab("Diagnose", id="diagnose"):
        page.run_btn = gr.Button("Diagnose", variant="primary", elem_id="diagnose-btn")
        page.verdict = gr.Markdown(START, elem_id="verdict")
        page.nb_mining = gr.Markdown("", elem_id="nb-mining")
        page.summary = gr.Dataframe(empty_table(*EMPTY_SUMMARY),
                                    label="Headline metrics (rows: scenario × metric; columns: query language)",
                                    elem_id="summary-table", interactive=False)
        with gr.Accordion("All metrics", open=False):
            page.summary_full = gr.Dataframe(empty_table(*EMPTY_SUMMARY), interactive=False, elem_id="summary-full")
        with gr.Row():
            page.overview = gr.Plot(label="Multi pool", elem_id="overview")
            with gr.Column():
                page.cdf = gr.Plot(label="Gold-rank distribution", elem_id="cdf")
                with gr.Row():
                    page.cdf_scenario = gr.Radio(list(SCENARIOS), value=CDF_DEFAULT, label="Rank distribution for scenario",
                                                 elem_id="cdf-scenario")
                    page.cdf_curves = gr.Dropdown([], value=[], multiselect=True, label="Curves (query → gold language)",
                                                  info="default: every language's queries → the pivot gold",
                                                  elem_id="cdf-curves", allow_custom_value=True)
        with gr.Row():
            page.matrix_plot = gr.Plot(label="Language-bias matrix", elem_id="matrix-plot")
            with gr.Column():
                page.matrix_metric = gr.Radio([(t, m) for m, t in figures.MATRIX_CHOICES.items()],
                                              value=MATRIX_DEFAULT, label="Matrix metric", elem_id="matrix-metric")
                page.matrix_table = gr.Dataframe(empty_table(*EMPTY_MATRIX),
                                                 label="Click a cell (or a heatmap cell) to drill into that language pair",
                                                 interactive=False, elem_id="matrix-table", wrap=True)
        page.pq_search = gr.Textbox(label="Filter the per-query table (text or id)", elem_id="pq-search")
        page.per_query = gr.Dataframe(empty_table(*EMPTY_PER_QUERY), interactive=False,
                                      label=PER_QUERY_LABEL,
                                      max_height=320, elem_id="per-query")
        page.exports = gr.File(label="Export (CSV)", file_count="multiple")
        _neighbourhood_panels(page)


def _neighbourhood_panels(page: Page) -> None:
    """Diagnose, at its foot: the neighbourhoods (faiss) on demand, and the visitor's own index."""
    with gr.Accordion("Neighbourhoods (faiss): bitext mining, language purity, a language-identity probe",
                      open=True, elem_id="nb-section"):
        page.nb_btn = gr.Button("Mine bitext · purity · probe", elem_id="nb-btn")
        page.nb_text = gr.Markdown("", elem_id="nb-text")
        page.nb_bitext = gr.Dataframe(empty_table(*BITEXT_VIEW), interactive=False, max_height=320,
                                      label="Bitext mining: top-1, MTEB's precision/recall/F1, ratio-margin xsim "
                                            "error (%, 95% CIs)", elem_id="nb-bitext")
        page.nb_purity = gr.Dataframe(empty_table(*PURITY_VIEW), interactive=False, max_height=320,
                                      label="Neighbourhood purity: share of each text's 10 nearest neighbours in its "
                                            "own language (%)", elem_id="nb-purity")
        page.nb_files = gr.File(label="Export (CSV)", file_count="multiple", elem_id="nb-files")
    with gr.Accordion("Your own index (faiss): the K-metrics and the verdict from its results", open=False,
                      elem_id="idx-section"):
        with gr.Row():
            page.idx_index = control(IndexSpec, "index")
            page.idx_params = control(IndexSpec, "params")
            page.idx_depth = control(IndexSpec, "depth")
        page.idx_btn = gr.Button("Search with your index", elem_id="idx-btn")
        page.idx_text = gr.Markdown("", elem_id="idx-text")
        page.idx_table = gr.Dataframe(empty_table(*INDEX_COLUMNS), interactive=False, max_height=320,
                                      label="Your index beside the exact ranker (largest losses first)",
                                      elem_id="idx-table")
        page.idx_verdicts = gr.Dataframe(empty_table(*VERDICT_COLUMNS), interactive=False,
                                         label="The verdict of each pair, exact and through your index",
                                         elem_id="idx-verdicts")


def _drill_tab(page: Page) -> None:
    with gr.Tab("Drill-down", id="drill"):
        gr.Markdown("One language pair: the queries of one language by where the gold of another language ranks, "
                    "worst first; pick a query to see every document above that gold, grouped by language. Opens "
                    "from a matrix cell, a rank in the per-query table, or a point on the embedding map.")
        with gr.Row():
            # allow_custom_value: the callbacks check these themselves (and fall back to a valid value), because a
            # dropdown sends its input event twice, the second time with the other controls' previous values.
            page.dd_scenario = gr.Dropdown(list(SCENARIOS), value="multi", label="Scenario (pool)", elem_id="dd-scenario",
                                           allow_custom_value=True)
            page.dd_lang = gr.Dropdown([], value=None, label="Query language", elem_id="dd-lang",
                                       allow_custom_value=True)
            page.dd_gold = gr.Dropdown([], value=None, label="Gold language", elem_id="dd-gold", allow_custom_value=True)
            page.dd_k = gr.Number(0, precision=0, minimum=0, label="Only queries whose gold ranks below",
                                  info="0 = every query", elem_id="dd-k")
            page.dd_search = gr.Textbox(label="Search queries (text or id)", elem_id="dd-search")
        page.dd_table = gr.Dataframe(empty_table(*EMPTY_PAIR), interactive=False, max_height=300, elem_id="dd-table",
                                     label=PAIR_LABEL, wrap=True)
        page.dd_query = gr.Dropdown([], value=None, label="Query", elem_id="dd-query", allow_custom_value=True)
        page.dd_info = gr.HTML(elem_id="dd-info")
        page.dd_docs = gr.HTML(elem_id="dd-docs")


def _map_tab(page: Page) -> None:
    with gr.Tab("Embedding map", id="map"):
        with gr.Row():
            page.umap_n = gr.Slider(4, 168, value=60, step=1, label="passages to plot (bounded by the data)")
            page.umap_queries = gr.Checkbox(True, label="also plot the questions")
            page.umap_run = gr.Dropdown([""], value="", label="…and beside it, after a finished run")
        page.umap_btn = gr.Button("Draw UMAP", elem_id="umap-btn")
        gr.Markdown("Click a point to open its drill-down: that item's query in the point's language, against the "
                    "pivot gold (pivot points: against the first target's gold).")
        with gr.Row():
            page.umap_before = gr.Plot(elem_id="umap-before")
            page.umap_after = gr.Plot(elem_id="umap-after")
        with gr.Row():  # the clusters the maps draw, measured in the full space
            page.umap_purity_before = gr.Markdown("", elem_id="umap-purity-before")
            page.umap_purity_after = gr.Markdown("", elem_id="umap-purity-after")


def _languages_tab(page: Page) -> None:
    with gr.Tab("Languages", id="languages"):
        gr.Markdown("Every language of the data against the pivot (pivot + target pool): each pair's verdict with its "
                    "language preference, impact and quality and their 95% intervals, worst first. The pivot is "
                    "encoded once for all targets.")
        page.rank_btn = gr.Button("Rank languages", elem_id="rank-btn")
        page.rank_plot = gr.Plot(elem_id="rank-plot")
        page.rank_table = gr.Dataframe(empty_table(*HEADERS["rank"]), interactive=False, elem_id="rank-table", wrap=True)
        page.rank_text = gr.Markdown(elem_id="rank-text")


def _models_tab(page: Page) -> None:
    with gr.Tab("Models", id="models"):
        gr.Markdown("Several models on the same data and language pairs (pivot + each target; cached per model). A "
                    "model that cannot be loaded keeps one row and the note under the table says why; models marked "
                    "*not on this machine* download from the Hugging Face Hub first.")
        with gr.Row():
            page.lb_models = gr.Dropdown(model_choices(), value=[default_model()], multiselect=True,
                                         label="Models (and finished runs)", elem_id="lb-models")
            page.lb_extra = gr.Textbox(label="More model ids or local paths (comma-separated)",
                                       visible=not public_mode(), elem_id="lb-extra")
        page.lb_btn = gr.Button("Compare models", elem_id="lb-btn")
        page.lb_table = gr.Dataframe(empty_table(*HEADERS["board"]), interactive=False, elem_id="leaderboard", wrap=True)
        page.lb_note = gr.Markdown(elem_id="lb-note")
        page.lb_plot = gr.Plot(elem_id="lb-plot")
        page.lb_file = gr.File(label="Export (CSV)", elem_id="lb-file")


def _align_tab(page: Page) -> None:
    with gr.Tab("Align", id="align"):
        with gr.Row():
            page.method = control(AlignSpec, "method")
            page.train_data = gr.Radio(["split", "demo", "upload"], value=option(AlignSpec, "train_data").default,
                                       label="Training data", info="split = group-disjoint part of the dataset")
            page.train_upload = gr.File(label="Triplets JSONL/CSV (q_en, p_en, p_tgt)" + upload_caps(texts=False),
                                        file_types=[".jsonl", ".csv"])
            page.test_fraction = gr.Slider(0.1, 0.9, value=option(AlignSpec, "test_fraction").default, step=0.05,
                                           label=option(AlignSpec, "test_fraction").label)
        page.method_controls = method_controls()
        page.submit_btn = gr.Button("Start alignment run", variant="primary", elem_id="submit-btn")
        page.submit_msg = gr.Markdown(elem_id="submit-msg")
        page.runs = gr.Dataframe(empty_table(*HEADERS["runs"]), label="Your runs (newest first)", elem_id="runs-table",
                                 interactive=False, wrap=True, column_widths=RUNS_COLUMN_WIDTHS)
        with gr.Row():
            page.run_pick = gr.Dropdown([], label="Run", elem_id="run-pick")
            page.cancel_btn = gr.Button("Cancel run", elem_id="cancel-btn")
            page.runs_btn = gr.Button("Refresh the list", elem_id="runs-btn")
        page.timer = gr.Timer(3.0)


def _compare_tab(page: Page) -> None:
    with gr.Tab("Compare", id="compare"):
        with gr.Row():
            page.cmp_pick = gr.Dropdown([], label="Finished run", elem_id="cmp-pick")
            page.cmp_btn = gr.Button("Show before / after", elem_id="cmp-btn")
            page.export_btn = gr.Button("Export the aligned model (zip)", elem_id="export-btn")
        page.cmp_header = gr.Markdown(elem_id="cmp-header")
        page.cmp_table = gr.Dataframe(empty_table(*HEADERS["cmp"]),
                                      label="Headline: target-language queries first; change with 95% CI and "
                                            "Benjamini–Hochberg q", interactive=False, elem_id="cmp-table")
        with gr.Accordion("Full table", open=False):
            page.cmp_full = gr.Dataframe(empty_table(*HEADERS["cmp_full"]), interactive=False)
        page.cmp_nb_text = gr.Markdown(elem_id="cmp-nb-text")
        page.cmp_nb_table = gr.Dataframe(empty_table(*COMPARE_VIEW), interactive=False, elem_id="cmp-nb-table",
                                         label="Neighbourhoods (faiss), held-out part: bitext mining against the "
                                               "pivot, purity, the language-identity probe")
        page.cmp_metric = gr.Dropdown([], label="Metric to plot")
        page.cmp_plot = gr.Plot()
        page.cmp_files = gr.File(label="Downloads", file_count="multiple")
        page.export_file = gr.File(label="Export", elem_id="export-file")
        page.sbs_pick = gr.Dropdown([], multiselect=True, label="Finished runs side by side", elem_id="sbs-pick")
        page.sbs_btn = gr.Button("Compare runs", elem_id="sbs-btn")
        page.sbs_table = gr.Dataframe(empty_table(*HEADERS["sbs"]),
                                      label="Baseline, each run's after, its change with 95% CI, and q (runs R1, R2, …: "
                                            "see below)", interactive=False, elem_id="sbs-table", wrap=True)
        page.sbs_legend = gr.Markdown(elem_id="sbs-legend")
        page.sbs_files = gr.File(label="Export (CSV)", file_count="multiple")


__all__ = ["Page", "Updates", "build_page"]
