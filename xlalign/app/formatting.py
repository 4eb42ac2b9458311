"""The words, tables and HTML the page shows, made from the service layer's plain results.

Pure functions (no Gradio, no I/O): a diagnosis, a drill-down table or a run's facts in, markdown,
HTML or a display table out. Figures and report tables live in :mod:`xlalign.report`.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from xlalign.report.paper import PAPER_COLUMNS, comparability_note
from xlalign.report.provenance import STAMP_COLUMNS, MadeWith
from xlalign.report.tables import headline_compare, matrix_pivot, q_text
from xlalign.report.verdict_text import RULE, lang_name, sentence
from xlalign.report.verdict_text import headline as verdict_headline
from xlalign.services.lab import Diagnosis

CSS = """
.xl-docs td { vertical-align: top; padding: 4px 8px; border-bottom: 1px solid #e5e5e5; }
.xl-docs th { text-align: left; padding: 4px 8px; border-bottom: 2px solid #ccc; }
.xl-docs .text { white-space: pre-wrap; overflow-wrap: anywhere; max-width: 900px; }
.xl-docs tr.gold { background: #eaf7ea; }
.xl-query { white-space: pre-wrap; overflow-wrap: anywhere; }
.xl-docs h4 { margin: 14px 0 4px 0; }
.xl-more { color: #555; font-style: italic; }
"""
#: The page's one script: a click on a heatmap cell or an embedding-map point writes what was clicked into the
#: hidden ``open-pair`` textbox, whose change event opens that pair's drill-down (``gr.Plot`` has no click event).
CLICK_JS = """
<script>
(() => {
  const seen = new WeakMap();
  const send = (msg) => {
    const box = document.querySelector('#open-pair textarea, #open-pair input');
    if (!box) return;
    box.value = JSON.stringify({...msg, at: Date.now()});
    box.dispatchEvent(new Event('input', {bubbles: true}));
  };
  setInterval(() => {
    for (const [id, kind] of [['matrix-plot', 'cell'], ['umap-before', 'point']]) {
      const plot = document.querySelector('#' + id + ' .js-plotly-plot');
      if (!plot || typeof plot.on !== 'function' || !plot.data || seen.get(plot) === plot.data) continue;
      seen.set(plot, plot.data);
      plot.on('plotly_click', (ev) => {
        const p = ev && ev.points && ev.points[0];
        if (!p) return;
        if (kind === 'cell') send({q: String(p.y), l: String(p.x)});
        else if (p.customdata) send({point: p.customdata});
      });
    }
  }, 500);
})();
</script>
"""
START = "_Choose data, languages and a model, then press **Diagnose**._"
STALE = "_Settings changed since the last diagnosis: press **Diagnose** to see results for the new settings._"

#: What each table shows before it has results (Gradio shows "1 2 3" for an empty table without columns).
EMPTY_SUMMARY = ("scenario", "docs", "metric", "query languages →")
#: The matrix table's first column header: the query language (rows) against the document language (columns).
MATRIX_CORNER = "query ↓ docs →"
EMPTY_MATRIX = (MATRIX_CORNER, "document languages →")
EMPTY_PER_QUERY = ("lang", "query_id", "gold rank per language →", "top1", "top1 id", "top1 gold", "query")
#: The runs list: what a visitor follows first (state, progress, time left, message), then what the run is;
#: widths (percent of the table) chosen so that it needs no sideways scrolling at 1400 px (long cells wrap).
RUNS_COLUMNS = ("state", "progress", "time left", "message", "label", "run")
RUNS_COLUMN_WIDTHS: list[str | int] = ["9%", "7%", "11%", "33%", "22%", "18%"]
EMPTY_PAIR = ("query_id", "query", "gold rank", "own-language gold rank", "irrelevant documents above the gold")
#: The drill-down's query table and the per-query table before they show a pair / a diagnosis.
PAIR_LABEL = "Queries, worst-placed gold first — click one to see what ranks above it"
PER_QUERY_LABEL = ("Per-query gold ranks (Multi): each language's column is where that language's gold ranks; top1 is "
                   "the best-ranked document — click a rank to drill into that pair")
#: The chart controls' values after a new diagnosis (and after the settings change).
CDF_DEFAULT = "multi"
MATRIX_DEFAULT = "best_gold_share"
#: Documents shown per language above a gold before "… and N more".
DOCS_PER_LANG = 15
HEADERS = {
    "rank": ("target", "verdict", "preference %", "impact %", "Mono-Same NDCG@10", "Mono-Cross NDCG@10"),
    "board": ("model", "pair", "query_lang", "verdict", "multi complete@10", "multi max_r"),
    "runs": RUNS_COLUMNS,
    "cmp": ("scenario", "query_lang", "metric", "before", "after", "delta", "q_value"),
    "cmp_full": ("scenario", "query_lang", "doc_lang", "metric", "before", "after"),
    "sbs": ("scenario", "query_lang", "metric", "baseline", "R1 after", "R1 change (95% CI)", "R1 q", "…"),
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
    lines = [f"### {verdict_headline(diag.verdicts, spec.pivot, with_rule=False)}", ""]
    for v in diag.verdicts:
        lead, _, rest = sentence(v).partition(" — ")
        lines.append(f"- **{lead}** — {rest}")
    lines += ["", f"<small>Rule: {RULE}.</small>"]
    sizes = ", ".join(f"{p.scenario} {p.pool_size}" for p in diag.result.pools if p.query_lang == spec.pivot
                      and p.scenario != "mono-cross")
    lines += ["", made_with_line(diag.made_with, f"{len(diag.corpus)} queries per language · {len(spec.langs)} "
                                                 f"languages in one pool ({sizes} documents) · data: "
                                                 f"{data_name(spec.data)}")]
    return "\n".join(lines)


def matrix_table(diag: Diagnosis, metric: str) -> pd.DataFrame:
    """The language-bias matrix as a table whose first column names the query language."""
    table = matrix_pivot(diag.result.matrix_frame(), metric)
    table.insert(0, MATRIX_CORNER, table.index)
    return display(table.reset_index(drop=True), 1)


def matrix_widths(langs: tuple[str, ...] | list[str]) -> list[str | int]:
    """Column widths of :func:`matrix_table` (percent): the corner, then one equal column per language, so that the
    last language (``ur`` of seven) is never cut off."""
    corner = 16
    each = (100 - corner) / max(1, len(langs))
    return [f"{corner}%", *[f"{each:.2f}%"] * len(langs)]


#: The per-query table's columns besides one rank column per language (named by its code).
PER_QUERY_HEAD = ("lang", "query_id")
PER_QUERY_TAIL = ("top1", "top1 id", "top1 gold", "query")


def per_query_view(diag: Diagnosis, search: str = "") -> pd.DataFrame:
    """Multi: each query's language and id, where the gold of each language ranks (one column per language, named
    by its code, so that all of them fit on screen), its top document (its language, id, and whether it is a gold)
    and its text, clipped; with ``search``, only the queries whose text or id contains it."""
    pq = diag.result.per_query
    pq = pq[pq.scenario == "multi"]
    needle = (search or "").strip().casefold()
    if needle:
        pq = pq[pq["query"].str.casefold().str.contains(needle, regex=False)
                | pq.query_id.str.casefold().str.contains(needle, regex=False)]
    langs = list(diag.spec.langs)
    view = pd.DataFrame({"lang": pq.query_lang, "query_id": pq.query_id,
                         **{x: pq[f"rank_{x}"] for x in langs}, "top1": pq.top1_lang, "top1 id": pq.top1_id,
                         "top1 gold": pq.top1_is_gold, "query": [_clip(q, QUERY_CHARS) for q in pq["query"]]})
    return view.reset_index(drop=True)


#: Characters of a query's text shown in a table cell (the drill-down shows all of it).
QUERY_CHARS = 90


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def per_query_widths(langs: tuple[str, ...] | list[str]) -> list[str | int]:
    """Column widths of :func:`per_query_view` (percent): every rank column on screen (5% each up to 8 languages),
    the text last with what is left."""
    rank = min(5.0, 40 / max(1, len(langs)))
    fixed = [5.0, 11.0, *[rank] * len(langs), 5.0, 11.0, 8.0]
    widths: list[str | int] = [f"{w:.2f}%" for w in fixed]
    return [*widths, f"{max(8.0, 100 - sum(fixed)):.2f}%"]


def per_query_caption(diag: Diagnosis, shown: int, search: str) -> str:
    """The per-query table's label: what it lists, and how many rows a filter left."""
    total = int((diag.result.per_query.scenario == "multi").sum())
    what = PER_QUERY_LABEL
    return what if not (search or "").strip() else f"{what} · {shown} of {total} rows match '{search.strip()}'"


# ---------------------------------------------------------------------------------- drill-down
def pair_rows(table: pd.DataFrame, below: int, search: str) -> pd.DataFrame:
    """The rows of :meth:`Lab.pair_queries` whose gold ranks below ``below`` (0: all) and whose text or id
    contains ``search``."""
    keep = table.gold_rank > below if below > 0 else pd.Series(True, index=table.index)
    needle = (search or "").strip().casefold()
    if needle:
        keep &= table["query"].str.casefold().str.contains(needle, regex=False) | \
            table.query_id.str.casefold().str.contains(needle, regex=False)
    return table[keep]


def pair_view(rows: pd.DataFrame, query_lang: str, gold_lang: str) -> pd.DataFrame:
    """The pair's queries as shown: id, text, where the gold ranks, and which languages' documents sit above it."""
    above = [c for c in rows.columns if c.startswith("above_")]
    counts = [" · ".join(f"{c.removeprefix('above_')} {n}" for c, n in sorted(zip(above, r, strict=True),
                                                                          key=lambda x: -x[1]) if n)
              or "none" for r in rows[above].itertuples(index=False)]
    view = pd.DataFrame({"query_id": rows.query_id, "query": [_clip(q, QUERY_CHARS) for q in rows["query"]],
                         f"{gold_lang} gold rank": rows.gold_rank})
    if gold_lang != query_lang and rows.own_rank.notna().any():
        view[f"{query_lang} gold rank"] = rows.own_rank.astype(object).where(rows.own_rank.notna(), "n/a")
    view["irrelevant documents above it"] = counts
    return view.reset_index(drop=True)


def pair_widths(view: pd.DataFrame) -> list[str | int]:
    """Column widths of :func:`pair_view` (percent): the counts of documents above the gold never cut off."""
    ranks = len(view.columns) - 3
    return ["12%", f"{52 - 9 * ranks}%", *["9%"] * ranks, "36%"]


def pair_choices(rows: pd.DataFrame) -> list[tuple[str, str]]:
    """(label, id) of the listed queries, in the table's order."""
    return [(f"{qid} (gold at {r}): {q[:80]}", qid) for qid, q, r in zip(rows.query_id, rows["query"], rows.gold_rank,
                                                                         strict=True)]


def pair_caption(rows: pd.DataFrame, total: int, query_lang: str, gold_lang: str, scenario: str, below: int,
                 search: str) -> str:
    """The label of the pair's query table: what it lists and why rows are missing."""
    what = f"{lang_name(query_lang)} queries by the rank of the {lang_name(gold_lang)} gold ({scenario} pool)"
    filters = ([f"gold below rank {below}"] if below > 0 else []) + ([f"matching '{search.strip()}'"]
                                                                     if (search or "").strip() else [])
    shown = f"{len(rows)} of {total}" + (f" ({', '.join(filters)})" if filters else "")
    return f"{what}: {shown}, worst first — click one to see what ranks above it"


def docs_above_html(docs: pd.DataFrame, query_lang: str, gold_lang: str, pool_size: int,
                    limit: int = DOCS_PER_LANG) -> str:
    """Every document above the gold, grouped by language (most numerous first, best first within), then the
    gold itself; full wrapped text, ``dir="auto"`` for right-to-left scripts."""
    gold, above = docs.iloc[-1], docs.iloc[:-1]
    g = lang_name(gold_lang)
    counts = above.groupby("lang", sort=False)["copies"].sum().sort_values(ascending=False, kind="stable")
    summary = ", ".join(f"{n} {lang_name(str(x))}" for x, n in counts.items())
    golds = int(above.gold.sum())
    with_golds = f" ({golds} of them golds in other languages)" if golds else ""
    head = (f"<p>The {html.escape(g)} gold of this {html.escape(lang_name(query_lang))} query ranks <b>{gold.position}"
            f"</b> of {pool_size}: " + (f"{_documents(int(counts.sum()))} above it{with_golds} — "
                                         f"{html.escape(summary)}.</p>" if len(above) else "nothing ranks above it.</p>"))
    parts = [head]
    for lang in counts.index:
        sub = above[above.lang == lang]
        parts.append(f"<h4>{html.escape(lang_name(lang))}: {_documents(int(counts[lang]))} above the {html.escape(g)} "
                     f"gold</h4>" + _docs_rows(sub.head(limit)))
        if len(sub) > limit:
            parts.append(f"<p class='xl-more'>… and {len(sub) - limit} more {html.escape(lang_name(lang))} documents "
                         f"(scores {sub.score.iloc[limit:].max():.4f} to {sub.score.min():.4f}).</p>")
    parts.append(f"<h4>The {html.escape(g)} gold</h4>" + _docs_rows(docs.iloc[-1:]))
    return f"<div class='xl-docs'>{''.join(parts)}</div>"


def _documents(n: int) -> str:
    return f"{n} document" + ("" if n == 1 else "s")


def _docs_rows(table: pd.DataFrame) -> str:
    rows = []
    for r in table.itertuples():
        mark = "✔ gold" if r.gold else ""
        rows.append(f"<tr class='{'gold' if r.gold else ''}'><td>{r.position}</td><td>{r.lang}</td>"
                    f"<td>{html.escape(str(r.passage_of))}</td><td>{r.score:.4f}</td><td>{mark}</td><td>{r.copies}</td>"
                    f"<td class='text' dir='auto'>{html.escape(str(r.text))}</td></tr>")
    head = "<tr><th>rank</th><th>lang</th><th>passage of</th><th>score</th><th>gold</th><th>copies</th><th>text</th></tr>"
    return f"<table class='xl-docs'>{head}{''.join(rows)}</table>"


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
            f"<p>Parallel queries:</p><ul>{parallel}</ul><p>{md_bold(ranks)} in the {html.escape(scenario)} pool of "
            f"{int(row['pool_size'])}.</p>" + made_with_line(diag.made_with))


def md_bold(text: str) -> str:
    """``**bold**`` markdown as escaped HTML."""
    parts = text.split("**")
    return "".join(html.escape(p) if n % 2 == 0 else f"<b>{html.escape(p)}</b>" for n, p in enumerate(parts))


# ---------------------------------------------------------------------------------- languages
def inclination_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The per-language numbers with their intervals as "lo–hi" ("n/a" where there is none)."""
    shown = rows.drop(columns=[c for c in rows.columns if c.endswith("sentence")]).copy()
    for col in [c for c in shown.columns if c.endswith(" CI")]:
        shown[col] = [f"{c[0]:.0f}–{c[1]:.0f}" if isinstance(c, tuple) else "n/a" for c in shown[col]]
    return display(shown)


def inclination_text(rows: pd.DataFrame, made: MadeWith | None = None) -> str:
    """One sentence per pair (the target's queries, then the pivot's against that target), and the footer."""
    said = [f"- {s}" for col in [c for c in rows.columns if c.endswith("sentence")] for s in rows[col]]
    return "\n".join([*said, "", made_with_line(made, "each pair in its own pivot + target pool")])


# ---------------------------------------------------------------------------------- models
#: The verdict cell of a model that could not be evaluated (its reason is in the note under the table).
BOARD_FAILED = "not evaluated: see the note below the table"


def board_view(board: pd.DataFrame) -> pd.DataFrame:
    """The leaderboard as shown: the paper's columns only where the paper reports this setting, numbers to 2
    decimals, n/a for what does not apply. A model that could not be evaluated keeps one short row (its reason,
    however long, goes to :func:`board_note`, so that it never pushes the other rows' numbers off-screen)."""
    shown = board.drop(columns=[c for c in PAPER_COLUMNS if c in board and board[c].isna().all()])
    shown = shown.drop(columns=[c for c in ("model_fingerprint", "xlalign_version") if c in shown])
    if "error" in shown:
        failed = shown["error"] != ""
        shown = shown.drop(columns="error")
        if "verdict" not in shown:
            shown["verdict"] = ""
        shown.loc[failed, "verdict"] = BOARD_FAILED
    shown = shown.drop(columns=[c for c in ("pool", "precision") if c in shown])  # the same for every row: the note
    if "model" in shown:
        shown["model"] = [shown_model(str(m)) for m in shown["model"]]
    lead = [c for c in ("model", "pair", "query_lang", "verdict") if c in shown]
    return display(shown[lead + [c for c in shown.columns if c not in lead]])


def shown_model(name: str, n: int = 40) -> str:
    """A model as a table cell: a local folder by its last part (``…/not-a-model``), anything longer than ``n``
    characters clipped at its start; the note under the table names it in full."""
    if name.startswith("/") or name.startswith("~"):
        name = "…/" + Path(name).name
    return name if len(name) <= n else "…" + name[-(n - 1):]


def column_widths(view: pd.DataFrame, fixed: Mapping[str, float]) -> list[str | int]:
    """Column widths (percent) for a table that must fit the page: the ``fixed`` columns as given, every other column
    an equal share of the rest (long headers and cells wrap)."""
    rest = [c for c in view.columns if c not in fixed]
    each = (100 - sum(fixed[c] for c in view.columns if c in fixed)) / max(1, len(rest))
    return [f"{fixed.get(c, each):.2f}%" for c in view.columns]


def board_widths(view: pd.DataFrame) -> list[str | int]:
    """Column widths of :func:`board_view`: model and verdict wider, every number column equal, so that no model
    name or failure pushes the numbers off-screen."""
    return column_widths(view, {"model": 14.0, "verdict": 12.0, "pair": 5.0, "query_lang": 5.0})


def inclination_widths(view: pd.DataFrame) -> list[str | int]:
    """Column widths of :func:`inclination_table`: every column on screen."""
    return column_widths(view, {"target": 6.0, "verdict": 12.0, **{c: 11.0 for c in view.columns
                                                                      if c.endswith(": verdict")}})


def board_note(board: pd.DataFrame, data: str, pool: str, langs: tuple[str, ...]) -> str:
    """Why the paper's values are (not) beside ours, each failed model's reason, and how each model's rows were
    made."""
    ok = board[board.error == ""] if "error" in board else board
    made = [f"{m}: fingerprint {fp}, precision {pr}" for m, fp, pr in
            ok[["model", "model_fingerprint", "precision"]].drop_duplicates().itertuples(index=False)] \
        if "model_fingerprint" in ok else []
    failed = board[board.error != ""] if "error" in board else board.iloc[:0]
    lines = [comparability_note(data, pool, langs[0], list(dict.fromkeys(board.model)), list(langs[1:]))]
    lines += [f"**{m}** could not be evaluated: {e}" for m, e in
              failed[["model", "error"]].drop_duplicates().itertuples(index=False)]
    version = ok["xlalign_version"].iloc[0] if "xlalign_version" in ok and len(ok) else ""
    lines.append(f"<small>{' · '.join(made)} · {pool} pools · xlalign {version}</small>" if made else "")
    return "\n\n".join(x for x in lines if x)


def display(frame: pd.DataFrame, decimals: int = 2) -> pd.DataFrame:
    """A table as the page shows it: numbers rounded, and "n/a" (never a blank cell) where a value does not apply."""
    out = frame.round(decimals)
    for col in out.columns:
        if out[col].isna().any():
            out[col] = out[col].astype(object).where(out[col].notna(), "n/a")
    return out


# ---------------------------------------------------------------------------------- runs
def submitted_message(run_id: str, label: str) -> str:
    return (f"Submitted **{label}** (`{run_id}`); it runs in the background: fine-tunes one at a time in their own "
            "queue, centering, LSAR and Procrustes in theirs (never behind a fine-tune). The runs list says where it "
            "stands; its comparison opens in the Compare tab when it has finished.")


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
    return "\n\n".join([f"### {header.get('label') or header['describe']}", "**Finding**", finding, made, *warnings,
                        made_with_line(header.get("made_with"))])


def compare_headline(table: pd.DataFrame, pivot: str) -> pd.DataFrame:
    """The headline rows of a comparison, target-language queries first, rounded, with a significance mark; q in
    scientific notation below 0.01 (:func:`~xlalign.report.tables.q_text`: never a 0 that is not one)."""
    head = headline_compare(table, pivot)
    head = head[["scenario", "query_lang", "doc_lang", "metric", "before", "after", "delta", "ci_low", "ci_high",
                 "q_value"]].round({"before": 2, "after": 2, "delta": 2, "ci_low": 2, "ci_high": 2})
    head.insert(len(head.columns), "significant", ["✔ q<0.05" if q < 0.05 else "" for q in head["q_value"]])
    head["q_value"] = [q_text(q) for q in head["q_value"]]
    return head


def compare_full(table: pd.DataFrame) -> pd.DataFrame:
    """Every row of a comparison as shown: numbers to 4 decimals, p and q by :func:`q_text`, without the provenance
    columns (the page's footer says how it was made)."""
    shown = table.drop(columns=[c for c in STAMP_COLUMNS if c in table]).round(4)
    for col in ("p_value", "q_value"):
        if col in shown:
            shown[col] = [q_text(q) for q in table[col]]
    return shown


def side_by_side_widths(view: pd.DataFrame) -> list[str | int]:
    """Column widths of :func:`side_by_side_view` (percent): the keys narrow, the runs sharing the rest (each run's
    change with its CI the widest of its three), so that every run's columns are on screen."""
    keys = {"scenario": 8.0, "query_lang": 6.0, "doc_lang": 7.0, "metric": 13.0}
    fixed = sum(keys.get(c, 0.0) for c in view.columns)
    runs = [c for c in view.columns if c not in keys]
    weight = {c: 2.2 if c.endswith("(95% CI)") else 1.0 for c in runs}
    share = (100 - fixed) / max(1.0, sum(weight.values()))
    return [f"{keys[c] if c in keys else weight[c] * share:.2f}%" for c in view.columns]


def side_by_side_view(wide: pd.DataFrame, labels: Mapping[str, str] | None = None) -> tuple[pd.DataFrame, str]:
    """The side-by-side table as shown, and its legend.

    Each run is a short name (R1, R2, … in the order given); the legend names its full run id and label. Per run:
    its after value, its change with the 95% CI in one cell, and its q (:func:`q_text`). The provenance columns go
    to the legend's footer."""
    runs = [c for c in wide.columns if f"{c} delta" in wide.columns]
    short = {run: f"R{n}" for n, run in enumerate(runs, 1)}
    keys = [c for c in ("scenario", "query_lang", "doc_lang", "metric") if c in wide]
    view = wide[keys].copy()
    if "baseline" in wide:
        view["baseline"] = wide["baseline"].round(2)
    for run, name in short.items():
        if f"{run} baseline" in wide:
            view[f"{name} baseline"] = wide[f"{run} baseline"].round(2)
        view[f"{name} after"] = wide[run].round(2)
        view[f"{name} change (95% CI)"] = [f"{d:+.2f} ({lo:+.2f}…{hi:+.2f})" if d == d else "n/a" for d, lo, hi in
                                          zip(wide[f"{run} delta"], wide[f"{run} lo"], wide[f"{run} hi"], strict=True)]
        view[f"{name} q"] = [q_text(q) for q in wide[f"{run} q"]]
    legend = [f"**{name}** = `{run}`" + (f" · {labels[run]}" if labels and labels.get(run) else "")
              for run, name in short.items()]
    made = [f"{c}: {wide[c].iloc[0]}" for c in STAMP_COLUMNS[1:] if c in wide and len(wide)]
    footer = [f"<small>{' · '.join(made)}</small>"] if made else []
    return display(view), "\n\n".join([" · ".join(legend), *footer]) if legend else ""


__all__ = ["BOARD_FAILED", "CDF_DEFAULT", "CLICK_JS", "CSS", "DOCS_PER_LANG", "EMPTY_MATRIX", "EMPTY_PAIR",
           "EMPTY_PER_QUERY", "EMPTY_SUMMARY", "HEADERS", "MATRIX_CORNER", "MATRIX_DEFAULT", "PAIR_LABEL",
           "PER_QUERY_HEAD", "PER_QUERY_LABEL", "PER_QUERY_TAIL", "QUERY_CHARS", "RUNS_COLUMNS", "RUNS_COLUMN_WIDTHS",
           "STALE", "START", "board_note", "board_view", "board_widths", "cancel_message", "column_widths",
           "compare_full", "compare_headline", "compare_page", "data_name", "display", "docs_above_html",
           "drill_info_html", "empty_table", "finished_message", "inclination_table", "inclination_text",
           "inclination_widths", "made_with_line", "matrix_table", "matrix_widths", "md_bold", "pair_caption",
           "pair_choices", "pair_rows", "pair_view", "pair_widths", "per_query_caption", "per_query_view",
           "per_query_widths", "runs_view", "shown_model", "side_by_side_view", "side_by_side_widths",
           "submitted_message", "verdict_markdown"]
