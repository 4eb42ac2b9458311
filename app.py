"""xlalign — Gradio app: diagnose English inclination, look at it, align, compare.

Layout and wiring only: every callback calls :mod:`xlalign` and formats. ``python app.py`` runs it;
on a Hugging Face Space the Dockerfile does the same.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from xlalign import figures
from xlalign.align.pipeline import AlignConfig
from xlalign.encoders import REGISTRY
from xlalign.errors import XlalignError
from xlalign.lab import Diagnosis, Lab
from xlalign.loaders import BELEBELE_CODES, DEMO_DIR, XQUAD_LANGS
from xlalign.scenarios import SCENARIOS
from xlalign.tables import summary_pivot

DEFAULT_MODEL = os.environ.get("XLALIGN_DEFAULT_MODEL", "bundled:multilingual-e5-small")
DATASETS = ["demo", "xquad", "belebele"]
DEMO_LANGS = sorted(p.name.split(".")[1] for p in DEMO_DIR.glob("demo.*.jsonl"))

_LAB: Lab | None = None


def lab() -> Lab:
    """Created on first use, so importing app.py loads nothing heavy."""
    global _LAB
    if _LAB is None:
        _LAB = Lab(os.environ.get("XLALIGN_RUNS_DIR"))
    return _LAB


def _data_spec(dataset: str, upload: Any) -> str:
    if upload is not None:
        return str(getattr(upload, "name", upload))
    return dataset


def _target_choices(dataset: str) -> list[str]:
    if dataset == "xquad":
        return [x for x in XQUAD_LANGS if x != "en"]
    if dataset == "belebele":
        return [x for x in BELEBELE_CODES if x != "en"]
    return [x for x in DEMO_LANGS if x != "en"]


def _fail(e: Exception) -> gr.Error:
    return gr.Error(str(e) if isinstance(e, (XlalignError, FileNotFoundError, ValueError)) else f"{type(e).__name__}: {e}")


# ---------------------------------------------------------------------------------- callbacks
def on_dataset(dataset: str) -> Any:
    choices = _target_choices(dataset)
    return gr.update(choices=choices, value="zh" if "zh" in choices else choices[0])


def run_diagnosis(dataset: str, upload: Any, target: str, model: str, pool: str, remote: bool,
                  progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
    try:
        diag = lab().diagnose(_data_spec(dataset, upload), ("en", target), model.strip() or DEFAULT_MODEL, pool,
                              trust_remote_code=remote, status=lambda m, f: progress(f, desc=m))
    except Exception as e:
        raise _fail(e) from None
    res = diag.result
    summary = res.summary_frame()
    table = summary_pivot(summary).reset_index()
    per_query = res.per_query
    out_dir = Path(tempfile.mkdtemp(prefix="xlalign-export-"))
    summary.to_csv(out_dir / "summary.csv", index=False)
    per_query.to_csv(out_dir / "per_query.csv", index=False)
    ids = list(diag.corpus.item_ids)
    headline = (f"**{len(diag.corpus)} queries** per language · pool sizes: "
                + ", ".join(f"{p.scenario} = {p.pool_size}" for p in res.pools if p.query_lang == "en")
                + f" · model `{diag.model}`")
    return (diag, headline, table, figures.multi_overview(summary), figures.rank_distribution(per_query, "multi"),
            _per_query_view(per_query), [str(out_dir / "summary.csv"), str(out_dir / "per_query.csv")],
            gr.update(choices=ids, value=ids[0]))


def _per_query_view(per_query: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in ["scenario", "query_lang", "query_id", "query", "rank_en"] if c in per_query]
    cols += [c for c in per_query.columns if c.startswith("rank_") and c not in cols]
    cols += ["top1_lang", "top1_id", "top1_is_gold"]
    return per_query[per_query.scenario == "multi"][cols].head(500)


def on_rank_scenario(diag: Diagnosis | None, scenario: str) -> Any:
    if diag is None:
        raise gr.Error("Run a diagnosis first.")
    return figures.rank_distribution(diag.result.per_query, scenario)


def on_drill(diag: Diagnosis | None, scenario: str, query_lang: str, query_id: str, k: int) -> tuple[str, pd.DataFrame]:
    if diag is None:
        raise gr.Error("Run a diagnosis first.")
    if query_lang not in diag.result.config.langs:
        raise gr.Error(f"query language must be one of {diag.result.config.langs}")
    try:
        table = lab().drill_down(diag, scenario, query_lang, query_id, int(k))
    except (StopIteration, ValueError) as e:
        raise gr.Error(f"no such query or scenario: {e}") from None
    i = diag.corpus.item_ids.index(query_id)
    row = diag.result.per_query.query(
        "scenario == @scenario and query_lang == @query_lang and query_id == @query_id").iloc[0]
    ranks = ", ".join(f"{c.removeprefix('rank_')} gold at rank {int(row[c])}" for c in row.index
                      if c.startswith("rank_") and pd.notna(row[c]))
    return f"**Query ({query_lang})**: {diag.corpus.questions[query_lang][i]}\n\n{ranks}", table


def on_umap(diag: Diagnosis | None, n: int) -> Any:
    if diag is None:
        raise gr.Error("Run a diagnosis first.")
    pivot, target = diag.result.config.langs
    first = diag.corpus.passage_first_items()
    m = min(int(n), len(first))
    labels = [f"{diag.corpus.groups[first[u]]}: {diag.corpus.passages[pivot][first[u]][:80]}" for u in range(m)]
    try:
        return figures.umap_pairs(diag.embeddings.passages[pivot][:m], diag.embeddings.passages[target][:m],
                                  (pivot, target), labels)
    except ValueError as e:
        raise gr.Error(str(e)) from None


def on_ranking(dataset: str, upload: Any, model: str, pool: str, progress: gr.Progress = gr.Progress()) -> tuple[Any, Any]:
    data = _data_spec(dataset, upload)
    targets = _target_choices(dataset) if upload is None else []
    if upload is not None:
        targets = [x for x in lab().corpus(data, ()).langs if x != "en"]
    try:
        rows = lab().inclination_ranking(data, "en", targets, model.strip() or DEFAULT_MODEL, pool,
                                         status=lambda m, f: progress(f, desc=m))
    except Exception as e:
        raise _fail(e) from None
    return figures.inclination_ranking(rows), rows.round(2)


def on_submit(method: str, dataset: str, upload: Any, target: str, model: str, pool: str, train_data: str,
              train_upload: Any, test_fraction: float, centering_mode: str, proc_center: bool, fit_on: str,
              variant: str, epochs: float, batch: int, lr: float, max_len: int, max_steps: int, freeze: bool,
              ) -> tuple[str, pd.DataFrame]:
    source = str(getattr(train_upload, "name", train_upload)) if train_data == "upload" and train_upload else train_data
    if train_data == "upload" and not train_upload:
        raise gr.Error("Upload a triplet file (q_en, p_en, p_tgt) or choose another training source.")
    try:
        cfg = AlignConfig(
            method=method, data=_data_spec(dataset, upload), langs=("en", target), model=model.strip() or DEFAULT_MODEL,
            pool=pool, train_data=source, test_fraction=float(test_fraction), centering_mode=centering_mode,
            procrustes_center=proc_center, procrustes_fit_on=fit_on,
            finetune={"variant": variant, "epochs": float(epochs), "batch_size": int(batch),
                      "learning_rate": float(lr) if lr else None, "max_seq_length": int(max_len),
                      "max_steps": int(max_steps) if max_steps else -1, "freeze_word_embeddings": freeze},
        )
        run_id = lab().submit_alignment(cfg)
    except Exception as e:
        raise _fail(e) from None
    return f"Submitted **{run_id}**; it runs in the background (one at a time).", lab().runs_table()


def on_refresh() -> tuple[pd.DataFrame, Any, Any]:
    table = lab().runs_table()
    done = table[table.state == "succeeded"]["run"].tolist()
    return table, gr.update(choices=table["run"].tolist()), gr.update(choices=done)


def on_cancel(run_id: str) -> tuple[str, pd.DataFrame]:
    if not run_id:
        raise gr.Error("Pick a run to cancel.")
    ok = lab().cancel(run_id)
    return (f"Cancel requested for **{run_id}**." if ok else f"{run_id} is not queued or running."), lab().runs_table()


def on_show_run(run_id: str) -> tuple[pd.DataFrame, Any, list[str]]:
    try:
        table = lab().run_compare(run_id)
    except FileNotFoundError as e:
        raise gr.Error(str(e)) from None
    d = lab().run_dir(run_id)
    files = [str(p) for p in (d / "compare.csv", d / "before" / "per_query.csv", d / "after" / "per_query.csv") if p.exists()]
    return table.round(4), figures.compare_bars(table), files


def on_side_by_side(run_ids: list[str]) -> tuple[pd.DataFrame, list[str]]:
    if not run_ids:
        raise gr.Error("Pick one or more finished runs.")
    try:
        stacked, wide = lab().side_by_side(run_ids)
    except FileNotFoundError as e:
        raise gr.Error(str(e)) from None
    out = Path(tempfile.mkdtemp(prefix="xlalign-compare-"))
    stacked.to_csv(out / "compare.csv", index=False)
    wide.to_csv(out / "side_by_side.csv", index=False)
    return wide, [str(out / "compare.csv"), str(out / "side_by_side.csv")]


# ---------------------------------------------------------------------------------- layout
def build_app() -> gr.Blocks:
    with gr.Blocks(title="xlalign — cross-lingual alignment lab") as demo:
        diag_state = gr.State(None)
        gr.Markdown("# xlalign — cross-lingual alignment lab\n"
                    "Does a query in your language find the right document when English documents share the pool? "
                    "Scenarios and metrics from Hong et al. (ICLR 2026).")
        with gr.Row():
            dataset = gr.Dropdown(DATASETS, value="demo", label="Dataset (xquad/belebele load from the Hub)")
            upload = gr.File(label="…or upload JSONL/CSV (id, lang, passage, question[, group])",
                             file_types=[".jsonl", ".csv"])
            target = gr.Dropdown(_target_choices("demo"), value="zh", label="Target language (pivot: en)")
            model = gr.Dropdown(list(dict.fromkeys([DEFAULT_MODEL, *REGISTRY])), value=DEFAULT_MODEL, allow_custom_value=True,
                                label="Model (hub id or local path)")
            pool = gr.Radio(["dedup", "per-question"], value="dedup", label="Pool")
            remote = gr.Checkbox(False, label="trust remote code")
        dataset.change(on_dataset, dataset, target)

        with gr.Tab("Diagnose"):
            run_btn = gr.Button("Diagnose", variant="primary", elem_id="diagnose-btn")
            headline = gr.Markdown()
            summary_table = gr.Dataframe(label="Summary (rows: scenario × metric; columns: query language)",
                                         elem_id="summary-table")
            with gr.Row():
                overview_plot = gr.Plot(label="Multi scenario")
                rank_plot = gr.Plot(label="Rank distribution")
            rank_scenario = gr.Radio(list(SCENARIOS), value="multi", label="Rank distribution for scenario")
            exports = gr.File(label="Export (CSV)", file_count="multiple")
            per_query_table = gr.Dataframe(label="Per-query ranks (Multi; first 500 rows)", max_height=320)
        with gr.Tab("Drill-down"):
            with gr.Row():
                dd_scenario = gr.Dropdown(list(SCENARIOS), value="multi", label="Scenario")
                dd_lang = gr.Dropdown(["en", "zh"], value="zh", label="Query language", allow_custom_value=True)
                dd_query = gr.Dropdown([], label="Query id", allow_custom_value=True)
                dd_k = gr.Slider(1, 50, value=10, step=1, label="top k")
            dd_btn = gr.Button("Show top documents")
            dd_info = gr.Markdown()
            dd_table = gr.Dataframe(label="Top documents (✔ = gold)", wrap=True)
        with gr.Tab("Embedding map"):
            umap_n = gr.Slider(10, 500, value=120, step=10, label="passages to plot")
            umap_btn = gr.Button("Draw UMAP")
            umap_plot = gr.Plot()
        with gr.Tab("English-inclination ranking"):
            gr.Markdown("Every target language of the dataset against English, Multi scenario, target-language queries.")
            rank_btn = gr.Button("Rank languages")
            ranking_plot = gr.Plot()
            ranking_table = gr.Dataframe()
        with gr.Tab("Align"):
            with gr.Row():
                method = gr.Radio(["centering", "procrustes", "finetune"], value="centering", label="Method")
                train_data = gr.Radio(["split", "demo", "upload"], value="split",
                                      label="Training data (split = group-disjoint half of the dataset)")
                train_upload = gr.File(label="Triplets JSONL/CSV (q_en, p_en, p_tgt)", file_types=[".jsonl", ".csv"])
                test_fraction = gr.Slider(0.1, 0.9, value=0.5, step=0.05, label="Held-out fraction")
            with gr.Accordion("Centering / Procrustes", open=False):
                centering_mode = gr.Radio(["shift", "subtract"], value="shift", label="Centering mode")
                proc_center = gr.Checkbox(False, label="Procrustes: center first")
                fit_on = gr.Radio(["passages", "questions", "both"], value="both", label="Procrustes pairs")
            with gr.Accordion("Fine-tune (JSD + InfoNCE; defaults from Hong et al., Appendix C)", open=False):
                variant = gr.Radio(["jsd+nce", "nce", "jsd", "nce_psg"], value="jsd+nce", label="Loss")
                with gr.Row():
                    epochs = gr.Number(1.0, label="epochs")
                    batch = gr.Number(32, label="batch size", precision=0)
                    lr = gr.Number(None, label="learning rate (empty: model default)")
                    max_len = gr.Number(256, label="max sequence length", precision=0)
                    max_steps = gr.Number(None, label="max steps (empty: full epochs)", precision=0)
                    freeze = gr.Checkbox(False, label="freeze word embeddings (faster on CPU)")
            submit_btn = gr.Button("Start alignment run", variant="primary")
            submit_msg = gr.Markdown()
            runs_table = gr.Dataframe(label="Runs", elem_id="runs-table")
            with gr.Row():
                run_pick = gr.Dropdown([], label="Run", allow_custom_value=True)
                cancel_btn = gr.Button("Cancel run")
                show_btn = gr.Button("Show before/after")
            timer = gr.Timer(3.0)
        with gr.Tab("Compare"):
            compare_table = gr.Dataframe(label="Before / after with delta, bootstrap 95% CI and permutation p-value")
            compare_plot = gr.Plot()
            compare_files = gr.File(label="Export (CSV)", file_count="multiple")
            sbs_pick = gr.Dropdown([], multiselect=True, label="Finished runs side by side")
            sbs_btn = gr.Button("Compare runs")
            sbs_table = gr.Dataframe(label="Baseline and each run's 'after'")
            sbs_files = gr.File(label="Export (CSV)", file_count="multiple")

        run_btn.click(run_diagnosis, [dataset, upload, target, model, pool, remote],
                      [diag_state, headline, summary_table, overview_plot, rank_plot, per_query_table, exports, dd_query])
        rank_scenario.change(on_rank_scenario, [diag_state, rank_scenario], rank_plot)
        target.change(lambda t: gr.update(choices=["en", t], value=t), target, dd_lang)
        dd_btn.click(on_drill, [diag_state, dd_scenario, dd_lang, dd_query, dd_k], [dd_info, dd_table])
        umap_btn.click(on_umap, [diag_state, umap_n], umap_plot)
        rank_btn.click(on_ranking, [dataset, upload, model, pool], [ranking_plot, ranking_table])
        submit_btn.click(on_submit, [method, dataset, upload, target, model, pool, train_data, train_upload,
                                     test_fraction, centering_mode, proc_center, fit_on, variant, epochs, batch, lr,
                                     max_len, max_steps, freeze], [submit_msg, runs_table])
        timer.tick(on_refresh, None, [runs_table, run_pick, sbs_pick])
        demo.load(on_refresh, None, [runs_table, run_pick, sbs_pick])
        cancel_btn.click(on_cancel, run_pick, [submit_msg, runs_table])
        show_btn.click(on_show_run, run_pick, [compare_table, compare_plot, compare_files])
        sbs_btn.click(on_side_by_side, sbs_pick, [sbs_table, sbs_files])
    return demo


if __name__ == "__main__":
    build_app().launch(server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                       server_port=int(os.environ.get("PORT", os.environ.get("GRADIO_SERVER_PORT", 7860))))
