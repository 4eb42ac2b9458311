"""The bundled demo corpus: parallelism, scripts, length ratios, numbers, and a bitext check."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter

import numpy as np
import pytest

from xlalign.core.loaders import DEMO_DIR, load_demo

LANGS = ("en", "es", "de", "zh", "ar", "hi", "ur")
ARABIC = [(0x0600, 0x06FF), (0x0750, 0x077F), (0x08A0, 0x08FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)]
SCRIPTS = {
    "en": [(0x0041, 0x024F)], "es": [(0x0041, 0x024F)], "de": [(0x0041, 0x024F)],
    "zh": [(0x4E00, 0x9FFF), (0x3400, 0x4DBF)], "ar": ARABIC, "ur": ARABIC,
    "hi": [(0x0900, 0x097F), (0xA8E0, 0xA8FF)],
}
MIN_SCRIPT_SHARE = {"zh": 0.8}  # two items quote the English word they ask about
# characters (translation / English); questions get wider bounds
PASSAGE_RATIO = {"es": (0.8, 1.7), "de": (0.8, 1.7), "zh": (0.2, 0.6), "ar": (0.6, 1.4), "hi": (0.7, 1.5), "ur": (0.6, 1.5)}


def _rows(lang: str) -> list[dict]:
    path = DEMO_DIR / f"demo.{lang}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _script_share(text: str, ranges: list[tuple[int, int]]) -> float:
    letters = [c for c in text if c.isalpha() or unicodedata.category(c).startswith("M")]
    inside = sum(any(lo <= ord(c) <= hi for lo, hi in ranges) for c in letters)
    return inside / max(len(letters), 1)


def test_every_id_in_every_language_exactly_once():
    en_ids = [r["id"] for r in _rows("en")]
    assert len(en_ids) >= 160 and len(set(en_ids)) == len(en_ids)
    for lang in LANGS:
        rows = _rows(lang)
        ids = [r["id"] for r in rows]
        dup = [i for i, n in Counter(ids).items() if n > 1]
        assert not dup, f"{lang}: duplicate ids {dup}"
        assert sorted(ids) == sorted(en_ids), f"{lang}: ids differ from English: {set(ids) ^ set(en_ids)}"
        assert all(r["lang"] == lang for r in rows)
        assert [r["group"] for r in rows] == [r["group"] for r in _rows("en")]


def test_at_least_20_groups_and_loadable():
    c = load_demo()
    assert set(c.langs) == set(LANGS) and len(c) >= 160
    assert len(set(c.groups)) >= 20
    train, test = c.split_by_group(0.5)
    assert set(train.groups).isdisjoint(test.groups) and len(train) > 40 and len(test) > 40


@pytest.mark.parametrize("lang", LANGS)
def test_no_empty_or_duplicate_text(lang):
    rows = _rows(lang)
    for field in ("passage", "question"):
        texts = [r[field].strip() for r in rows]
        assert all(texts), f"{lang}: empty {field} in {[r['id'] for r in rows if not r[field].strip()]}"
        dup = [t[:40] for t, n in Counter(texts).items() if n > 1]
        assert not dup, f"{lang}: duplicate {field}s {dup}"


def test_english_passages_are_40_to_100_words():
    bad = {r["id"]: len(r["passage"].split()) for r in _rows("en") if not 40 <= len(r["passage"].split()) <= 100}
    assert not bad, bad


@pytest.mark.parametrize("lang", LANGS)
def test_text_is_in_the_expected_script(lang):
    floor = MIN_SCRIPT_SHARE.get(lang, 0.9)
    bad = {}
    for r in _rows(lang):
        # Passage and question together: a question about an English word may quote it.
        share = _script_share(r["passage"] + " " + r["question"], SCRIPTS[lang])
        if share < floor:
            bad[r["id"]] = round(share, 2)
    assert not bad, f"{lang}: too little text in the expected script: {bad}"


def test_urdu_uses_urdu_letters_not_arabic_lookalikes():
    text = "".join(r["passage"] for r in _rows("ur"))
    urdu = sum(text.count(c) for c in "یکہے")
    arabic = sum(text.count(c) for c in "يكهى")
    assert urdu > 1000 and arabic < 0.01 * urdu
    assert "ے" in text and "ٹ" in text  # letters Arabic does not have


@pytest.mark.parametrize("lang", [x for x in LANGS if x != "en"])
def test_translation_length_ratios(lang):
    lo, hi = PASSAGE_RATIO[lang]
    en = {r["id"]: r for r in _rows("en")}
    bad = {}
    for r in _rows(lang):
        ratio = len(r["passage"]) / len(en[r["id"]]["passage"])
        q_ratio = len(r["question"]) / len(en[r["id"]]["question"])
        q_lo, q_hi = (lo * 0.4, hi * 2.0)
        if not lo <= ratio <= hi or not q_lo <= q_ratio <= q_hi:
            bad[r["id"]] = (round(ratio, 2), round(q_ratio, 2))
    assert not bad, f"{lang}: length ratio (passage, question) out of bounds: {bad}"


_YEAR = re.compile(r"(?<![\d.,])(1[0-9]{3}|20[0-2][0-9])(?![\d.,]?\d)(?![A-Za-z'’])")


@pytest.mark.parametrize("lang", [x for x in LANGS if x != "en"])
def test_years_are_preserved(lang):
    en = {r["id"]: r for r in _rows("en")}
    missing = {}
    for r in _rows(lang):
        years = set(_YEAR.findall(en[r["id"]]["passage"]))
        text = re.sub(r"(?<=\d)[.,\u00a0\u202f ](?=\d{3}\b)", "", r["passage"])
        lost = sorted(y for y in years if y not in text)
        if lost:
            missing[r["id"]] = lost
    assert len(missing) <= 2, f"{lang}: years missing from the translation: {missing}"


def test_datasheet_and_licence_present():
    sheet = (DEMO_DIR / "README.md").read_text(encoding="utf-8")
    assert "CC BY 4.0" in sheet and "Intended use" in sheet and "Limits" in sheet
    assert "Creative Commons Attribution 4.0" in (DEMO_DIR / "LICENSE").read_text(encoding="utf-8")


@pytest.mark.slow
def test_bitext_nearest_english_passage_is_the_source(bundled_encoder):
    c = load_demo()
    en = bundled_encoder.encode(list(c.passages["en"]), lang="en", role="passage")
    failures = {}
    for lang in LANGS[1:]:
        x = bundled_encoder.encode(list(c.passages[lang]), lang=lang, role="passage")
        nearest = np.argmax(x @ en.T, axis=1)
        wrong = [c.item_ids[i] for i in np.flatnonzero(nearest != np.arange(len(c)))]
        accuracy = 1 - len(wrong) / len(c)
        if accuracy < 0.9:
            failures[lang] = (round(accuracy, 3), wrong)
    assert not failures, f"misaligned rows by language: {failures}"


@pytest.mark.slow
@pytest.mark.parametrize("lang", LANGS[1:])
def test_cli_evaluates_every_demo_language(lang, tmp_path, capsys, bundled_cache_dir, bundled_dir, monkeypatch):
    from xlalign.cli import main

    monkeypatch.setenv("XLALIGN_CACHE_DIR", str(bundled_cache_dir))  # the default model is already converted there
    code = main(["evaluate", "--data", "demo", "--langs", f"en,{lang}", "--out", str(tmp_path),
                 "--cache-dir", str(bundled_cache_dir)])
    out = capsys.readouterr().out
    assert code == 0
    import pandas as pd

    summary = pd.read_csv(tmp_path / "summary.csv")
    assert set(summary.scenario) == {"multi", "multi-1", "mono-same", "mono-cross"}
    assert set(summary.query_lang) == {"en", lang}
    assert (summary[summary.metric == "max_r"].pool_size.isin([336, 335, 168])).all()
    for scenario in ("multi", "multi-1", "mono-same", "mono-cross"):
        assert scenario in out




@pytest.mark.slow
def test_cli_evaluates_all_seven_languages_in_one_pool(tmp_path, capsys, bundled_cache_dir, bundled_dir, monkeypatch):
    """Issue 11's command: every language in one pool → summary, matrix, per-query table and run record."""
    import json

    import pandas as pd

    from xlalign.cli import main

    monkeypatch.setenv("XLALIGN_CACHE_DIR", str(bundled_cache_dir))
    out_dir = tmp_path / "seven"
    code = main(["evaluate", "--data", "demo", "--langs", ",".join(LANGS), "--out", str(out_dir),
                 "--cache-dir", str(bundled_cache_dir)])
    out = capsys.readouterr().out
    assert code == 0
    assert sorted(p.name for p in out_dir.iterdir()) == [
        ".xlalign.json", "bitext.csv", "matrix.csv", "per_query.csv", "probe.csv", "purity.csv", "run.json", "summary.csv"]
    matrix = pd.read_csv(out_dir / "matrix.csv")
    assert set(matrix.query_lang) == set(matrix.doc_lang) == set(LANGS)
    per_pair = matrix.groupby(["query_lang", "doc_lang"]).metric.apply(frozenset)
    whole_pool = {"mean_rank", "median_rank", "best_gold_share", "distractor_over_own_gold"}
    pair_only = {"clustering@10", "clustering@1", "inclination@10", "median_own_above"}  # defined for l ≠ q only
    mono = {"mono_ndcg@10", "mono_ndcg@10_lo", "mono_ndcg@10_hi"}  # Mono-Same on the diagonal, Mono-Cross with the pivot
    preference = {"own_preference", "own_preference_lo", "own_preference_hi"}  # the verdict's pairs: with the pivot

    def expected(q: str, d: str) -> set[str]:
        if q == d:
            return whole_pool | mono
        return whole_pool | pair_only | (mono | preference if "en" in (q, d) else set())

    assert len(per_pair) == 7 * 7 and len(matrix) == 7 * 7 + 7 * 6 * 8 + 12 * 6
    assert {k: set(m) for k, m in per_pair.items()} == {k: expected(*k) for k in per_pair.index}
    summary = pd.read_csv(out_dir / "summary.csv")
    multi = summary[(summary.scenario == "multi") & (summary.metric == "max_r")]
    assert (multi.pool_size == 7 * 168).all() and len(multi) == 7
    cross = summary[(summary.scenario == "mono-cross") & (summary.metric == "ndcg@10")]
    assert len(cross) == 7 * 6
    assert json.loads((out_dir / "run.json").read_text())["eval"]["langs"] == list(LANGS)
    assert "Finding" in out and "language-bias matrix" in out
