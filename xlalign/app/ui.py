"""xlalign — the Gradio app: diagnose language bias, look at it, align, compare.

Layout and wiring only: callbacks call :mod:`xlalign` (through the service layer :mod:`xlalign.services.lab`)
and format; figures and tables live in their own modules; option defaults, choices and help come
from :mod:`xlalign.specs`. ``python app.py`` runs it (``PORT``/``GRADIO_SERVER_PORT`` choose the
port); on a Hugging Face Space the Dockerfile does the same with ``XLALIGN_PUBLIC=1``.
"""

from __future__ import annotations

import html
import math
import os
import shutil
import tempfile
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gradio as gr
import pandas as pd

from xlalign.align.base import AlignSpec, method_options, registered
from xlalign.core.verdict import compare_finding, lang_name
from xlalign.core.verdict import headline as verdict_headline
from xlalign.errors import XlalignError
from xlalign.models.registry import allowed_models
from xlalign.policy import max_upload_bytes, public_mode, redact_paths, uploaded_file
from xlalign.progress import Progress
from xlalign.report import figures
from xlalign.report.tables import HEADLINE, METRIC_LABELS, headline_compare, language_label, summary_pivot
from xlalign.services.lab import Diagnosis, Lab, parallel_rows
from xlalign.specs import DEFAULT_MODEL_ID, SCENARIOS, EvalSpec, ModelSpec, OptionInfo, option, options
from xlalign.store.runs import atomic_write_text, csv_text

DEFAULT_MODEL = os.environ.get("XLALIGN_DEFAULT_MODEL", DEFAULT_MODEL_ID)
DATASETS = ["demo", "xquad", "belebele"]
STALE = "_Settings changed since the last diagnosis: press **Diagnose** to see results for the new settings._"
CSS = """
.xl-docs td { vertical-align: top; padding: 4px 8px; border-bottom: 1px solid #e5e5e5; }
.xl-docs th { text-align: left; padding: 4px 8px; border-bottom: 2px solid #ccc; }
.xl-docs .text { white-space: pre-wrap; overflow-wrap: anywhere; max-width: 900px; }
.xl-docs tr.gold { background: #eaf7ea; }
.xl-query { white-space: pre-wrap; overflow-wrap: anywhere; }
"""

_LAB: Lab | None = None
_LAB_LOCK = threading.Lock()
_EXPORTS: Path | None = None


def lab() -> Lab:
    """Created on first use, so importing app.py loads nothing heavy."""
    global _LAB
    with _LAB_LOCK:
        if _LAB is None:
            _LAB = Lab(os.environ.get("XLALIGN_RUNS_DIR"))
        return _LAB


def export_dir() -> Path:
    """A fresh folder for one download, inside one process-wide temp area that keeps the newest 64."""
    global _EXPORTS
    with _LAB_LOCK:
        if _EXPORTS is None:
            _EXPORTS = Path(tempfile.mkdtemp(prefix="xlalign-exports-"))
        old = sorted(_EXPORTS.iterdir(), key=lambda p: p.stat().st_mtime)
        for p in old[:-63]:
            shutil.rmtree(p, ignore_errors=True)
        return Path(tempfile.mkdtemp(dir=_EXPORTS))


# ---------------------------------------------------------------------------------- helpers
def _empty(*columns: str) -> pd.DataFrame:
    """An empty table that still shows what its columns will hold (gradio shows "1 2 3" for None)."""
    return pd.DataFrame(columns=list(columns))


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


def _gr_progress(progress: Any) -> Progress:
    """The xlalign progress protocol shown by ``gr.Progress``."""
    from xlalign.progress import fraction

    def report(stage: str, done: float = 0, total: float | None = None, **metrics: Any) -> None:
        frac = fraction(done, total, metrics)
        step = f" ({int(done)}/{int(total)})" if total else ""
        progress(frac if frac is not None else 0.0, desc=f"{stage}{step}")

    return report


def _upload_path(upload: Any) -> str | None:
    return None if upload is None else str(getattr(upload, "name", upload))


def _data(dataset: str, upload: Any) -> str:
    """The data spec: a listed dataset, or an uploaded file (in public mode nothing else: no server paths)."""
    path = _upload_path(upload)
    if path is None:
        if public_mode() and dataset not in DATASETS:
            raise XlalignError(f"dataset must be one of {', '.join(DATASETS)} or an uploaded file")
        return dataset
    if public_mode() and not uploaded_file(path):
        raise XlalignError("that file is not an upload")
    if Path(path).stat().st_size > max_upload_bytes():
        raise XlalignError(f"the file is larger than {max_upload_bytes() // (1024 * 1024)} MB, this server's limit")
    return path


def _fail(e: Exception, *uploads: Any) -> gr.Error:
    """A one-line error for the page: the user's file names instead of server paths; no paths in public mode."""
    message = str(e) if isinstance(e, (XlalignError, FileNotFoundError, ValueError, KeyError)) else \
        f"{type(e).__name__}: {e}"
    for up in uploads:
        path = _upload_path(up)
        if path:
            message = message.replace(path, Path(path).name)
    return gr.Error(redact_paths(message) if public_mode() else message)


