"""The app's service layer: cached corpora and encoders, diagnoses, drill-downs, background runs.

Everything here is UI-agnostic (no Gradio); ``app.py`` only lays out widgets and formats.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from xlalign.align.finetune import Cancelled
from xlalign.align.pipeline import AlignConfig, run_alignment
from xlalign.compare import compare_run_dirs, side_by_side
from xlalign.corpus import ParallelCorpus
from xlalign.encoders import EmbeddingCache, SentenceTransformerEncoder, make_encoder
from xlalign.evaluate import CorpusEmbeddings, EvalConfig, EvalResult, encode_corpus, evaluate_embeddings
from xlalign.jobs import JobCancelled, JobContext, JobRunner
from xlalign.loaders import load_corpus
from xlalign.ranking import top_k
from xlalign.runs import RunStore, read_status

StatusFn = Callable[[str, float], None]


@dataclass
class Diagnosis:
    corpus: ParallelCorpus
    embeddings: CorpusEmbeddings
    result: EvalResult
    model: str


class Lab:
    """One per process: shares the embedding cache, loaded models and the job runner."""

    def __init__(self, runs_dir: str | Path | None = None, cache: EmbeddingCache | None = None) -> None:
        self.cache = cache or EmbeddingCache()
        self.store = RunStore(runs_dir)
        self.interrupted = self.store.recover()
        self.jobs = JobRunner()
        self._encoders: dict[tuple[str, bool], SentenceTransformerEncoder] = {}
        self._corpora: dict[tuple[str, tuple[str, ...]], ParallelCorpus] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ data and models
    def corpus(self, data: str, langs: Sequence[str]) -> ParallelCorpus:
        key = (data, tuple(langs))
        if key not in self._corpora:
            self._corpora[key] = load_corpus(data, list(langs))
        return self._corpora[key]

    def encoder(self, model: str, trust_remote_code: bool = False) -> SentenceTransformerEncoder:
        with self._lock:
            key = (model, trust_remote_code)
            if key not in self._encoders:
                self._encoders[key] = make_encoder(model, cache=self.cache, trust_remote_code=trust_remote_code)
            return self._encoders[key]

    # ------------------------------------------------------------------ diagnosis
    def diagnose(self, data: str, langs: tuple[str, str], model: str, pool: str = "dedup",
                 trust_remote_code: bool = False, status: StatusFn | None = None) -> Diagnosis:
        corpus = self.corpus(data, langs)
        enc = self.encoder(model, trust_remote_code)
        if status is not None:
            enc.progress = lambda done, total: status(f"encoding ({done}/{total} new texts)", done / max(total, 1))
            enc.status = lambda m: status(m, 0.0)
        try:
            emb = encode_corpus(corpus, enc, langs, status)
        finally:
            enc.progress = None
        result = evaluate_embeddings(corpus, emb, EvalConfig(langs, pool=pool), status)
        return Diagnosis(corpus, emb, result, model)

    def inclination_ranking(self, data: str, pivot: str, targets: Sequence[str], model: str, pool: str = "dedup",
                            status: StatusFn | None = None) -> pd.DataFrame:
        """English over-gold and intrusion@1 rates for target-language queries, one row per target."""
        rows = []
        for n, tgt in enumerate(targets):
            if status:
                status(f"{pivot}+{tgt}", n / max(len(targets), 1))
            corpus = self.corpus(data, (pivot, tgt))
            emb = encode_corpus(corpus, self.encoder(model), (pivot, tgt))
            res = evaluate_embeddings(corpus, emb, EvalConfig((pivot, tgt), scenarios=("multi",), pool=pool))
            label = "english" if pivot == "en" else pivot
            rows.append({"query_lang": tgt, "value": res.value("multi", tgt, f"{label}_over_gold"),
                         "intrusion@1": res.value("multi", tgt, f"{label}_intrusion@1"),
                         "complete@10": res.value("multi", tgt, "complete@10"),
                         "max_r": res.value("multi", tgt, "max_r")})
        return pd.DataFrame(rows)

    @staticmethod
    def drill_down(diag: Diagnosis, scenario: str, query_lang: str, query_id: str, k: int = 10) -> pd.DataFrame:
        """Top-k documents for one query in one scenario: rank, language, item, score, gold flag, text."""
        pool = next(p for p in diag.result.pools if p.scenario == scenario and p.query_lang == query_lang)
        qi = diag.corpus.item_ids.index(query_id)
        first_item = diag.corpus.passage_first_items()
        units = diag.embeddings.units(pool)
        removed = pool.removed_unit[qi : qi + 1] if scenario == "multi-1" else None
        count = pool.removed_count[qi : qi + 1] if scenario == "multi-1" else None
        scores, idx = top_k(diag.embeddings.queries[query_lang][qi : qi + 1], units, k, removed, pool.unit_weight, count)
        rows = []
        gold = set(pool.gold_units[qi].tolist())
        for rank, (s, u) in enumerate(zip(scores[0], idx[0], strict=True), 1):
            if u < 0:
                continue
            lang = str(pool.unit_lang[u])
            item = diag.corpus.item_ids[first_item[int(pool.unit_index[u])]]
            text = diag.corpus.passages[lang][first_item[int(pool.unit_index[u])]]
            rows.append({"position": rank, "lang": lang, "passage_of": item, "score": round(float(s), 4),
                         "gold": "✔" if u in gold else "", "copies": int(pool.unit_weight[u]),
                         "text": text[:220] + ("…" if len(text) > 220 else "")})
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ alignment runs
    def submit_alignment(self, config: AlignConfig) -> str:
        run_dir = self.store.new_run_dir(f"{config.method}-{config.langs[1]}")

        def job(ctx: JobContext) -> dict[str, Any]:
            def on_train(entry: dict[str, Any]) -> None:
                if entry.get("step") == 0:
                    ctx.progress(f"training: {entry['total']} steps on {entry.get('device')}", 0.3,
                                 cpu_estimate_s=entry.get("cpu_estimate_s"))
                    return
                total = entry.get("total") or 1
                parts = {k: entry[k] for k in ("loss", "jsd", "nce", "nce_psg") if k in entry}
                ctx.progress(f"training step {entry['step']}/{total}", 0.3 + 0.5 * entry["step"] / total,
                             eta_s=entry.get("eta_s"), **parts)

            try:
                out = run_alignment(config, ctx.run_dir, encoder=self.encoder(config.model, config.trust_remote_code),
                                    status=lambda m, f: ctx.progress(m, f), train_progress=on_train,
                                    should_stop=ctx.should_stop)
            except Cancelled as e:
                raise JobCancelled(str(e)) from None
            summary = {k: v for k, v in out.record.items() if isinstance(v, (int, float, str))}
            return {"summary": summary}

        return self.jobs.submit(run_dir, job, method=config.method, langs=list(config.langs), data=config.data,
                                model=config.model)

    def cancel(self, run_id: str) -> bool:
        return self.jobs.cancel(run_id)

    def runs_table(self) -> pd.DataFrame:
        rows = [{"run": r["run"], "state": r.get("state"), "method": r.get("method", ""),
                 "langs": "+".join(r.get("langs", [])), "data": r.get("data", ""), "progress": r.get("progress"),
                 "message": r.get("message", ""), "submitted": r.get("submitted", "")} for r in self.store.list()]
        return pd.DataFrame(rows, columns=["run", "state", "method", "langs", "data", "progress", "message", "submitted"])

    def run_dir(self, run_id: str) -> Path:
        path = self.store.root / run_id
        if not path.is_dir():
            raise FileNotFoundError(f"no run {run_id!r} in {self.store.root}")
        return path

    def run_compare(self, run_id: str) -> pd.DataFrame:
        path = self.run_dir(run_id) / "compare.csv"
        if not path.exists():
            state = read_status(self.run_dir(run_id)).get("state", "unknown")
            raise FileNotFoundError(f"run {run_id} has no results yet (state: {state})")
        return pd.read_csv(path)

    def side_by_side(self, run_ids: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
        stacked = compare_run_dirs([self.run_dir(r) for r in run_ids])
        return stacked, side_by_side(stacked).reset_index()
