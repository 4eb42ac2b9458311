"""The verdict: pair rates that no other language in the pool can change, one rule in every view, and
"too few documents to judge" on small data.

The fakes score exactly in float32 (tests/fakes.py), so a 7-language pool and the six pair pools are
compared with ``==``, never with a tolerance.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from fakes import LatentEncoder

from xlalign.core.corpus import ParallelCorpus
from xlalign.core.evaluate import encode_corpus, evaluate_embeddings
from xlalign.core.loaders import load_corpus, load_demo
from xlalign.core.verdict import MIN_DOCS, THRESHOLD, TOO_FEW, judge, verdicts
from xlalign.report.tables import format_report
from xlalign.report.verdict_text import headline, sentence
from xlalign.services.lab import Lab
from xlalign.services.sweep import leaderboard_rows
from xlalign.specs import EvalSpec, ModelSpec

LANGS = ("en", "es", "de", "zh", "ar", "hi", "ur")
TARGETS = LANGS[1:]
#: Language offsets and English pulls chosen so that the seven languages show every kind of verdict.
WEIGHTS = {"en": 0.2, "es": 0.15, "de": 0.2, "zh": 0.3, "ar": 0.25, "hi": 0.22, "ur": 0.2}
PULLS = {"de": 0.4, "ur": 0.3}
MODEL = ModelSpec(model="latent")


@pytest.fixture(scope="module")
def demo():
    corpus = load_demo()
    encoder = LatentEncoder(corpus, WEIGHTS, query_pull=0.0, pull_by_lang=PULLS, noise=2.0)
    return corpus, encoder, encode_corpus(corpus, encoder, LANGS)


def _pair(corpus, emb, target: str, pool: str):
    spec = EvalSpec(langs=("en", target), pool=pool, scenarios=("multi",))
    return evaluate_embeddings(corpus.select_langs(spec.langs), emb.select(spec.langs), spec)


@pytest.mark.parametrize("pool", ["dedup", "per-question"])
def test_a_seven_language_diagnosis_gives_exactly_each_pairs_verdict_and_rates(demo, pool):
    corpus, _, emb = demo
    big = evaluate_embeddings(corpus, emb, EvalSpec(langs=LANGS, pool=pool))
    in_pool = {(v.query_lang, v.against): v for v in verdicts(big.summary_frame(), big.matrix_frame(), "en", LANGS)}
    assert len(in_pool) == 2 * len(TARGETS)  # each target's queries, and the pivot's against each target
    pool_dependent = 0
    for t in TARGETS:
        pair = _pair(corpus, emb, t, pool)
        found = verdicts(pair.summary_frame(), pair.matrix_frame(), "en", ("en", t))
        assert [(v.query_lang, v.against) for v in found] == [(t, "en"), ("en", t)]
        for v in found:
            assert in_pool[(v.query_lang, v.against)] == v  # kind, borderline, rates, CIs, n, documents per language
            assert sentence(in_pool[(v.query_lang, v.against)]) == sentence(v)
        for q, metric in ((t, "displaced_by_own@10"), (t, "displaced_by_pivot@10"), (t, "pivot_over_gold"),
                          ("en", f"displaced_by_own@10:{t}")):
            assert big.value("multi", q, metric) == pair.value("multi", q, metric), (q, metric)
        pool_dependent += _best_other_gold_rule(corpus, emb, t, LANGS) != big.value("multi", t, "displaced_by_own@10")
    assert pool_dependent >= 2  # the former rule (against the best of the k − 1 other golds) would have differed
    kinds = {v.kind for v in in_pool.values()}
    assert {"same-language clustering", "pivot inclination", "well aligned"} <= kinds
    assert any(v.borderline for v in in_pool.values())


def _best_other_gold_rule(corpus, emb, q: str, langs) -> float:
    """The former clustering rate: ≥ 10 irrelevant q documents above the *best* other-language gold (dedup)."""
    _, item_to_passage = corpus.unique_passages()
    rows = np.arange(len(item_to_passage))
    scores = emb.queries[q] @ emb.passages[q].T
    best = np.max([(emb.queries[q] * emb.passages[x][item_to_passage]).sum(axis=1) for x in langs if x != q], axis=0)
    above = (scores > best[:, None]).sum(axis=1) - (scores[rows, item_to_passage] > best)
    return float(100.0 * (above >= 10).mean())


def test_the_rates_are_the_counts_of_one_language_above_one_gold(demo):
    """Brute force from the embeddings: clustering(zh) counts Chinese documents above the English gold,
    inclination(de) English documents above the German gold, clustering(en | ar) English documents above the
    Arabic gold — and the language-bias matrix holds the same pair rates."""
    corpus, _, emb = demo
    big = evaluate_embeddings(corpus, emb, EvalSpec(langs=LANGS, scenarios=("multi",)))
    matrix = big.matrix_frame().set_index(["query_lang", "doc_lang", "metric"])["value"]
    _, item_to_passage = corpus.unique_passages()

    def rate(q: str, docs_lang: str, gold_lang: str) -> float:
        scores = emb.queries[q] @ emb.passages[docs_lang].T
        gold = (emb.queries[q] * emb.passages[gold_lang][item_to_passage]).sum(axis=1)
        relevant = scores[np.arange(len(gold)), item_to_passage] > gold  # the docs-language gold is not irrelevant
        above = (scores > gold[:, None]).sum(axis=1) - relevant
        return float(100.0 * (above >= 10).mean())

    for q, docs, gold, metric in (("zh", "zh", "en", "displaced_by_own@10"), ("de", "en", "de", "displaced_by_pivot@10"),
                                  ("en", "en", "ar", "displaced_by_own@10:ar")):
        assert big.value("multi", q, metric) == pytest.approx(rate(q, docs, gold), abs=1e-9)  # same counts
    for t in TARGETS:
        assert matrix[(t, "en", "clustering@10")] == big.value("multi", t, "displaced_by_own@10")
        assert matrix[(t, "en", "inclination@10")] == big.value("multi", t, "displaced_by_pivot@10")
        assert matrix[("en", t, "clustering@10")] == big.value("multi", "en", f"displaced_by_own@10:{t}")


def test_every_view_states_the_same_verdict(demo, tmp_path):
    """Diagnose (one 7-language pool), Languages (pairs), Models and sweeps (pairs), and the CLI's report."""
    encoder = demo[1]
    lab = Lab(tmp_path / "runs")
    lab._encoders.put(MODEL, encoder)
    diag = lab.diagnose(MODEL, EvalSpec(langs=LANGS))
    by_pair = {(v.query_lang, v.against): v for v in diag.verdicts}
    languages = lab.inclination(MODEL, "demo", "en", list(TARGETS)).set_index("target")
    board = lab.leaderboard(["latent"], "demo", LANGS, "dedup")
    report = format_report(diag.result, "title")
    assert headline(diag.verdicts, "en") in report
    for t in TARGETS:
        v, back = by_pair[(t, "en")], by_pair[("en", t)]
        row = languages.loc[t]
        assert (row["verdict"], row["clustering %"], row["inclination %"]) == (v.kind, v.clustering, v.inclination)
        assert (row["en queries: verdict"], row["en queries: clustering %"]) == (back.kind, back.clustering)
        assert row["sentence"] == sentence(v) and row["en sentence"] == sentence(back)
        pair = board[board.pair == f"en+{t}"].set_index("query_lang")
        for q, w in ((t, v), ("en", back)):
            assert pair.loc[q, "verdict"] == w.kind + (" (borderline)" if w.borderline else "")
            assert pair.loc[q, "clustering % (displaced_by_own@10)"] == w.clustering
        assert sentence(v) in report and sentence(back) in report
    sweep = pd.DataFrame(leaderboard_rows("latent", diag.result, "demo"))  # a sweep's rows on the 7-pool: same verdicts
    assert set(sweep.verdict[sweep.query_lang != "en"]) == {v.kind + (" (borderline)" if v.borderline else "")
                                                            for v in diag.verdicts if v.query_lang != "en"}


