"""Property tests: loaders refuse any input with a CorpusError (never another exception), and metric invariants."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xlalign.core import metrics as M
from xlalign.core.corpus import ParallelCorpus
from xlalign.core.loaders import load_long, load_squad_folder, load_xquad
from xlalign.errors import CorpusError

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
VALID_SQUAD = {"data": [{"title": "T", "paragraphs": [{"context": "Cats purr.", "qas": [{"id": "q1", "question": "Why?"}]}]}]}

# -------------------------------------------------------------------------------------------- inputs
#: Every JSON type, including the ones a careless loader would stringify (numbers, booleans, null, lists, objects).
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.floats(allow_nan=False, width=32),
                      st.text(max_size=12), st.sampled_from(["", " ", "en", "de", "q1", "q2", "Cats purr."]))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                             st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                          max_leaves=8)


def maybe(value: st.SearchStrategy) -> st.SearchStrategy:
    """The intended shape half of the time, any JSON value otherwise."""
    return st.one_of(value, json_value)


squad_qa = st.fixed_dictionaries({"id": maybe(st.sampled_from(["q1", "q2", "q3"])),
                                  "question": maybe(st.text(min_size=1, max_size=10))})
squad_paragraph = st.fixed_dictionaries({"context": maybe(st.text(max_size=10)), "qas": maybe(st.lists(maybe(squad_qa),
                                                                                                      max_size=3))})
squad_article = st.fixed_dictionaries({"title": maybe(st.text(max_size=6)),
                                       "paragraphs": maybe(st.lists(maybe(squad_paragraph), max_size=3))})
squad_doc = st.one_of(st.fixed_dictionaries({"data": maybe(st.lists(maybe(squad_article), max_size=3))}), json_value)

long_row = st.dictionaries(st.sampled_from(["id", "lang", "passage", "question", "group", "passage_id"]),
                           st.one_of(st.sampled_from(["1", "2", "en", "de", "P one", "P two"]), json_leaf,
                                     json_value), max_size=6)
long_line = st.one_of(long_row.map(json.dumps), long_row.map(json.dumps), json_value.map(json.dumps),
                      st.text(max_size=20))

payload_bytes = st.one_of(st.binary(max_size=300), st.text(max_size=300).map(lambda t: t.encode("utf-8")),
                          st.just(b"\xef\xbb\xbf"), st.just(b"[" * 5000))


def refuses_cleanly(load: Callable[[Path], ParallelCorpus], make: Callable[[Path], None]) -> None:
    """``load`` either returns a corpus or raises CorpusError; anything else is a bug."""
    work = Path(tempfile.mkdtemp(prefix="xlalign-prop-"))
    try:
        make(work)
        try:
            corpus = load(work)
        except CorpusError as e:
            assert str(e) and "\n" not in str(e), f"not a one-line message: {e!r}"
        else:
            assert isinstance(corpus, ParallelCorpus) and len(corpus) > 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _squad_pair(en: bytes, de: bytes) -> Callable[[Path], None]:
    def make(work: Path) -> None:
        (work / "x.en.json").write_bytes(en)
        (work / "x.de.json").write_bytes(de)

    return make


# -------------------------------------------------------------------------------------------- loaders
@SETTINGS
@given(payload_bytes)
def test_squad_folder_random_bytes(payload):
    valid = json.dumps(VALID_SQUAD).encode()
    refuses_cleanly(load_squad_folder, _squad_pair(payload, valid))
    refuses_cleanly(load_squad_folder, _squad_pair(valid, payload))


@SETTINGS
@given(squad_doc, squad_doc)
def test_squad_folder_random_structure(en, de):
    refuses_cleanly(load_squad_folder, _squad_pair(json.dumps(en).encode(), json.dumps(de).encode()))


@SETTINGS
@given(payload_bytes, st.sampled_from(["x.jsonl", "x.csv"]))
def test_long_random_bytes(payload, name):
    refuses_cleanly(lambda w: load_long(w / name), lambda w: (w / name).write_bytes(payload))


@SETTINGS
@given(st.lists(long_line, min_size=1, max_size=6))
def test_long_jsonl_random_rows(lines):
    refuses_cleanly(lambda w: load_long(w / "x.jsonl"),
                    lambda w: (w / "x.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8"))


@SETTINGS
@given(st.lists(st.lists(st.one_of(st.sampled_from(["1", "2", "en", "de", "P", "Q", ""]), st.text(max_size=6)),
                         max_size=6), max_size=5))
def test_long_csv_random_cells(rows):
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["id", "lang", "passage", "question"])
    writer.writerows(rows)
    refuses_cleanly(lambda w: load_long(w / "x.csv"), lambda w: (w / "x.csv").write_text(buf.getvalue(), encoding="utf-8"))


@pytest.fixture(scope="module")
def datasets_cache(tmp_path_factory):
    """``datasets`` caches what it reads; keep that out of the user's cache."""
    import datasets

    mp = pytest.MonkeyPatch()
    mp.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path_factory.mktemp("hf-datasets"))
    yield
    mp.undo()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(payload_bytes, st.lists(long_row.map(json.dumps), min_size=1, max_size=4).map(
    lambda lines: "\n".join(lines).encode())))