def _model(model: str, precision: str, remote: bool) -> ModelSpec:
    return ModelSpec(model=(model or "").strip() or DEFAULT_MODEL, precision=precision,
                     trust_remote_code=bool(remote) and not public_mode())


def _langs(pivot: str, targets: Any) -> tuple[str, ...]:
    chosen = [targets] if isinstance(targets, str) else list(targets or [])
    if not chosen:
        raise XlalignError("choose at least one target language")
    return (pivot, *[t for t in chosen if t != pivot])


def _control(spec: type, name: str, **kw: Any) -> gr.components.Component:
    """A Gradio control whose default, choices, label and help come from the spec's field."""
    o: OptionInfo = option(spec, name)
    common = dict(label=o.label, info=o.help, elem_id=f"opt-{spec.__name__}-{name}", min_width=200, **kw)
    if o.kind is bool:
        return gr.Checkbox(value=o.default, **common)
    if o.choices:
        return gr.Radio(list(o.choices), value=o.default, **common)
    if o.kind in (int, float) and o.optional:  # a Number shows 0 when empty; empty must mean "the default"
        return gr.Textbox(value="" if o.default is None else str(o.default), placeholder="empty = default", **common)
    if o.kind in (int, float):
        return gr.Number(value=o.default, precision=0 if o.kind is int else None, **common)
    return gr.Textbox(value=o.default, **common)


