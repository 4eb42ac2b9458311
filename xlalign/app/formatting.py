"""The words, tables and HTML the page shows, made from the service layer's plain results.

Pure functions (no Gradio, no I/O): a diagnosis, a drill-down table or a run's facts in, markdown,
HTML or a display table out. Figures and report tables live in :mod:`xlalign.report`.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pandas as pd

from xlalign.core.verdict import headline as verdict_headline
from xlalign.core.verdict import lang_name
from xlalign.report.tables import headline_compare, matrix_pivot
from xlalign.services.lab import Diagnosis, Lab

CSS = """
.xl-docs td { vertical-align: top; padding: 4px 8px; border-bottom: 1px solid #e5e5e5; }
.xl-docs th { text-align: left; padding: 4px 8px; border-bottom: 2px solid #ccc; }
.xl-docs .text { white-space: pre-wrap; overflow-wrap: anywhere; max-width: 900px; }
.xl-docs tr.gold { background: #eaf7ea; }
.xl-query { white-space: pre-wrap; overflow-wrap: anywhere; }
"""
START = "_Choose data, languages and a model, then press **Diagnose**._"
STALE = "_Settings changed since the last diagnosis: press **Diagnose** to see results for the new settings._"

#: What each table shows before it has results (Gradio shows "1 2 3" for an empty table without columns).
EMPTY_SUMMARY = ("scenario", "docs", "metric", "query languages →")
EMPTY_MATRIX = ("query ↓ / documents →", "document languages →")
EMPTY_PER_QUERY = ("query_lang", "query_id", "query", "rank per gold language →", "top1_lang", "top1_id")
#: The runs list: what a visitor follows first (state, progress, time left, message), then what the run is;
#: widths (percent of the table) chosen so that it needs no sideways scrolling at 1400 px (long cells wrap).
RUNS_COLUMNS = ("state", "progress", "time left", "message", "label", "run")
RUNS_COLUMN_WIDTHS = ["9%", "7%", "11%", "33%", "22%", "18%"]
HEADERS = {
    "rank": ("target", "verdict", "inclination %", "clustering %", "complete@10 %", "max_r"),
    "board": ("model", "pair", "query_lang", "verdict", "multi complete@10", "multi max_r"),
    "runs": RUNS_COLUMNS,
    "cmp": ("scenario", "query_lang", "metric", "before", "after", "delta", "q_value"),
    "cmp_full": ("scenario", "query_lang", "doc_lang", "metric", "before", "after"),
    "sbs": ("scenario", "query_lang", "metric", "baseline", "runs →"),
}


def empty_table(*columns: str) -> pd.DataFrame:
    """An empty table that still shows what its columns will hold."""
    return pd.DataFrame(columns=list(columns))


def data_name(data: str) -> str:
    """A data spec as the page names it: a file's name, never its server path."""
    return Path(data).name if Path(data).exists() else data


# ---------------------------------------------------------------------------------- diagnosis
def verdict_markdown(diag: Diagnosis) -> str:
    """The finding first (one line per query language), then how it was made."""
    spec = diag.spec
    lines = [f"### {verdict_headline(diag.verdicts, spec.pivot)}", ""]
    for v in diag.verdicts:
        lead, _, rest = v.sentence.partition(" — ")
        lines.append(f"- **{lead}** — {rest}")
    sizes = ", ".join(f"{p.scenario} {p.pool_size}" for p in diag.result.pools if p.query_lang == spec.pivot
                      and p.scenario != "mono-cross")
    lines += ["", f"<small>{len(diag.corpus)} queries per language · {diag.model.model} · {spec.pool} pools "
              f"({sizes} documents) · data: {data_name(spec.data)}</small>"]
    return "\n".join(lines)


def matrix_table(diag: Diagnosis, metric: str) -> pd.DataFrame:
    """The language-bias matrix as a table whose first column names the query language."""
    table = matrix_pivot(diag.result.matrix_frame(), metric).round(1)
    table.insert(0, "query ↓ / documents →", table.index)
    return table.reset_index(drop=True)


def per_query_view(diag: Diagnosis) -> pd.DataFrame:
    """Multi: each query's gold rank per language and its top document."""
    pq = diag.result.per_query
    pq = pq[pq.scenario == "multi"]
    cols = ["query_lang", "query_id", "query", *[f"rank_{x}" for x in diag.spec.langs], "top1_lang", "top1_id",
            "top1_is_gold"]
    return pq[cols].reset_index(drop=True)


def query_choices(diag: Diagnosis, lang: str, text: str) -> list[tuple[str, str]]:
    """(label, id) of up to 200 ``lang`` queries matching ``text``, for the query dropdown."""
    return [(f"{qid}: {q[:90]}", qid) for qid, q in Lab.find_queries(diag, text, lang, limit=200)]


# ---------------------------------------------------------------------------------- drill-down
def drill_info_html(diag: Diagnosis, scenario: str, query_lang: str, doc_lang: str | None, query_id: str) -> str:
    """The query, its parallel queries in the other languages, and where each gold ranks."""
    i = diag.corpus.item_ids.index(query_id)
    pq = diag.result.per_query
    sel = pq[(pq.scenario == scenario) & (pq.query_lang == query_lang) & (pq.query_id == query_id)]
    if doc_lang is not None and scenario == "mono-cross":
        sel = sel[sel.doc_lang == doc_lang]
    row = sel.iloc[0]
    ranks = ", ".join(f"{lang_name(c.removeprefix('rank_'))} gold at rank **{int(row[c])}**" for c in row.index
                      if c.startswith("rank_") and pd.notna(row[c]))
    parallel = "".join(f"<li><b>{x}</b>: <span dir='auto' class='xl-query'>{html.escape(diag.corpus.questions[x][i])}"
                       f"</span></li>" for x in diag.spec.langs if x != query_lang)
    return (f"<p><b>Query ({query_lang}, {html.escape(query_id)})</b>: <span dir='auto' class='xl-query'>"
            f"{html.escape(diag.corpus.questions[query_lang][i])}</span></p>"
            f"<p>Parallel queries:</p><ul>{parallel}</ul><p>{md_bold(ranks)} in a pool of {int(row['pool_size'])}.</p>")


def md_bold(text: str) -> str:
    """``**bold**`` markdown as escaped HTML."""
    parts = text.split("**")
    return "".join(html.escape(p) if n % 2 == 0 else f"<b>{html.escape(p)}</b>" for n, p in enumerate(parts))


def docs_html(table: pd.DataFrame) -> str:
    """The top documents as an HTML table: full, wrapped text, ``dir="auto"`` for right-to-left scripts."""
    rows = []
    for r in table.itertuples():
        rows.append(f"<tr class='{'gold' if r.gold else ''}'><td>{r.position}</td><td>{r.lang}</td>"
                    f"<td>{html.escape(str(r.passage_of))}</td><td>{r.score:.4f}</td><td>{'✔' if r.gold else ''}</td>"
                    f"<td>{r.copies}</td><td class='text' dir='auto'>{html.escape(r.text)}</td></tr>")
    head = "<tr><th>#</th><th>lang</th><th>passage of</th><th>score</th><th>gold</th><th>copies</th><th>text</th></tr>"
    return f"<table class='xl-docs'>{head}{''.join(rows)}</table>"


# ---------------------------------------------------------------------------------- languages
def inclination_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The per-language rates with their intervals as "lo–hi" ("n/a" where there is none)."""
    shown = rows.drop(columns=["sentence"]).copy()
    for col in ("inclination CI", "clustering CI"):
        shown[col] = [f"{c[0]:.0f}–{c[1]:.0f}" if isinstance(c, tuple) else "n/a" for c in shown[col]]
    return shown.round(2)


def inclination_text(rows: pd.DataFrame) -> str:
    return "\n".join(f"- {s}" for s in rows["sentence"])


# ---------------------------------------------------------------------------------- runs
def submitted_message(run_id: str, label: str) -> str:
    return (f"Submitted **{label}** (`{run_id}`); it runs in the background, one at a time. Its comparison "
            "opens in the Compare tab when it has finished.")


def finished_message(run_id: str, label: str, state: str) -> str:
    if state == "succeeded":
        return f"**{label}** (`{run_id}`) has finished: its comparison is open in the Compare tab."
    return f"**{label}** (`{run_id}`) ended: {state}."


def runs_view(table: pd.DataFrame) -> pd.DataFrame:
    """The runs list as shown: :data:`RUNS_COLUMNS` (what a visitor follows first, then what the run is)."""
    return empty_table(*RUNS_COLUMNS) if table.empty else table[list(RUNS_COLUMNS)].reset_index(drop=True)


def cancel_message(run_id: str, requested: bool) -> str:
    return f"Cancel requested for **{run_id}**." if requested else f"{run_id} is not queued or running."


def compare_page(header: dict[str, Any], finding: str) -> str:
    """A run's page: its method and options, the finding, then how it was made and any warnings."""
    held_out = header.get("n_eval_queries")
    train = header["train_data"] if header["train_data"] in ("split", "demo") else f"triplets {header['train_data']}"
    made = (f"**Run** `{header['run']}` · **model** `{header['model']}` · **data** {header['data']} · **languages** "
            f"{'+'.join(header['langs'])} (pivot {header['pivot']}) · **pool** {header['pool']} · "
            f"**training data** {train} · **held-out queries** {'?' if held_out is None else held_out} · "
            f"state **{header['state']}**")
    warnings = [f"> ⚠ {w}" for w in header.get("warnings", [])]
    return "\n\n".join([f"### {header.get('label') or header['describe']}", "**Finding**", finding, made, *warnings])


def compare_headline(table: pd.DataFrame, pivot: str) -> pd.DataFrame:
    """The headline rows of a comparison, target-language queries first, rounded, with a significance mark."""
    head = headline_compare(table, pivot)
    head = head[["scenario", "query_lang", "doc_lang", "metric", "before", "after", "delta", "ci_low", "ci_high",
                 "q_value"]].round({"before": 2, "after": 2, "delta": 2, "ci_low": 2, "ci_high": 2, "q_value": 4})
    head.insert(len(head.columns), "significant", ["✔ q<0.05" if q < 0.05 else "" for q in head["q_value"]])
    return head


__all__ = ["CSS", "EMPTY_MATRIX", "EMPTY_PER_QUERY", "EMPTY_SUMMARY", "HEADERS", "RUNS_COLUMNS", "RUNS_COLUMN_WIDTHS",
           "STALE", "START", "cancel_message", "compare_headline", "compare_page", "data_name", "docs_html",
           "drill_info_html", "empty_table", "finished_message", "inclination_table", "inclination_text", "matrix_table",
           "md_bold", "per_query_view", "query_choices", "runs_view", "submitted_message", "verdict_markdown"]
