"""The words, tables and HTML the page shows, made from the service layer's plain results.

Pure functions (no Gradio, no I/O): a diagnosis, a drill-down table or a run's facts in, markdown,
HTML or a display table out. Figures and report tables live in :mod:`xlalign.report`.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pandas as pd

from xlalign.report.provenance import MadeWith
from xlalign.report.tables import headline_compare, matrix_pivot
from xlalign.report.verdict_text import headline as verdict_headline
from xlalign.report.verdict_text import lang_name, sentence
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
HEADERS = {
    "rank": ("target", "verdict", "inclination %", "clustering %", "complete@10 %", "max_r"),
    "board": ("model", "pair", "query_lang", "verdict", "multi complete@10", "multi max_r"),
    "runs": ("run", "state", "method", "langs", "progress", "message"),
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
def made_with_line(made: MadeWith | None, extra: str = "") -> str:
    """The footer every result carries: how it was made (model fingerprint, precision, pool, version)."""
    facts = [extra] if extra else []
    facts.append(made.footer() if made is not None else "made with: not recorded")
    return f"<small>{' · '.join(facts)}</small>"


def verdict_markdown(diag: Diagnosis) -> str:
    """The finding first (one line per language pair), then how it was made."""
    spec = diag.spec
    lines = [f"### {verdict_headline(diag.verdicts, spec.pivot)}", ""]
    for v in diag.verdicts:
        lead, _, rest = sentence(v).partition(" — ")
        lines.append(f"- **{lead}** — {rest}")
    sizes = ", ".join(f"{p.scenario} {p.pool_size}" for p in diag.result.pools if p.query_lang == spec.pivot
                      and p.scenario != "mono-cross")
    lines += ["", made_with_line(diag.made_with, f"{len(diag.corpus)} queries per language · {len(spec.langs)} "
                                                 f"languages in one pool ({sizes} documents) · data: "
                                                 f"{data_name(spec.data)}")]
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
    shown = rows.drop(columns=[c for c in rows.columns if c.endswith("sentence")]).copy()
    for col in ("inclination CI", "clustering CI"):
        shown[col] = [f"{c[0]:.0f}–{c[1]:.0f}" if isinstance(c, tuple) else "n/a" for c in shown[col]]
    return shown.round(2)


def inclination_text(rows: pd.DataFrame, made: MadeWith | None = None) -> str:
    """One sentence per pair (the target's queries, then the pivot's against that target), and the footer."""
    said = [f"- {s}" for col in [c for c in rows.columns if c.endswith("sentence")] for s in rows[col]]
    return "\n".join([*said, "", made_with_line(made, "each pair in its own pivot + target pool")])


# ---------------------------------------------------------------------------------- runs
def submitted_message(run_id: str, describe: str) -> str:
    return (f"Submitted **{run_id}** — {describe}; it runs in the background, one at a time. Its "
            "comparison opens in the Compare tab when it has finished.")


def cancel_message(run_id: str, requested: bool) -> str:
    return f"Cancel requested for **{run_id}**." if requested else f"{run_id} is not queued or running."


def compare_page(header: dict[str, Any], finding: str) -> str:
    """A run's page: its method and options, the finding, then how it was made and any warnings."""
    held_out = header.get("n_eval_queries")
    train = header["train_data"] if header["train_data"] in ("split", "demo") else "uploaded triplets"
    made = (f"**Run** `{header['run']}` · **model** `{header['model']}` · **data** {header['data']} · **languages** "
            f"{'+'.join(header['langs'])} (pivot {header['pivot']}) · **pool** {header['pool']} · "
            f"**training data** {train} · **held-out queries** {'?' if held_out is None else held_out} · "
            f"state **{header['state']}**")
    warnings = [f"> ⚠ {w}" for w in header.get("warnings", [])]
    return "\n\n".join([f"### {header['describe']}", "**Finding**", finding, made, *warnings])


def compare_headline(table: pd.DataFrame, pivot: str) -> pd.DataFrame:
    """The headline rows of a comparison, target-language queries first, rounded, with a significance mark."""
    head = headline_compare(table, pivot)
    head = head[["scenario", "query_lang", "doc_lang", "metric", "before", "after", "delta", "ci_low", "ci_high",
                 "q_value"]].round({"before": 2, "after": 2, "delta": 2, "ci_low": 2, "ci_high": 2, "q_value": 4})
    head.insert(len(head.columns), "significant", ["✔ q<0.05" if q < 0.05 else "" for q in head["q_value"]])
    return head


__all__ = ["CSS", "EMPTY_MATRIX", "EMPTY_PER_QUERY", "EMPTY_SUMMARY", "HEADERS", "STALE", "START", "cancel_message",
           "compare_headline", "compare_page", "data_name", "docs_html", "drill_info_html", "empty_table",
           "inclination_table", "inclination_text", "made_with_line", "matrix_table", "md_bold", "per_query_view",
           "query_choices", "submitted_message", "verdict_markdown"]
