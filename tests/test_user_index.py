"""The user's own faiss index (xlalign.core.user_index, services.neighbourhoods): an exact Flat index reproduces the
exact ranker, hand-checked returned lists, seeded training, the verdict from the index's rows, and one-line
errors for every index string faiss or the spec refuses."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from xlalign.core.corpus import ParallelCorpus
from xlalign.core.evaluate import CorpusEmbeddings, evaluate_embeddings
from xlalign.core.scenarios import build_pool
from xlalign.core.user_index import IndexResult, evaluate_index, index_values, returned_ranks
from xlalign.errors import ConfigError
from xlalign.services.neighbourhoods import index_comparison, index_report
from xlalign.specs import EvalSpec, IndexSpec


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _setup(n: int, langs: tuple[str, ...], *, per_passage: int = 1, noise: float = 0.6, seed: int = 0,
           offset: float = 0.0) -> tuple[ParallelCorpus, CorpusEmbeddings]:
    """n items; every ``per_passage`` consecutive items share a passage; content shared across languages."""
    ids = tuple(f"i{i}" for i in range(n))
    keys = tuple(f"p{i // per_passage}" for i in range(n))
    corpus = ParallelCorpus("t", ids, tuple(f"g{i % 4}" for i in range(n)), keys,
                            {x: tuple(f"{x} passage {k}" for k in keys) for x in langs},
                            {x: tuple(f"{x} question {i}" for i in range(n)) for x in langs})
    rng = np.random.default_rng(seed)
    n_passages = len(set(keys))
    content = rng.normal(size=(n_passages, 24))
    item_content = content[[i // per_passage for i in range(n)]]
    shift = {x: offset * rng.normal(size=24) for x in langs}
    passages = {x: _unit(content + noise * rng.normal(size=content.shape) + shift[x]) for x in langs}
    queries = {x: _unit(item_content + noise * rng.normal(size=item_content.shape) + shift[x]) for x in langs}
    return corpus, CorpusEmbeddings(passages, queries)


@pytest.mark.parametrize("pool", ["dedup", "per-question"])
def test_a_flat_index_gives_the_exact_figures(pool):
    corpus, emb = _setup(64, ("en", "zh", "ar"), per_passage=2, offset=0.8)
    spec = EvalSpec(langs=("en", "zh", "ar"), pool=pool)
    exact = evaluate_embeddings(corpus, emb, spec)
    report = index_report(corpus, emb, exact, IndexSpec(index="Flat", depth=200))
    table = report.table
    assert set(table.metric) >= {"complete@1", "complete@10", "recall@100", "ndcg@10", "displaced_by_own@10",
                                 "displaced_by_own@10:zh", "displaced_by_pivot@10"}
    assert table.exact.notna().all()
    assert np.allclose(table.change, 0.0, atol=1e-9), table[table.change.abs() > 1e-9]
    assert not report.verdicts.flipped.any() and len(report.verdicts) == 4
    # the matrix cells its lists decide are the exact ranker's too, wherever the exact matrix has them
    found = evaluate_index(corpus, emb, spec, IndexSpec(index="Flat", depth=200)).cells_frame()
    both = found.merge(exact.matrix_frame(), on=["query_lang", "doc_lang", "metric"], suffixes=("_index", "_exact"))
    both = both[~both.metric.str.endswith(("_lo", "_hi"))]  # an interval of the index's own (normal approximation)
    assert {"distractor_over_own_gold", "clustering@10", "inclination@10", "median_own_above"} <= set(both.metric)
    assert np.allclose(both.value_index, both.value_exact, atol=1e-9), both[both.value_index != both.value_exact]


def test_k_metrics_stop_at_the_search_depth():
    corpus, emb = _setup(40, ("en", "de"))
    found = evaluate_index(corpus, emb, EvalSpec(langs=("en", "de")), IndexSpec(index="Flat", depth=10))
    metrics = set(found.summary_frame().metric)
    assert {"complete@10", "recall@5", "ndcg@10", "index_recall@10"} <= metrics
    assert not {"complete@20", "recall@100"} & metrics


def test_returned_lists_by_hand():
    """German queries in an en + de Multi pool of 3 passages: units en 0–2, de 3–5; golds (de, en)."""
    corpus, _ = _setup(3, ("en", "de"))
    pool = build_pool(corpus, ("en", "de"), "multi", "de")
    ids = np.array([[4, 0, 5, 3], [0, 2, -1, -1], [0, 5, 1, 2]])
    ranks, above = returned_ranks(ids, pool)
    assert ranks.tolist() == [[4, 2], [7, 7], [2, 4]]  # not returned: below all 6 documents
    assert above[0].tolist() == [[0, 2], [0, 1]]  # de gold: de units 4, 5 above it; en gold: unit 4 above it
    assert above[1].tolist() == [[2, 0], [2, 0]]  # neither gold returned: every returned one counts
    assert above[2].tolist() == [[1, 0], [2, 0]]  # unit 5 is query 2's de gold: never counted as irrelevant
    values = index_values(pool, ranks, above, ks=(1, 4, 5), ndcg_ks=(1,), depth=4, pivot="en")
    assert "complete@5" not in values  # beyond the depth
    assert values["complete@4"].tolist() == [100.0, 0.0, 100.0]
    assert values["recall@1"].tolist() == [0.0, 0.0, 0.0]
    assert values["displaced_by_own@10"].tolist() == [0.0, 0.0, 0.0]


def test_multi_1_lists_skip_the_removed_gold():
    corpus, _ = _setup(3, ("en", "de"))
    pool = build_pool(corpus, ("en", "de"), "multi-1", "de")  # the de gold (unit 3 + i) is removed
    ranks, _ = returned_ranks(np.array([[3, 4, 0], [1, 4, 2], [5, 2, 1]]), pool)
    assert ranks[:, 0].tolist() == [2, 1, 1]


def test_index_training_is_seeded():
    corpus, emb = _setup(300, ("en", "de"), offset=0.5)
    spec, index = EvalSpec(langs=("en", "de"), scenarios=("multi",)), IndexSpec(index="IVF8,PQ4x4fs", params="nprobe=2")
    first = evaluate_index(corpus, emb, spec, index)
    again = evaluate_index(corpus, emb, spec, index)
    assert first.rows == again.rows
    recall = first.summary_frame().query("metric == 'index_recall@100'").value
    assert (recall < 100).all() and (recall > 0).all()
    assert set(first.seconds) == {"train", "add", "search"} and first.n_train == 600 and first.index_bytes > 0
    assert any("clustering 600 points to 16 centroids" in n for n in first.notes)  # faiss's warning, kept as a note


def test_the_verdict_is_read_from_the_index_rows():
    """Planted clustering (a strong offset per language): an index whose lists no longer put Chinese documents above
    the English gold takes the clustering away from the verdict of Chinese queries, and the flip is reported."""
    corpus, emb = _setup(60, ("en", "zh"), noise=0.2, offset=2.0)
    spec = EvalSpec(langs=("en", "zh"))
    exact = evaluate_embeddings(corpus, emb, spec)
    rows = [dict(r) for r in exact.rows if not r["metric"].startswith(("max_r", "map", "mrr"))]
    for r in rows:
        if r["metric"] == "displaced_by_own@10" and r["query_lang"] == "zh":
            r["value"] = 0.0
    cells = [dict(c) for c in exact.matrix]
    for c in cells:  # the same in the matrix cells (the rule may read either)
        if (c["query_lang"], c["doc_lang"]) == ("zh", "en") and c["metric"] in ("clustering@1", "clustering@10",
                                                                                 "median_own_above"):
            c["value"] = 0.0
    found = IndexResult(IndexSpec(index="HNSW8"), rows, {"train": 0.0, "add": 0.0, "search": 0.0}, 120, 1,
                        cells=cells)
    report = index_comparison(exact, found)
    zh = report.verdicts.set_index("query_lang").loc["zh"]
    assert "clustering" in zh.exact and "clustering" not in zh["index"] and zh.flipped
    assert list(report.flips.query_lang) == ["zh"]
    moved = report.table.set_index(["query_lang", "metric"]).loc[("zh", "displaced_by_own@10")]
    assert moved["index"] == 0.0 and moved.change == pytest.approx(-moved.exact)


# ------------------------------------------------------------------------------------------ refusals
def _refusal(index: str, params: str = "", n: int = 40) -> str:
    corpus, emb = _setup(n, ("en", "de"))
    with pytest.raises(ConfigError) as caught:
        evaluate_index(corpus, emb, EvalSpec(langs=("en", "de")), IndexSpec(index=index, params=params))
    message = str(caught.value)
    assert "\n" not in message and "/project/faiss" not in message and "Error in" not in message
    return message


def test_an_unparsable_factory_string_is_one_line():
    assert _refusal("Bogus32") == "index 'Bogus32': faiss cannot build it (could not parse index string Bogus32)"


def test_an_index_that_cannot_be_trained_on_the_pool_is_one_line():
    message = _refusal("IVF4096,Flat")
    assert message.startswith("index 'IVF4096,Flat': faiss cannot train it on the pool's 80 vectors (")
    assert "Number of training points (80) should be at least as large as number of clusters (4096)" in message


def test_a_quantiser_that_does_not_divide_the_dimension_is_one_line():
    assert "multiple of the number of subquantizers" in _refusal("PQ7")


def test_search_parameters_the_index_lacks_are_one_line():
    assert _refusal("HNSW16", "nprobe=4").startswith("index parameters 'nprobe=4': faiss refuses them for 'HNSW16' (")


def test_exact_has_no_index_to_evaluate():
    corpus, emb = _setup(20, ("en", "de"))
    with pytest.raises(ConfigError, match="no index to evaluate"):
        evaluate_index(corpus, emb, EvalSpec(langs=("en", "de")), IndexSpec())


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"index": "HNSW32; rm -rf /"}, "is not a faiss index factory string"),
    ({"index": "IVF1000000,Flat"}, "an IVF list count must be ≤ 65536"),
    ({"index": "PCA65536,Flat"}, "every other number ≤ 4096"),
    ({"index": "HNSW32", "params": "efSearch=100000"}, "every other number ≤ 4096"),
    ({"index": "HNSW1024"}, "M must be ≤ 256"),
    ({"index": "HNSW32", "params": "efSearch"}, "must read name=value"),
    ({"params": "nprobe=4"}, "need an index"),
    ({"index": "Flat", "depth": 5}, "index depth must be a number ≥ 10"),
    ({"index": "Flat", "depth": 10.5}, "index depth must be a whole number"),
    ({"index": 32}, "index index must be text"),
])
def test_index_spec_refusals(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        IndexSpec(**kwargs)


def test_index_spec_normalises_exact_and_spaces():
    assert IndexSpec(index=" EXACT ").exact and IndexSpec(index="IVF16, PQ8").index == "IVF16,PQ8"
    assert dataclasses.asdict(IndexSpec()) == {"index": "exact", "params": "", "depth": 100}


def test_index_table_columns():
    corpus, emb = _setup(30, ("en", "de"))
    exact = evaluate_embeddings(corpus, emb, EvalSpec(langs=("en", "de"), scenarios=("mono-same",)))
    table = index_report(corpus, emb, exact, IndexSpec(index="HNSW8")).table
    assert list(table.columns) == ["scenario", "pool", "query_lang", "doc_lang", "metric", "exact", "index", "change",
                                   "n_queries", "pool_size"]
    assert isinstance(table, pd.DataFrame) and set(table.scenario) == {"mono-same"}
