"""Centering and Procrustes exported into faiss: an IndexPreTransform (LinearTransform + L2 normalisation) per
(role, language) around one shared index finds the neighbours xlalign's own transform finds — in xlalign and
in the exported, standalone xlalign_apply.py."""

from __future__ import annotations

import importlib.util
import warnings

import faiss
import numpy as np
import pytest

from xlalign.align.centering import LanguageCentering
from xlalign.align.procrustes import OrthogonalProcrustes
from xlalign.align.transform import LanguageAwareTransform, write_language_transform

LANGS = ("en", "zh", "ar")
D = 16


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _data(seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    content = rng.normal(size=(80, D))
    shift = {lang: 2.0 * rng.normal(size=D) for lang in LANGS}  # a language offset centering removes
    docs = {lang: _unit(content + 0.4 * rng.normal(size=content.shape) + shift[lang]) for lang in LANGS}
    queries = {lang: _unit(content[:30] + 0.4 * rng.normal(size=(30, D)) + shift[lang]) for lang in LANGS}
    return docs, queries


def _centering() -> LanguageAwareTransform:
    docs, queries = _data(1)
    return LanguageAwareTransform.from_centering(LanguageCentering(mode="subtract").fit(docs),
                                                 LanguageCentering(mode="subtract").fit(queries))


def _procrustes() -> LanguageAwareTransform:
    docs, _ = _data(2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = OrthogonalProcrustes().fit(docs["zh"], docs["en"])
    return LanguageAwareTransform.from_procrustes(est, "zh", "en")


def _xlalign_neighbours(t: LanguageAwareTransform, docs: dict[str, np.ndarray], queries: np.ndarray, lang: str,
                        k: int) -> np.ndarray:
    """Brute force over xlalign's own aligned embeddings (float64 scores, ties by lower id)."""
    langs = [x for x in LANGS if x in t.langs]
    aligned = np.concatenate([t.apply(docs[x], x, "passage") for x in langs]).astype(np.float64)
    s = t.apply(queries, lang, "query").astype(np.float64) @ aligned.T
    return np.lexsort((np.tile(np.arange(s.shape[1]), (len(s), 1)), -s), axis=1)[:, :k]


def _faiss_neighbours(wrap, docs: dict[str, np.ndarray], queries: np.ndarray, lang: str, langs: list[str],
                      k: int) -> np.ndarray:
    base = faiss.IndexFlatIP(D)
    for x in langs:  # one shared index, each language through its own wrapper; ids follow the order of adding
        wrap(base, x, "passage").add(docs[x])
    _, ids = wrap(base, lang, "query").search(queries, k)
    assert base.ntotal == sum(len(docs[x]) for x in langs)
    return ids


@pytest.mark.parametrize("make", [_centering, _procrustes], ids=["centering", "procrustes"])
def test_the_faiss_pretransform_finds_xlalign_neighbours(make):
    t = make()
    docs, queries = _data(3)
    langs = [x for x in LANGS if x in t.langs]
    for lang in langs:
        want = _xlalign_neighbours(t, docs, queries[lang], lang, 10)
        got = _faiss_neighbours(t.faiss_index, docs, queries[lang], lang, langs, 10)
        np.testing.assert_array_equal(got, want)


def test_the_exported_xlalign_apply_builds_the_same_wrappers(tmp_path):
    t = _centering()
    folder = write_language_transform(t, tmp_path / "export")
    spec = importlib.util.spec_from_file_location("xlalign_apply_faiss", folder / "xlalign_apply.py")
    standalone = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(standalone)  # type: ignore[union-attr]
    exported = standalone.load(folder)
    docs, queries = _data(4)
    want = _xlalign_neighbours(t, docs, queries["ar"], "ar", 10)
    np.testing.assert_array_equal(_faiss_neighbours(exported.faiss_index, docs, queries["ar"], "ar", list(LANGS), 10),
                                  want)


def test_centering_inside_the_index_changes_the_neighbours():
    """The check above is not vacuous: without the wrappers, the same index finds other neighbours."""
    t = _centering()
    docs, queries = _data(3)
    plain = faiss.IndexFlatIP(D)
    for x in LANGS:
        plain.add(docs[x])
    _, ids = plain.search(queries["zh"], 10)
    assert not np.array_equal(ids, _xlalign_neighbours(t, docs, queries["zh"], "zh", 10))
    assert (ids // 80 == 1).mean() > 0.9  # raw: Chinese queries find Chinese documents (the offset)


def test_a_wrapper_for_an_unknown_language_is_refused():
    with pytest.raises(KeyError, match="no map for role 'passage' and language 'fr'"):
        _centering().faiss_index(faiss.IndexFlatIP(D), "fr", "passage")
