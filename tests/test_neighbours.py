"""Neighbourhoods (xlalign.core.neighbours): faiss k-NN, bitext mining against an independent brute force and
MTEB's definitions, hand-checked tiny cases, purity, and the language-identity probe on a planted offset."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support, precision_score, recall_score

from xlalign.core.corpus import ParallelCorpus
from xlalign.core.evaluate import CorpusEmbeddings
from xlalign.core.neighbours import (
    bitext_rows,
    bootstrap_prf,
    knn,
    margin_predictions,
    mine_pair,
    neighbourhoods,
    probe_rows,
    purity_rows,
    unique_pairs,
    weighted_prf,
)


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _corpus(n: int, langs: tuple[str, ...], questions: dict[str, list[str]] | None = None) -> ParallelCorpus:
    ids = tuple(f"i{i}" for i in range(n))
    return ParallelCorpus("t", ids, tuple(f"g{i % 3}" for i in range(n)), ids,
                          {lang: tuple(f"{lang} passage {i}" for i in range(n)) for lang in langs},
                          {lang: tuple((questions or {}).get(lang, [f"{lang} question {i}" for i in range(n)]))
                           for lang in langs})


def _parallel(n: int, d: int, langs: tuple[str, ...], noise: float, seed: int, offset: float = 0.0
              ) -> CorpusEmbeddings:
    """Shared content per item + noise per language (+ an optional per-language offset direction)."""
    rng = np.random.default_rng(seed)
    content = rng.normal(size=(n, d))
    direction = {lang: rng.normal(size=d) for lang in langs}
    make = lambda lang: _unit(content + noise * rng.normal(size=(n, d)) + offset * direction[lang])
    return CorpusEmbeddings({lang: make(lang) for lang in langs}, {lang: make(lang) for lang in langs})


# ----------------------------------------------------------------------------------------------------- k-NN
def _brute_knn(x: np.ndarray, y: np.ndarray, k: int, exclude_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
    s = x.astype(np.float64) @ y.astype(np.float64).T
    ids = np.tile(np.arange(len(y)), (len(x), 1))
    if exclude_self:
        np.fill_diagonal(s, -np.inf)
    order = np.lexsort((ids, -s), axis=1)[:, :k]
    return np.take_along_axis(s, order, axis=1), order


@pytest.mark.parametrize("exclude_self", [False, True])
def test_knn_matches_brute_force_and_breaks_ties_by_lower_index(exclude_self):
    rng = np.random.default_rng(3)
    y = _unit(rng.normal(size=(60, 8)))
    y[[7, 21, 40, 55]] = y[3]  # exact duplicates: ties that straddle the cut for some queries
    x = y if exclude_self else _unit(rng.normal(size=(25, 8)))
    scores, ids = knn(x, y, 5, exclude_self=exclude_self)
    want_s, want_i = _brute_knn(x, y, 5, exclude_self)
    np.testing.assert_array_equal(ids, want_i)
    np.testing.assert_allclose(scores, want_s, atol=1e-6)
    if exclude_self:
        assert list(ids[3][:4]) == [7, 21, 40, 55]  # its four copies, lowest index first, never itself
        assert list(ids[55][:4]) == [3, 7, 21, 40]


def test_knn_refuses_more_neighbours_than_candidates():
    with pytest.raises(ValueError, match=r"k must be in 1\.\.3"):
        knn(np.eye(4, dtype=np.float32), np.eye(4, dtype=np.float32), 4, exclude_self=True)


# ---------------------------------------------------------------------------------------- MTEB's figures
@pytest.mark.parametrize("seed", range(5))
def test_weighted_prf_is_scikit_learns_weighted_average(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 12, size=80)
    predictions = np.where(rng.random(80) < 0.6, labels, rng.integers(0, 15, size=80))
    want = precision_recall_fscore_support(labels, predictions, average="weighted", zero_division=0)[:3]
    np.testing.assert_allclose(weighted_prf(labels, predictions), want, atol=1e-12)


def test_weighted_prf_refuses_unequal_lengths():
    with pytest.raises(ValueError, match="equal length"):
        weighted_prf(np.arange(3), np.arange(4))


def test_bootstrap_prf_is_weighted_prf_of_each_resample():
    rng = np.random.default_rng(0)
    pred = np.where(rng.random(40) < 0.7, np.arange(40), rng.integers(0, 40, size=40))
    got = bootstrap_prf(pred, resamples=30, seed=5, block=7)
    draws = np.random.default_rng(5)
    want = []
    for b in (7, 7, 7, 7, 2):  # the same draws, block by block
        for row in draws.integers(0, 40, size=(b, 40)):
            p, _, f = weighted_prf(row, pred[row])
            want.append((p, f))
    np.testing.assert_allclose(got, want, atol=1e-12)


# -------------------------------------------------------------------------------- bitext: hand-checked
def test_tiny_bitext_case_by_hand():
    """x1's nearest target is the hub y0 (cos .96 > .8 to its gold y1), so top-1 is 2/3 each way; the ratio
    margin (k = 2) divides the hub's cosines by its large neighbourhood mean (.88) and picks every gold."""
    x = np.array([[1, 0, 0], [0.6, 0.8, 0], [0, 0, 1]], dtype=np.float32)
    y = np.array([[0.8, 0.6, 0], [0, 1, 0], [0, 0.6, 0.8]], dtype=np.float32)
    forward, backward = mine_pair(x, y, k=2)
    assert list(forward.top1) == [0, 0, 2] and list(backward.top1) == [1, 1, 2]
    assert list(forward.margin) == [0, 1, 2] and list(backward.margin) == [0, 1, 2]
    figures = forward.figures(resamples=0)
    assert figures["accuracy"][0] == pytest.approx(200 / 3)
    assert figures["precision"][0] == pytest.approx(100 * (0.5 + 0 + 1) / 3)  # label 0 predicted twice
    assert figures["recall"][0] == pytest.approx(200 / 3)
    assert figures["f1"][0] == pytest.approx(100 * (2 / 3 + 0 + 1) / 3)
    assert figures["xsim_error"][0] == 0.0


