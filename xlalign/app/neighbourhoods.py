"""Callbacks of the neighbourhood panels (faiss): bitext mining beside the verdict, the Neighbourhoods section
(every pair mined, purity, the language-identity probe), the visitor's own index, and a run's before/after.

The mining sentence under the verdict follows every new diagnosis (``diag.change``: a few milliseconds); the
full section and the index are computed when asked for (about a second on the demo's 7 languages), so a cached
diagnosis is no slower. Words and tables come from :mod:`xlalign.report.neighbourhoods`.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd
from gradio.blocks import Block

from xlalign.app.controls import number
from xlalign.app.failures import guarded, refuse
from xlalign.app.formatting import display, empty_table, made_with_line
from xlalign.app.inputs import gr_progress
from xlalign.app.layout import INTERNAL, Page, Updates
from xlalign.report.neighbourhoods import (
    BITEXT_VIEW,
    COMPARE_VIEW,
    PURITY_VIEW,
    bitext_view,
    compare_text,
    compare_view,
    index_text,
    mining_sentences,
    probe_text,
    purity_text,
    purity_view,
)
from xlalign.report.provenance import stamp
from xlalign.services.lab import Diagnosis, Lab
from xlalign.services.neighbourhoods import INDEX_COLUMNS, VERDICT_COLUMNS
from xlalign.specs import IndexSpec, option
from xlalign.store.downloads import DownloadArea
from xlalign.store.runs import csv_text

NEIGHBOURHOODS: dict[str, Any] = {"concurrency_id": "neighbourhoods", "concurrency_limit": 4}
#: Training and searching a visitor's index: its own small queue.
INDEX: dict[str, Any] = {"concurrency_id": "index", "concurrency_limit": 2}
PRESS = "_Press **Mine bitext · purity · probe** for every language pair, both kinds of text and the probe._"


def mining_markdown(diag: Diagnosis) -> str:
    """Each target's bitext mining against the pivot, beside (and weighed against) the verdict."""
    said = mining_sentences(Lab.pivot_mining(diag), diag.verdicts, diag.spec.pivot, diag.spec.targets)
    if not said:
        return ""
    return "\n".join(["**Bitext mining** — is each passage's nearest neighbour in the other language its "
                      "translation? (faiss, exact nearest neighbours)", *[f"- {s}" for s in said],
                      "", "_Every pair, questions too, intervals, purity and a language-identity probe: "
                          "**Neighbourhoods** at the foot of this tab._"])


def umap_purity(purity: pd.DataFrame, title: str) -> str:
    """The purity line shown under an embedding map."""
    text = purity_text(purity, "passages")
    return f"**{title}** — {text}" if text else ""


