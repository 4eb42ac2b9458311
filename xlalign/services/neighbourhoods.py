"""Neighbourhood views of a diagnosis or a run, and the user's index beside the exact ranker.

* :func:`neighbourhood_tables` — bitext mining, neighbourhood purity and (optionally) the language-identity
  probe of one set of embeddings (:mod:`xlalign.core.neighbours`), timed.
* :func:`index_comparison` — the K-metrics and rates a user's faiss index gives
  (:func:`xlalign.core.user_index.evaluate_index`) beside the exact ranker's, what changed, and the verdict
  each gives (:func:`xlalign.core.verdict.verdicts` on both: the same rule, two sets of rows).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from xlalign.core.corpus import ParallelCorpus
from xlalign.core.evaluate import CorpusEmbeddings, EvalResult
from xlalign.core.neighbours import BITEXT_COLUMNS, Neighbourhoods, bitext_rows, neighbourhoods
from xlalign.core.user_index import IndexResult, evaluate_index
from xlalign.core.verdict import verdicts
from xlalign.progress import Progress
from xlalign.report.neighbourhoods import mining_sentence, pair_mining
from xlalign.specs import EvalSpec, IndexSpec
from xlalign.timing import timed

log = logging.getLogger(__name__)

INDEX_COLUMNS = ["scenario", "pool", "query_lang", "doc_lang", "metric", "exact", "index", "change", "n_queries",
                 "pool_size"]
VERDICT_COLUMNS = ["query_lang", "against", "exact", "index", "flipped"]


def neighbourhood_tables(corpus: ParallelCorpus, emb: CorpusEmbeddings, langs: Sequence[str], *,
                         probe: bool = False) -> Neighbourhoods:
    """:func:`xlalign.core.neighbours.neighbourhoods`, with its time logged."""
    with timed(log, "neighbourhoods", languages=len(langs), probe=probe):
        return neighbourhoods(corpus, emb, langs, probe=probe)


def pivot_mining(corpus: ParallelCorpus, emb: CorpusEmbeddings, pivot: str, targets: Sequence[str]) -> pd.DataFrame:
    """Bitext mining of each target against the pivot: passages, both directions, without the bootstrap (the
    part shown beside a verdict at once; a few milliseconds per target)."""
    rows = bitext_rows(corpus, emb, (pivot, *targets), pairs=[(t, pivot) for t in targets], kinds=("passages",),
                       resamples=0)
    return pd.DataFrame(rows, columns=BITEXT_COLUMNS)


def mining_columns(corpus: ParallelCorpus, emb: CorpusEmbeddings, target: str, pivot: str,
                   judged: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """A Languages row's bitext columns: top-1 both ways and the margin xsim error (passages), and the sentence,
    weighed against the pair's verdicts ``judged`` ((kind, whose queries), the target's first)."""
    frame = pivot_mining(corpus, emb, pivot, [target])
    found = pair_mining(frame, target, pivot)
    if found is None:
        return {}
    kind, who = next((j for j in judged if "clustering" in j[0]), judged[0] if judged else (None, None))
    return {f"bitext top-1 % to {pivot}": found["accuracy_ab"], f"bitext top-1 % from {pivot}": found["accuracy_ba"],
            f"xsim error % to {pivot}": found["xsim_error_ab"],
            "bitext sentence": mining_sentence(frame, target, pivot, kind, who)}


def beside_verdict(table: pd.DataFrame) -> pd.DataFrame:
    """The Languages table with its bitext columns right after the verdict's rates (not scrolled out of sight)."""
    mining = [c for c in table.columns if c.startswith(("bitext top-1 %", "xsim error %"))]
    anchor = next((c for c in ("impact CI", "clustering CI", "verdict") if c in table.columns), None)
    if not mining or anchor is None:
        return table
    rest = [c for c in table.columns if c not in mining]
    at = rest.index(anchor) + 1
    return table[rest[:at] + mining + rest[at:]]


@dataclass
class IndexReport:
    """The user's index against the exact ranker: ``table`` (INDEX_COLUMNS), ``verdicts`` (VERDICT_COLUMNS),
    and the index's own record (factory, parameters, depth, seed, timing, size, faiss's notes)."""

    table: pd.DataFrame
    verdicts: pd.DataFrame
    record: dict[str, Any]

    @property
    def flips(self) -> pd.DataFrame:
        return self.verdicts[self.verdicts.flipped]


def index_comparison(exact: EvalResult, found: IndexResult) -> IndexReport:
    """Each of the index's rows beside the exact figure for the same pool and metric (``index_recall@D``: the
    exact ranker returns all of its top D, 100), and each pair's verdict from both."""
    key = ["scenario", "pool", "query_lang", "doc_lang", "metric"]
    mine = found.summary_frame()
    theirs = exact.summary_frame()[[*key, "value"]].rename(columns={"value": "exact"})
    table = mine.rename(columns={"value": "index"}).merge(theirs, on=key, how="left")
    table.loc[table.metric.str.startswith("index_recall@"), "exact"] = 100.0
    table["change"] = table["index"] - table["exact"]
    spec = exact.spec
    before = {(v.query_lang, v.against): v.kind for v in
              verdicts(exact.summary_frame(), exact.matrix_frame(), spec.pivot, spec.langs)}
    seen = overlay(exact.matrix_frame(), found.cells_frame())
    after = {(v.query_lang, v.against): v.kind for v in verdicts(mine, seen, spec.pivot, spec.langs)}
    rows = [{"query_lang": q, "against": a, "exact": kind, "index": after.get((q, a), ""),
             "flipped": after.get((q, a), kind) != kind} for (q, a), kind in before.items()]
    return IndexReport(table[INDEX_COLUMNS], pd.DataFrame(rows, columns=VERDICT_COLUMNS), found.record())


def overlay(matrix: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """The exact matrix with the cells the index's lists decide replaced by the index's values (cells the exact
    matrix lacks are left out; the rest — e.g. the translation preference, a property of the embeddings' scores
    rather than of a search — stays the exact ranker's)."""
    if matrix.empty or cells.empty:
        return matrix
    key = ["query_lang", "doc_lang", "metric"]
    out = matrix.set_index(key)
    theirs = cells.drop_duplicates(subset=key, keep="last").set_index(key)
    common = out.index.intersection(theirs.index)
    out.loc[common, "value"] = theirs.loc[common, "value"]
    return out.reset_index()[list(matrix.columns)]


def index_report(corpus: ParallelCorpus, emb: CorpusEmbeddings, exact: EvalResult, index: IndexSpec,
                 progress: Progress | None = None) -> IndexReport:
    """Search every pool of ``exact``'s evaluation through the user's index and compare."""
    spec: EvalSpec = exact.spec
    return index_comparison(exact, evaluate_index(corpus, emb, spec, index, progress))


__all__ = ["INDEX_COLUMNS", "VERDICT_COLUMNS", "IndexReport", "beside_verdict", "index_comparison", "index_report",
           "mining_columns",
           "neighbourhood_tables", "overlay", "pivot_mining"]