def test_margin_by_hand_on_scores():
    """Source 0's candidates (y1 .9, y0 .8): y1 is everyone's neighbour (back mean .9) and loses on the margin."""
    scores = np.array([[0.9, 0.8]])
    ids = np.array([[1, 0]])
    choice = margin_predictions(scores, ids, fwd_mean=np.array([0.85]), back_mean=np.array([0.3, 0.9]))
    assert choice[0] == 0  # .8/((.85+.3)/2) = 1.39 > .9/((.85+.9)/2) = 1.03


def test_parallel_rows_drop_duplicated_texts_on_either_side():
    keep = unique_pairs(["a", "b", "a", "c", "d"], ["A", "B", "C", "D", "B"])
    assert list(keep) == [3]  # "a" twice (rows 0, 2), "B" twice (rows 1, 4)


def test_bitext_rows_mine_deduplicated_questions_and_name_n():
    langs = ("en", "de")
    questions = {"en": ["q0", "q1", "q1", "q3", "q4", "q5"], "de": [f"f{i}" for i in range(6)]}
    corpus = _corpus(6, langs, questions)
    emb = _parallel(6, 16, langs, 0.05, 1)
    frame = pd.DataFrame(bitext_rows(corpus, emb, langs, resamples=0))
    assert set(frame[frame.kind == "questions"].n) == {4}  # en questions 1 and 2 share a text: both rows dropped
    assert set(frame[frame.kind == "passages"].n) == {6}
    assert set(zip(frame.source_lang, frame.target_lang, strict=True)) == {("en", "de"), ("de", "en")}
    assert set(frame.metric) == {"accuracy", "precision", "recall", "f1", "xsim_error"}


# ----------------------------------------------------------------------- bitext: independent oracles
def _laser_xsim_error(x: np.ndarray, y: np.ndarray, k: int) -> float:
    """LASER's source/xsim.py, restated with numpy loops: ratio margin over the k nearest candidates."""
    s = x.astype(np.float64) @ y.astype(np.float64).T
    near_xy = np.argsort(-s, axis=1, kind="stable")[:, :k]
    near_yx = np.argsort(-s.T, axis=1, kind="stable")[:, :k]
    avg_x = np.array([s[i, near_xy[i]].mean() for i in range(len(x))])
    avg_y = np.array([s[near_yx[j], j].mean() for j in range(len(y))])
    errors = 0
    for i in range(len(x)):
        margins = [s[i, j] / ((avg_x[i] + avg_y[j]) / 2) for j in near_xy[i]]
        errors += int(near_xy[i][int(np.argmax(margins))] != i)
    return 100.0 * errors / len(x)


