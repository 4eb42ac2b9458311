"""The app's service layer: shared corpora and models, diagnoses, drill-downs, comparisons, background runs.

Everything here is UI-agnostic (no Gradio, no markdown or HTML): :mod:`xlalign.app` lays out widgets
and formats. One :class:`Lab` per process serves every session: loaded models and corpora live in
bounded LRU caches guarded by locks, encoders are stateless per call, and every long call takes its own progress callback.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd

from xlalign.align.base import AlignSpec, ApplyInputs, Cancelled
from xlalign.core.corpus import ParallelCorpus
from xlalign.core.evaluate import CorpusEmbeddings, EvalResult, encode_corpus, evaluate_embeddings
from xlalign.core.loaders import load_corpus
from xlalign.core.ranking import rank_golds
from xlalign.core.scenarios import Pool
from xlalign.core.verdict import Verdict, verdicts
from xlalign.errors import XlalignError
from xlalign.models.cache import EmbeddingCache
from xlalign.models.encoders import SentenceTransformerEncoder
from xlalign.progress import Progress, silent, span
from xlalign.report.provenance import MadeWith, made_with
from xlalign.report.provenance import from_dict as provenance_from_dict
from xlalign.report.verdict_text import sentence
from xlalign.services.pipeline import check_alignment, run_alignment, run_summary
from xlalign.specs import EvalSpec, ModelSpec
from xlalign.store.jobs import JobCancelled, JobContext, JobRunner
from xlalign.store.runs import Comparison, Run, RunConfig, RunStore, clean_leftovers, compare_runs

log = logging.getLogger(__name__)
K = TypeVar("K", bound=Hashable)
#: Fewest distinct passages a diagnosis accepts (the app's views rank and draw them; UMAP needs neighbours).
MIN_PASSAGES = 5
V = TypeVar("V")


class LRU(Generic[K, V]):
    """A small thread-safe LRU cache; ``get(key, make)`` builds a missing value once, under the lock."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be ≥ 1")
        self.capacity = capacity
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.RLock()

    def get(self, key: K, make: Callable[[], V]) -> V:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            value = make()
            self._items[key] = value
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class Diagnosis:
    """One diagnosed configuration: what was asked, the embeddings and the results."""

    model: ModelSpec
    spec: EvalSpec
    corpus: ParallelCorpus
    embeddings: CorpusEmbeddings
    result: EvalResult
    verdicts: list[Verdict] = field(default_factory=list)
    made_with: MadeWith | None = None

    @property
    def key(self) -> tuple[Any, ...]:
        return (self.model, self.spec)


