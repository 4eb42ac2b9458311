"""Callbacks of the configuration row, the Diagnose tab and the Drill-down tab.

The data's languages fill the language controls; any configuration change clears every result panel
(nothing stale); Diagnose fills the Diagnose tab and prepares the drill-down; a click on a matrix cell
or a per-query row opens the drill-down.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from xlalign.app.failures import guarded, refuse
from xlalign.app.formatting import (
    EMPTY_MATRIX,
    EMPTY_PER_QUERY,
    EMPTY_SUMMARY,
    HEADERS,
    STALE,
    docs_html,
    drill_info_html,
    empty_table,
    matrix_table,
    per_query_view,
    query_choices,
    verdict_markdown,
)
from xlalign.app.inputs import data_spec, gr_progress, language_choices, language_spec, model_spec
from xlalign.app.layout import Page, Updates
from xlalign.app.visitors import Visitors
from xlalign.report import figures
from xlalign.report.tables import summary_pivot
from xlalign.services.lab import Diagnosis, Lab
from xlalign.specs import SCENARIOS, EvalSpec
from xlalign.store.downloads import DownloadArea
from xlalign.store.runs import csv_text

#: Events only the page itself sends: not offered to API clients.
INTERNAL = {"api_visibility": "private"}
#: Diagnoses of cached texts are light and run side by side; the encoding of new texts waits for the lab's
#: encoding slot inside (:meth:`Lab.encode`), so a cached diagnosis never queues behind someone's encoding.
DIAGNOSE = {"concurrency_id": "diagnose", "concurrency_limit": 8}


class Diagnose:
    """The configuration, Diagnose and Drill-down callbacks of one app, on its ``lab``."""

    def __init__(self, lab: Lab, page: Page, downloads: DownloadArea, visitors: Visitors | None = None) -> None:
        self.lab, self.page, self.downloads = lab, page, downloads
        self.visitors = visitors or Visitors()

    def wire(self) -> None:
        """Attach the callbacks to their events (inside the app's ``gr.Blocks`` context). Diagnose and the
        drill-down are the public API; the events only the page sends are private (:data:`INTERNAL`)."""
        p = self.page
        p.dataset.change(self.on_data, [p.dataset, p.upload, p.pivot], self.data_outputs())
        p.upload.change(self.on_data, [p.dataset, p.upload, p.pivot], self.data_outputs(), **INTERNAL)
        p.pivot.input(self.on_pivot, [p.dataset, p.upload, p.pivot, p.targets], p.targets, **INTERNAL)
        for c in p.config:
            c.change(self.clear_results, None, self.result_panels(), **INTERNAL)
        p.run_btn.click(self.run_diagnosis, p.config, self.diagnosis_outputs(), **DIAGNOSE)
        p.cdf_scenario.change(self.on_cdf_scenario, [p.diag, p.cdf_scenario], p.cdf, **INTERNAL)
        p.matrix_metric.change(self.on_matrix_metric, [p.diag, p.matrix_metric], [p.matrix_plot, p.matrix_table],
                               **INTERNAL)
        p.matrix_table.select(self.on_matrix_select, p.diag, self.drill_outputs(), **INTERNAL)
        p.per_query.select(self.on_row_select, p.diag, self.drill_outputs(), **INTERNAL)
        p.dd_search.change(self.on_search, [p.diag, p.dd_lang, p.dd_search], p.dd_query, **INTERNAL)
        p.dd_lang.input(self.on_search, [p.diag, p.dd_lang, p.dd_search], p.dd_query, **INTERNAL)
        p.dd_btn.click(self.on_drill, [p.diag, p.dd_scenario, p.dd_lang, p.dd_doc, p.dd_query, p.dd_k],
                       [p.dd_info, p.dd_docs])

    # ------------------------------------------------------------------ outputs of each event
    def data_outputs(self) -> list[gr.components.Component]:
        return [self.page.pivot, self.page.targets, self.page.data_note]

    def result_panels(self) -> list[gr.components.Component]:
        """Every panel that shows a result of the configuration (cleared when it changes)."""
        p = self.page
        return [p.diag, p.verdict, p.summary, p.summary_full, p.overview, p.cdf, p.matrix_plot, p.matrix_table,
                p.per_query, p.exports, p.dd_info, p.dd_docs, p.umap_before, p.umap_after, p.rank_plot, p.rank_table,
                p.rank_text, p.lb_table, p.lb_plot]

    def diagnosis_outputs(self) -> list[gr.components.Component]:
        p = self.page
        return [p.diag, p.verdict, p.summary, p.summary_full, p.overview, p.cdf, p.matrix_plot, p.matrix_table,
                p.per_query, p.exports, p.dd_lang, p.dd_doc, p.dd_query, p.umap_n]

    def drill_outputs(self) -> list[gr.components.Component]:
        p = self.page
        return [p.tabs, p.dd_scenario, p.dd_lang, p.dd_doc, p.dd_query, p.dd_info, p.dd_docs]

    # ------------------------------------------------------------------ configuration
    @guarded
    def on_data(self, dataset: str, upload: Any, pivot: str, request: gr.Request = None) -> Updates:
        """The language lists come from the data actually loaded."""
        langs = list(self.lab.languages(data_spec(dataset, upload, self.lab, self.visitors.key(request))))
        new_pivot = pivot if pivot in langs else ("en" if "en" in langs else langs[0])
        targets = [x for x in langs if x != new_pivot]
        default = ["zh"] if "zh" in targets else targets[:1]
        p = self.page
        return {p.pivot: gr.Dropdown(choices=language_choices(langs), value=new_pivot),
                p.targets: gr.Dropdown(choices=language_choices(targets), value=default, multiselect=True),
                p.data_note: f"{len(langs)} languages in this data: {', '.join(langs)}."}

    @guarded
    def on_pivot(self, dataset: str, upload: Any, pivot: str, targets: Any, request: gr.Request = None) -> Any:
        """The targets: every other language; the chosen ones stay chosen unless one is now the pivot."""
        langs = list(self.lab.languages(data_spec(dataset, upload, self.lab, self.visitors.key(request))))
        keep = [t for t in (targets or []) if t != pivot and t in langs]
        rest = [x for x in langs if x != pivot]
        return gr.Dropdown(choices=language_choices(rest), value=keep or rest[:1], multiselect=True)

    @guarded
    def clear_results(self) -> Updates:
        """What every result panel shows after the data, languages, model or pool changed: nothing stale."""
        p = self.page
        empty = figures.empty("settings changed: run again")
        return {p.diag: None, p.verdict: STALE, p.summary: empty_table(*EMPTY_SUMMARY),
                p.summary_full: empty_table(*EMPTY_SUMMARY), p.overview: empty, p.cdf: empty, p.matrix_plot: empty,
                p.matrix_table: empty_table(*EMPTY_MATRIX), p.per_query: empty_table(*EMPTY_PER_QUERY),
                p.exports: None, p.dd_info: "", p.dd_docs: "", p.umap_before: empty, p.umap_after: empty,
                p.rank_plot: empty, p.rank_table: empty_table(*HEADERS["rank"]), p.rank_text: "",
                p.lb_table: empty_table(*HEADERS["board"]), p.lb_plot: empty}

    # ------------------------------------------------------------------ diagnosis
    @guarded
    def run_diagnosis(self, dataset: str, upload: Any, pivot: str, targets: Any, model: str, precision: str,
                      pool: str, remote: bool, progress: gr.Progress = gr.Progress(), request: gr.Request = None
                      ) -> Updates:
        """Every scenario for the chosen languages in one pool: the verdict, tables, figures and CSVs. Texts
        not yet in the embedding cache wait for the lab's encoding slot; cached ones never do."""
        visitor = self.visitors.key(request)
        spec = EvalSpec(data=data_spec(dataset, upload, self.lab, visitor), langs=language_spec(pivot, targets),
                        pool=pool)
        diag = self.lab.diagnose(model_spec(model, precision, remote), spec, gr_progress(progress), visitor=visitor)
        res, summary = diag.result, diag.result.summary_frame()
        files = self.downloads.save({"summary.csv": csv_text(summary), "matrix.csv": csv_text(res.matrix_frame()),
                                     "per_query.csv": csv_text(res.per_query)})
        langs = list(spec.langs)
        n_passages = len(diag.corpus.passage_first_items())
        p = self.page
        return {p.diag: diag, p.verdict: verdict_markdown(diag), p.summary: summary_pivot(summary).reset_index(),
                p.summary_full: summary_pivot(summary, headline_only=False).reset_index(),
                p.overview: figures.multi_overview(summary, spec.pivot), p.cdf: figures.rank_cdf(res.per_query, "multi"),
                p.matrix_plot: figures.bias_matrix(res.matrix_frame(), "best_gold_share"),
                p.matrix_table: matrix_table(diag, "best_gold_share"), p.per_query: per_query_view(diag),
                p.exports: files, p.dd_lang: gr.Dropdown(choices=langs, value=langs[1]),
                p.dd_doc: gr.Dropdown(choices=["(all)", *langs], value="(all)"),
                p.dd_query: gr.Dropdown(choices=query_choices(diag, langs[1], ""), value=diag.corpus.item_ids[0]),
                p.umap_n: gr.Slider(minimum=4, maximum=n_passages, value=min(60, n_passages), step=1)}

    @guarded
    def on_cdf_scenario(self, diag: Diagnosis | None, scenario: str) -> Any:
        return figures.rank_cdf(diag.result.per_query, scenario) if diag else figures.empty("press Diagnose")

    @guarded
    def on_matrix_metric(self, diag: Diagnosis | None, metric: str) -> Updates:
        p = self.page
        if diag is None:
            return {p.matrix_plot: figures.empty("press Diagnose"), p.matrix_table: None}
        return {p.matrix_plot: figures.bias_matrix(diag.result.matrix_frame(), metric),
                p.matrix_table: matrix_table(diag, metric)}

    # ------------------------------------------------------------------ drill-down
    @guarded
    def on_drill(self, diag: Diagnosis | None, scenario: str, query_lang: str, doc_lang: str, query_id: str, k: int
                 ) -> Updates:
        """The query, where its golds rank, and the top ``k`` documents of its pool."""
        if diag is None:
            raise refuse("Run a diagnosis first.")
        return self._drill(diag, scenario, query_lang, doc_lang, query_id, int(k))

    def _drill(self, diag: Diagnosis, scenario: str, query_lang: str, doc_lang: str, query_id: str, k: int
               ) -> Updates:
        dl = None if doc_lang in (None, "", "(all)") else doc_lang
        if scenario == "mono-cross" and dl in (None, query_lang):
            dl = next((x for x in diag.spec.langs if x != query_lang), None)
        table = Lab.drill_down(diag, scenario, query_lang, query_id, k, dl)
        return {self.page.dd_info: drill_info_html(diag, scenario, query_lang, dl, query_id),
                self.page.dd_docs: docs_html(table)}

    @guarded
    def on_search(self, diag: Diagnosis | None, lang: str, text: str) -> Any:
        if diag is None:
            return gr.Dropdown(choices=[], value=None)
        choices = query_choices(diag, lang, text or "")
        return gr.Dropdown(choices=choices, value=choices[0][1] if choices else None)

    @guarded
    def on_matrix_select(self, diag: Diagnosis | None, evt: gr.SelectData) -> Updates:
        """A click on a matrix cell opens the drill-down for that (query language, document language) pair."""
        if diag is None:
            raise refuse("Run a diagnosis first.")
        row, col = evt.index if isinstance(evt.index, (list, tuple)) else (evt.index, 1)
        langs = list(diag.spec.langs)
        qlang, dlang = langs[int(row)], langs[max(0, int(col) - 1)]
        scenario = "mono-same" if qlang == dlang else "multi"
        return self._open_drill(diag, scenario, qlang, dlang, diag.corpus.item_ids[0])

    @guarded
    def on_row_select(self, diag: Diagnosis | None, evt: gr.SelectData) -> Updates:
        """A click on a per-query row opens its drill-down (Multi)."""
        if diag is None:
            raise refuse("Run a diagnosis first.")
        row = int(evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index)
        r = per_query_view(diag).iloc[row]
        return self._open_drill(diag, "multi", r.query_lang, "(all)", r.query_id)

    def _open_drill(self, diag: Diagnosis, scenario: str, qlang: str, dlang: str, query_id: str) -> Updates:
        """The Drill-down tab, its controls set to this query, and its top 10."""
        p = self.page
        langs = list(diag.spec.langs)
        return {p.tabs: gr.Tabs(selected="drill"), p.dd_scenario: gr.Dropdown(choices=list(SCENARIOS), value=scenario),
                p.dd_lang: gr.Dropdown(choices=langs, value=qlang),
                p.dd_doc: gr.Dropdown(choices=["(all)", *langs], value=dlang),
                p.dd_query: gr.Dropdown(choices=query_choices(diag, qlang, ""), value=query_id),
                **self._drill(diag, scenario, qlang, dlang, query_id, 10)}


__all__ = ["Diagnose"]
