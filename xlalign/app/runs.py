"""Callbacks of the Align and Compare tabs: submit, follow and cancel runs; their before/after and exports.

Every callback acts for the visitor of its request (:mod:`xlalign.app.visitors`): in public mode a visitor
lists, opens, cancels and exports only their own runs. The runs list shows each run's state (``cancelling``
as soon as a cancel is asked), progress, time left and message first; the run just submitted is preselected,
and when it has finished its comparison opens by itself. Exports run in the app's ``heavy`` queue, so that
light requests never wait behind one.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
from gradio.blocks import Block

from xlalign.align.base import AlignSpec
from xlalign.app.controls import METHOD_FIELDS, nested_options
from xlalign.app.failures import guarded, refuse
from xlalign.app.formatting import (
    HEADERS,
    cancel_message,
    compare_full,
    compare_headline,
    compare_page,
    empty_table,
    finished_message,
    runs_view,
    side_by_side_view,
    side_by_side_widths,
    submitted_message,
)
from xlalign.app.inputs import data_spec, gr_progress, language_spec, model_choices, model_spec
from xlalign.app.layout import HEAVY, INTERNAL, Page, Updates
from xlalign.app.neighbourhoods import compare_cleared, compare_updates
from xlalign.app.visitors import Visitors
from xlalign.report import figures
from xlalign.report.tables import HEADLINE, METRIC_LABELS
from xlalign.report.verdict_text import compare_finding
from xlalign.services.lab import Lab
from xlalign.specs import EvalSpec
from xlalign.store.downloads import DownloadArea
from xlalign.store.runs import csv_text

ENDED = ("succeeded", "failed", "cancelled", "interrupted", "unreadable")


class Runs:
    """The alignment-run and comparison callbacks of one app, on its ``lab``."""

    def __init__(self, lab: Lab, page: Page, downloads: DownloadArea, visitors: Visitors | None = None) -> None:
        self.lab, self.page, self.downloads = lab, page, downloads
        self.visitors = visitors or Visitors()

    def wire(self, blocks: gr.Blocks) -> None:
        """Attach the callbacks to their events (inside ``blocks``' context); the runs list refreshes every 3 s."""
        p = self.page
        method_names = [f"{group}_{name}" for group, name in METHOD_FIELDS]
        p.submit_btn.click(_with_request(self.on_submit, method_names), [p.method, *p.config, p.train_data, p.train_upload,
                                                           p.test_fraction, *p.method_controls], self.submit_outputs(),
                           api_name="submit_alignment")
        p.timer.tick(self.on_refresh, [p.watch, p.current_tab], self.refresh_outputs(), **INTERNAL)
        p.runs_btn.click(self.on_refresh, [p.watch, p.current_tab], self.refresh_outputs(), api_name="runs")
        blocks.load(self.visitors.on_load, p.visitor, p.visitor, **INTERNAL).then(
            self.on_refresh, [p.watch, p.current_tab], self.refresh_outputs(), **INTERNAL)
        p.cancel_btn.click(self.on_cancel, p.run_pick, [p.submit_msg, p.runs], api_name="cancel_run")
        p.cmp_btn.click(self.on_show_run, [p.cmp_pick, p.cmp_metric], self.compare_outputs(), api_name="show_run")
        p.cmp_pick.input(self.on_pick_run, None, self.compare_outputs(), **INTERNAL)
        p.sbs_pick.input(self.on_pick_runs, None, [p.sbs_table, p.sbs_legend, p.sbs_files], **INTERNAL)
        p.cmp_metric.input(self.on_compare_metric, [p.cmp_pick, p.cmp_metric], p.cmp_plot, **INTERNAL)
        p.export_btn.click(self.on_export, p.cmp_pick, p.export_file, api_name="export_run", **HEAVY)
        p.sbs_btn.click(self.on_side_by_side, p.sbs_pick, [p.sbs_table, p.sbs_legend, p.sbs_files],
                        api_name="side_by_side")
        p.tabs.select(self.on_tab, None, p.current_tab, **INTERNAL)

    def submit_outputs(self) -> list[Block]:
        p = self.page
        return [p.submit_msg, p.runs, p.run_pick, p.watch]

    def compare_outputs(self) -> list[Block]:
        """One run's page: everything it shows, the export included (never another run's)."""
        p = self.page
        return [p.cmp_header, p.cmp_table, p.cmp_full, p.cmp_plot, p.cmp_files, p.cmp_metric, p.export_file,
                p.cmp_nb_text, p.cmp_nb_table]

    def refresh_outputs(self) -> list[Block]:
        p = self.page
        return [p.runs, p.run_pick, p.sbs_pick, p.umap_run, p.cmp_pick, p.lb_models, p.watch, p.submit_msg, p.tabs,
                *self.compare_outputs()]

    # ------------------------------------------------------------------ alignment runs
    @guarded
    def on_submit(self, method: str, dataset: str, upload: Any, pivot: str, targets: Any, model: str, precision: str,
                  pool: str, remote: bool, train_data: str, train_upload: Any, test_fraction: float,
                  *method_values: Any, request: gr.Request | None = None) -> Updates:
        """Queue an alignment run on the configuration and the Align tab's options; preselect it."""
        visitor = self.visitors.key(request)
        if train_data == "upload" and not train_upload:
            raise refuse("Upload a triplet file (q_en, p_en, p_tgt) or choose another training source.")
        source = data_spec("upload", train_upload, self.lab, visitor) if train_data == "upload" else train_data
        align = AlignSpec(method=method, train_data=source, test_fraction=float(test_fraction),
                          **nested_options(method_values))
        spec = EvalSpec(data=data_spec(dataset, upload, self.lab, visitor), langs=language_spec(pivot, targets),
                        pool=pool)
        run_id = self.lab.submit_alignment(model_spec(model, precision, remote), spec, align, visitor=visitor)
        table = self.lab.runs_table(visitor=visitor)
        label = str(table.set_index("run").at[run_id, "label"]) if run_id in set(table.run) else align.describe()
        p = self.page
        return {p.submit_msg: submitted_message(run_id, label), p.runs: runs_view(table),
                p.run_pick: gr.Dropdown(choices=table["run"].tolist(), value=run_id), p.watch: run_id}

    @guarded
    def on_refresh(self, watch: str | None = None, current_tab: str | None = None, request: gr.Request | None = None
                   ) -> Updates:
        """The visitor's runs list and every run picker (finished runs also as models to compare). When the
        run this page submitted has ended, say so; when it succeeded, open its comparison (and show the Compare
        tab if the visitor is on the Align tab)."""
        visitor = self.visitors.key(request)
        table = self.lab.runs_table(visitor=visitor)
        done = table[table.state == "succeeded"]["run"].tolist()
        p = self.page
        out: Updates = {p.runs: runs_view(table), p.run_pick: gr.Dropdown(choices=table["run"].tolist()),
                        p.sbs_pick: gr.Dropdown(choices=done), p.umap_run: gr.Dropdown(choices=["", *done]),
                        p.cmp_pick: gr.Dropdown(choices=done),
                        p.lb_models: gr.Dropdown(choices=model_choices() + [f"run:{r}" for r in done])}
        states = dict(zip(table["run"], table["state"], strict=True))
        if watch and states.get(watch) in ENDED:
            label = str(table.set_index("run").at[watch, "label"])
            out[p.watch] = None
            out[p.submit_msg] = finished_message(watch, label, states[watch])
            if states[watch] == "succeeded":
                out.update(self._show(watch, "complete@10", visitor))
                out[p.cmp_pick] = gr.Dropdown(choices=done, value=watch)
                if current_tab in (None, "align"):
                    out[p.tabs] = gr.Tabs(selected="compare")
        elif watch and watch not in states:
            out[p.watch] = None  # not this visitor's (or gone): stop watching
        return {c: out.get(c, gr.skip()) for c in self.refresh_outputs()}  # the rest stays as it is

    @guarded
    def on_cancel(self, run_id: str, request: gr.Request | None = None) -> Updates:
        """Ask a queued or running run to stop; the list shows ``cancelling`` at once."""
        if not run_id:
            raise refuse("Pick a run to cancel.")
        visitor = self.visitors.key(request)
        requested = self.lab.cancel(run_id, visitor=visitor)
        return {self.page.submit_msg: cancel_message(run_id, requested),
                self.page.runs: runs_view(self.lab.runs_table(visitor=visitor))}

    def on_tab(self, evt: gr.SelectData) -> str:
        """Which tab the visitor looks at (its id), so that a finished run does not pull them away from another."""
        ids = ["diagnose", "drill", "map", "languages", "models", "align", "compare"]
        index = evt.index if isinstance(evt.index, int) else 0
        return ids[index] if 0 <= index < len(ids) else "diagnose"

    # ------------------------------------------------------------------ comparison
    @guarded
    def on_show_run(self, run_id: str, metric: str = "complete@10", request: gr.Request | None = None) -> Updates:
        """A finished run's page: the finding, the headline and full tables, the change plot, the CSVs."""
        if not run_id:
            raise refuse("Pick a finished run.")
        return self._show(run_id, metric, self.visitors.key(request))

    def _show(self, run_id: str, metric: str, visitor: str) -> Updates:
        table = self.lab.run_compare(run_id, visitor=visitor)
        run = self.lab.run(run_id, visitor=visitor)
        header = self.lab.run_header(run_id, visitor=visitor)
        pivot = header["pivot"]
        files = {"compare.csv": csv_text(table)}
        for side in ("before", "after"):
            text = run.per_query_text(side)
            if text is not None:
                files[f"{side}_per_query.csv"] = text
        choices = [m for m in dict.fromkeys(table.metric) if any(m in v for v in HEADLINE.values())]
        metric = metric if metric in choices else "complete@10"
        p = self.page
        finding = compare_finding(table, pivot, before=run.verdicts("before"), after=run.verdicts("after"))
        return {p.cmp_header: compare_page(header, finding),
                p.cmp_table: compare_headline(table, pivot), p.cmp_full: compare_full(table),
                p.cmp_plot: figures.compare_change(table, metric), p.cmp_files: self.downloads.save(files),
                p.cmp_metric: gr.Dropdown(choices=[(METRIC_LABELS.get(m, m), m) for m in choices], value=metric),
                p.export_file: None, **compare_updates(self.lab, p, run_id, visitor)}

    @guarded
    def on_pick_run(self) -> Updates:
        """Another run picked: the previous run's page (and its export) goes until this one is shown."""
        p = self.page
        return {p.cmp_header: "_Press **Show before / after** for this run._",
                p.cmp_table: empty_table(*HEADERS["cmp"]), p.cmp_full: empty_table(*HEADERS["cmp_full"]),
                p.cmp_plot: figures.empty("press Show before / after"), p.cmp_files: None,
                p.cmp_metric: gr.Dropdown(choices=[], value=None), p.export_file: None, **compare_cleared(p)}

    @guarded
    def on_pick_runs(self) -> Updates:
        """Other runs picked for the side-by-side: the previous table and its CSVs go."""
        return {self.page.sbs_table: empty_table(*HEADERS["sbs"]), self.page.sbs_legend: "", self.page.sbs_files: None}

    @guarded
    def on_compare_metric(self, run_id: str, metric: str, request: gr.Request | None = None) -> Any:
        if not run_id:
            return figures.empty("pick a run")
        return figures.compare_change(self.lab.run_compare(run_id, visitor=self.visitors.key(request)), metric)

    @guarded
    def on_export(self, run_id: str, progress: gr.Progress = gr.Progress(), request: gr.Request | None = None) -> str:
        """The aligned model as a zip (see :func:`xlalign.store.export.export_run`), in the download area, with
        progress (preparing, then the bytes zipped: a fine-tuned model's zip is hundreds of MB)."""
        if not run_id:
            raise refuse("Pick a finished run.")
        return str(self.lab.export_zip(run_id, visitor=self.visitors.key(request), progress=gr_progress(progress)))

    @guarded
    def on_side_by_side(self, run_ids: list[str], request: gr.Request | None = None) -> Updates:
        """Several finished runs beside their baseline (each its own when they were measured on different
        queries: said in a warning), with the two CSVs."""
        if not run_ids:
            raise refuse("Pick one or more finished runs.")
        visitor = self.visitors.key(request)
        stacked, wide = self.lab.side_by_side(run_ids, visitor=visitor)
        for note in wide.attrs.get("notes", []):
            gr.Warning(note)
        files = self.downloads.save({"compare_runs.csv": csv_text(stacked), "side_by_side.csv": csv_text(wide)})
        runs = self.lab.runs_table(visitor=visitor)
        view, legend = side_by_side_view(wide, dict(zip(runs["run"], runs["label"], strict=True)))
        p = self.page
        return {p.sbs_table: gr.Dataframe(view, column_widths=side_by_side_widths(view)), p.sbs_legend: legend,
                p.sbs_files: files}


def _with_request(fn: Any, extra: list[str]) -> Any:
    """``fn(*values, request=…)`` as Gradio calls it: Gradio passes the request only to a positional parameter
    annotated ``gr.Request``, which a callback taking ``*values`` cannot have after them. The event's signature
    names every value (``fn``'s named parameters, then ``extra`` for its ``*values``), which the API shows."""
    import inspect

    def event(request: gr.Request, *values: Any) -> Any:
        return fn(*values, request=request)

    named = [p for p in inspect.signature(fn).parameters.values()
             if p.kind == p.POSITIONAL_OR_KEYWORD and p.name != "request"]
    params = [inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=gr.Request)]
    params += [inspect.Parameter(p.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=p.annotation)
               for p in named]
    params += [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for name in extra]
    event.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    event.__name__ = event.__qualname__ = fn.__name__
    event.__doc__ = fn.__doc__
    return event


__all__ = ["HEAVY", "INTERNAL", "Runs"]
