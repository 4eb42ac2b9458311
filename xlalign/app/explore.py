"""Callbacks of the Embedding map, Languages and Models tabs: views beyond one diagnosis."""

from __future__ import annotations

from typing import Any

import gradio as gr

from xlalign.app.failures import failure_markdown, guarded, refuse, shown_in_page
from xlalign.app.formatting import (
    HEADERS,
    board_note,
    board_view,
    board_widths,
    data_name,
    empty_table,
    inclination_table,
    inclination_text,
    inclination_widths,
)
from xlalign.app.inputs import data_spec, gr_progress, language_spec, model_spec
from xlalign.app.layout import Page, Updates
from xlalign.app.neighbourhoods import umap_purity
from xlalign.app.visitors import Visitors
from xlalign.policy import public_mode
from xlalign.report import figures
from xlalign.services.lab import Diagnosis, Lab, parallel_rows
from xlalign.store.downloads import DownloadArea
from xlalign.store.runs import csv_text

#: Hub datasets hold many languages; the Languages tab ranks the first few of them.
HUB_DATASETS = ("xquad", "belebele")
HUB_TARGETS = 6


class Explore:
    """The map, language-ranking and model-comparison callbacks of one app, on its ``lab``."""

    def __init__(self, lab: Lab, page: Page, downloads: DownloadArea, visitors: Visitors | None = None) -> None:
        self.lab, self.page, self.downloads = lab, page, downloads
        self.visitors = visitors or Visitors()

    def wire(self, language_clears: list[Any] | None = None, model_clears: list[Any] | None = None) -> None:
        """Attach the callbacks to their events (inside the app's ``gr.Blocks`` context). Each may encode texts
        not yet cached: that takes turns at the lab's encoder inside (:meth:`Lab.encode`), not in a queue here.
        A press cancels this page's pending clears of the same tab (``*_clears``: see :meth:`Diagnose.wire`)."""
        p = self.page
        p.umap_btn.click(self.on_umap, [p.diag, p.umap_n, p.umap_queries, p.umap_run],
                         [p.umap_before, p.umap_after, p.umap_purity_before, p.umap_purity_after],
                         concurrency_id="map", concurrency_limit=2)
        p.rank_btn.click(self.on_inclination, [p.dataset, p.upload, p.pivot, p.model, p.precision, p.pool, p.remote],
                         [p.rank_plot, p.rank_table, p.rank_text], concurrency_id="languages",
                         concurrency_limit=4, cancels=language_clears or None)
        p.lb_btn.click(self.on_leaderboard, [p.dataset, p.upload, p.pivot, p.targets, p.pool, p.precision, p.lb_models,
                                             p.lb_extra], [p.lb_table, p.lb_plot, p.lb_file, p.lb_note],
                       concurrency_id="models", concurrency_limit=4, cancels=model_clears or None)

    @guarded
    def on_umap(self, diag: Diagnosis | None, n: int, with_queries: bool, run_id: str | None,
                request: gr.Request | None = None) -> Updates:
        """UMAP of up to ``n`` parallel passages (and their questions); beside it, the same after a finished run."""
        if diag is None:
            raise refuse("Run a diagnosis first.")
        rows = parallel_rows(diag, int(n))
        first = diag.corpus.passage_first_items()
        items = first[rows]
        ids = [diag.corpus.item_ids[i] for i in items]
        corpus, langs = diag.corpus, diag.spec.langs
        # each point's hover shows its own text: a Chinese point the Chinese passage (or question), not the pivot's
        labels = {x: [f"{corpus.groups[i]} ({x}): {corpus.passages[x][i]}" for i in items] for x in langs}
        asked = {x: [f"{corpus.groups[i]} ({x}): {corpus.questions[x][i]}" for i in items] for x in langs}

        def draw(emb: Any, title: str) -> Any:
            points = {x: emb.passages[x][rows] for x in langs}
            queries = {x: emb.queries[x][items] for x in langs} if with_queries else None
            return figures.umap_pairs(points, labels, title=title, queries=queries, query_labels=asked, ids=ids,
                                      made=diag.made_with)

        p = self.page
        before = draw(diag.embeddings, f"{diag.model.model} (UMAP, cosine)")
        purity = umap_purity(self.lab.purity(diag), diag.model.model)  # the clusters, measured in the full space
        if not run_id:
            return {p.umap_before: before, p.umap_purity_before: purity, p.umap_purity_after: "",
                    p.umap_after: figures.empty("pick a finished run to see its aligned space beside this one")}
        after_emb, label = self.lab.run_embeddings(run_id, diag.model, diag.corpus, diag.embeddings, diag.spec.langs,
                                                   visitor=self.visitors.key(request))
        return {p.umap_before: before, p.umap_after: draw(after_emb, f"after {label}"), p.umap_purity_before: purity,
                p.umap_purity_after: umap_purity(self.lab.purity(diag, after_emb), f"after {label}")}

    def failed_inclination(self, message: str) -> Updates:
        p = self.page
        return {p.rank_plot: None, p.rank_table: empty_table(*HEADERS["rank"]),
                p.rank_text: failure_markdown("Rank languages", message)}

    def failed_leaderboard(self, message: str) -> Updates:
        p = self.page
        return {p.lb_table: empty_table(*HEADERS["board"]), p.lb_plot: None, p.lb_file: None,
                p.lb_note: failure_markdown("Compare models", message)}

    @shown_in_page("failed_inclination")
    @guarded
    def on_inclination(self, dataset: str, upload: Any, pivot: str, model: str, precision: str, pool: str,
                       remote: bool, progress: gr.Progress = gr.Progress(), request: gr.Request | None = None) -> Updates:
        """Every language of the data against the pivot, worst first: chart, table and one sentence each."""
        visitor = self.visitors.key(request)
        data = data_spec(dataset, upload, self.lab, visitor)
        targets = [x for x in self.lab.languages(data) if x != pivot]
        if dataset in HUB_DATASETS and upload is None:
            targets = targets[:HUB_TARGETS]
        spec = model_spec(model, precision, remote)
        rows = self.lab.inclination(spec, data, pivot, targets, pool, gr_progress(progress), visitor=visitor)
        p = self.page
        table = inclination_table(rows)
        return {p.rank_plot: figures.inclination_view(rows, pivot),
                p.rank_table: gr.Dataframe(table, column_widths=inclination_widths(table)),
                p.rank_text: inclination_text(rows, self.lab.made_with(spec, pool))}

    @shown_in_page("failed_leaderboard")
    @guarded
    def on_leaderboard(self, dataset: str, upload: Any, pivot: str, targets: Any, pool: str, precision: str,
                       models: Any, extra: str, progress: gr.Progress = gr.Progress(), request: gr.Request | None = None
                       ) -> Updates:
        """Several models (and finished runs) on the same data and pairs: table, chart and CSV. In public mode
        the free-text model box is hidden and ignored (only listed models and the visitor's own runs)."""
        more = [] if public_mode() else [m.strip() for m in (extra or "").split(",") if m.strip()]
        chosen = list(models or []) + more
        if not chosen:
            raise refuse("Pick one or more models.")
        visitor = self.visitors.key(request)
        data, langs = data_spec(dataset, upload, self.lab, visitor), language_spec(pivot, targets)
        board = self.lab.leaderboard(chosen, data, langs, pool, precision, gr_progress(progress), visitor=visitor)
        p = self.page
        view = board_view(board)
        return {p.lb_table: gr.Dataframe(view, column_widths=board_widths(view)),
                p.lb_plot: figures.leaderboard_chart(board[board.error == ""]),
                p.lb_file: self.downloads.save({"leaderboard.csv": csv_text(board)})[0],
                p.lb_note: board_note(board, data_name(data), pool, langs)}


__all__ = ["Explore"]