def _mteb_scores(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """MTEB BitextMiningEvaluator._compute_metrics: top-1 by cosine, scikit-learn's weighted averages."""
    predictions = list(np.argmax(x.astype(np.float64) @ y.astype(np.float64).T, axis=1))
    labels = list(range(len(x)))
    return {"precision": precision_score(labels, predictions, zero_division=0, average="weighted"),
            "recall": recall_score(labels, predictions, zero_division=0, average="weighted"),
            "f1": f1_score(labels, predictions, zero_division=0, average="weighted"),
            "accuracy": accuracy_score(labels, predictions)}


@pytest.mark.parametrize("seed", range(4))
def test_bitext_agrees_with_brute_force_and_mteb(seed):
    langs = ("en", "zh", "ar")
    n = 150
    corpus = _corpus(n, langs)
    emb = _parallel(n, 24, langs, noise=1.1, seed=seed)  # noisy enough that many sources miss
    frame = pd.DataFrame(bitext_rows(corpus, emb, langs, resamples=0))
    checked = 0
    for (kind, s, t), part in frame.groupby(["kind", "source_lang", "target_lang"]):
        got = part.set_index("metric").value
        side = emb.passages if kind == "passages" else emb.queries
        want = _mteb_scores(side[s], side[t])
        for metric in ("accuracy", "precision", "recall", "f1"):
            assert got[metric] == pytest.approx(100 * want[metric], abs=1e-6), (kind, s, t, metric)
        assert got["xsim_error"] == pytest.approx(_laser_xsim_error(side[s], side[t], 4), abs=1e-6)
        assert 0 < got["accuracy"] < 100
        checked += 1
    assert checked == 2 * 2 * 3  # kinds × directions × pairs


def test_bitext_intervals_hold_the_value():
    langs = ("en", "de")
    emb = _parallel(120, 16, langs, 1.0, 7)
    frame = pd.DataFrame(bitext_rows(_corpus(120, langs), emb, langs, resamples=200))
    assert ((frame.ci_low <= frame.value + 1e-9) & (frame.value <= frame.ci_high + 1e-9)).all()
    assert (frame.ci_high - frame.ci_low > 0).all()


# ------------------------------------------------------------------------------------------------ purity
def test_purity_by_hand_two_separated_languages():
    """Every en text's 2 nearest neighbours are en (the languages sit on two axes): purity 100%; the
    language-blind expectation is (3 − 1)/(6 − 1) = 40%."""
    langs = ("en", "de")
    corpus = _corpus(3, langs)
    base = {"en": np.array([[1, 0.1, 0], [1, 0, 0.1], [1, 0.05, 0.05]]),
            "de": np.array([[0.1, 1, 0], [0, 1, 0.1], [0.05, 1, 0.05]])}
    emb = CorpusEmbeddings({k: _unit(v) for k, v in base.items()}, {k: _unit(v) for k, v in base.items()})
    frame = pd.DataFrame(purity_rows(corpus, emb, langs, k=2)).set_index(["kind", "lang", "metric"])
    assert frame.loc[("passages", "en", "purity@2"), "value"] == 100.0
    assert frame.loc[("passages", "de", "expected@2"), "value"] == pytest.approx(40.0)
    assert frame.loc[("questions", "en", "purity@2"), "pool_size"] == 6


def test_purity_agrees_with_brute_force():
    langs = ("en", "zh", "ar")
    emb = _parallel(40, 12, langs, 0.8, 2, offset=0.7)
    frame = pd.DataFrame(purity_rows(_corpus(40, langs), emb, langs))
    x = np.concatenate([emb.passages[lang] for lang in langs])
    codes = np.repeat(np.arange(3), 40)
    _, near = _brute_knn(x, x, 10, exclude_self=True)
    share = (codes[near] == codes[:, None]).mean(axis=1)
    for c, lang in enumerate(langs):
        got = frame[(frame.kind == "passages") & (frame.lang == lang) & (frame.metric == "purity@10")].iloc[0]
        assert got.value == pytest.approx(100 * share[codes == c].mean(), abs=1e-9)
        assert got.ci_low < got.value < got.ci_high


# ------------------------------------------------------------------------------------------------- probe
def test_probe_falls_to_chance_once_a_planted_language_offset_is_centred():
    """Shared content + a strong offset per language: the probe names the language; after language-mean
    centering (xlalign's own estimator) nothing but noise tells languages apart."""
    from xlalign.align.centering import LanguageCentering

    langs = ("en", "de", "zh")
    corpus = _corpus(90, langs)
    emb = _parallel(90, 16, langs, noise=0.3, seed=4, offset=1.5)
    before = pd.DataFrame(probe_rows(corpus, emb, langs)).set_index(["kind", "metric"]).value
    centering = LanguageCentering(mode="subtract").fit(emb.passages)
    queries = LanguageCentering(mode="subtract").fit(emb.queries)
    centred = CorpusEmbeddings({x: centering.transform(v, x) for x, v in emb.passages.items()},
                               {x: queries.transform(v, x) for x, v in emb.queries.items()})
    after = pd.DataFrame(probe_rows(corpus, centred, langs)).set_index(["kind", "metric"]).value
    for kind in ("passages", "questions"):
        assert before[(kind, "chance")] == pytest.approx(100 / 3)
        assert before[(kind, "accuracy")] > 95
        assert after[(kind, "accuracy")] < before[(kind, "chance")] + 15


def test_neighbourhoods_leave_the_probe_for_later():
    langs = ("en", "de")
    found = neighbourhoods(_corpus(12, langs), _parallel(12, 8, langs, 0.2, 0), langs, resamples=0)
    assert found.probe is None and len(found.bitext) == 2 * 2 * 5 and len(found.purity) == 2 * 2 * 2