class Neighbours:
    """The neighbourhood callbacks of one app, on its ``lab``."""

    def __init__(self, lab: Lab, page: Page, downloads: DownloadArea, visitors: Any) -> None:
        self.lab, self.page, self.downloads, self.visitors = lab, page, downloads, visitors

    def wire(self) -> None:
        """The sentence follows the session's diagnosis (any new one, or none after a settings change); the
        section and the index are computed on a button."""
        p = self.page
        p.diag.change(self.on_diag, p.diag, self.panels(), **INTERNAL)
        p.nb_btn.click(self.on_neighbourhoods, p.diag, [p.nb_text, p.nb_bitext, p.nb_purity, p.nb_files],
                       **NEIGHBOURHOODS, **INTERNAL)
        p.idx_btn.click(self.on_index, [p.diag, p.idx_index, p.idx_params, p.idx_depth],
                        [p.idx_text, p.idx_table, p.idx_verdicts], **INDEX, **INTERNAL)

    def panels(self) -> list[Block]:
        p = self.page
        return [p.nb_mining, p.nb_text, p.nb_bitext, p.nb_purity, p.nb_files, p.idx_text, p.idx_table, p.idx_verdicts]

    @guarded
    def on_diag(self, diag: Diagnosis | None) -> Updates:
        """A new diagnosis (or none): the mining sentence for it, the rest of the panels emptied."""
        p = self.page
        return {p.nb_mining: mining_markdown(diag) if diag is not None else "",
                p.nb_text: PRESS if diag is not None else "", p.nb_bitext: empty_table(*BITEXT_VIEW),
                p.nb_purity: empty_table(*PURITY_VIEW), p.nb_files: None, p.idx_text: "",
                p.idx_table: empty_table(*INDEX_COLUMNS), p.idx_verdicts: empty_table(*VERDICT_COLUMNS)}

    @guarded
    def on_neighbourhoods(self, diag: Diagnosis | None) -> Updates:
        """Every pair mined both ways on both kinds of text, purity, the probe; the three CSVs."""
        if diag is None:
            raise refuse("Run a diagnosis first.")
        found = Lab.neighbourhoods(diag)
        text = "\n\n".join(t for t in (
            *mining_sentences(found.bitext, diag.verdicts, diag.spec.pivot, diag.spec.targets),
            purity_text(found.purity, "passages"), purity_text(found.purity, "questions"), probe_text(found.probe),
            made_with_line(diag.made_with, "faiss exact k-NN; README, \"Neighbourhoods\", says how each figure is made"))
            if t)
        made = diag.made_with
        files = self.downloads.save({name: csv_text(stamp(frame, made) if made else frame) for name, frame in (
            ("bitext.csv", found.bitext), ("purity.csv", found.purity), ("probe.csv", found.probe))
            if frame is not None})
        p = self.page
        return {p.nb_text: text, p.nb_bitext: display(bitext_view(found.bitext), 1),
                p.nb_purity: display(purity_view(found.purity), 1), p.nb_files: files}

    @guarded
    def on_index(self, diag: Diagnosis | None, index: str, params: str, depth: Any,
                 progress: gr.Progress = gr.Progress()) -> Updates:
        """The diagnosis's pools searched through the visitor's faiss index, beside the exact figures."""
        if diag is None:
            raise refuse("Run a diagnosis first.")
        chosen = number(depth, int, option(IndexSpec, "depth").label)
        spec = IndexSpec(index=index or "", params=params or "",
                         depth=option(IndexSpec, "depth").default if chosen is None else chosen)
        if spec.exact:
            raise refuse("Name an index (a faiss factory string such as HNSW32 or IVF64,PQ32); 'exact' is the "
                         "diagnosis itself.")
        report = Lab.index_report(diag, spec, gr_progress(progress))
        p = self.page
        shown = report.table.sort_values("change", kind="stable")
        return {p.idx_text: index_text(report.record, report.table, report.flips).replace("\n", "\n\n"),
                p.idx_table: display(shown, 2), p.idx_verdicts: report.verdicts}



def compare_updates(lab: Lab, page: Page, run_id: str, visitor: str | None) -> Updates:
    """A finished run's neighbourhoods before and after (a note for runs made before they were kept)."""
    before, after = lab.run_neighbourhoods(run_id, visitor=visitor)
    if before is None or after is None:
        return {page.cmp_nb_text: "_This run was made before xlalign kept bitext mining and purity per run._",
                page.cmp_nb_table: empty_table(*COMPARE_VIEW)}
    langs = list(lab.run_header(run_id, visitor=visitor)["langs"])
    return {page.cmp_nb_text: compare_text(before, after),
            page.cmp_nb_table: display(compare_view(before, after, langs[0], langs[1:]), 1)}


def compare_cleared(page: Page) -> Updates:
    return {page.cmp_nb_text: "", page.cmp_nb_table: empty_table(*COMPARE_VIEW)}


__all__ = ["INDEX", "NEIGHBOURHOODS", "Neighbours", "compare_cleared", "compare_updates", "mining_markdown",
           "umap_purity"]