class Lab:
    """One per process: shares the embedding cache, loaded models, corpora and the job runner."""

    def __init__(self, runs_dir: str | Path | None = None, cache: EmbeddingCache | None = None, *,
                 max_models: int = 2, max_corpora: int = 6) -> None:
        self.cache = cache or EmbeddingCache()
        self.store = RunStore(runs_dir)
        self.store.recover()  # runs a dead process left queued or running are marked interrupted (and work folders)
        self.jobs = JobRunner()
        self._encoders: LRU[ModelSpec, SentenceTransformerEncoder] = LRU(max_models)
        self._corpora: LRU[tuple[str, tuple[str, ...]], ParallelCorpus] = LRU(max_corpora)

    def stop(self, message: str = "interrupted: the server was stopped") -> list[str]:
        """Record this process's queued and running runs as interrupted and remove their scratch files (call it
        when the process is about to exit); the run ids."""
        stopped = self.jobs.interrupt_all(message)
        for run_id in stopped:
            clean_leftovers(self.store.root / run_id)
        return stopped

    def exit_on_sigterm(self) -> None:
        """On SIGTERM (a Space or container being stopped): :meth:`stop`, then exit with status 143 at once (a
        training thread would otherwise keep the process alive)."""
        import signal

        def handler(signum: int, frame: Any) -> None:
            self.stop("interrupted: the server was stopped (SIGTERM)")
            os._exit(143)

        signal.signal(signal.SIGTERM, handler)

    # ------------------------------------------------------------------ data and models
    def corpus(self, data: str, langs: Sequence[str] | None = None) -> ParallelCorpus:
        key = (data, tuple(langs or ()))
        return self._corpora.get(key, lambda: load_corpus(data, list(langs) if langs else None))

    def evaluated_corpus(self, data: str, langs: Sequence[str]) -> ParallelCorpus:
        """The corpus a view evaluates: refused before any encoding when it is too small to rank and draw."""
        corpus = self.corpus(data, langs)
        corpus.require_passages(MIN_PASSAGES)
        return corpus

    def languages(self, data: str) -> tuple[str, ...]:
        """The languages the data actually holds (hub datasets: the loader's known list)."""
        from xlalign.core.loaders import BELEBELE_CODES, XQUAD_LANGS

        if data == "xquad":
            return XQUAD_LANGS
        if data == "belebele":
            return tuple(BELEBELE_CODES)
        return self.corpus(data).langs

    def encoder(self, model: ModelSpec) -> SentenceTransformerEncoder:
        return self._encoders.get(model, lambda: SentenceTransformerEncoder(model, cache=self.cache))

    def made_with(self, model: ModelSpec, pool: str) -> MadeWith:
        """How results of ``model`` in ``pool`` pools are made here: fingerprint, resolved precision, version."""
        return made_with(self.encoder(model), model, pool)

    # ------------------------------------------------------------------ diagnosis
    def diagnose(self, model: ModelSpec, evaluation: EvalSpec, progress: Progress | None = None) -> Diagnosis:
        """Every scenario for every language of ``evaluation`` in one pool, with the verdicts."""
        corpus = self.evaluated_corpus(evaluation.data, evaluation.langs)
        emb = encode_corpus(corpus, self.encoder(model), evaluation.langs, span(progress, 0.0, 0.9))
        result = evaluate_embeddings(corpus, emb, evaluation, span(progress, 0.9, 1.0))
        found = verdicts(result.summary_frame(), result.matrix_frame(), evaluation.pivot, evaluation.langs)
        return Diagnosis(model, evaluation, corpus, emb, result, found, self.made_with(model, evaluation.pool))

    def inclination(self, model: ModelSpec, data: str, pivot: str, targets: Sequence[str], pool: str = "dedup",
                    progress: Progress | None = None) -> pd.DataFrame:
        """Per target language (pivot + target pool, Multi): the pair's verdict both ways (the target's
        queries, and the pivot's against the target gold), Complete@10 and Max@R of the pair pool, worst first.

        Every text is encoded once (the pivot once for all targets); progress moves per language.
        """
        langs = (pivot, *targets)
        corpus = self.evaluated_corpus(data, langs)
        emb = encode_corpus(corpus, self.encoder(model), langs, span(progress, 0.0, 0.9))
        report = progress or silent
        rows = []
        for n, tgt in enumerate(targets):
            report(f"ranking {pivot}+{tgt}", n, len(targets), overall=0.9 + 0.1 * n / len(targets))
            spec = EvalSpec(data=data, langs=(pivot, tgt), pool=pool, scenarios=("multi",))
            res = evaluate_embeddings(corpus.select_langs(spec.langs), emb.select(spec.langs), spec)
            found = verdicts(res.summary_frame(), res.matrix_frame(), pivot, spec.langs)
            v, back = found[0], found[1]
            rows.append({"target": tgt, "verdict": v.kind, "borderline": v.borderline, "inclination %": v.inclination,
                         "inclination CI": v.inclination_ci, "clustering %": v.clustering,
                         "clustering CI": v.clustering_ci, f"{pivot} queries: verdict": back.kind,
                         f"{pivot} queries: clustering %": back.clustering,
                         "complete@10 %": res.value("multi", tgt, "complete@10"),
                         "max_r": res.value("multi", tgt, "max_r"), "docs per language": v.docs_per_lang,
                         "n_queries": v.n_queries, "sentence": sentence(v), f"{pivot} sentence": sentence(back)})
        report("done", 1, 1, overall=1.0)
        table = pd.DataFrame(rows)
        return table.assign(_s=table[["inclination %", "clustering %"]].max(axis=1)).sort_values(
            "_s", ascending=False).drop(columns="_s").reset_index(drop=True)

    @staticmethod
    def gold_langs(diag: Diagnosis, scenario: str, query_lang: str) -> tuple[str, ...]:
        """The languages whose gold a ``query_lang`` query has in ``scenario`` (Mono-Cross: each other language)."""
        langs = diag.spec.langs
        others = tuple(x for x in langs if x != query_lang)
        return {"multi": (query_lang, *others), "multi-1": others, "mono-same": (query_lang,),
                "mono-cross": others}.get(scenario, ())

    @staticmethod
    def _pair_pool(diag: Diagnosis, scenario: str, query_lang: str, gold_lang: str) -> Pool:
        """The pool in which ``query_lang`` queries have a ``gold_lang`` gold (a ValueError naming the pair if none)."""
        for pool in diag.result.pools:
            if pool.scenario == scenario and pool.query_lang == query_lang and gold_lang in pool.gold_langs \
                    and (scenario != "mono-cross" or pool.doc_langs == (gold_lang,)):
                return pool
        raise ValueError(f"{scenario}: {query_lang} queries have no {gold_lang} gold in this diagnosis")

    @staticmethod
    def pair_queries(diag: Diagnosis, scenario: str, query_lang: str, gold_lang: str) -> pd.DataFrame:
        """The ``query_lang`` queries by where their ``gold_lang`` gold ranks in ``scenario``'s pool, worst first.

        Columns: ``query_id``, ``query``, ``gold_rank`` (of the ``gold_lang`` gold), ``own_rank`` (of the
        query-language gold, <NA> where the pool has none or it is the same gold), ``pool_size``, and per pool
        language x ``above_<x>``: the irrelevant x documents above the ``gold_lang`` gold (the exact ranker's
        counts, the ones the verdict counts); the golds above it make up the rest of ``gold_rank - 1``.
        """
        pool = Lab._pair_pool(diag, scenario, query_lang, gold_lang)
        res = rank_golds(diag.embeddings.queries[query_lang], diag.embeddings.units(pool), pool.unit_weight,
                         pool.gold_units, pool.removed_unit, pool.unit_lang_code, removed_count=pool.removed_count)
        j = pool.gold_langs.index(gold_lang)
        table = pd.DataFrame({"query_id": list(diag.corpus.item_ids), "query": list(diag.corpus.questions[query_lang]),
                              "gold_rank": res.ranks[:, j], "pool_size": pool.pool_sizes})
        own = pool.gold_langs.index(query_lang) if query_lang in pool.gold_langs and gold_lang != query_lang else None
        table.insert(3, "own_rank", pd.array(res.ranks[:, own] if own is not None else [pd.NA] * len(table),
                                             dtype="Int64"))
        for c, lang in enumerate(pool.doc_langs):
            table[f"above_{lang}"] = res.above[:, j, c]
        return table.sort_values(["gold_rank", "query_id"], ascending=[False, True], kind="stable").reset_index(drop=True)

    @staticmethod
    def docs_above(diag: Diagnosis, scenario: str, query_lang: str, gold_lang: str, query_id: str) -> pd.DataFrame:
        """Every document ranked above the ``gold_lang`` gold of one query (the gold itself last), best first.

        Columns: ``position`` (1 + documents scoring strictly higher, copies counted), ``lang``, ``passage_of``,
        ``score``, ``gold`` (bool), ``copies``, ``text``. Ties follow the ranking's policy: a gold beats a tied
        irrelevant document, and tied golds keep their gold order; removed copies (Multi-1) are not counted.
        """
        pool = Lab._pair_pool(diag, scenario, query_lang, gold_lang)
        if query_id not in diag.corpus.item_ids:
            raise ValueError(f"no query {query_id!r} in this diagnosis")
        qi = diag.corpus.item_ids.index(query_id)
        scores = diag.embeddings.units(pool) @ diag.embeddings.queries[query_lang][qi]
        weight = pool.unit_weight.copy()
        if pool.removed_unit[qi] >= 0:
            weight[pool.removed_unit[qi]] -= pool.removed_count[qi]
        golds = pool.gold_units[qi]
        j = pool.gold_langs.index(gold_lang)
        target = scores[golds[j]]
        is_gold = np.zeros(len(scores), dtype=bool)
        is_gold[golds] = True
        above = (scores > target) & (weight > 0)
        tied = [g for h, g in enumerate(golds[:j]) if scores[g] == target and g != golds[j]]
        above[tied] = True
        above[golds[j]] = False
        units = [*np.flatnonzero(above)[np.argsort(-scores[above], kind="stable")], int(golds[j])]
        first_item = diag.corpus.passage_first_items()
        rows = []
        for u in units:
            lang, item = str(pool.unit_lang[u]), int(first_item[int(pool.unit_index[u])])
            higher = int(weight[(scores > scores[u]) & (weight > 0)].sum())
            rows.append({"position": 1 + higher, "lang": lang, "passage_of": diag.corpus.item_ids[item],
                         "score": float(scores[u]), "gold": bool(is_gold[u]), "copies": int(weight[u]),
                         "text": diag.corpus.passages[lang][item]})
        rows[-1]["position"] = 1 + int(weight[above & ~np.isin(np.arange(len(scores)), tied)].sum()) + len(tied)
        return pd.DataFrame(rows, columns=["position", "lang", "passage_of", "score", "gold", "copies", "text"])

    # ------------------------------------------------------------------ alignment runs
    def submit_alignment(self, model: ModelSpec, evaluation: EvalSpec, align: AlignSpec) -> str:
        check_alignment(evaluation, align)  # refuse now what would fail after the baseline (a bad upload, a rank)
        run_dir = self.store.new_run_dir(f"{align.method}-{'-'.join(evaluation.targets)}")

        def job(ctx: JobContext) -> dict[str, Any]:
            try:
                out = run_alignment(model, evaluation, align, ctx.run, encoder=self.encoder(model),
                                    progress=ctx.progress, should_stop=ctx.should_stop)
            except Cancelled as e:
                raise JobCancelled(str(e)) from None
            for w in out.record.get("warnings", []):
                ctx.warn(w)
            return {"summary": {k: v for k, v in out.record.items() if isinstance(v, (int, float, str))}}

        return self.jobs.submit(run_dir, job, **run_summary(model, evaluation, align),
                                config=Run.config_dict(model, evaluation, align))

    def cancel(self, run_id: str) -> bool:
        self.store.path(run_id)  # refuses names outside the store
        return self.jobs.cancel(run_id)

    def runs_table(self) -> pd.DataFrame:
        rows = []
        for r in self.store.list():
            prog = r.get("progress")
            rows.append({"run": r["run"], "state": r.get("state"), "method": r.get("describe") or r.get("method", ""),
                         "langs": "+".join(r.get("langs", [])), "data": _short(r.get("data", "")),
                         "model": _short(r.get("model", "")),
                         "progress": f"{100 * prog:.0f}%" if isinstance(prog, (int, float)) else "",
                         "message": r.get("message", ""), "warnings": " · ".join(r.get("warnings", [])),
                         "submitted": r.get("submitted", "")})
        return pd.DataFrame(rows, columns=["run", "state", "method", "langs", "data", "model", "progress", "message",
                                           "warnings", "submitted"])

    def run_dir(self, run_id: str) -> Path:
        return self.store.path(run_id)

    def run(self, run_id: str) -> Run:
        return self.store.run(run_id)

    def run_compare(self, run_id: str) -> pd.DataFrame:
        run = self.run(run_id)
        if not run.is_finished():
            raise FileNotFoundError(f"run {run_id} has no results yet (state: {run.state() or 'unknown'})")
        return run.compare()

    def compare(self, run_ids: Sequence[str]) -> Comparison:
        """Finished runs side by side, each with its own baseline, with what a reader must know in words."""
        return compare_runs([self.run_dir(r) for r in run_ids])

    def side_by_side(self, run_ids: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(stacked, wide) tables of :meth:`compare`; the wide table's ``attrs["notes"]`` holds its notes."""
        found = self.compare(run_ids)
        wide = found.wide().reset_index()
        wide.attrs["notes"] = list(found.notes)
        return found.stacked, wide

    def run_config(self, run_id: str) -> RunConfig:
        return self.run(run_id).config()

    def run_header(self, run_id: str) -> dict[str, Any]:
        """The facts a run's page is titled with: method and key options, model, data, languages, pool,
        training data, held-out queries, state and warnings (plain values; the app formats them)."""
        run = self.run(run_id)
        model, evaluation, align = run.config()
        status, record = run.status(), run.record()
        data = Path(evaluation.data).name if Path(evaluation.data).exists() else evaluation.data
        return {"run": run_id, "describe": align.describe(), "method": align.method, "model": model.model,
                "data": data, "langs": list(evaluation.langs), "pivot": evaluation.pivot, "pool": evaluation.pool,
                "train_data": align.train_data, "n_eval_queries": record.get("n_eval_queries"),
                "made_with": provenance_from_dict(record.get("made_with")),
                "state": status.get("state"),
                "warnings": list(status.get("warnings", []) or record.get("warnings", []))}

    def run_embeddings(self, run_id: str, model: ModelSpec, corpus: ParallelCorpus, embeddings: CorpusEmbeddings,
                       langs: Sequence[str]) -> tuple[CorpusEmbeddings, str]:
        """``corpus`` embedded as the run's aligned model would (its transform on ``embeddings``, the base
        model's, or its tuned model), and the run's label."""
        from xlalign.errors import ConfigError

        run = self.run(run_id)
        run_model, _, align = run.config()
        if run.state() != "succeeded":
            raise ConfigError(f"run {run_id} has not finished")
        if run_model.model != model.model:
            raise ConfigError(f"run {run_id} aligned {run_model.model}; this diagnosis used {model.model}")
        try:
            aligned = run.aligner().apply(ApplyInputs(corpus, tuple(langs), model, lambda: embeddings, self.encoder))
        except ConfigError as e:
            raise ConfigError(f"run {run_id}: {e}") from None
        return aligned, align.describe()

    def leaderboard(self, models: Sequence[str], data: str, langs: Sequence[str], pool: str, precision: str = "auto",
                    progress: Progress | None = None) -> pd.DataFrame:
        """Several models (hub ids, paths, or ``run:<id>`` for a finished run's aligned model) on the same data
        and pairs (pivot + each target): the sweep's leaderboard rows, each text encoded once per model, with how
        each model's rows were made. A model that cannot be loaded or run gets one row with its ``error`` (a
        one-line reason) and the others keep theirs."""
        report = progress or silent
        self.evaluated_corpus(data, langs)
        rows: list[dict[str, Any]] = []
        for n, name in enumerate(models):
            report(f"model {n + 1}/{len(models)}: {name}", n, len(models), overall=n / len(models))
            try:
                rows += self._board_rows(name, data, langs, pool, precision)
            except Exception as e:  # one model's failure is that model's row, not the whole board's
                reason = next((line.strip() for line in str(e).splitlines() if line.strip()), type(e).__name__)
                if not isinstance(e, (XlalignError, OSError, ValueError)):
                    log.warning("leaderboard: %s failed", name, exc_info=e)
                rows.append({"model": name, "error": reason})
        report("done", 1, 1, overall=1.0)
        board = pd.DataFrame(rows)
        if "error" not in board:
            board["error"] = ""
        return board.fillna({"error": ""})

    def _board_rows(self, name: str, data: str, langs: Sequence[str], pool: str, precision: str
                    ) -> list[dict[str, Any]]:
        from xlalign.services.sweep import leaderboard_rows

        if name.startswith("run:"):
            corpus, emb, made = self._run_on(name.removeprefix("run:"), data, langs, pool, precision)
        else:
            spec = ModelSpec(model=name, precision=precision)
            corpus = self.corpus(data, langs)
            emb = encode_corpus(corpus, self.encoder(spec), langs)
            made = self.made_with(spec, pool)
        rows: list[dict[str, Any]] = []
        for target in langs[1:]:
            spec_t = EvalSpec(data=data, langs=(langs[0], target), pool=pool)
            result = evaluate_embeddings(corpus.select_langs(spec_t.langs), emb.select(spec_t.langs), spec_t)
            rows += [{**r, "queries": len(corpus), "model_fingerprint": made.fingerprint,
                      "precision": made.precision, "xlalign_version": made.version}
                     for r in leaderboard_rows(name, result, data)]
        return rows

    def _run_on(self, run_id: str, data: str, langs: Sequence[str], pool: str, precision: str
                ) -> tuple[ParallelCorpus, CorpusEmbeddings, MadeWith]:
        """A finished run's aligned embeddings of ``data``; on the run's own data, only its held-out part
        (the part its transform or fine-tune never saw)."""
        run = self.run(run_id)
        base_model, run_eval, _ = run.config()
        base_model = replace(base_model, precision=precision)
        corpus = self.corpus(data, langs)
        held_out = run.eval_queries()
        if run_eval.data == data and held_out is not None:
            keep = set(held_out)
            corpus = corpus.subset([i for i, item in enumerate(corpus.item_ids) if item in keep])
        base = encode_corpus(corpus, self.encoder(base_model), langs)
        emb, label = self.run_embeddings(run_id, base_model, corpus, base, langs)
        made = self.made_with(base_model, pool)
        return corpus, emb, replace(made, model=f"{made.model} + run {run_id} ({label})")

    def export_zip(self, run_id: str, into: Path) -> Path:
        """The run's export (:func:`xlalign.store.export.export_run`) as ``<run>-export.zip`` inside ``into``."""
        from xlalign.store.export import export_run

        run_dir = self.run_dir(run_id)
        with self.store.workdir("export") as work:  # inside the store: a killed export is cleaned at the next start
            folder = export_run(run_dir, work / f"{run_id}-export")
            archive = Path(shutil.make_archive(str(work / f"{run_id}-export"), "zip", root_dir=folder.parent,
                                               base_dir=folder.name))
            target = Path(into) / archive.name
            partial = Path(into) / f".{archive.name}.tmp-{os.getpid()}"
            try:
                shutil.move(str(archive), partial)
                os.replace(partial, target)
            finally:
                partial.unlink(missing_ok=True)
        return target


def _short(text: str, n: int = 40) -> str:
    text = str(text)
    return text if len(text) <= n else "…" + text[-(n - 1):]


def parallel_rows(diag: Diagnosis, n: int, *, seed: int = 0) -> np.ndarray:
    """Indices of up to ``n`` distinct passages (and their first items) spread over the corpus, for plots."""
    first = diag.corpus.passage_first_items()
    if n >= len(first):
        return np.arange(len(first))
    return np.sort(np.random.default_rng(seed).choice(len(first), size=n, replace=False))


__all__ = ["LRU", "Diagnosis", "Lab", "parallel_rows"]
