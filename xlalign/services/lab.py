"""The app's service layer: shared corpora and models, diagnoses, drill-downs, comparisons, background runs.

Everything here is UI-agnostic (no Gradio, no markdown or HTML): :mod:`xlalign.app` lays out widgets
and formats. One :class:`Lab` per process serves every session: loaded models and corpora live in
bounded LRU caches guarded by locks, encoders are stateless per call, and every long call takes its own progress callback.

Visitors (public mode). Every run-related method takes ``visitor``: a key the front end holds for one
visitor (an unguessable token kept in the browser, or the session). A run records only a hash of it
(:func:`xlalign.store.jobs.visitor_id`); in public mode a visitor lists, opens, compares, cancels and
exports only their own runs, and another visitor's run is refused exactly like a run that does not
exist. Public mode also bounds the work one visitor can ask for (:class:`xlalign.policy.PublicLimits`).
Uploads are recorded by their own file name only (``upload:<name>``; the file is copied into the run
folder's ``inputs/``), so that no server path reaches a runs list, a run record or a model card.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import re
import shutil
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd

from xlalign.align.base import AlignSpec, ApplyInputs, Cancelled, languages_to_fit
from xlalign.core.corpus import ParallelCorpus
from xlalign.core.evaluate import CorpusEmbeddings, EvalResult, encode_corpus, evaluate_embeddings
from xlalign.core.loaders import load_corpus
from xlalign.core.neighbours import PURITY_COLUMNS, Neighbourhoods, purity_rows
from xlalign.core.ranking import rank_golds
from xlalign.core.scenarios import Pool
from xlalign.core.verdict import Verdict, verdicts
from xlalign.errors import ConfigError, CorpusError, XlalignError
from xlalign.models.cache import EmbeddingCache
from xlalign.models.encoders import SentenceTransformerEncoder
from xlalign.policy import (
    PolicyError,
    PublicLimits,
    contained,
    max_upload_bytes,
    public_mode,
    redact_paths,
    upload_root,
    uploaded_file,
)
from xlalign.progress import Progress, silent, span
from xlalign.report.provenance import MadeWith, made_with
from xlalign.report.provenance import from_dict as provenance_from_dict
from xlalign.report.verdict_text import sentence
from xlalign.services.neighbourhoods import (
    IndexReport,
    beside_verdict,
    index_report,
    mining_columns,
    neighbourhood_tables,
    pivot_mining,
)
from xlalign.services.pipeline import check_alignment, recorded_specs, run_alignment, run_summary
from xlalign.specs import EvalSpec, IndexSpec, ModelSpec
from xlalign.store.downloads import DownloadArea, trim_uploads, zip_folder
from xlalign.store.jobs import JobCancelled, JobContext, JobRunner, QueuePlace, visitor_id
from xlalign.store.runs import (
    Comparison,
    Run,
    RunStore,
    clean_leftovers,
    compare_runs,
    contained_refusal,
    read_status,
    time_left,
)

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
            self.put(key, value)
            return value

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` under ``key`` (most recent), dropping the least recently used beyond capacity."""
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
    #: Bitext mining, purity and the probe of these embeddings: computed on demand (:meth:`Lab.neighbourhoods`).
    neighbourhoods: Neighbourhoods | None = None

    @property
    def key(self) -> tuple[Any, ...]:
        return (self.model, self.spec)


#: Prefix of an uploaded file's name in run records (``upload:<name>``): the file itself is in ``inputs/``.
UPLOAD_PREFIX = "upload:"
INPUTS = "inputs"


class FairTurns:
    """Turns at one resource (the encoder), first come, first served; the holder calls :meth:`give_way` between
    units of work (batches), which hands the turn to the next in line, if any, and waits for its own next turn.
    So N requests share it round-robin, batch by batch: a 12-text diagnosis waits for one batch of a 50,000-text
    one, not for all of it. Requests whose texts are all cached never take a turn."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._line: deque[object] = deque()
        self._holder: object | None = None

    def waiting(self) -> int:
        with self._cond:
            return len(self._line)

    def take(self, ticket: object, waiting: Callable[[int], None] | None = None) -> None:
        """Wait for ``ticket``'s turn (``waiting(n)`` is told, once, how many are ahead when it must wait)."""
        with self._cond:
            self._line.append(ticket)
            if (self._holder is not None or self._line[0] is not ticket) and waiting is not None:
                waiting(len(self._line) - 1 + (self._holder is not None))
            self._cond.wait_for(lambda: self._holder is None and self._line[0] is ticket)
            self._line.popleft()
            self._holder = ticket

    def give_way(self, ticket: object, waiting: Callable[[int], None] | None = None) -> None:
        """Between two batches: when others wait, go to the back of the line and wait for the next turn."""
        with self._cond:
            if self._holder is not ticket or not self._line:
                return
            self._holder = None
            self._cond.notify_all()
        self.take(ticket, waiting)

    def release(self, ticket: object) -> None:
        with self._cond:
            if self._holder is ticket:
                self._holder = None
            elif ticket in self._line:
                self._line.remove(ticket)
            self._cond.notify_all()



