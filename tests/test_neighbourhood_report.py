"""The neighbourhood figures in words (xlalign.report.neighbourhoods): when a pair that mines bitext well still
clusters, the sentence says whose queries cluster; nothing is said of pairs that mine badly or do not cluster."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from xlalign.report.neighbourhoods import mining_sentences
from xlalign.services.neighbourhoods import beside_verdict


def _bitext(**accuracy: tuple[float, float]) -> pd.DataFrame:
    """Passage mining rows against en: ``zh=(zh→en, en→zh)`` top-1 accuracies; xsim error 100 − accuracy."""
    rows = []
    for lang, (to_en, from_en) in accuracy.items():
        for s, t, acc in ((lang, "en", to_en), ("en", lang, from_en)):
            rows += [{"kind": "passages", "source_lang": s, "target_lang": t, "metric": m, "value": v, "ci_low": 0.0,
                      "ci_high": 100.0, "n": 100} for m, v in (("accuracy", acc), ("xsim_error", 100 - acc))]
    return pd.DataFrame(rows)


def _verdict(query_lang: str, against: str, kind: str) -> SimpleNamespace:
    return SimpleNamespace(query_lang=query_lang, against=against, kind=kind)


def test_the_sentence_names_whose_queries_cluster():
    bitext = _bitext(zh=(99.0, 100.0), ur=(100.0, 100.0), de=(100.0, 98.0), ar=(80.0, 99.0))
    found = [_verdict("zh", "en", "same-language clustering"), _verdict("en", "zh", "same-language clustering"),
             _verdict("ur", "en", "well aligned"), _verdict("en", "ur", "same-language clustering"),
             _verdict("de", "en", "well aligned"), _verdict("en", "de", "well aligned"),
             _verdict("ar", "en", "same-language clustering"), _verdict("en", "ar", "same-language clustering")]
    zh, ur, de, ar = mining_sentences(bitext, found, "en", ["zh", "ur", "de", "ar"])
    assert zh == ("Bitext mining, Chinese ↔ English passages: top-1 99% (zh → en) and 100% (en → zh), margin xsim "
                  "error 1% and 0% (n = 100). It mines bitext well, yet clusters in a mixed pool: each Chinese "
                  "passage's nearest English passage is its translation, but Chinese queries still rank Chinese "
                  "documents above the English gold.")
    assert ur.endswith("but English queries still rank English documents above the Urdu gold.")  # the pivot's side
    assert "yet clusters" not in de  # well aligned both ways
    assert "yet clusters" not in ar  # 80% one way: not "mines well"


def test_languages_shows_the_mining_beside_the_verdicts_rates():
    table = pd.DataFrame([{"target": "zh", "verdict": "x", "clustering %": 1.0, "clustering CI": (0, 2), "max_r": 3.0,
                           "bitext top-1 % to en": 99.0, "xsim error % to en": 0.0, "bitext sentence": "s"}])
    assert list(beside_verdict(table).columns) == ["target", "verdict", "clustering %", "clustering CI",
                                                   "bitext top-1 % to en", "xsim error % to en", "max_r",
                                                   "bitext sentence"]
