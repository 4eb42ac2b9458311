"""The user's own index: the scenarios' K-metrics and the verdict's rates from a faiss index's own results.

Users deploy approximate indexes (HNSW, IVF, product quantisation), and quantisation can change which
language wins. :func:`evaluate_index` builds the index a faiss factory string names
(``faiss.index_factory(d, "HNSW32", METRIC_INNER_PRODUCT)``; inner product on unit rows = cosine), trains
it **once on the pool** — every evaluated language's distinct passages, the Multi dedup pool — with the
fixed seed :data:`SEED` (faiss's k-means; HNSW's level generator has faiss's own fixed seed), then gives
each pool of the evaluation a copy of the trained index holding that pool's documents (Multi and Multi-1:
every language; Mono-Same / Mono-Cross: one language) and searches it with that pool's queries, ``depth``
results each. Training, adding and searching are timed.

From each query's returned list (documents in the order the index returns them; copies of a passage in
``per-question`` pools are one vector and count as their number of documents; Multi-1 drops the removed
query-language gold from the list):

* a gold's *index rank* is 1 + the documents returned before it; a gold the index does not return ranks
  below every returned document (beyond the depth);
* Complete@K, Recall@K and NDCG@K (:mod:`xlalign.core.metrics`) for every K of the evaluation up to the
  depth, from those ranks;
* the verdict's pair rates (Multi pools): ``displaced_by_own@10`` (and ``:<target>`` for pivot queries),
  ``displaced_by_pivot@10``, counting the irrelevant documents of one language returned before the gold
  (for a gold not returned: every returned one of that language);
* ``index_recall@D``: the share of the exact top-D documents (D = the depth; the whole pool when it holds
  fewer) that the index returns — the usual measure of an approximate index, independent of the golds.

K-metrics are reported for K up to the depth, and for every K when the depth reaches the whole pool.

Rows are :class:`~xlalign.core.evaluate.SummaryRow` s and the matrix cells the lists decide
(:func:`index_cells`) are :class:`~xlalign.core.evaluate.MatrixRow` s, so the verdict rule reads them as it reads
the exact ranker's (the comparison lives in :mod:`xlalign.services.neighbourhoods`). This module decides nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from xlalign.core import metrics as M
from xlalign.core.corpus import ParallelCorpus
from xlalign.core.evaluate import (
    CLUSTERING_METRIC,
    MATRIX_COLUMNS,
    QUALITY_K,
    QUALITY_METRIC,
    SUMMARY_COLUMNS,
    CorpusEmbeddings,
    MatrixRow,
    SummaryRow,
)
from xlalign.core.neighbours import knn
from xlalign.core.scenarios import Pool, build_pools
from xlalign.errors import ConfigError
from xlalign.progress import Progress, silent
from xlalign.specs import EXACT_INDEX, EvalSpec, IndexSpec

log = logging.getLogger(__name__)

#: The seed of the index's training (faiss k-means of IVF coarse quantisers and product quantisers).
SEED = 1234
#: Irrelevant documents of one language above a gold for the verdict's rates (its results page).
PAGE = 10
#: The matrix cell holding a pool's retrieval quality without competition (Mono-Same / Mono-Cross NDCG@10), as the
#: verdict reads it; the index's value replaces the exact one only where the exact matrix has that cell.
QUALITY_CELL = QUALITY_METRIC


def _faiss() -> Any:
    import faiss

    return faiss


def faiss_reason(error: BaseException) -> str:
    """faiss's message without its C++ location: ``could not parse index string bogus``."""
    text = " ".join(str(error).split())
    found = re.search(r"\.(?:cpp|h|hpp):\d+: (.*)$", text)
    reason = (found.group(1) if found else text).removeprefix("Error: ")
    if "' failed: " in reason:  # "'!(d % M == 0)' failed: The dimension…": the explanation, not the assertion
        reason = reason.split("' failed: ", 1)[1]
    return reason[:300]


@contextlib.contextmanager
def _faiss_warnings(notes: list[str]) -> Iterator[None]:
    """Collect what faiss's C++ code prints on stderr meanwhile (k-means warnings) into ``notes``, once each;
    anything else printed there is passed on."""
    fd = 2  # faiss's C++ code writes to the process's stderr, whatever sys.stderr is (e.g. under pytest)
    with contextlib.suppress(AttributeError, OSError, ValueError):
        sys.stderr.flush()
    try:
        saved = os.dup(fd)
    except OSError:  # no stderr at all
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), fd)
        try:
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            sink.seek(0)
            lines = sink.read().decode("utf-8", "replace").splitlines()
    for line in dict.fromkeys(lines):
        if line.startswith("WARNING clustering"):
            notes.append("faiss: " + line.removeprefix("WARNING ").strip())
        elif line.strip():
            print(line, file=sys.stderr)