@pytest.mark.parametrize(("clustering", "inclination", "n", "docs", "kind", "borderline"), [
    (THRESHOLD, 0.0, 1000, 100, "same-language clustering", True),  # at the threshold: its CI straddles it
    (THRESHOLD - 0.1, 0.0, 1000, 100, "well aligned", True),
    (50.0, 0.0, 1000, 100, "same-language clustering", False),
    (5.0, 0.0, 1000, 100, "well aligned", False),
    (0.0, 50.0, 1000, 100, "pivot inclination", False),
    (30.0, 40.0, 1000, 100, "both", False),
    (19.0, None, 20, 100, "well aligned", True),  # 95% CI 6–42% straddles 20%
    (80.0, 0.0, 15, MIN_DOCS - 1, TOO_FEW, False),
    (80.0, 0.0, 40, MIN_DOCS, "same-language clustering", False),
])
def test_the_rule(clustering, inclination, n, docs, kind, borderline):
    assert judge(clustering, inclination, n, docs) == (kind, borderline)


def _small_corpus(tmp_path, n_items: int) -> str:
    demo = load_demo(["en", "de"])
    rows = [{"id": demo.item_ids[i], "lang": lang, "passage": demo.passages[lang][i],
             "question": demo.questions[lang][i], "group": demo.groups[i]} for i in range(n_items) for lang in ("en", "de")]
    path = tmp_path / "small.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_small_data_says_too_few_documents_to_judge_with_the_numbers(tmp_path):
    """An upload of 15 queries (a pool of 30) is not "well aligned": it is too small for the 10-document rule."""
    corpus: ParallelCorpus = load_corpus(_small_corpus(tmp_path, 15))
    encoder = LatentEncoder(corpus, {"en": 0.2, "de": 0.2}, query_pull=0.0, noise=2.0)
    spec = EvalSpec(data=corpus.name, langs=("en", "de"))
    res = evaluate_embeddings(corpus, encode_corpus(corpus, encoder, spec.langs), spec)
    found = verdicts(res.summary_frame(), res.matrix_frame(), "en", spec.langs)
    assert [v.kind for v in found] == [TOO_FEW, TOO_FEW]
    text = sentence(found[0])
    assert text.startswith("German queries: too few documents to judge — the pool holds 15 documents per language")
    assert f"needs at least {MIN_DOCS}" in text and "n = 15" in text
    assert "German: too few documents to judge" in headline(found, "en")