def test_xquad_local_random_bytes(datasets_cache, payload):
    refuses_cleanly(lambda w: load_xquad(["en"], local=w), lambda w: (w / "xquad.en.jsonl").write_bytes(payload))


def test_huge_integer_is_a_corpus_error(tmp_path):
    """JSON integers longer than Python's 4300-digit limit raise ValueError inside json; a loader must name the file."""
    big = "1" * 5000
    (tmp_path / "a.jsonl").write_text(f'{{"id": {big}, "lang": "en", "passage": "p", "question": "q"}}\n')
    with pytest.raises(CorpusError, match=r"a\.jsonl:1: invalid JSON"):
        load_long(tmp_path / "a.jsonl")
    folder = tmp_path / "squad"
    folder.mkdir()
    (folder / "x.en.json").write_text(f'{{"data": [{big}]}}')
    (folder / "x.de.json").write_text(json.dumps(VALID_SQUAD))
    with pytest.raises(CorpusError, match=r"x\.en\.json: invalid JSON"):
        load_squad_folder(folder)


# -------------------------------------------------------------------------------------------- metrics
@st.composite
def rank_arrays(draw) -> tuple[np.ndarray, int]:
    """(Q, G) gold ranks, distinct within a row, in [1, pool size], and a pool size > G."""
    n_gold = draw(st.integers(1, 4))
    pool = draw(st.integers(n_gold + 1, 300))
    rows = draw(st.lists(st.lists(st.integers(1, pool), min_size=n_gold, max_size=n_gold, unique=True),
                         min_size=1, max_size=8))
    return np.asarray(rows, dtype=np.int64), pool


@SETTINGS
@given(rank_arrays())
def test_max_r_bounds_every_gold_and_normalises_into_0_100(arrays):
    ranks, pool = arrays
    worst = M.max_r(ranks)
    assert (worst[:, None] >= ranks).all() and (worst == ranks.max(axis=1)).all()
    norm = M.max_r_norm(ranks, pool)
    assert ((norm >= -1e-9) & (norm <= 100 + 1e-9)).all()
    assert np.allclose(norm[ranks.max(axis=1) == ranks.shape[1]], 100.0)
    assert np.allclose(norm[ranks.max(axis=1) == pool], 0.0)


@SETTINGS
@given(rank_arrays(), st.integers(1, 300), st.integers(1, 300))
def test_complete_and_recall_are_monotone_in_k(arrays, k1, k2):
    ranks, _ = arrays
    lo, hi = sorted((k1, k2))
    assert (M.complete_at_k(ranks, lo) <= M.complete_at_k(ranks, hi)).all()
    assert (M.recall_at_k(ranks, lo) <= M.recall_at_k(ranks, hi)).all()
    assert (M.complete_at_k(ranks, lo) == 100.0 * (M.max_r(ranks) <= lo)).all()


@SETTINGS
@given(rank_arrays(), st.integers(1, 50))
def test_ndcg_in_0_100_and_perfect_at_the_top(arrays, k):
    ranks, _ = arrays
    ndcg = M.ndcg_at_k(ranks, k)
    assert ((ndcg >= 0) & (ndcg <= 100 + 1e-9)).all()
    top = np.tile(np.arange(1, ranks.shape[1] + 1), (len(ranks), 1))
    assert np.allclose(M.ndcg_at_k(top, k), 100.0)


@SETTINGS
@given(rank_arrays())
def test_average_precision_and_mrr_in_0_1(arrays):
    ranks, _ = arrays
    ap, rr = M.average_precision(ranks), M.reciprocal_rank(ranks)
    assert ((ap > 0) & (ap <= 1)).all() and ((rr > 0) & (rr <= 1)).all()
    assert np.allclose(ap[ranks.max(axis=1) == ranks.shape[1]], 1.0)
    if ranks.shape[1] == 1:
        assert np.allclose(ap, rr)
