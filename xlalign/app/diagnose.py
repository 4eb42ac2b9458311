"""Callbacks of the configuration row, the Diagnose tab and the Drill-down tab.

The data's languages fill the language controls; any configuration change clears every result panel
(nothing stale); Diagnose fills the Diagnose tab, resets its chart controls and prepares the drill-down.
The drill-down is one language pair (query language q, gold language l): every change of its controls
redraws all of it, so it never shows a previous pair or query. A matrix cell, a rank in the per-query
table, a heatmap cell or a point on the embedding map opens it.

Every control keeps a value that is one of its choices: whenever choices change, the value is chosen
among them in the same update.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.blocks import Block

from xlalign.app.failures import FAILED, failure_markdown, guarded, refuse, shown_in_page, upload_path
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
    STALE,
    START,
    display,
    docs_above_html,
    drill_info_html,
    empty_table,
    matrix_table,
    matrix_widths,
    pair_caption,
    pair_choices,
    pair_rows,
    pair_view,
    pair_widths,
    per_query_caption,
    per_query_view,
    per_query_widths,
    verdict_markdown,
)
from xlalign.app.inputs import DATASETS, UPLOADED, data_spec, gr_progress, language_choices, language_spec, model_spec
from xlalign.app.layout import DIAGNOSE, INTERNAL, Page, Updates
from xlalign.app.visitors import Visitors
from xlalign.report import figures
from xlalign.report.provenance import stamp
from xlalign.report.tables import summary_pivot
from xlalign.services.lab import Diagnosis, Lab
from xlalign.specs import SCENARIOS, EvalSpec
from xlalign.store.downloads import DownloadArea
from xlalign.store.runs import csv_text

#: Query choices offered at once in the drill-down (the table lists every query; search narrows both).
MAX_QUERY_CHOICES = 500


class Diagnose:
    """The configuration, Diagnose and Drill-down callbacks of one app, on its ``lab``."""

    def __init__(self, lab: Lab, page: Page, downloads: DownloadArea, visitors: Visitors | None = None) -> None:
        self.lab, self.page, self.downloads = lab, page, downloads
        self.visitors = visitors or Visitors()

    def wire(self) -> None:
        """Attach the callbacks to their events (inside the app's ``gr.Blocks`` context). Diagnose and the
        drill-down are the public API; the events only the page sends are private (:data:`INTERNAL`)."""
        p = self.page
        p.dataset.input(self.on_dataset, [p.dataset, p.upload, p.pivot], self.data_outputs(), **INTERNAL)
        p.upload.change(self.on_data, [p.dataset, p.upload, p.pivot], self.data_outputs()[:1] + self.data_outputs()[2:],
                        api_name="on_data")
        p.pivot.change(self.on_pivot, [p.dataset, p.upload, p.pivot, p.targets], p.targets, **INTERNAL)
        # A Diagnose press cancels this page's clears still pending: events of different queues may finish in any
        # order, and a late clear must never empty the diagnosis the visitor just asked for.
        self.clears = [_changed(p, c)(self.clear_results, p.diag, self.result_panels(), **INTERNAL)
                       for c in p.config]
        # The Languages tab reads the data, pivot, model, precision, pool and remote code (not the targets); the
        # Models tab reads the data, pivot, targets, precision and pool (its models are its own): each is cleared
        # only by what it reads, and only when it shows a result.
        # (inputs: never the configuration values themselves, which Gradio checks against their choices: a late
        # event of a previous dataset's targets would be refused with an error)
        self.language_clears = [_changed(p, c)(self.clear_languages, p.rank_text, self.language_panels(), **INTERNAL)
                                for c in p.languages_read]
        self.model_clears = [_changed(p, c)(self.clear_models, p.lb_note, self.model_panels(), **INTERNAL)
                             for c in p.models_read]
        p.run_btn.click(self.run_diagnosis, p.config, self.diagnosis_outputs(), cancels=self.clears, **DIAGNOSE)
        p.cdf_scenario.input(self.on_cdf, [p.diag, p.cdf_scenario, p.cdf_curves], [p.cdf, p.cdf_curves], **INTERNAL)
        p.cdf_curves.input(self.on_cdf, [p.diag, p.cdf_scenario, p.cdf_curves], [p.cdf, p.cdf_curves], **INTERNAL)
        p.matrix_metric.input(self.on_matrix_metric, [p.diag, p.matrix_metric], [p.matrix_plot, p.matrix_table],
                              **INTERNAL)
        live = {"trigger_mode": "always_last", **INTERNAL}  # as the visitor types: the last value is always shown
        p.pq_search.input(self.on_pq_search, [p.diag, p.pq_search], p.per_query, **live)
        p.pq_search.submit(self.on_pq_search, [p.diag, p.pq_search], p.per_query, **INTERNAL)
        p.matrix_table.select(self.on_matrix_select, p.diag, self.drill_outputs(), **INTERNAL)
        p.per_query.select(self.on_row_select, [p.diag, p.pq_search], self.drill_outputs(), **INTERNAL)
        p.open_pair.change(self.on_open_pair, [p.diag, p.open_pair], self.drill_outputs(), **INTERNAL)
        pair_inputs = [p.diag, p.dd_scenario, p.dd_lang, p.dd_gold, p.dd_k, p.dd_search]
        for control in (p.dd_scenario, p.dd_lang, p.dd_gold):
            control.input(self.on_pair, pair_inputs, self.pair_outputs(), **INTERNAL)
        p.dd_k.submit(self.on_pair, pair_inputs, self.pair_outputs(), api_name="on_drill")
        p.dd_k.input(self.on_pair, pair_inputs, self.pair_outputs(), **live)
        p.dd_search.input(self.on_pair, pair_inputs, self.pair_outputs(), **live)
        p.dd_search.submit(self.on_pair, pair_inputs, self.pair_outputs(), **INTERNAL)
        p.dd_table.select(self.on_pair_row, [p.diag, p.dd_scenario, p.dd_lang, p.dd_gold],
                          [p.dd_query, p.dd_info, p.dd_docs], **INTERNAL)
        p.dd_query.input(self.on_query, [p.diag, p.dd_scenario, p.dd_lang, p.dd_gold, p.dd_query],
                         [p.dd_info, p.dd_docs], **INTERNAL)

    # ------------------------------------------------------------------ outputs of each event
    def data_outputs(self) -> list[Block]:
        return [self.page.dataset, self.page.upload, self.page.pivot, self.page.targets, self.page.data_note]

    def result_panels(self) -> list[Block]:
        """Every panel that shows a result of the diagnosis (cleared when the configuration changes), and the
        controls whose choices come from it (emptied with it)."""
        p = self.page
        return [p.diag, p.verdict, p.summary, p.summary_full, p.overview, p.cdf, p.cdf_scenario, p.cdf_curves,
                p.matrix_plot, p.matrix_metric, p.matrix_table, p.pq_search, p.per_query, p.exports,
                *self.pair_outputs(), p.dd_k, p.dd_search, p.umap_before, p.umap_after]

    def language_panels(self) -> list[Block]:
        return [self.page.rank_plot, self.page.rank_table, self.page.rank_text]

    def model_panels(self) -> list[Block]:
        return [self.page.lb_table, self.page.lb_plot, self.page.lb_note, self.page.lb_file]

    def diagnosis_outputs(self) -> list[Block]:
        p = self.page
        return [p.diag, p.verdict, p.summary, p.summary_full, p.overview, p.cdf, p.cdf_scenario, p.cdf_curves,
                p.matrix_plot, p.matrix_metric, p.matrix_table, p.pq_search, p.per_query, p.exports,
                *self.pair_outputs(), p.dd_k, p.dd_search, p.umap_n, p.umap_before, p.umap_after]

    def pair_outputs(self) -> list[Block]:
        """What a change of the drill-down's pair redraws: every part of the drill-down."""
        p = self.page
        return [p.dd_scenario, p.dd_lang, p.dd_gold, p.dd_table, p.dd_query, p.dd_info, p.dd_docs]

    def drill_outputs(self) -> list[Block]:
        """What opening a pair from elsewhere sets: the tab, the pair and its filters (reset)."""
        p = self.page
        return [p.tabs, *self.pair_outputs(), p.dd_k, p.dd_search]

    # ------------------------------------------------------------------ configuration
    def _data_updates(self, dataset: str, upload: Any, pivot: str, visitor: str | None) -> Updates:
        """The dataset menu (naming the upload while one is in use) and the language lists of the data."""
        path = upload_path(upload)
        choices: list[Any] = list(DATASETS)
        if path is not None:
            choices.append((f"your file: {Path(path).name}", UPLOADED))
            dataset = UPLOADED
        elif dataset == UPLOADED:
            dataset = "demo"
        langs = list(self.lab.languages(data_spec(dataset, upload, self.lab, visitor)))
        if dataset not in DATASETS and dataset != UPLOADED:  # a server path (not in public mode): still a choice
            choices.append(dataset)
        new_pivot = pivot if pivot in langs else ("en" if "en" in langs else langs[0])
        targets = [x for x in langs if x != new_pivot]
        default = ["zh"] if "zh" in targets else targets[:1]
        p = self.page
        return {p.dataset: gr.Dropdown(choices=choices, value=dataset),
                p.pivot: gr.Dropdown(choices=language_choices(langs), value=new_pivot),
                p.targets: gr.Dropdown(choices=language_choices(targets), value=default, multiselect=True),
                p.data_note: f"{len(langs)} languages in this data: {', '.join(langs)}."}

    @guarded
    def on_dataset(self, dataset: str, upload: Any, pivot: str, request: gr.Request | None = None) -> Updates:
        """A listed dataset chosen: the upload (if any) is set aside and the languages come from that dataset."""
        visitor = self.visitors.key(request)
        if dataset == UPLOADED and upload is not None:
            return self._data_updates(dataset, upload, pivot, visitor)
        return {**self._data_updates(dataset, None, pivot, visitor), self.page.upload: None}

    @guarded
    def on_data(self, dataset: str, upload: Any, pivot: str, request: gr.Request | None = None) -> Updates:
        """A file uploaded (or removed): the dataset menu names it, the language lists come from it."""
        return self._data_updates(dataset, upload, pivot, self.visitors.key(request))

    @guarded
    def on_pivot(self, dataset: str, upload: Any, pivot: str, targets: Any, request: gr.Request | None = None) -> Any:
        """The targets: every other language; the chosen ones stay chosen unless one is now the pivot."""
        langs = list(self.lab.languages(data_spec(dataset, upload, self.lab, self.visitors.key(request))))
        keep = [t for t in (targets or []) if t != pivot and t in langs]
        rest = [x for x in langs if x != pivot]
        return gr.Dropdown(choices=language_choices(rest), value=keep or rest[:1], multiselect=True)

    @guarded
    def clear_results(self, diag: Diagnosis | None = None) -> Updates:
        """What every panel of the diagnosis shows after the data, languages, model or pool changed: nothing stale,
        and every control whose choices came from the old result empty (value None) or at its default. Before any
        diagnosis the panels show what they showed at the start (nothing is "changed" that never ran)."""
        p = self.page
        ran = diag is not None
        empty = figures.empty("settings changed: run again") if ran else None
        return {p.diag: None, p.verdict: STALE if ran else START, p.summary: empty_table(*EMPTY_SUMMARY),
                p.summary_full: empty_table(*EMPTY_SUMMARY), p.overview: empty, p.cdf: empty,
                p.cdf_scenario: CDF_DEFAULT, p.cdf_curves: gr.Dropdown(choices=[], value=[], multiselect=True),
                p.matrix_plot: empty, p.matrix_metric: MATRIX_DEFAULT, p.matrix_table: empty_table(*EMPTY_MATRIX),
                p.pq_search: "", p.per_query: gr.Dataframe(empty_table(*EMPTY_PER_QUERY), label=PER_QUERY_LABEL),
                p.exports: None, **self._empty_pair(), p.dd_k: 0, p.dd_search: "", p.umap_before: empty,
                p.umap_after: empty}

    @guarded
    def clear_languages(self, shown: str | None = None) -> Updates:
        """The Languages tab after a setting it reads changed: emptied, saying so, when it showed a result; left as
        it is otherwise (before it ever ran, it says nothing about settings)."""
        p = self.page
        if not shown or shown.startswith(FAILED):  # never ran, or only a failure to take away
            return {p.rank_plot: gr.skip(), p.rank_table: gr.skip(), p.rank_text: "" if shown else gr.skip()}
        return {p.rank_plot: figures.empty("settings changed: press Rank languages again"),
                p.rank_table: empty_table(*HEADERS["rank"]), p.rank_text: ""}

    @guarded
    def clear_models(self, shown: str | None = None) -> Updates:
        """The Models tab after a setting it reads changed: emptied (its CSV too) when it showed a result."""
        p = self.page
        if not shown or shown.startswith(FAILED):
            return {p.lb_table: gr.skip(), p.lb_plot: gr.skip(), p.lb_file: gr.skip(),
                    p.lb_note: "" if shown else gr.skip()}
        return {p.lb_table: empty_table(*HEADERS["board"]), p.lb_plot: figures.empty(
            "settings changed: press Compare models again"), p.lb_note: "", p.lb_file: None}

    def _empty_pair(self) -> Updates:
        p = self.page
        return {p.dd_scenario: gr.Dropdown(choices=list(SCENARIOS), value="multi"),
                p.dd_lang: gr.Dropdown(choices=[], value=None), p.dd_gold: gr.Dropdown(choices=[], value=None),
                p.dd_table: gr.Dataframe(empty_table(*EMPTY_PAIR), label=PAIR_LABEL),
                p.dd_query: gr.Dropdown(choices=[], value=None), p.dd_info: "",
                p.dd_docs: ""}

    # ------------------------------------------------------------------ diagnosis
    def failed_diagnosis(self, message: str) -> Updates:
        """A diagnosis that failed, on the visitor's page: its message in the verdict panel, every other panel
        empty (one message in one place, not an error badge on each of them)."""
        cleared = self.clear_results(None)
        out = {c: cleared.get(c, gr.skip()) for c in self.diagnosis_outputs()}
        return {**out, self.page.verdict: failure_markdown("Diagnose", message)}

    @shown_in_page("failed_diagnosis")
    @guarded
    def run_diagnosis(self, dataset: str, upload: Any, pivot: str, targets: Any, model: str, precision: str,
                      pool: str, remote: bool, progress: gr.Progress = gr.Progress(), request: gr.Request | None = None
                      ) -> Updates:
        """Every scenario for the chosen languages in one pool: the verdict, tables, figures and CSVs; the chart
        controls at their defaults, the drill-down on the first target's queries against the pivot gold. Texts
        not yet in the embedding cache wait for the lab's encoding slot; cached ones never do."""
        visitor = self.visitors.key(request)
        spec = EvalSpec(data=data_spec(dataset, upload, self.lab, visitor), langs=language_spec(pivot, targets),
                        pool=pool)
        diag = self.lab.diagnose(model_spec(model, precision, remote), spec, gr_progress(progress), visitor=visitor)
        res, summary = diag.result, diag.result.summary_frame()
        made = diag.made_with
        files = self.downloads.save({name: csv_text(stamp(frame, made) if made else frame) for name, frame in (
            ("summary.csv", summary), ("matrix.csv", res.matrix_frame()), ("per_query.csv", res.per_query))})
        langs = list(spec.langs)
        n_passages = len(diag.corpus.passage_first_items())
        curves = figures.default_curves(res.per_query, spec.pivot)
        p = self.page
        return {p.diag: diag, p.verdict: verdict_markdown(diag), p.summary: display(summary_pivot(summary).reset_index()),
                p.summary_full: display(summary_pivot(summary, headline_only=False).reset_index()),
                p.overview: figures.multi_overview(summary, spec.pivot),
                p.cdf: figures.rank_cdf(res.per_query, CDF_DEFAULT, curves, made=made), p.cdf_scenario: CDF_DEFAULT,
                p.cdf_curves: gr.Dropdown(choices=figures.curve_choices(res.per_query, CDF_DEFAULT), value=curves,
                                          multiselect=True),
                p.matrix_plot: figures.bias_matrix(res.matrix_frame(), MATRIX_DEFAULT), p.matrix_metric: MATRIX_DEFAULT,
                p.matrix_table: self._matrix(diag, MATRIX_DEFAULT), p.pq_search: "",
                p.per_query: gr.Dataframe(display(per_query_view(diag)), label=per_query_caption(diag, 0, ""),
                                          column_widths=per_query_widths(diag.spec.langs)),
                p.exports: files, **self._pair(diag, "multi", langs[1], spec.pivot, 0, ""), p.dd_k: 0,
                p.dd_search: "", p.umap_n: gr.Slider(minimum=4, maximum=n_passages, value=min(60, n_passages), step=1),
                p.umap_before: figures.empty("press Draw UMAP"), p.umap_after: figures.empty("press Draw UMAP")}

    @guarded
    def on_cdf(self, diag: Diagnosis | None, scenario: str, curves: Any) -> Updates:
        """The rank distribution of ``scenario``: the chosen curves that exist there, else its default curves."""
        p = self.page
        if diag is None:
            return {p.cdf: figures.empty("press Diagnose"), p.cdf_curves: gr.Dropdown(choices=[], value=[], multiselect=True)}
        pq = diag.result.per_query
        choices = figures.curve_choices(pq, scenario)
        valid = [c for c in (curves or []) if c in [v for _, v in choices]]
        chosen = valid or figures.default_curves(pq, diag.spec.pivot, scenario)
        return {p.cdf: figures.rank_cdf(pq, scenario, chosen, made=diag.made_with),
                p.cdf_curves: gr.Dropdown(choices=choices, value=chosen, multiselect=True)}

    @guarded
    def on_matrix_metric(self, diag: Diagnosis | None, metric: str) -> Updates:
        p = self.page
        if diag is None:
            return {p.matrix_plot: figures.empty("press Diagnose"), p.matrix_table: empty_table(*EMPTY_MATRIX)}
        return {p.matrix_plot: figures.bias_matrix(diag.result.matrix_frame(), metric),
                p.matrix_table: self._matrix(diag, metric)}

    @guarded
    def on_pq_search(self, diag: Diagnosis | None, search: str) -> Any:
        """The per-query table narrowed to the queries matching ``search``; its label says how many match."""
        if diag is None:
            return gr.Dataframe(empty_table(*EMPTY_PER_QUERY), label=PER_QUERY_LABEL)
        view = per_query_view(diag, search)
        return gr.Dataframe(display(view), label=per_query_caption(diag, len(view), search),
                            column_widths=per_query_widths(diag.spec.langs))

    @staticmethod
    def _matrix(diag: Diagnosis, metric: str) -> Any:
        return gr.Dataframe(matrix_table(diag, metric), column_widths=matrix_widths(diag.spec.langs))

    # ------------------------------------------------------------------ drill-down
    def _pair(self, diag: Diagnosis, scenario: str, query_lang: str, gold_lang: str | None, below: Any, search: str,
              query_id: str | None = None) -> Updates:
        """Every part of the drill-down for one pair: valid controls, the query table, the chosen query's page.

        An invalid scenario, query or gold language falls back to a valid one (never a value outside its
        choices); the chosen query is ``query_id`` when it is listed, else the worst-placed listed one.
        """
        p = self.page
        langs = list(diag.spec.langs)
        scenario = scenario if scenario in SCENARIOS else "multi"
        query_lang = query_lang if query_lang in langs else langs[1]
        golds = list(Lab.gold_langs(diag, scenario, query_lang))
        if gold_lang not in golds:
            gold_lang = diag.spec.pivot if diag.spec.pivot in golds and query_lang != diag.spec.pivot else golds[0]
        k = _whole(below)
        table = Lab.pair_queries(diag, scenario, query_lang, gold_lang)
        rows = pair_rows(table, k, search)
        choices = pair_choices(rows.head(MAX_QUERY_CHOICES))
        ids = [v for _, v in choices]
        if query_id is not None and query_id in set(rows.query_id) and query_id not in ids:
            choices.insert(0, next(c for c in pair_choices(rows[rows.query_id == query_id])))
            ids.insert(0, query_id)
        chosen = query_id if query_id in ids else (ids[0] if ids else None)
        view = pair_view(rows, query_lang, gold_lang)
        out: Updates = {p.dd_scenario: gr.Dropdown(choices=list(SCENARIOS), value=scenario),
               p.dd_lang: gr.Dropdown(choices=language_choices(langs), value=query_lang),
               p.dd_gold: gr.Dropdown(choices=language_choices(golds), value=gold_lang),
               p.dd_table: gr.Dataframe(view, column_widths=pair_widths(view),
                                        label=pair_caption(rows, len(table), query_lang, gold_lang, scenario, k, search)),
               p.dd_query: gr.Dropdown(choices=choices, value=chosen)}
        if chosen is None:
            return {**out, p.dd_info: "", p.dd_docs: "<p>No query matches these filters.</p>"}
        return {**out, **self._query(diag, scenario, query_lang, gold_lang, chosen)}

    def _query(self, diag: Diagnosis, scenario: str, query_lang: str, gold_lang: str, query_id: str) -> Updates:
        docs = Lab.docs_above(diag, scenario, query_lang, gold_lang, query_id)
        pq = diag.result.per_query
        sel = pq[(pq.scenario == scenario) & (pq.query_lang == query_lang) & (pq.query_id == query_id)
                 & ((pq.doc_lang == gold_lang) if scenario == "mono-cross" else True)]
        doc = gold_lang if scenario == "mono-cross" else None
        return {self.page.dd_info: drill_info_html(diag, scenario, query_lang, doc, query_id),
                self.page.dd_docs: docs_above_html(docs, query_lang, gold_lang, int(sel.pool_size.iloc[0]))}

    @guarded
    def on_pair(self, diag: Diagnosis | None, scenario: str, query_lang: str, gold_lang: str, below: Any,
                search: str) -> Updates:
        """Any drill-down control changed: redraw the whole drill-down for the new pair and filters."""
        if diag is None:
            return self._empty_pair()
        return self._pair(diag, scenario, query_lang, gold_lang, below, search or "")

    @guarded
    def on_query(self, diag: Diagnosis | None, scenario: str, query_lang: str, gold_lang: str, query_id: str
                 ) -> Updates:
        if diag is None:
            raise refuse("Run a diagnosis first.")
        if not query_id:
            return {self.page.dd_info: "", self.page.dd_docs: ""}
        return self._query(diag, scenario, query_lang, gold_lang, query_id)

    @guarded
    def on_pair_row(self, diag: Diagnosis | None, scenario: str, query_lang: str, gold_lang: str,
                    evt: gr.SelectData) -> Updates:
        """A click on a query of the pair's table shows that query (the table's order may be the user's own)."""
        if diag is None:
            raise refuse("Run a diagnosis first.")
        query_id = str(evt.row_value[0]) if evt.row_value else None
        if query_id not in diag.corpus.item_ids:
            raise refuse("Click a row of the table.")
        return {**self._query(diag, scenario, query_lang, gold_lang, query_id),
                self.page.dd_query: gr.Dropdown(value=query_id)}

    def _open(self, diag: Diagnosis, query_lang: str, gold_lang: str, query_id: str | None = None) -> Updates:
        """The Drill-down tab on the Multi pool's pair (query_lang, gold_lang), its filters reset."""
        return {self.page.tabs: gr.Tabs(selected="drill"),
                **self._pair(diag, "multi", query_lang, gold_lang, 0, "", query_id), self.page.dd_k: 0,
                self.page.dd_search: ""}

    def _partner(self, diag: Diagnosis, query_lang: str) -> str:
        """The pair a language's queries open by default: against the pivot (the pivot: the first target)."""
        return diag.spec.pivot if query_lang != diag.spec.pivot else diag.spec.langs[1]

    @guarded
    def on_matrix_select(self, diag: Diagnosis | None, evt: gr.SelectData) -> Updates:
        """A click on a matrix cell (q, l) opens the pair: q's queries by where the l gold ranks, worst first."""
        if diag is None:
            raise refuse("Run a diagnosis first.")
        langs = list(diag.spec.langs)
        row, col = evt.index if isinstance(evt.index, (list, tuple)) else (evt.index, 0)
        query_lang = str(evt.row_value[0]) if evt.row_value else langs[int(row)]
        columns = ["", *langs]
        gold_lang = columns[int(col)] if 0 < int(col) < len(columns) else self._partner(diag, query_lang)
        return self._open(diag, query_lang, gold_lang)

    @guarded
    def on_row_select(self, diag: Diagnosis | None, search: str, evt: gr.SelectData) -> Updates:
        """A click in the per-query table opens that query's pair: against the clicked rank's language, or (on
        any other column) against the pivot gold."""
        if diag is None:
            raise refuse("Run a diagnosis first.")
        view = per_query_view(diag, search)
        row, col = evt.index if isinstance(evt.index, (list, tuple)) else (evt.index, 0)
        values = list(evt.row_value) if evt.row_value else list(view.iloc[int(row)])
        record = dict(zip(view.columns, values, strict=False))
        query_lang, query_id = str(record["lang"]), str(record["query_id"])
        column = view.columns[int(col)] if 0 <= int(col) < len(view.columns) else ""
        gold_lang = column if column in diag.spec.langs else self._partner(diag, query_lang)
        return self._open(diag, query_lang, gold_lang, query_id)

    @guarded
    def on_open_pair(self, diag: Diagnosis | None, payload: str) -> Updates:
        """A heatmap cell ``{"q", "l"}`` or a map point ``{"point": [lang, item id]}`` clicked in the page."""
        if diag is None:
            raise refuse("Run a diagnosis first.")
        try:
            msg = json.loads(payload or "{}")
        except json.JSONDecodeError:
            raise refuse("Could not read what was clicked.") from None
        langs = list(diag.spec.langs)
        if isinstance(msg.get("point"), list) and len(msg["point"]) >= 2:
            lang, item = str(msg["point"][0]), str(msg["point"][1])
            if lang not in langs or item not in diag.corpus.item_ids:
                raise refuse("That point is not in this diagnosis.")
            return self._open(diag, lang, self._partner(diag, lang), item)
        q, g = str(msg.get("q", "")), str(msg.get("l", ""))
        if q not in langs or g not in langs:
            raise refuse("That cell is not in this diagnosis.")
        return self._open(diag, q, g)


def _changed(p: Page, control: Any) -> Any:
    """The event that tells a configuration control changed: ``change``, except for the multiselect targets, whose
    ``change`` Gradio's page also fires again, with the same value, whenever other components are redrawn (a loop
    through the clears it triggers); its ``input`` is the visitor's own change (programmatic changes of the targets
    come with a change of the data or the pivot, which clear the results themselves)."""
    return control.input if control is p.targets else control.change


def _whole(value: Any) -> int:
    """A rank bound from the number box: whole and ≥ 0 (empty or invalid: 0, every query)."""
    try:
        return max(0, int(float(value)))
    except (TypeError, ValueError):
        return 0


__all__ = ["Diagnose"]