def _seed(index: Any, seed: int) -> None:
    """Seed the k-means of the coarse quantiser and of the product quantiser, where the index has them."""
    faiss = _faiss()
    ivf = faiss.try_extract_index_ivf(index)
    for part in (ivf, faiss.downcast_index(index) if ivf is None else faiss.downcast_index(ivf)):
        if part is None:
            continue
        if hasattr(part, "cp"):
            part.cp.seed = seed
        pq = getattr(part, "pq", None)
        if pq is not None and hasattr(pq, "cp"):
            pq.cp.seed = seed


def trained_index(train: np.ndarray, spec: IndexSpec, notes: list[str], seed: int = SEED) -> Any:
    """An empty faiss index of ``spec.index``, trained on ``train`` (one-line ConfigError when faiss refuses)."""
    faiss = _faiss()
    x = np.ascontiguousarray(train, dtype=np.float32)
    try:
        index = faiss.index_factory(x.shape[1], spec.index, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as e:
        raise ConfigError(f"index {spec.index!r}: faiss cannot build it ({faiss_reason(e)})") from None
    _seed(index, seed)
    if not index.is_trained:
        try:
            with _faiss_warnings(notes):
                index.train(x)
        except RuntimeError as e:
            raise ConfigError(f"index {spec.index!r}: faiss cannot train it on the pool's {len(x)} vectors "
                              f"({faiss_reason(e)})") from None
    return index


def filled_index(trained: Any, units: np.ndarray, spec: IndexSpec) -> Any:
    """A copy of the trained index holding ``units`` (row i = id i), with ``spec.params`` set."""
    faiss = _faiss()
    index = faiss.clone_index(trained)
    try:
        index.add(np.ascontiguousarray(units, dtype=np.float32))
    except RuntimeError as e:
        raise ConfigError(f"index {spec.index!r}: faiss cannot add the pool's vectors to it ({faiss_reason(e)})") \
            from None
    if spec.params:
        try:
            faiss.ParameterSpace().set_index_parameters(index, spec.params)
        except RuntimeError as e:
            raise ConfigError(f"index parameters {spec.params!r}: faiss refuses them for {spec.index!r} "
                              f"({faiss_reason(e)})") from None
    return index


# --------------------------------------------------------------------------------------------
# From returned lists to ranks and rates (pure)
# --------------------------------------------------------------------------------------------
def returned_ranks(ids: np.ndarray, pool: Pool) -> tuple[np.ndarray, np.ndarray]:
    """Index ranks (Q, G) of each gold and (Q, G, L) irrelevant documents of each language returned before it.

    ``ids`` (Q, D): the units each query's search returned, best first (-1: nothing; the query's removed unit
    is skipped). A gold not returned gets rank (pool documents + 1) and counts every returned document.
    """
    valid = (ids >= 0) & (ids != pool.removed_unit[:, None])
    safe = np.where(valid, ids, 0)
    weight = np.where(valid, pool.unit_weight[safe], 0)
    lang = pool.unit_lang_code[safe]
    before = np.cumsum(weight, axis=1) - weight  # documents returned before each entry
    hit = (safe[:, None, :] == pool.gold_units[:, :, None]) & valid[:, None, :]  # (Q, G, D)
    found = hit.any(axis=2)
    where = np.where(found, hit.argmax(axis=2), ids.shape[1])
    rows = np.arange(len(ids))[:, None]
    ranks = np.where(found, 1 + before[rows, np.minimum(where, ids.shape[1] - 1)], int(pool.unit_weight.sum()) + 1)
    irrelevant = np.where(hit.any(axis=1), 0, weight)  # (Q, D)
    n_lang = len(pool.doc_langs)
    above = np.zeros((*ranks.shape, n_lang), dtype=np.int64)
    earlier = np.arange(ids.shape[1])[None, None, :] < where[:, :, None]  # (Q, G, D)
    for c in range(n_lang):
        above[:, :, c] = (earlier * (irrelevant * (lang == c))[:, None, :]).sum(axis=2)
    return ranks.astype(np.int64), above


def index_values(pool: Pool, ranks: np.ndarray, above: np.ndarray, ks: Sequence[int], ndcg_ks: Sequence[int],
                 depth: int, pivot: str) -> dict[str, np.ndarray]:
    """Per-query K-metrics (K ≤ ``depth``) and, in Multi pools, the verdict's pair rates."""
    values: dict[str, np.ndarray] = {}
    for k in ndcg_ks:
        if k <= depth:
            values[f"ndcg@{k}"] = M.ndcg_at_k(ranks, k)
    for k in ks:
        if k <= depth:
            values[f"complete@{k}"] = M.complete_at_k(ranks, k)
    for k in ks:
        if k <= depth:
            values[f"recall@{k}"] = M.recall_at_k(ranks, k)
    if pool.scenario != "multi":
        return values
    code = {lang: i for i, lang in enumerate(pool.doc_langs)}
    gold = {lang: j for j, lang in enumerate(pool.gold_langs)}
    q = pool.query_lang
    if q == pivot:
        for t in pool.gold_langs[1:]:
            values[f"{CLUSTERING_METRIC}:{t}"] = M.displaced(above[:, gold[t], code[q]], PAGE)
    else:
        values[CLUSTERING_METRIC] = M.displaced(above[:, gold[pivot], code[q]], PAGE)
        values["displaced_by_pivot@10"] = M.displaced(above[:, 0, code[pivot]], PAGE)
    return values


def index_cells(pool: Pool, ranks: np.ndarray, above: np.ndarray) -> list[MatrixRow]:
    """The language-bias matrix cells a pool's returned lists decide (the verdict reads them), as the exact ranker's
    cells of the same names (:func:`xlalign.core.evaluate.matrix_rows`):

    * Multi, per gold language l: ``distractor_over_own_gold`` (an irrelevant l document returned before the
      query-language gold) and, l ≠ q, ``clustering@1``, ``clustering@10`` (irrelevant q documents before the l
      gold), ``inclination@10`` (irrelevant l documents before the q gold), ``median_own_above``;
    * Mono-Same / Mono-Cross: :data:`QUALITY_CELL` (NDCG@10) with its 95% interval (``_lo``, ``_hi``), computed
      as the exact ranker's is (:func:`xlalign.core.evaluate.verdict_rows`: cluster-robust over queries, clusters
      the query's passage, which in a Mono pool is its gold unit).
    """
    def row(doc: str, metric: str, value: float) -> MatrixRow:
        return MatrixRow(query_lang=pool.query_lang, doc_lang=doc, metric=metric, value=float(value),
                         n_queries=pool.n_queries, pool_size=pool.pool_size)

    if pool.scenario in ("mono-same", "mono-cross"):
        mean, lo, hi = M.clustered_mean_ci(M.ndcg_at_k(ranks, QUALITY_K), pool.gold_units[:, 0])
        doc = pool.doc_langs[0]
        return [row(doc, QUALITY_CELL, mean), row(doc, f"{QUALITY_CELL}_lo", max(0.0, lo)),
                row(doc, f"{QUALITY_CELL}_hi", min(100.0, hi))]
    if pool.scenario != "multi":
        return []
    code = {lang: i for i, lang in enumerate(pool.doc_langs)}
    q = code[pool.query_lang]
    rows = []
    for j, lang in enumerate(pool.gold_langs):
        rows.append(row(lang, "distractor_over_own_gold", M.displaced(above[:, 0, code[lang]], 1).mean()))
        if lang != pool.query_lang:
            rows += [row(lang, "clustering@1", M.displaced(above[:, j, q], 1).mean()),
                     row(lang, "clustering@10", M.displaced(above[:, j, q], PAGE).mean()),
                     row(lang, "inclination@10", M.displaced(above[:, 0, code[lang]], PAGE).mean()),
                     row(lang, "median_own_above", np.median(above[:, j, q]))]
    return rows


def neighbour_recall(returned: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """(Q,) share of each query's exact top-D ids (``exact`` (Q, D), -1 = none) found among ``returned``."""
    found = (exact[:, :, None] == returned[:, None, :]).any(axis=2) & (exact >= 0)
    out: np.ndarray = 100.0 * found.sum(axis=1) / np.maximum((exact >= 0).sum(axis=1), 1)
    return out


# --------------------------------------------------------------------------------------------
# The whole evaluation through the user's index
# --------------------------------------------------------------------------------------------
@dataclass
class IndexResult:
    """The index's rows (long format, like the exact summary), the matrix cells its lists decide, its timing and
    faiss's notes."""

    spec: IndexSpec
    rows: list[SummaryRow]
    seconds: dict[str, float]
    n_train: int
    index_bytes: int
    notes: list[str] = field(default_factory=list)
    cells: list[MatrixRow] = field(default_factory=list)

    def summary_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=SUMMARY_COLUMNS)

    def cells_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.cells, columns=MATRIX_COLUMNS)

    def record(self) -> dict[str, Any]:
        """What a run record keeps of it."""
        return {"index": self.spec.index, "params": self.spec.params, "depth": self.spec.depth, "seed": SEED,
                "trained_on": self.n_train, "index_bytes": self.index_bytes,
                **{f"{k}_s": round(v, 4) for k, v in self.seconds.items()}, "notes": list(self.notes)}