def _number(value: Any, kind: type, label: str = "value") -> Any:
    """Empty means the spec's default (None); numbers keep their type; anything else is a one-line error."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise XlalignError(f"{label}: {str(value)[:40]!r} is not a number") from None
    if kind is int and math.isfinite(number) and number.is_integer():
        return int(number)
    return number if kind is int else kind(number)  # NaN, ∞ or a fraction: the spec says why, as everywhere


def _write(folder: Path, name: str, text: str) -> str:
    atomic_write_text(folder / name, text)
    return str(folder / name)


# ---------------------------------------------------------------------------------- configuration
def on_data(dataset: str, upload: Any, pivot: str) -> tuple[Any, Any, str]:
    """The language lists come from the data actually loaded."""
    try:
        langs = list(lab().languages(_data(dataset, upload)))
    except Exception as e:
        raise _fail(e, upload) from None
    new_pivot = pivot if pivot in langs else ("en" if "en" in langs else langs[0])
    targets = [x for x in langs if x != new_pivot]
    default = ["zh"] if "zh" in targets else targets[:1]
    note = f"{len(langs)} languages in this data: {', '.join(langs)}."
    return (gr.Dropdown(choices=[(language_label(x), x) for x in langs], value=new_pivot),
            gr.Dropdown(choices=[(language_label(x), x) for x in targets], value=default, multiselect=True), note)


def on_pivot(dataset: str, upload: Any, pivot: str, targets: Any) -> Any:
    try:
        langs = list(lab().languages(_data(dataset, upload)))
    except Exception as e:
        raise _fail(e, upload) from None
    keep = [t for t in (targets or []) if t != pivot and t in langs]
    rest = [x for x in langs if x != pivot]
    return gr.Dropdown(choices=[(language_label(x), x) for x in rest], value=keep or rest[:1], multiselect=True)


def run_diagnosis(dataset: str, upload: Any, pivot: str, targets: Any, model: str, precision: str, pool: str,
                  remote: bool, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
    try:
        spec = EvalSpec(data=_data(dataset, upload), langs=_langs(pivot, targets), pool=pool)
        diag = lab().diagnose(_model(model, precision, remote), spec, _gr_progress(progress))
    except Exception as e:
        raise _fail(e, upload) from None
    res, summary = diag.result, diag.result.summary_frame()
    folder = export_dir()
    files = [_write(folder, "summary.csv", csv_text(summary)), _write(folder, "matrix.csv", csv_text(res.matrix_frame())),
             _write(folder, "per_query.csv", csv_text(res.per_query))]
    langs = list(spec.langs)
    return (diag, verdict_markdown(diag), summary_pivot(summary).reset_index(),
            summary_pivot(summary, headline_only=False).reset_index(),
            figures.multi_overview(summary, spec.pivot), figures.rank_cdf(res.per_query, "multi"),
            figures.bias_matrix(res.matrix_frame(), "best_gold_share"), matrix_table(diag, "best_gold_share"),
            per_query_view(diag), files,
            gr.Dropdown(choices=langs, value=langs[1]), gr.Dropdown(choices=["(all)", *langs], value="(all)"),
            gr.Dropdown(choices=query_choices(diag, langs[1], ""), value=diag.corpus.item_ids[0]),
            gr.Slider(minimum=4, maximum=len(diag.corpus.passage_first_items()), value=min(
                60, len(diag.corpus.passage_first_items())), step=1))


def verdict_markdown(diag: Diagnosis) -> str:
    spec = diag.spec
    lines = [f"### {verdict_headline(diag.verdicts, spec.pivot)}", ""]
    for v in diag.verdicts:
        lead, _, rest = v.sentence.partition(" — ")
        lines.append(f"- **{lead}** — {rest}")
    sizes = ", ".join(f"{p.scenario} {p.pool_size}" for p in diag.result.pools if p.query_lang == spec.pivot
                      and p.scenario != "mono-cross")
    lines += ["", f"<small>{len(diag.corpus)} queries per language · {diag.model.model} · {spec.pool} pools "
              f"({sizes} documents) · data: {Path(spec.data).name if Path(spec.data).exists() else spec.data}</small>"]
    return "\n".join(lines)


def matrix_table(diag: Diagnosis, metric: str) -> pd.DataFrame:
    from xlalign.report.tables import matrix_pivot

    table = matrix_pivot(diag.result.matrix_frame(), metric).round(1)
    table.insert(0, "query ↓ / documents →", table.index)
    return table.reset_index(drop=True)


def per_query_view(diag: Diagnosis) -> pd.DataFrame:
    pq = diag.result.per_query
    pq = pq[pq.scenario == "multi"]
    cols = ["query_lang", "query_id", "query", *[f"rank_{x}" for x in diag.spec.langs], "top1_lang", "top1_id",
            "top1_is_gold"]
    return pq[cols].reset_index(drop=True)


def query_choices(diag: Diagnosis, lang: str, text: str) -> list[tuple[str, str]]:
    return [(f"{qid}: {q[:90]}", qid) for qid, q in Lab.find_queries(diag, text, lang, limit=200)]


def clear_results() -> tuple[Any, ...]:
    """What every result panel shows after the data, languages, model or pool changed: nothing stale."""
    empty = figures.empty("settings changed: run again")
    return (None, STALE, _empty(*EMPTY_SUMMARY), _empty(*EMPTY_SUMMARY), empty, empty, empty, _empty(*EMPTY_MATRIX),
            _empty(*EMPTY_PER_QUERY), None, "", "", empty, empty, empty, _empty(*HEADERS["rank"]), "",
            _empty(*HEADERS["board"]), empty)


# ---------------------------------------------------------------------------------- drill-down
def on_drill(diag: Diagnosis | None, scenario: str, query_lang: str, doc_lang: str, query_id: str, k: int
             ) -> tuple[str, str]:
    if diag is None:
        raise gr.Error("Run a diagnosis first.")
    try:
        dl = None if doc_lang in (None, "", "(all)") else doc_lang
        if scenario == "mono-cross" and dl in (None, query_lang):
            dl = next(x for x in diag.spec.langs if x != query_lang)
        table = Lab.drill_down(diag, scenario, query_lang, query_id, int(k), dl)
    except (ValueError, StopIteration) as e:
        raise gr.Error(str(e)) from None
    i = diag.corpus.item_ids.index(query_id)
    pq = diag.result.per_query
    sel = pq[(pq.scenario == scenario) & (pq.query_lang == query_lang) & (pq.query_id == query_id)]
    if dl is not None and scenario == "mono-cross":
        sel = sel[sel.doc_lang == dl]
    row = sel.iloc[0]
    ranks = ", ".join(f"{lang_name(c.removeprefix('rank_'))} gold at rank **{int(row[c])}**" for c in row.index
                      if c.startswith("rank_") and pd.notna(row[c]))
    parallel = "".join(f"<li><b>{x}</b>: <span dir='auto' class='xl-query'>{html.escape(diag.corpus.questions[x][i])}"
                       f"</span></li>" for x in diag.spec.langs if x != query_lang)
    info = (f"<p><b>Query ({query_lang}, {html.escape(query_id)})</b>: <span dir='auto' class='xl-query'>"
            f"{html.escape(diag.corpus.questions[query_lang][i])}</span></p>"
            f"<p>Parallel queries:</p><ul>{parallel}</ul><p>{_md_bold(ranks)} in a pool of {int(row['pool_size'])}.</p>")
    return info, docs_html(table)


def _md_bold(text: str) -> str:
    parts = text.split("**")
    return "".join(html.escape(p) if n % 2 == 0 else f"<b>{html.escape(p)}</b>" for n, p in enumerate(parts))


def docs_html(table: pd.DataFrame) -> str:
    """The top documents as an HTML table: full, wrapped text, ``dir="auto"`` for right-to-left scripts."""
    rows = []
    for r in table.itertuples():
        rows.append(f"<tr class='{'gold' if r.gold else ''}'><td>{r.position}</td><td>{r.lang}</td>"
                    f"<td>{html.escape(str(r.passage_of))}</td><td>{r.score:.4f}</td><td>{r.gold}</td>"
                    f"<td>{r.copies}</td><td class='text' dir='auto'>{html.escape(r.text)}</td></tr>")
    head = "<tr><th>#</th><th>lang</th><th>passage of</th><th>score</th><th>gold</th><th>copies</th><th>text</th></tr>"
    return f"<table class='xl-docs'>{head}{''.join(rows)}</table>"


def on_search(diag: Diagnosis | None, lang: str, text: str) -> Any:
    if diag is None:
        return gr.Dropdown(choices=[], value=None)
    choices = query_choices(diag, lang, text or "")
    return gr.Dropdown(choices=choices, value=choices[0][1] if choices else None)


def on_matrix_select(diag: Diagnosis | None, evt: gr.SelectData) -> tuple[Any, ...]:
    """A click on a matrix cell opens the drill-down for that (query language, document language) pair."""
    if diag is None:
        raise gr.Error("Run a diagnosis first.")
    row, col = evt.index if isinstance(evt.index, (list, tuple)) else (evt.index, 1)
    langs = list(diag.spec.langs)
    qlang, dlang = langs[int(row)], langs[max(0, int(col) - 1)]
    scenario = "mono-same" if qlang == dlang else "multi"
    info, docs = on_drill(diag, scenario, qlang, dlang, diag.corpus.item_ids[0], 10)
    return (gr.Tabs(selected="drill"), *_drill_controls(diag, scenario, qlang, dlang, diag.corpus.item_ids[0]),
            info, docs)


def _drill_controls(diag: Diagnosis, scenario: str, qlang: str, dlang: str, query_id: str) -> tuple[Any, ...]:
    langs = list(diag.spec.langs)
    return (gr.Dropdown(choices=list(SCENARIOS), value=scenario), gr.Dropdown(choices=langs, value=qlang),
            gr.Dropdown(choices=["(all)", *langs], value=dlang),
            gr.Dropdown(choices=query_choices(diag, qlang, ""), value=query_id))


def on_row_select(diag: Diagnosis | None, evt: gr.SelectData) -> tuple[Any, ...]:
    """A click on a per-query row opens its drill-down (Multi)."""
    if diag is None:
        raise gr.Error("Run a diagnosis first.")
    row = int(evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index)
    r = per_query_view(diag).iloc[row]
    info, docs = on_drill(diag, "multi", r.query_lang, "(all)", r.query_id, 10)
    return (gr.Tabs(selected="drill"), *_drill_controls(diag, "multi", r.query_lang, "(all)", r.query_id), info, docs)


# ---------------------------------------------------------------------------------- plots
def on_umap(diag: Diagnosis | None, n: int, with_queries: bool, run_id: str | None) -> tuple[Any, Any]:
    if diag is None:
        raise gr.Error("Run a diagnosis first.")
    rows = parallel_rows(diag, int(n))
    first = diag.corpus.passage_first_items()
    labels = [f"{diag.corpus.groups[first[u]]}: {diag.corpus.passages[diag.spec.pivot][first[u]][:80]}" for u in rows]
    items = first[rows]

    def draw(emb: Any, title: str) -> Any:
        points = {x: emb.passages[x][rows] for x in diag.spec.langs}
        queries = {x: emb.queries[x][items] for x in diag.spec.langs} if with_queries else None
        return figures.umap_pairs(points, labels, title=title, queries=queries)

    try:
        before = draw(diag.embeddings, f"{diag.model.model} (UMAP, cosine)")
        if not run_id:
            return before, figures.empty("pick a finished run to see its aligned space beside this one")
        after_emb, label = lab().run_embeddings(run_id, diag.model, diag.corpus, diag.embeddings, diag.spec.langs)
        return before, draw(after_emb, f"after {label}")
    except (ValueError, XlalignError, FileNotFoundError) as e:
        raise _fail(e) from None


def on_inclination(dataset: str, upload: Any, pivot: str, model: str, precision: str, pool: str, remote: bool,
                   progress: gr.Progress = gr.Progress()) -> tuple[Any, Any, str]:
    try:
        data = _data(dataset, upload)
        targets = [x for x in lab().languages(data) if x != pivot]
        if dataset in ("xquad", "belebele") and upload is None:
            targets = targets[:6]
        rows = lab().inclination(_model(model, precision, remote), data, pivot, targets, pool, _gr_progress(progress))
    except Exception as e:
        raise _fail(e, upload) from None
    shown = rows.drop(columns=["sentence"]).copy()
    for col in ("inclination CI", "clustering CI"):
        shown[col] = [f"{c[0]:.0f}–{c[1]:.0f}" if isinstance(c, tuple) else "n/a" for c in shown[col]]
    text = "\n".join(f"- {s}" for s in rows["sentence"])
    return figures.inclination_view(rows, pivot), shown.round(2), text


def on_leaderboard(dataset: str, upload: Any, pivot: str, targets: Any, pool: str, precision: str, models: Any,
                   extra: str, progress: gr.Progress = gr.Progress()) -> tuple[Any, Any, Any]:
    chosen = list(models or []) + [m.strip() for m in (extra or "").split(",") if m.strip()]
    if not chosen:
        raise gr.Error("Pick one or more models.")
    try:
        board = lab().leaderboard(chosen, _data(dataset, upload), _langs(pivot, targets), pool, precision,
                                  _gr_progress(progress))
    except Exception as e:
        raise _fail(e, upload) from None
    folder = export_dir()
    return board.round(2), figures.leaderboard_chart(board), _write(folder, "leaderboard.csv", csv_text(board))


# ---------------------------------------------------------------------------------- alignment runs
def on_submit(method: str, dataset: str, upload: Any, pivot: str, targets: Any, model: str, precision: str, pool: str,
              remote: bool, train_data: str, train_upload: Any, test_fraction: float, *method_values: Any
              ) -> tuple[str, pd.DataFrame]:
    if train_data == "upload" and not train_upload:
        raise gr.Error("Upload a triplet file (q_en, p_en, p_tgt) or choose another training source.")
    try:
        nested = _nested_options(method_values)
        source = _data("upload", train_upload) if train_data == "upload" else train_data
        align = AlignSpec(method=method, train_data=source, test_fraction=float(test_fraction), **nested)
        spec = EvalSpec(data=_data(dataset, upload), langs=_langs(pivot, targets), pool=pool)
        run_id = lab().submit_alignment(_model(model, precision, remote), spec, align)
    except Exception as e:
        raise _fail(e, upload, train_upload) from None
    return (f"Submitted **{run_id}** — {align.describe()}; it runs in the background, one at a time. Its "
            "comparison opens in the Compare tab when it has finished."), lab().runs_table()


METHOD_FIELDS: list[tuple[str, str]] = [(group, o.name) for group, cls in method_options().items()
                                         for o in options(cls) if o.ui]


def _nested_options(values: tuple[Any, ...]) -> dict[str, Any]:
    """The per-method option objects from the app's controls (empty numbers mean the spec's default)."""
    classes = method_options()
    grouped: dict[str, dict[str, Any]] = {g: {} for g in classes}
    for (group, name), value in zip(METHOD_FIELDS, values, strict=True):
        o = option(classes[group], name)
        if o.kind in (int, float):
            value = _number(value, o.kind, o.label)
            if value is None and not o.optional:
                value = o.default
        grouped[group][name] = value
    return {g: classes[g](**kw) for g, kw in grouped.items()}


def on_refresh() -> tuple[pd.DataFrame, Any, Any, Any, Any, Any]:
    table = lab().runs_table()
    done = table[table.state == "succeeded"]["run"].tolist()
    models = list(dict.fromkeys([DEFAULT_MODEL, *allowed_models()])) + [f"run:{r}" for r in done]
    return (table, gr.Dropdown(choices=table["run"].tolist()), gr.Dropdown(choices=done),
            gr.Dropdown(choices=["", *done]), gr.Dropdown(choices=done), gr.Dropdown(choices=models))


def on_cancel(run_id: str) -> tuple[str, pd.DataFrame]:
    if not run_id:
        raise gr.Error("Pick a run to cancel.")
    try:
        ok = lab().cancel(run_id)
    except Exception as e:
        raise _fail(e) from None
    return (f"Cancel requested for **{run_id}**." if ok else f"{run_id} is not queued or running."), lab().runs_table()


def on_show_run(run_id: str, metric: str) -> tuple[Any, ...]:
    if not run_id:
        raise gr.Error("Pick a finished run.")
    try:
        table = lab().run_compare(run_id)
        run = lab().run(run_id)
        header = lab().run_header(run_id)
    except Exception as e:
        raise _fail(e) from None
    pivot = header["pivot"]
    folder = export_dir()
    files = [_write(folder, "compare.csv", csv_text(table))]
    for side in ("before", "after"):
        text = run.per_query_text(side)
        if text is not None:
            files.append(_write(folder, f"{side}_per_query.csv", text))
    head = headline_compare(table, pivot)
    head = head[["scenario", "query_lang", "doc_lang", "metric", "before", "after", "delta", "ci_low", "ci_high",
                 "q_value"]].round({"before": 2, "after": 2, "delta": 2, "ci_low": 2, "ci_high": 2, "q_value": 4})
    head.insert(len(head.columns), "significant", ["✔ q<0.05" if q < 0.05 else "" for q in head["q_value"]])
    choices = [m for m in dict.fromkeys(table.metric) if any(m in v for v in HEADLINE.values())]
    metric = metric if metric in choices else "complete@10"
    title, _, details = header["markdown"].partition("\n\n")
    page = f"{title}\n\n**Finding**\n\n{compare_finding(table, pivot)}\n\n{details}"
    return (page, head, table.round(4), figures.compare_change(table, metric), files,
            gr.Dropdown(choices=[(METRIC_LABELS.get(m, m), m) for m in choices], value=metric))


def on_compare_metric(run_id: str, metric: str) -> Any:
    if not run_id:
        return figures.empty("pick a run")
    try:
        return figures.compare_change(lab().run_compare(run_id), metric)
    except Exception as e:
        raise _fail(e) from None


def on_export(run_id: str) -> str:
    if not run_id:
        raise gr.Error("Pick a finished run.")
    try:
        return str(lab().export_zip(run_id, export_dir()))
    except Exception as e:
        raise _fail(e) from None


def on_side_by_side(run_ids: list[str]) -> tuple[pd.DataFrame, list[str]]:
    if not run_ids:
        raise gr.Error("Pick one or more finished runs.")
    try:
        stacked, wide = lab().side_by_side(run_ids)
    except Exception as e:
        raise _fail(e) from None
    for note in wide.attrs.get("notes", []):
        gr.Warning(note)
    folder = export_dir()
    return wide, [_write(folder, "compare_runs.csv", csv_text(stacked)),
                  _write(folder, "side_by_side.csv", csv_text(wide))]


# ---------------------------------------------------------------------------------- layout
def _config_row(ui: SimpleNamespace) -> None:
    with gr.Row():
        ui.dataset = gr.Dropdown(DATASETS, value="demo", label="Dataset", info="xquad/belebele load from the Hub",
                                 elem_id="dataset")
        ui.upload = gr.File(label="…or your data: JSONL/CSV (id, lang, passage, question[, group])",
                            file_types=[".jsonl", ".csv"], elem_id="upload")
        demo_langs = list(lab().languages("demo"))
        ui.pivot = gr.Dropdown([(language_label(x), x) for x in demo_langs], value="en", label="Pivot language",
                               elem_id="pivot")
        ui.targets = gr.Dropdown([(language_label(x), x) for x in demo_langs if x != "en"], value=["zh"],
                                 multiselect=True, label="Target language(s)", info="several = one k-language pool",
                                 elem_id="targets")
    with gr.Row():
        models = list(dict.fromkeys([DEFAULT_MODEL, *allowed_models()]))
        ui.model = gr.Dropdown(models, value=DEFAULT_MODEL, allow_custom_value=not public_mode(),
                               label=option(ModelSpec, "model").label, info=option(ModelSpec, "model").help,
                               elem_id="model")
        ui.precision = _control(ModelSpec, "precision")
        ui.pool = _control(EvalSpec, "pool")
        ui.remote = _control(ModelSpec, "trust_remote_code", visible=not public_mode())
    ui.data_note = gr.Markdown("", elem_id="data-note")


def _diagnose_tab(ui: SimpleNamespace) -> None:
    with gr.Tab("Diagnose", id="diagnose"):
        ui.run_btn = gr.Button("Diagnose", variant="primary", elem_id="diagnose-btn")
        ui.verdict = gr.Markdown("_Choose data, languages and a model, then press **Diagnose**._", elem_id="verdict")
        ui.summary = gr.Dataframe(_empty(*EMPTY_SUMMARY),
                                  label="Headline metrics (rows: scenario × metric; columns: query language)",
                                  elem_id="summary-table", interactive=False)
        with gr.Accordion("All metrics", open=False):
            ui.summary_full = gr.Dataframe(_empty(*EMPTY_SUMMARY), interactive=False, elem_id="summary-full")
        with gr.Row():
            ui.overview = gr.Plot(label="Multi pool")
            ui.cdf = gr.Plot(label="Gold-rank distribution")
        ui.cdf_scenario = gr.Radio(list(SCENARIOS), value="multi", label="Rank distribution for scenario")
        with gr.Row():
            ui.matrix_plot = gr.Plot(label="Language-bias matrix")
            with gr.Column():
                ui.matrix_metric = gr.Radio(list(figures.METRIC_MATRIX_TITLES), value="best_gold_share",
                                            label="Matrix metric")
                ui.matrix_table = gr.Dataframe(_empty(*EMPTY_MATRIX), label="Click a cell to drill down into that language pair",
                                               interactive=False, elem_id="matrix-table")
        ui.per_query = gr.Dataframe(_empty(*EMPTY_PER_QUERY), interactive=False,
                                    label="Per-query ranks (Multi) — click a row for its drill-down",
                                    max_height=320, elem_id="per-query", show_search="search")
        ui.exports = gr.File(label="Export (CSV)", file_count="multiple")


def _drill_tab(ui: SimpleNamespace) -> None:
    with gr.Tab("Drill-down", id="drill"):
        with gr.Row():
            ui.dd_scenario = gr.Dropdown(list(SCENARIOS), value="multi", label="Scenario")
            ui.dd_lang = gr.Dropdown([], label="Query language", elem_id="dd-lang")
            ui.dd_doc = gr.Dropdown(["(all)"], value="(all)", label="Document language (mono-cross)")
            ui.dd_k = gr.Slider(1, 50, value=10, step=1, label="top k")
        with gr.Row():
            ui.dd_search = gr.Textbox(label="Search queries (text or id)", elem_id="dd-search")
            ui.dd_query = gr.Dropdown([], label="Query", elem_id="dd-query")
        ui.dd_btn = gr.Button("Show top documents")
        ui.dd_info = gr.HTML(elem_id="dd-info")
        ui.dd_docs = gr.HTML(elem_id="dd-docs")


def _map_tab(ui: SimpleNamespace) -> None:
    with gr.Tab("Embedding map", id="map"):
        with gr.Row():
            ui.umap_n = gr.Slider(4, 168, value=60, step=1, label="passages to plot (bounded by the data)")
            ui.umap_queries = gr.Checkbox(True, label="also plot the questions")
            ui.umap_run = gr.Dropdown([""], value="", label="…and beside it, after a finished run")
        ui.umap_btn = gr.Button("Draw UMAP")
        with gr.Row():
            ui.umap_before = gr.Plot(elem_id="umap-before")
            ui.umap_after = gr.Plot(elem_id="umap-after")


def _languages_tab(ui: SimpleNamespace) -> None:
    with gr.Tab("Languages", id="languages"):
        gr.Markdown("Every language of the data against the pivot (pivot + target pool, Multi): both biases with "
                    "their 95% intervals, worst first. The pivot is encoded once for all targets.")
        ui.rank_btn = gr.Button("Rank languages", elem_id="rank-btn")
        ui.rank_plot = gr.Plot()
        ui.rank_table = gr.Dataframe(_empty(*HEADERS["rank"]), interactive=False)
        ui.rank_text = gr.Markdown()


def _models_tab(ui: SimpleNamespace) -> None:
    with gr.Tab("Models", id="models"):
        gr.Markdown("Several models on the same data and languages (cached per model). For XQuAD with per-question "
                    "pools, the paper's printed Multi values (Hong et al. 2026, Tables 1 and 4) sit beside ours.")
        with gr.Row():
            ui.lb_models = gr.Dropdown(list(dict.fromkeys([DEFAULT_MODEL, *allowed_models()])), value=[DEFAULT_MODEL],
                                       multiselect=True, label="Models (and finished runs)", elem_id="lb-models")
            ui.lb_extra = gr.Textbox(label="More model ids or local paths (comma-separated)",
                                     visible=not public_mode())
        ui.lb_btn = gr.Button("Compare models", elem_id="lb-btn")
        ui.lb_table = gr.Dataframe(_empty(*HEADERS["board"]), interactive=False, elem_id="leaderboard")
        ui.lb_plot = gr.Plot()
        ui.lb_file = gr.File(label="Export (CSV)")


def _align_tab(ui: SimpleNamespace) -> None:
    with gr.Tab("Align", id="align"):
        with gr.Row():
            ui.method = _control(AlignSpec, "method")
            ui.train_data = gr.Radio(["split", "demo", "upload"], value=option(AlignSpec, "train_data").default,
                                     label="Training data", info="split = group-disjoint part of the dataset")
            ui.train_upload = gr.File(label="Triplets JSONL/CSV (q_en, p_en, p_tgt)", file_types=[".jsonl", ".csv"])
            ui.test_fraction = gr.Slider(0.1, 0.9, value=option(AlignSpec, "test_fraction").default, step=0.05,
                                         label=option(AlignSpec, "test_fraction").label)
        ui.method_controls = []
        default = option(AlignSpec, "method").default
        for group, method in registered().items():
            with gr.Accordion(f"{group}: {method.summary}", open=group == default), gr.Row():
                ui.method_controls += [_control(method.Options, o.name) for o in options(method.Options) if o.ui]
        ui.submit_btn = gr.Button("Start alignment run", variant="primary", elem_id="submit-btn")
        ui.submit_msg = gr.Markdown()
        ui.runs = gr.Dataframe(_empty(*HEADERS["runs"]), label="Runs", elem_id="runs-table", interactive=False)
        with gr.Row():
            ui.run_pick = gr.Dropdown([], label="Run")
            ui.cancel_btn = gr.Button("Cancel run")
        ui.timer = gr.Timer(3.0)


def _compare_tab(ui: SimpleNamespace) -> None:
    with gr.Tab("Compare", id="compare"):
        with gr.Row():
            ui.cmp_pick = gr.Dropdown([], label="Finished run", elem_id="cmp-pick")
            ui.cmp_btn = gr.Button("Show before / after", elem_id="cmp-btn")
            ui.export_btn = gr.Button("Export the aligned model (zip)")
        ui.cmp_header = gr.Markdown(elem_id="cmp-header")
        ui.cmp_table = gr.Dataframe(_empty(*HEADERS["cmp"]),
                                    label="Headline: target-language queries first; change with 95% CI and "
                                          "Benjamini–Hochberg q", interactive=False, elem_id="cmp-table")
        with gr.Accordion("Full table", open=False):
            ui.cmp_full = gr.Dataframe(_empty(*HEADERS["cmp_full"]), interactive=False)
        ui.cmp_metric = gr.Dropdown([], label="Metric to plot")
        ui.cmp_plot = gr.Plot()
        ui.cmp_files = gr.File(label="Downloads", file_count="multiple")
        ui.export_file = gr.File(label="Export")
        ui.sbs_pick = gr.Dropdown([], multiselect=True, label="Finished runs side by side")
        ui.sbs_btn = gr.Button("Compare runs")
        ui.sbs_table = gr.Dataframe(_empty(*HEADERS["sbs"]), label="Baseline, each run's after, its change with 95% CI, and q",
                                    interactive=False)
        ui.sbs_files = gr.File(label="Export (CSV)", file_count="multiple")


def _wire(demo: gr.Blocks, ui: SimpleNamespace) -> None:
    config = [ui.dataset, ui.upload, ui.pivot, ui.targets, ui.model, ui.precision, ui.pool, ui.remote]
    results = [ui.diag, ui.verdict, ui.summary, ui.summary_full, ui.overview, ui.cdf, ui.matrix_plot, ui.matrix_table,
               ui.per_query, ui.exports, ui.dd_info, ui.dd_docs, ui.umap_before, ui.umap_after, ui.rank_plot,
               ui.rank_table, ui.rank_text, ui.lb_table, ui.lb_plot]
    ui.dataset.change(on_data, [ui.dataset, ui.upload, ui.pivot], [ui.pivot, ui.targets, ui.data_note])
    ui.upload.change(on_data, [ui.dataset, ui.upload, ui.pivot], [ui.pivot, ui.targets, ui.data_note])
    ui.pivot.input(on_pivot, [ui.dataset, ui.upload, ui.pivot, ui.targets], ui.targets)
    for c in config:
        c.change(clear_results, None, results)
    ui.run_btn.click(run_diagnosis, config, [ui.diag, ui.verdict, ui.summary, ui.summary_full, ui.overview, ui.cdf,
                                             ui.matrix_plot, ui.matrix_table, ui.per_query, ui.exports, ui.dd_lang,
                                             ui.dd_doc, ui.dd_query, ui.umap_n])
    ui.cdf_scenario.change(lambda d, s: figures.rank_cdf(d.result.per_query, s) if d else figures.empty("press Diagnose"),
                           [ui.diag, ui.cdf_scenario], ui.cdf)
    ui.matrix_metric.change(lambda d, m: (figures.bias_matrix(d.result.matrix_frame(), m), matrix_table(d, m)) if d
                            else (figures.empty("press Diagnose"), None), [ui.diag, ui.matrix_metric],
                            [ui.matrix_plot, ui.matrix_table])
    drill_out = [ui.tabs, ui.dd_scenario, ui.dd_lang, ui.dd_doc, ui.dd_query, ui.dd_info, ui.dd_docs]
    ui.matrix_table.select(on_matrix_select, ui.diag, drill_out)
    ui.per_query.select(on_row_select, ui.diag, drill_out)
    ui.dd_search.change(on_search, [ui.diag, ui.dd_lang, ui.dd_search], ui.dd_query)
    ui.dd_lang.input(on_search, [ui.diag, ui.dd_lang, ui.dd_search], ui.dd_query)
    ui.dd_btn.click(on_drill, [ui.diag, ui.dd_scenario, ui.dd_lang, ui.dd_doc, ui.dd_query, ui.dd_k],
                    [ui.dd_info, ui.dd_docs])
    ui.umap_btn.click(on_umap, [ui.diag, ui.umap_n, ui.umap_queries, ui.umap_run], [ui.umap_before, ui.umap_after])
    ui.rank_btn.click(on_inclination, [ui.dataset, ui.upload, ui.pivot, ui.model, ui.precision, ui.pool, ui.remote],
                      [ui.rank_plot, ui.rank_table, ui.rank_text])
    ui.lb_btn.click(on_leaderboard, [ui.dataset, ui.upload, ui.pivot, ui.targets, ui.pool, ui.precision, ui.lb_models,
                                     ui.lb_extra], [ui.lb_table, ui.lb_plot, ui.lb_file])
    ui.submit_btn.click(on_submit, [ui.method, *config, ui.train_data, ui.train_upload, ui.test_fraction,
                                    *ui.method_controls], [ui.submit_msg, ui.runs])
    refresh_out = [ui.runs, ui.run_pick, ui.sbs_pick, ui.umap_run, ui.cmp_pick, ui.lb_models]
    ui.timer.tick(on_refresh, None, refresh_out)
    demo.load(on_refresh, None, refresh_out)
    ui.cancel_btn.click(on_cancel, ui.run_pick, [ui.submit_msg, ui.runs])
    ui.cmp_btn.click(on_show_run, [ui.cmp_pick, ui.cmp_metric], [ui.cmp_header, ui.cmp_table, ui.cmp_full, ui.cmp_plot,
                                                                  ui.cmp_files, ui.cmp_metric])
    ui.cmp_metric.input(on_compare_metric, [ui.cmp_pick, ui.cmp_metric], ui.cmp_plot)
    ui.export_btn.click(on_export, ui.cmp_pick, ui.export_file)
    ui.sbs_btn.click(on_side_by_side, ui.sbs_pick, [ui.sbs_table, ui.sbs_files])


def build_app() -> gr.Blocks:
    """The app: a configuration row over seven tabs; nothing heavy runs until a button is pressed."""
    ui = SimpleNamespace()
    with gr.Blocks(title="xlalign — cross-lingual alignment lab", delete_cache=(3600, 3600)) as demo:
        ui.diag = gr.State(None, time_to_live=6 * 3600)
        gr.Markdown("# xlalign — cross-lingual alignment lab\nDoes a query in your language find the right document "
                    "when documents in other languages share the pool? Scenarios and metrics from Hong et al. "
                    "(ICLR 2026), k-language pools, and fixes you can export.")
        _config_row(ui)
        with gr.Tabs() as ui.tabs:
            _diagnose_tab(ui)
            _drill_tab(ui)
            _map_tab(ui)
            _languages_tab(ui)
            _models_tab(ui)
            _align_tab(ui)
            _compare_tab(ui)
        _wire(demo, ui)
    if os.environ.get("XLALIGN_NO_WARMUP", "") != "1":
        threading.Thread(target=figures.warm_up, name="xlalign-umap-warmup", daemon=True).start()
    return demo


def launch_options() -> dict[str, Any]:
    """``launch()`` keyword arguments: port, CSS and, in public mode, the upload limit."""
    return {"server_name": os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
            "server_port": int(os.environ.get("PORT", os.environ.get("GRADIO_SERVER_PORT", 7860))),
            "max_file_size": max_upload_bytes() if public_mode() else None, "css": CSS}


def main() -> None:
    app = build_app()
    lab().exit_on_sigterm()  # a stopped server records its runs as interrupted, not "running" for ever
    app.launch(**launch_options())


if __name__ == "__main__":
    main()