def language_row(v: Verdict, back: Verdict, res: EvalResult) -> dict[str, Any]:
    """One row of the Languages view: a target's verdict (``v``) and the pivot's against it (``back``), each
    number as the verdict holds it, and the pair pool's Complete@10 and Max@R."""
    pivot, tgt = v.pivot, v.query_lang
    return {"target": tgt, "verdict": v.kind, "borderline": v.borderline, "preference %": v.preference,
            "preference CI": v.preference_ci, "impact %": v.impact, "impact CI": v.impact_ci,
            "Mono-Same NDCG@10": v.mono_same, "Mono-Cross NDCG@10": v.mono_cross,
            f"{pivot} queries: verdict": back.kind, f"{pivot} queries: preference %": back.preference,
            f"{pivot} queries: preference CI": back.preference_ci, f"{pivot} queries: impact %": back.impact,
            "complete@10 %": res.value("multi", tgt, "complete@10"), "max_r": res.value("multi", tgt, "max_r"),
            "docs per language": v.docs_per_lang, "n_queries": v.n_queries, "sentence": sentence(v),
            f"{pivot} sentence": sentence(back)}


class Lab:
    """One per process: shares the embedding cache, loaded models, corpora and the job runner.

    ``public`` (default: :func:`xlalign.policy.public_mode`) turns on per-visitor isolation and the limits of
    ``limits`` (default: :meth:`PublicLimits.from_env`).
    """

    def __init__(self, runs_dir: str | Path | None = None, cache: EmbeddingCache | None = None, *,
                 max_models: int = 2, max_corpora: int = 6, public: bool | None = None,
                 limits: PublicLimits | None = None, downloads: DownloadArea | None = None) -> None:
        self.public = public_mode() if public is None else bool(public)
        self.limits = limits or PublicLimits.from_env()
        self.cache = cache or EmbeddingCache()
        self.store = RunStore(runs_dir)
        self.store.recover()  # runs a dead process left queued or running are marked interrupted (and work folders)
        self.jobs = JobRunner()
        self.downloads = downloads or DownloadArea(max_bytes=self.limits.downloads_bytes)
        self._encoders: LRU[ModelSpec, SentenceTransformerEncoder] = LRU(max_models)
        self._corpora: LRU[tuple[str, tuple[str, ...]], ParallelCorpus] = LRU(max_corpora)
        self._submit_lock = threading.Lock()
        self._uploads: dict[str, dict[str, int]] = {}  # visitor id → {upload file: bytes}
        self._uploads_lock = threading.Lock()
        self._turns = FairTurns()
        self._exports: dict[tuple[str, str], Path] = {}  # (run, visitor id) → its export in the download area
        self._exports_lock = threading.Lock()
        self._cpu_ratios: deque[float] = deque(maxlen=5)  # measured ÷ estimated seconds of finished runs here
        self._encoding_visitors: set[str] = set()

    def stop(self, message: str = "interrupted: the server was stopped") -> list[str]:
        """Record this process's queued and running runs as interrupted and remove their scratch files and the
        download area (call it when the process is about to exit); the run ids."""
        stopped = self.jobs.interrupt_all(message)
        for run_id in stopped:
            clean_leftovers(self.store.root / run_id)
        self.downloads.remove()
        return stopped

    def housekeeping(self) -> dict[str, list[str]]:
        """What the app does now and then (:mod:`xlalign.app.housekeeping`): expired downloads go, and in public
        mode Gradio's upload folder is trimmed to ``uploads_mb`` (oldest first). What was removed, by kind."""
        done = {"downloads": self.downloads.trim()}
        if self.public:
            done["uploads"] = trim_uploads(upload_root(), self.limits.uploads_bytes)
        return done

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
        """The corpus of ``data`` in ``langs`` (all when None), kept in a small LRU. Public mode: an uploaded
        file is always read whole (and refused when it holds more than ``max_langs`` languages), whatever
        subset a request names."""
        if self.public and langs and _is_file(data):
            return self.corpus(data).select_langs(list(langs))
        key = (data, tuple(langs or ()))

        def load() -> ParallelCorpus:
            corpus = load_corpus(data, list(langs) if langs else None)
            if self.public and len(corpus.langs) > self.limits.max_langs:
                raise PolicyError(f"{Path(data).name if Path(data).exists() else data} holds {len(corpus.langs)} "
                                  f"languages; this server takes at most {self.limits.max_langs} per upload")
            return corpus

        return self._corpora.get(key, load)

    def use_upload(self, path: str | Path, visitor: str | None = None) -> str:
        """Admit an uploaded file for this visitor's work and return its path.

        Public mode: it must be a file in the upload folder, no larger than ``XLALIGN_MAX_UPLOAD_MB``, and the
        distinct uploads a visitor has used add up to at most ``visitor_upload_mb``. Elsewhere any file passes.
        """
        path = str(path)
        if not self.public:
            return path
        if not uploaded_file(path):
            raise PolicyError("that file is not an upload")
        trim_uploads(upload_root(), self.limits.uploads_bytes)  # everybody's uploads together (oldest out first)
        if not Path(path).is_file():
            raise PolicyError("your upload was removed (the server's upload space was full): upload it again")
        size = Path(path).stat().st_size
        if size > max_upload_bytes():
            raise PolicyError(f"the file is larger than {max_upload_bytes() / 2**20:g} MB, this server's limit")
        key = str(Path(path).resolve())
        with self._uploads_lock:
            used = self._uploads.setdefault(visitor_id(visitor or ""), {})
            if key not in used:
                total = sum(used.values()) + size
                if total > self.limits.visitor_upload_bytes:
                    raise PolicyError(f"your uploads add up to {total / 2**20:.1f} MB, more than the "
                                      f"{self.limits.visitor_upload_mb:g} MB this server accepts per visitor")
                used[key] = size
        return path

    def check_langs(self, langs: Sequence[str]) -> None:
        """Public mode: at most ``max_langs`` languages in one request."""
        if self.public and len(langs) > self.limits.max_langs:
            raise PolicyError(f"{len(langs)} languages asked for; this server takes at most {self.limits.max_langs} "
                              f"(the pivot and {self.limits.max_langs - 1} targets) at a time")

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

    @contextlib.contextmanager
    def encoding_slot(self, visitor: str | None = None, progress: Progress | None = None) -> Iterator[Callable[[], None]]:
        """A turn at the encoder, shared fairly (:class:`FairTurns`): first come, first served, and whoever holds it
        gives way between batches to whoever waits (the callable yielded does that: call it after each batch), so
        a big encoding never holds a small one for more than a batch. Public mode: one visitor encodes one thing
        at a time; a second request is refused at once."""
        vid = visitor_id(visitor or "")
        with self._uploads_lock:
            if self.public and vid in self._encoding_visitors:
                raise PolicyError("you already have an encoding running; wait for it to finish")
            self._encoding_visitors.add(vid)
        say = progress or silent
        ticket = object()
        try:
            self._turns.take(ticket, lambda n: say(f"waiting for the encoder: {n} other request(s) are being encoded",
                                                   0, None))
            try:
                yield lambda: self._turns.give_way(ticket, lambda n: say(
                    f"waiting for the encoder (taking turns, batch by batch, with {n} other request(s))", 0, None))
            finally:
                self._turns.release(ticket)
        finally:
            with self._uploads_lock:
                self._encoding_visitors.discard(vid)

    def encode(self, corpus: ParallelCorpus, encoder: Any, langs: Sequence[str], progress: Progress | None = None,
               visitor: str | None = None) -> CorpusEmbeddings:
        """:func:`encode_corpus`, inside an :meth:`encoding_slot` (taking turns batch by batch) unless every text is
        already cached. Public mode: more than ``max_texts`` texts to encode is refused before any."""
        missing = uncached(corpus, encoder, langs)
        if not missing:
            return encode_corpus(corpus, encoder, langs, progress)
        if self.public and missing > self.limits.max_texts:
            raise PolicyError(f"{missing:,} texts to encode; this server encodes at most {self.limits.max_texts:,} "
                              "per request: choose fewer languages or a smaller file")
        report = progress or silent
        with self.encoding_slot(visitor, progress) as give_way:
            def taking_turns(stage: str, done: float = 0, total: float | None = None, **metrics: Any) -> None:
                report(stage, done, total, **metrics)
                if total and 0 < done < total:
                    give_way()

            return encode_corpus(corpus, encoder, langs, taking_turns)

    def encoder(self, model: ModelSpec) -> SentenceTransformerEncoder:
        return self._encoders.get(model, lambda: SentenceTransformerEncoder(model, cache=self.cache))

    def made_with(self, model: ModelSpec, pool: str) -> MadeWith:
        """How results of ``model`` in ``pool`` pools are made here: fingerprint, resolved precision, version."""
        return made_with(self.encoder(model), model, pool)

    # ------------------------------------------------------------------ diagnosis
    def diagnose(self, model: ModelSpec, evaluation: EvalSpec, progress: Progress | None = None, *,
                 visitor: str | None = None) -> Diagnosis:
        """Every scenario for every language of ``evaluation`` in one pool, with the verdicts."""
        self.check_langs(evaluation.langs)
        corpus = self.evaluated_corpus(evaluation.data, evaluation.langs)
        emb = self.encode(corpus, self.encoder(model), evaluation.langs, span(progress, 0.0, 0.9), visitor)
        result = evaluate_embeddings(corpus, emb, evaluation, span(progress, 0.9, 1.0))
        found = verdicts(result.summary_frame(), result.matrix_frame(), evaluation.pivot, evaluation.langs)
        return Diagnosis(model, evaluation, corpus, emb, result, found, self.made_with(model, evaluation.pool))

    def inclination(self, model: ModelSpec, data: str, pivot: str, targets: Sequence[str], pool: str = "dedup",
                    progress: Progress | None = None, *, visitor: str | None = None) -> pd.DataFrame:
        """Per target language (pivot + target pool): the pair's verdict both ways (the target's queries, and the
        pivot's against the target gold) with its three parts — the translation preference, the impact, the
        quality without competition — and Complete@10 and Max@R of the pair pool, worst first.

        Every text is encoded once (the pivot once for all targets); progress moves per language.
        """
        langs = (pivot, *targets)
        self.check_langs(langs)
        corpus = self.evaluated_corpus(data, langs)
        emb = self.encode(corpus, self.encoder(model), langs, span(progress, 0.0, 0.9), visitor)
        report = progress or silent
        rows, order = [], []
        for n, tgt in enumerate(targets):
            report(f"ranking {pivot}+{tgt}", n, len(targets), overall=0.9 + 0.1 * n / len(targets))
            spec = EvalSpec(data=data, langs=(pivot, tgt), pool=pool, scenarios=("multi",))
            res = evaluate_embeddings(corpus.select_langs(spec.langs), emb.select(spec.langs), spec)
            v, back = verdicts(res.summary_frame(), res.matrix_frame(), pivot, spec.langs)
            rows.append(language_row(v, back, res))
            rows[-1].update(mining_columns(corpus, emb, tgt, pivot, ((v.kind, tgt), (back.kind, pivot))))
            order.append(v.rank)
        report("done", 1, 1, overall=1.0)
        table = beside_verdict(pd.DataFrame(rows))
        return table.iloc[sorted(range(len(rows)), key=lambda i: order[i])].reset_index(drop=True)

    # ------------------------------------------------------------------ neighbourhoods (faiss)
    @staticmethod
    def pivot_mining(diag: Diagnosis) -> pd.DataFrame:
        """Each target's bitext mining against the pivot (passages, both ways): cheap, shown beside the verdict."""
        return pivot_mining(diag.corpus, diag.embeddings, diag.spec.pivot, diag.spec.targets)

    @staticmethod
    def neighbourhoods(diag: Diagnosis) -> Neighbourhoods:
        """Bitext mining for every pair, purity and the language-identity probe of a diagnosis (computed once, on
        demand: about a second on the demo's 7 languages, see README "Neighbourhoods")."""
        if diag.neighbourhoods is None:
            diag.neighbourhoods = neighbourhood_tables(diag.corpus, diag.embeddings, diag.spec.langs, probe=True)
        return diag.neighbourhoods

    @staticmethod
    def purity(diag: Diagnosis, embeddings: CorpusEmbeddings | None = None) -> pd.DataFrame:
        """Neighbourhood purity of the diagnosis's embeddings (or of ``embeddings`` of the same corpus)."""
        if embeddings is None and diag.neighbourhoods is not None:
            return diag.neighbourhoods.purity
        return pd.DataFrame(purity_rows(diag.corpus, embeddings or diag.embeddings, diag.spec.langs),
                            columns=PURITY_COLUMNS)

    @staticmethod
    def index_report(diag: Diagnosis, index: IndexSpec, progress: Progress | None = None) -> IndexReport:
        """The diagnosis's pools searched through the user's faiss index, beside the exact figures."""
        return index_report(diag.corpus, diag.embeddings, diag.result, index, progress)

    def run_neighbourhoods(self, run_id: str, *, visitor: str | None = None
                           ) -> tuple[Neighbourhoods | None, Neighbourhoods | None]:
        """A finished run's neighbourhood tables before and after (None for runs made before they existed)."""
        run = self.run(run_id, visitor=visitor)
        return run.neighbourhoods("before"), run.neighbourhoods("after")

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
                         pool.gold_units, pool.removed_unit, pool.unit_lang_code, removed_count=pool.removed_count,
                         count_gold=pool.gold_langs.index(gold_lang))  # every language above this gold
        j = pool.gold_langs.index(gold_lang)
        table = pd.DataFrame({"query_id": list(diag.corpus.item_ids), "query": list(diag.corpus.questions[query_lang]),
                              "gold_rank": res.ranks[:, j], "pool_size": pool.pool_sizes})
        own = pool.gold_langs.index(query_lang) if query_lang in pool.gold_langs and gold_lang != query_lang else None
        table.insert(3, "own_rank", pd.Series(res.ranks[:, own] if own is not None else [pd.NA] * len(table),
                                              dtype="Int64", index=table.index))
        for c, lang in enumerate(pool.doc_langs):
            table[f"above_{lang}"] = res.above(j, c)
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
    def submit_alignment(self, model: ModelSpec, evaluation: EvalSpec, align: AlignSpec, *,
                         visitor: str | None = None) -> str:
        """Queue an alignment run for ``visitor``; returns its id. Public mode: the fine-tune's epochs and steps are
        capped, and a visitor has at most ``visitor_active`` runs queued or running, the server ``server_active``."""
        self.check_langs(evaluation.langs)
        align = self._bounded(align)
        check_alignment(evaluation, align)  # refuse now what would fail after the baseline (a bad upload, a rank)
        if self.public:
            self._check_texts(evaluation.data, languages_to_fit(evaluation, align))
        inputs = {p: Path(p).name for p in (evaluation.data, align.train_data) if _is_file(p)}
        with self._submit_lock:  # the count and the new run are one step: concurrent submits cannot overshoot
            self._check_capacity(visitor)
            run_dir = self.store.new_run_dir(f"{align.method}-{'-'.join(evaluation.targets)}")
            labels = self._copy_inputs(run_dir, inputs)
            return self._queue(run_dir, model, evaluation, align, labels, visitor)

    def _queue(self, run_dir: Path, model: ModelSpec, evaluation: EvalSpec, align: AlignSpec, labels: dict[str, str],
               visitor: str | None) -> str:
        local = {label: str(run_dir / INPUTS / label.removeprefix(UPLOAD_PREFIX)) for label in labels.values()}
        recorded = {str(run_dir / INPUTS / label.removeprefix(UPLOAD_PREFIX)): label for label in labels.values()}
        run_eval = replace(evaluation, data=local.get(labels.get(evaluation.data, ""), evaluation.data))
        run_align = replace(align, train_data=local.get(labels.get(align.train_data, ""), align.train_data))
        shown_eval, shown_align = recorded_specs(evaluation, align, labels)

        def job(ctx: JobContext) -> dict[str, Any]:
            try:
                corpus = self.corpus(run_eval.data, list(languages_to_fit(run_eval, run_align)))
                out = run_alignment(model, run_eval, run_align, ctx.run, corpus=corpus, encoder=self.encoder(model),
                                    progress=self._calibrated(ctx.progress), should_stop=ctx.should_stop,
                                    labels=recorded)
            except Cancelled as e:
                raise JobCancelled(str(e)) from None
            except Exception as e:  # the run's copy of an upload is named by its label, never by its server path
                shown = _labelled(str(e), recorded)
                if shown == str(e):
                    raise
                raise _reworded(e, shown) from None
            self._measured(out.record.get(align.method))
            for w in out.record.get("warnings", []):
                ctx.warn(w)
            summary = {k: v for k, v in out.record.items() if isinstance(v, (int, float, str))}
            return {"summary": summary, "label": run_label(align, out.record)}

        return self.jobs.submit(run_dir, job, visitor=visitor, lane=job_lane(align), label=run_label(align),
                                **run_summary(model, shown_eval, shown_align),
                                config=Run.config_dict(model, shown_eval, shown_align))

    def _check_texts(self, data: str, langs: Sequence[str]) -> None:
        """Public mode: an alignment run encodes at most ``max_texts`` distinct texts of its data (cached or not: the
        run encodes in the background, outside the encoder's turns). A file that cannot be read is refused now, named
        as the visitor named it (``upload:<name>``), never by its server path."""
        try:
            corpus = self.corpus(data, list(langs))
        except CorpusError as e:
            shown = _labelled(str(e), {data: UPLOAD_PREFIX + Path(data).name} if _is_file(data) else {})
            raise _reworded(e, shown) from None
        first = corpus.passage_first_items()
        n = sum(len(set(corpus.passages[x][i] for i in first)) + len(set(corpus.questions[x])) for x in langs)
        if n > self.limits.max_texts:
            raise PolicyError(f"{n:,} texts to encode; this server encodes at most {self.limits.max_texts:,} per "
                              "request: choose fewer languages or a smaller file")

    def _calibrated(self, progress: Progress) -> Progress:
        """``progress`` with a CPU cost-model estimate (``cpu_estimate_s``, reported before a fine-tune's first
        step) scaled by how this server's finished runs compared with theirs (the median of measured ÷ estimated
        of the last five), so that a loaded or slower machine does not promise 51 s for 6 steps that take 5 min."""
        with self._exports_lock:
            ratios = list(self._cpu_ratios)
        if not ratios:
            return progress
        factor = float(np.median(ratios))

        def scaled(stage: str, done: float = 0, total: float | None = None, **metrics: Any) -> None:
            if isinstance(metrics.get("cpu_estimate_s"), (int, float)):
                metrics = {**metrics, "cpu_estimate_s": metrics["cpu_estimate_s"] * factor}
            progress(stage, done, total, **metrics)

        return scaled

    def _measured(self, fitted: Any) -> None:
        """Keep measured ÷ estimated of a finished run whose method reported both (``seconds``, ``cpu_estimate_s``)."""
        if isinstance(fitted, dict) and isinstance(fitted.get("seconds"), (int, float)) and \
                isinstance(fitted.get("cpu_estimate_s"), (int, float)) and fitted["cpu_estimate_s"] > 0:
            with self._exports_lock:
                self._cpu_ratios.append(float(fitted["seconds"]) / float(fitted["cpu_estimate_s"]))

    def _bounded(self, align: AlignSpec) -> AlignSpec:
        """Public mode: the method's options within this server's limits (a fine-tune's epoch and step caps)."""
        bounded = getattr(align.aligner, "bounded", None)  # optional in the Aligner protocol
        if not self.public or bounded is None:
            return align
        return replace(align, options=bounded(align.options, self.limits))

    def _check_capacity(self, visitor: str | None) -> None:
        if not self.public:
            return
        mine, everyone = self.jobs.active(visitor or ""), self.jobs.active()
        if mine >= self.limits.visitor_active:
            raise PolicyError(f"you already have {mine} runs queued or running (at most {self.limits.visitor_active}); "
                              "wait for one to finish or cancel it")
        if everyone >= self.limits.server_active:
            raise PolicyError(f"the server is busy ({everyone} runs queued or running); try again in a few minutes")

    @staticmethod
    def _copy_inputs(run_dir: Path, inputs: dict[str, str]) -> dict[str, str]:
        """Copy uploaded files into ``<run>/inputs/`` and return path → ``upload:<name>``."""
        labels: dict[str, str] = {}
        for n, (path, name) in enumerate(inputs.items()):
            safe = safe_upload_name(name)
            if UPLOAD_PREFIX + safe in labels.values():  # two uploads of the same name: keep both
                safe = f"{n + 1}-{safe}"
            target = run_dir / INPUTS / safe
            target.parent.mkdir(exist_ok=True)
            shutil.copyfile(path, target)
            labels[path] = UPLOAD_PREFIX + safe
        return labels

    def cancel(self, run_id: str, *, visitor: str | None = None) -> bool:
        self.run_dir(run_id, visitor=visitor)  # refuses names outside the store and other visitors' runs
        return self.jobs.cancel(run_id)

    def runs(self, *, visitor: str | None = None) -> list[dict[str, Any]]:
        """The runs this visitor may see, newest first (public mode: theirs only; elsewhere all)."""
        runs = self.store.list()
        if self.public:
            vid = visitor_id(visitor) if visitor is not None else None
            runs = [r for r in runs if vid is not None and r.get("visitor") == vid]
        return runs

    def runs_table(self, *, visitor: str | None = None) -> pd.DataFrame:
        """The runs list: state (``cancelling`` once asked), a short label, progress, time left and message; a
        queued run's message says where it stands in its queue and when it should start (:meth:`queued_message`)."""
        rows = []
        places = self.jobs.queue()
        for r in self.runs(visitor=visitor):
            prog = r.get("progress")
            state = "cancelling" if r.get("state") == "running" and r.get("cancel_requested") else r.get("state")
            message, left = _SAID_LEFT.sub("", str(r.get("message", ""))), _left(r) if r.get("state") == "running" else ""
            if r.get("state") == "queued" and r["run"] in places:
                message, left = self.queued_message(places[r["run"]])
            rows.append({"run": r["run"], "state": state, "label": r.get("label") or r.get("describe") or
                         r.get("method", ""), "progress": f"{100 * prog:.0f}%" if isinstance(prog, (int, float)) else "",
                         "time left": left, "message": self._shown(message),
                         "langs": "+".join(r.get("langs", [])), "data": _short(_shown_data(r.get("data", ""))),
                         "model": _short(self._shown(r.get("model", ""))),
                         "warnings": self._shown(" · ".join(r.get("warnings", []))),
                         "submitted": r.get("submitted", "")})
        return pd.DataFrame(rows, columns=["run", "state", "label", "progress", "time left", "message", "langs", "data",
                                           "model", "warnings", "submitted"])

    def queued_message(self, place: QueuePlace) -> tuple[str, str]:
        """(message, time left) of a queued run: its position in its queue, what is ahead, and an estimated start
        from what is measured: the running run's time left (its own estimate, or the typical duration of its
        method on this server minus the time it has run) and the typical duration of each run ahead. Without
        such a figure for some run ahead, the estimate is a lower bound, or none."""
        queue = LANE_NAMES.get(place.lane, place.lane)
        ahead = (["1 running"] if place.running else []) + ([f"{len(place.ahead)} waiting"] if place.ahead else [])
        where = f"{_ordinal(place.position)} in the {queue}" + (f", behind {' and '.join(ahead)}" if ahead else "")
        if not ahead:
            return f"queued: {where}; starts now", "starts now"
        waits = ([self._time_left(place.running)] if place.running else []) + [
            self._typical(run_id) for run_id in place.ahead]
        known = [w for w in waits if w is not None]
        if not known:
            return f"queued: {where}; no estimate yet (no such run has finished on this server)", "not yet known"
        start = _eta(sum(known)).removeprefix("≈ ")
        if len(known) < len(waits):
            return f"queued: {where}; starts in more than {start}", f"starts in > {start}"
        return f"queued: {where}; starts in ≈ {start}", f"starts in ≈ {start}"

    def _typical(self, run_id: str) -> float | None:
        return self.jobs.typical_seconds(str(self.jobs.status(run_id).get("method", "")))

    def _time_left(self, run_id: str) -> float | None:
        """A running run's time left: its own (measured, or the fine-tune's estimate), else its method's typical
        duration here minus the time it has run (at least a few seconds: it has not finished)."""
        status = self.jobs.status(run_id)
        left, _ = time_left(status)
        if left is not None:
            return max(5.0, left)
        typical = self._typical(run_id)
        if typical is None:
            return None
        try:
            started = datetime.datetime.fromisoformat(str(status.get("started")))
            ran = (datetime.datetime.now(datetime.UTC) - started).total_seconds()
        except ValueError:
            ran = 0.0
        return max(5.0, typical - ran)
    def _shown(self, message: str) -> str:
        """A run's message as a visitor sees it: in public mode, no server path (each shown by its last part)."""
        return redact_paths(str(message)) if self.public else str(message)

    def run_dir(self, run_id: str, *, visitor: str | None = None) -> Path:
        """The folder of a run this visitor may open; anything else is one refusal (as for a run that does not
        exist, so that nobody learns which runs exist)."""
        path = self.store.path(run_id)
        if self.public and (visitor is None or read_status(path).get("visitor") != visitor_id(visitor)):
            raise contained_refusal(run_id)
        return path

    def run(self, run_id: str, *, visitor: str | None = None) -> Run:
        """The run ``run_id`` if this visitor may open it (see :meth:`run_dir`)."""
        return Run(self.run_dir(run_id, visitor=visitor))

    def run_compare(self, run_id: str, *, visitor: str | None = None) -> pd.DataFrame:
        run = self.run(run_id, visitor=visitor)
        if not run.is_finished():
            raise FileNotFoundError(f"run {run_id} has no results yet (state: {run.state() or 'unknown'})")
        return run.compare()

    def compare(self, run_ids: Sequence[str], *, visitor: str | None = None) -> Comparison:
        """Finished runs side by side, each with its own baseline, with what a reader must know in words."""
        return compare_runs([self.run_dir(r, visitor=visitor) for r in run_ids])

    def side_by_side(self, run_ids: Sequence[str], *, visitor: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(stacked, wide) tables of :meth:`compare`; the wide table's ``attrs["notes"]`` holds its notes."""
        found = self.compare(run_ids, visitor=visitor)
        wide = found.wide().reset_index()
        wide.attrs["notes"] = list(found.notes)
        return found.stacked, wide

    def run_input(self, run_id: str, data: str, *, visitor: str | None = None) -> str:
        """A recorded data spec made loadable: ``upload:<name>`` is the copy in the run's ``inputs/``."""
        if not data.startswith(UPLOAD_PREFIX):
            return data
        return str(contained(self.run_dir(run_id, visitor=visitor) / INPUTS, data.removeprefix(UPLOAD_PREFIX),
                             what="input"))

    def run_header(self, run_id: str, *, visitor: str | None = None) -> dict[str, Any]:
        """The facts a run's page is titled with: method and key options, model, data, languages, pool,
        training data, held-out queries, state and warnings (plain values; the app formats them)."""
        run = self.run(run_id, visitor=visitor)
        model, evaluation, align = run.config()
        status, record = run.status(), run.record()
        return {"run": run_id, "label": status.get("label") or run_label(align, record), "describe": align.describe(),
                "method": align.method, "model": model.model, "data": _shown_data(evaluation.data),
                "langs": list(evaluation.langs), "pivot": evaluation.pivot, "pool": evaluation.pool,
                "train_data": align.train_data if align.train_data in ("split", "demo") else
                _shown_data(align.train_data), "n_eval_queries": record.get("n_eval_queries"),
                "made_with": provenance_from_dict(record.get("made_with")),
                "state": status.get("state"),
                "warnings": list(status.get("warnings", []) or record.get("warnings", []))}

    def run_embeddings(self, run_id: str, model: ModelSpec, corpus: ParallelCorpus, embeddings: CorpusEmbeddings,
                       langs: Sequence[str], *, visitor: str | None = None) -> tuple[CorpusEmbeddings, str]:
        """``corpus`` embedded as the run's aligned model would (its transform on ``embeddings``, the base
        model's, or its tuned model), and the run's label."""
        run = self.run(run_id, visitor=visitor)
        run_model, _, align = run.config()
        status = run.status()
        if status.get("state") != "succeeded":
            raise ConfigError(f"run {run_id} has not finished")
        if run_model.model != model.model:
            raise ConfigError(f"run {run_id} aligned {run_model.model}; this diagnosis used {model.model}")
        # a method whose artefact is a model encodes the texts again: that takes the encoding slot
        heavy = self.encoding_slot(visitor) if align.aligner.model_folder else contextlib.nullcontext()
        try:
            with heavy:
                aligned = run.aligner().apply(ApplyInputs(corpus, tuple(langs), model, lambda: embeddings,
                                                          self.encoder))
        except ConfigError as e:
            raise ConfigError(f"run {run_id}: {e}") from None
        return aligned, status.get("label") or align.describe()

    def leaderboard(self, models: Sequence[str], data: str, langs: Sequence[str], pool: str, precision: str = "auto",
                    progress: Progress | None = None, *, visitor: str | None = None) -> pd.DataFrame:
        """Several models (hub ids, paths, or ``run:<id>`` for a finished run's aligned model) on the same data
        and pairs (pivot + each target): the sweep's leaderboard rows, each text encoded once per model, with how
        each model's rows were made. A model that cannot be loaded or run gets one row with its ``error`` (a
        one-line reason) and the others keep theirs."""
        self.check_langs(langs)
        report = progress or silent
        self.evaluated_corpus(data, langs)
        rows: list[dict[str, Any]] = []
        for n, name in enumerate(models):
            report(f"model {n + 1}/{len(models)}: {name}", n, len(models), overall=n / len(models))
            try:
                rows += self._board_rows(name, data, langs, pool, precision, visitor)
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

    def _board_rows(self, name: str, data: str, langs: Sequence[str], pool: str, precision: str,
                    visitor: str | None = None) -> list[dict[str, Any]]:
        from xlalign.services.sweep import leaderboard_rows

        if name.startswith("run:"):
            corpus, emb, made = self._run_on(name.removeprefix("run:"), data, langs, pool, precision, visitor)
        else:
            spec = ModelSpec(model=name, precision=precision)
            corpus = self.corpus(data, langs)
            emb = self.encode(corpus, self.encoder(spec), langs, visitor=visitor)
            made = self.made_with(spec, pool)
        rows: list[dict[str, Any]] = []
        for target in langs[1:]:
            spec_t = EvalSpec(data=data, langs=(langs[0], target), pool=pool)
            result = evaluate_embeddings(corpus.select_langs(spec_t.langs), emb.select(spec_t.langs), spec_t)
            rows += [{**r, "queries": len(corpus), "model_fingerprint": made.fingerprint,
                      "precision": made.precision, "xlalign_version": made.version}
                     for r in leaderboard_rows(name, result, _shown_data(data))]
        return rows

    def _run_on(self, run_id: str, data: str, langs: Sequence[str], pool: str, precision: str,
                visitor: str | None = None) -> tuple[ParallelCorpus, CorpusEmbeddings, MadeWith]:
        """A finished run's aligned embeddings of ``data``; on the run's own data, only its held-out part
        (the part its transform or fine-tune never saw)."""
        run = self.run(run_id, visitor=visitor)
        base_model, run_eval, _ = run.config()
        base_model = replace(base_model, precision=precision)
        corpus = self.corpus(data, langs)
        held_out = run.eval_queries()
        if held_out is not None and _same_data(self.run_input(run_id, run_eval.data, visitor=visitor), data):
            keep = set(held_out)
            corpus = corpus.subset([i for i, item in enumerate(corpus.item_ids) if item in keep])
        base = self.encode(corpus, self.encoder(base_model), langs, visitor=visitor)
        emb, label = self.run_embeddings(run_id, base_model, corpus, base, langs, visitor=visitor)
        made = self.made_with(base_model, pool)
        return corpus, emb, replace(made, model=f"{made.model} + run {run_id} ({label})")

    def export_zip(self, run_id: str, into: Path | None = None, *, visitor: str | None = None,
                   progress: Progress | None = None) -> Path:
        """The run's export (:func:`xlalign.store.export.export_run`) as ``<run>-export.zip`` inside ``into``
        (default: a new folder of the download area, which is then trimmed to its budget), with progress while it
        is built and zipped. A finished run does not change, so a visitor who asks again for the same run's export
        gets the same file while it is in the download area: an export costs its CPU and disk once, not per click."""
        from xlalign.store.export import export_run

        run_dir = self.run_dir(run_id, visitor=visitor)
        key = (run_id, visitor_id(visitor or ""))
        if into is None:
            with self._exports_lock:
                earlier = self._exports.get(key)
            if earlier is not None and earlier.is_file():
                return earlier
        report = progress or silent
        folder_into = Path(into) if into is not None else self.downloads.new_folder()
        with self.store.workdir("export") as work:  # inside the store: a killed export is cleaned at the next start
            report("preparing the export (copying or building the model)", 0, None)
            folder = export_run(run_dir, work / f"{run_id}-export")
            target = zip_folder(folder, folder_into / f"{run_id}-export.zip", report)
        if into is None:
            self.downloads.trim(keep=folder_into)
            with self._exports_lock:
                self._exports[key] = target
        return target


#: What the runs list calls each lane of the job runner.
LANE_NAMES = {"training": "training queue (fine-tunes)", "light": "quick queue (centering, LSAR, Procrustes)"}


def job_lane(align: AlignSpec) -> str:
    """The job runner's lane of a run: ``training`` for a method that trains a model (its artefact is a model
    folder: minutes to hours), ``light`` for the others (seconds), so that a quick alignment never waits behind a
    fine-tune."""
    return "training" if align.aligner.model_folder else "light"


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def run_label(align: AlignSpec, record: dict[str, Any] | None = None) -> str:
    """A short run label: the method, its key options, and what the run chose (LSAR's rank), e.g.
    ``LSAR · rank 3 (held-out) · both``, ``fine-tune jsd+nce · λ 1 · 1 epoch · ≤300 steps``."""
    done = (record or {}).get(align.method) or {}
    label_parts = getattr(align.aligner, "label_parts", None)  # optional in the Aligner protocol
    parts = label_parts(align.options, done) if label_parts is not None else None
    if parts is None:
        return align.describe()
    if align.train_data != "split":
        parts.append(f"trained on {'demo' if align.train_data == 'demo' else 'triplets'}")
    return " · ".join(parts)


def _left(status: dict[str, Any]) -> str:
    """A running run's time left, counted down from when it was reported (:func:`time_left`); past it: how much
    longer than said it is taking (never "≈ 0 s" for a step still running)."""
    left, estimated = time_left(status)
    if left is None:
        return ""
    if left <= 0:
        return f"taking longer than {'estimated' if estimated else 'measured'} (+{_eta(-left).removeprefix('≈ ')})"
    return f"< 1 s{' (estimate)' if estimated else ''}" if left < 1 else _eta(left, estimated)


#: The part of a progress message that says the time left when it was written (the list shows it live instead).
_SAID_LEFT = re.compile(r" · about [^·]* left( \(estimate\))?")


def _eta(seconds: Any, estimated: Any = False) -> str:
    if not isinstance(seconds, (int, float)) or seconds != seconds:
        return ""
    text = f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min" if seconds < 5400 else \
        f"{seconds / 3600:.1f} h"
    return f"≈ {text}{' (estimate)' if estimated else ''}"


def safe_upload_name(name: str) -> str:
    """An uploaded file's name as the run keeps it: letters, digits, ``-``, ``_`` and ``.`` only, no leading dot, and
    its extension kept (the loader goes by it): ``..jsonl`` → ``upload.jsonl``, ``a b?.csv`` → ``a-b.csv``."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in Path(name).name)
    stem, dot, ext = cleaned.rpartition(".")
    if not dot:
        stem, ext = cleaned, ""
    stem = stem.strip(".-")[:100] or "upload"
    ext = ext.strip(".-")[:12]
    return f"{stem}.{ext}" if ext else stem


def _labelled(message: str, recorded: Mapping[str, str]) -> str:
    """``message`` with each run-local copy of an upload (path → ``upload:<name>``) named by its label."""
    for path, label in sorted(recorded.items(), key=lambda kv: -len(kv[0])):
        message = message.replace(path, label)
    return message


def _reworded(error: Exception, message: str) -> Exception:
    """``error``'s kind with another message (a plain RuntimeError where that kind cannot be built from one)."""
    try:
        return type(error)(message)
    except Exception:
        return RuntimeError(message)


def _shown_data(data: str) -> str:
    """A data spec as a visitor may see it: an upload by its own file name, a path by its last part."""
    data = str(data)
    if data.startswith(UPLOAD_PREFIX):
        return f"{data.removeprefix(UPLOAD_PREFIX)} (uploaded)"
    return Path(data).name if ("/" in data or "\\" in data) else data


def _is_file(data: str) -> bool:
    try:
        return data not in ("split", "demo") and Path(data).is_file()
    except (OSError, ValueError):
        return False


def _same_data(a: str, b: str) -> bool:
    """The same dataset name, or two files with the same bytes (an upload and the run's copy of it)."""
    if a == b:
        return True
    if not (_is_file(a) and _is_file(b)):
        return False
    import filecmp

    return filecmp.cmp(a, b, shallow=False)


def uncached(corpus: ParallelCorpus, encoder: Any, langs: Sequence[str]) -> int:
    """How many distinct texts :func:`encode_corpus` would send to the model: those the embedding cache does not
    hold (every one, for an encoder without a cache)."""
    store = getattr(encoder, "cache", None)
    first = corpus.passage_first_items()
    missing = 0
    for lang in langs:
        for role, texts in (("passage", [corpus.passages[lang][i] for i in first]), ("query", corpus.questions[lang])):
            distinct = list(dict.fromkeys(texts))
            if store is None:
                missing += len(distinct)
                continue
            prompt = encoder.prompt_for(role)
            keys = [EmbeddingCache.key(encoder.fingerprint, prompt, lang, t) for t in distinct]
            missing += len(keys) - len(store.get_many(keys))
    return missing


def cached(corpus: ParallelCorpus, encoder: Any, langs: Sequence[str]) -> bool:
    """True when the embedding cache holds every text :func:`encode_corpus` would encode (no model call)."""
    return uncached(corpus, encoder, langs) == 0


def _short(text: str, n: int = 40) -> str:
    text = str(text)
    return text if len(text) <= n else "…" + text[-(n - 1):]


def parallel_rows(diag: Diagnosis, n: int, *, seed: int = 0) -> np.ndarray:
    """Indices of up to ``n`` distinct passages (and their first items) spread over the corpus, for plots."""
    first = diag.corpus.passage_first_items()
    if n >= len(first):
        return np.arange(len(first))
    return np.sort(np.random.default_rng(seed).choice(len(first), size=n, replace=False))


__all__ = ["LANE_NAMES", "LRU", "Diagnosis", "FairTurns", "Lab", "cached", "job_lane", "parallel_rows", "uncached"]