def _search(index: Any, queries: np.ndarray, depth: int) -> np.ndarray:
    _, ids = index.search(np.ascontiguousarray(queries, dtype=np.float32), depth)
    out: np.ndarray = ids.astype(np.int64)
    return out


def _without_removed(ids: np.ndarray, pool: Pool, depth: int) -> np.ndarray:
    """Each list without the query's removed unit (Multi-1), cut to ``depth`` entries."""
    keep = ids != pool.removed_unit[:, None]
    order = np.argsort(~keep, axis=1, kind="stable")  # kept entries first, in their order
    out = np.where(np.take_along_axis(keep, order, axis=1), np.take_along_axis(ids, order, axis=1), -1)
    return out[:, :depth]


def _pool_rows(pool: Pool, values: dict[str, np.ndarray]) -> list[SummaryRow]:
    base = dict(scenario=pool.scenario, pool=pool.pool_mode, query_lang=pool.query_lang, doc_lang=pool.doc_lang,
                n_queries=pool.n_queries, pool_size=pool.pool_size)
    return [SummaryRow(metric=m, value=float(np.mean(v)), **base) for m, v in values.items()]  # type: ignore[typeddict-item]


def evaluate_index(corpus: ParallelCorpus, emb: CorpusEmbeddings, spec: EvalSpec, index: IndexSpec,
                   progress: Progress | None = None) -> IndexResult:
    """Every pool of ``spec`` searched through the user's index (see the module docstring)."""
    if index.index == EXACT_INDEX:
        raise ConfigError("no index to evaluate: the index is 'exact' (give a faiss factory string, e.g. HNSW32)")
    report = progress or silent
    pools = build_pools(corpus, spec.langs, spec.scenarios, spec.pool)
    notes: list[str] = []
    train = np.concatenate([emb.passages[lang] for lang in spec.langs])
    seconds = {"train": 0.0, "add": 0.0, "search": 0.0}
    start = time.perf_counter()
    trained = trained_index(train, index, notes)
    seconds["train"] = time.perf_counter() - start
    filled: dict[tuple[str, ...], tuple[Any, np.ndarray]] = {}
    rows: list[SummaryRow] = []
    cells: list[MatrixRow] = []
    for n, pool in enumerate(pools):
        report("searching your index", n, len(pools))
        if pool.doc_langs not in filled:
            units = emb.units(pool)
            start = time.perf_counter()
            filled[pool.doc_langs] = (filled_index(trained, units, index), units)
            seconds["add"] += time.perf_counter() - start
        built, units = filled[pool.doc_langs]
        depth = min(index.depth, len(units) - (1 if pool.scenario == "multi-1" else 0))
        queries = emb.queries[pool.query_lang]
        start = time.perf_counter()
        ids = _search(built, queries, min(depth + 1, len(units)))
        seconds["search"] += time.perf_counter() - start
        returned = _without_removed(ids, pool, depth)
        whole = depth < index.depth  # the whole pool was asked for: every K is answered
        ranks, above = returned_ranks(returned, pool)
        values = index_values(pool, ranks, above, spec.ks, spec.ndcg_ks,
                              max(*spec.ks, *spec.ndcg_ks) if whole else depth, spec.pivot)
        cells += index_cells(pool, ranks, above)
        exact = _without_removed(knn(queries, units, min(depth + 1, len(units)))[1], pool, depth)
        values[f"index_recall@{index.depth}"] = neighbour_recall(returned, exact)
        rows += _pool_rows(pool, values)
    report("searching your index", len(pools), len(pools))
    multi = filled.get(tuple(spec.langs))
    size = len(_faiss().serialize_index(multi[0])) if multi is not None else 0
    return IndexResult(index, rows, seconds, len(train), size, notes, cells)


__all__ = ["PAGE", "QUALITY_CELL", "SEED", "IndexResult", "evaluate_index", "faiss_reason", "filled_index",
           "index_cells", "index_values", "neighbour_recall", "returned_ranks", "trained_index"]
