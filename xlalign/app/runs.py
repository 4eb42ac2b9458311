"""Callbacks of the Align and Compare tabs: submit, follow and cancel runs; their before/after and exports."""

from __future__ import annotations

from typing import Any

import gradio as gr

from xlalign.align.base import AlignSpec
from xlalign.app.controls import nested_options
from xlalign.app.downloads import Downloads
from xlalign.app.failures import guarded, refuse
from xlalign.app.formatting import (
    HEADERS,
    cancel_message,
    compare_headline,
    compare_page,
    display,
    empty_table,
    submitted_message,
)
from xlalign.app.inputs import data_spec, language_spec, model_choices, model_spec
from xlalign.app.layout import Page, Updates
from xlalign.report import figures
from xlalign.report.tables import HEADLINE, METRIC_LABELS
from xlalign.report.verdict_text import compare_finding
from xlalign.services.lab import Lab
from xlalign.specs import EvalSpec
from xlalign.store.runs import csv_text


class Runs:
    """The alignment-run and comparison callbacks of one app, on its ``lab``."""

    def __init__(self, lab: Lab, page: Page, downloads: Downloads) -> None:
        self.lab, self.page, self.downloads = lab, page, downloads

    def wire(self, blocks: gr.Blocks) -> None:
        """Attach the callbacks to their events (inside ``blocks``' context); the runs list refreshes every 3 s."""
        p = self.page
        p.submit_btn.click(self.on_submit, [p.method, *p.config, p.train_data, p.train_upload, p.test_fraction,
                                            *p.method_controls], [p.submit_msg, p.runs])
        p.timer.tick(self.on_refresh, None, self.refresh_outputs())
        blocks.load(self.on_refresh, None, self.refresh_outputs())
        p.cancel_btn.click(self.on_cancel, p.run_pick, [p.submit_msg, p.runs])
        p.cmp_btn.click(self.on_show_run, [p.cmp_pick, p.cmp_metric], self.compare_outputs())
        p.cmp_pick.input(self.on_pick_run, None, self.compare_outputs())
        p.sbs_pick.input(self.on_pick_runs, None, [p.sbs_table, p.sbs_files])
        p.cmp_metric.input(self.on_compare_metric, [p.cmp_pick, p.cmp_metric], p.cmp_plot)
        p.export_btn.click(self.on_export, p.cmp_pick, p.export_file)
        p.sbs_btn.click(self.on_side_by_side, p.sbs_pick, [p.sbs_table, p.sbs_files])

    def compare_outputs(self) -> list[gr.components.Component]:
        """One run's page: everything it shows, the export included (never another run's)."""
        p = self.page
        return [p.cmp_header, p.cmp_table, p.cmp_full, p.cmp_plot, p.cmp_files, p.cmp_metric, p.export_file]

    def refresh_outputs(self) -> list[gr.components.Component]:
        p = self.page
        return [p.runs, p.run_pick, p.sbs_pick, p.umap_run, p.cmp_pick, p.lb_models]

    # ------------------------------------------------------------------ alignment runs
    @guarded
    def on_submit(self, method: str, dataset: str, upload: Any, pivot: str, targets: Any, model: str, precision: str,
                  pool: str, remote: bool, train_data: str, train_upload: Any, test_fraction: float,
                  *method_values: Any) -> Updates:
        """Queue an alignment run on the configuration and the Align tab's options."""
        if train_data == "upload" and not train_upload:
            raise refuse("Upload a triplet file (q_en, p_en, p_tgt) or choose another training source.")
        source = data_spec("upload", train_upload) if train_data == "upload" else train_data
        align = AlignSpec(method=method, train_data=source, test_fraction=float(test_fraction),
                          **nested_options(method_values))
        spec = EvalSpec(data=data_spec(dataset, upload), langs=language_spec(pivot, targets), pool=pool)
        run_id = self.lab.submit_alignment(model_spec(model, precision, remote), spec, align)
        return {self.page.submit_msg: submitted_message(run_id, align.describe()), self.page.runs: self.lab.runs_table()}

    @guarded
    def on_refresh(self) -> Updates:
        """The runs list, and every run picker (finished runs also as models to compare)."""
        table = self.lab.runs_table()
        done = table[table.state == "succeeded"]["run"].tolist()
        p = self.page
        return {p.runs: table, p.run_pick: gr.Dropdown(choices=table["run"].tolist()),
                p.sbs_pick: gr.Dropdown(choices=done), p.umap_run: gr.Dropdown(choices=["", *done]),
                p.cmp_pick: gr.Dropdown(choices=done),
                p.lb_models: gr.Dropdown(choices=model_choices() + [f"run:{r}" for r in done])}

    @guarded
    def on_cancel(self, run_id: str) -> Updates:
        if not run_id:
            raise refuse("Pick a run to cancel.")
        requested = self.lab.cancel(run_id)
        return {self.page.submit_msg: cancel_message(run_id, requested), self.page.runs: self.lab.runs_table()}

    # ------------------------------------------------------------------ comparison
    @guarded
    def on_show_run(self, run_id: str, metric: str) -> Updates:
        """A finished run's page: the finding, the headline and full tables, the change plot, the CSVs."""
        if not run_id:
            raise refuse("Pick a finished run.")
        table = self.lab.run_compare(run_id)
        run = self.lab.run(run_id)
        header = self.lab.run_header(run_id)
        pivot = header["pivot"]
        files = {"compare.csv": csv_text(table)}
        for side in ("before", "after"):
            text = run.per_query_text(side)
            if text is not None:
                files[f"{side}_per_query.csv"] = text
        choices = [m for m in dict.fromkeys(table.metric) if any(m in v for v in HEADLINE.values())]
        metric = metric if metric in choices else "complete@10"
        p = self.page
        return {p.cmp_header: compare_page(header, compare_finding(table, pivot)),
                p.cmp_table: compare_headline(table, pivot), p.cmp_full: table.round(4),
                p.cmp_plot: figures.compare_change(table, metric), p.cmp_files: self.downloads.save(files),
                p.cmp_metric: gr.Dropdown(choices=[(METRIC_LABELS.get(m, m), m) for m in choices], value=metric),
                p.export_file: None}

    @guarded
    def on_pick_run(self) -> Updates:
        """Another run picked: the previous run's page (and its export) goes until this one is shown."""
        p = self.page
        return {p.cmp_header: "_Press **Show before / after** for this run._",
                p.cmp_table: empty_table(*HEADERS["cmp"]), p.cmp_full: empty_table(*HEADERS["cmp_full"]),
                p.cmp_plot: figures.empty("press Show before / after"), p.cmp_files: None,
                p.cmp_metric: gr.Dropdown(choices=[], value=None), p.export_file: None}

    @guarded
    def on_pick_runs(self) -> Updates:
        """Other runs picked for the side-by-side: the previous table and its CSVs go."""
        return {self.page.sbs_table: empty_table(*HEADERS["sbs"]), self.page.sbs_files: None}

    @guarded
    def on_compare_metric(self, run_id: str, metric: str) -> Any:
        if not run_id:
            return figures.empty("pick a run")
        return figures.compare_change(self.lab.run_compare(run_id), metric)

    @guarded
    def on_export(self, run_id: str) -> str:
        """The aligned model as a zip (see :func:`xlalign.store.export.export_run`)."""
        if not run_id:
            raise refuse("Pick a finished run.")
        return str(self.lab.export_zip(run_id, self.downloads.folder()))

    @guarded
    def on_side_by_side(self, run_ids: list[str]) -> Updates:
        """Several finished runs beside their baseline (each its own when they were measured on different
        queries: said in a warning), with the two CSVs."""
        if not run_ids:
            raise refuse("Pick one or more finished runs.")
        stacked, wide = self.lab.side_by_side(run_ids)
        for note in wide.attrs.get("notes", []):
            gr.Warning(note)
        files = self.downloads.save({"compare_runs.csv": csv_text(stacked), "side_by_side.csv": csv_text(wide)})
        p = self.page
        return {p.sbs_table: display(wide, 2), p.sbs_files: files}


__all__ = ["Runs"]
