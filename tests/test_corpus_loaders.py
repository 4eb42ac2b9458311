"""Corpus validation, group-disjoint splits, and every loader on fixture files in the real schema."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from xlalign.core.corpus import ParallelCorpus
from xlalign.core.loaders import load_belebele, load_corpus, load_long, load_squad_folder, load_xquad
from xlalign.errors import CorpusError


def _corpus(**kw) -> ParallelCorpus:
    base = dict(name="t", item_ids=("a", "b"), groups=("g1", "g2"), passage_keys=("p1", "p2"),
                passages={"en": ("P one", "P two"), "de": ("P eins", "P zwei")},
                questions={"en": ("Q one?", "Q two?"), "de": ("F eins?", "F zwei?")})
    base.update(kw)
    return ParallelCorpus(**base)


# ----------------------------------------------------------------------------- corpus
def test_corpus_rejects_empty():
    with pytest.raises(CorpusError, match="no items"):
        _corpus(item_ids=(), groups=(), passage_keys=(), passages={"en": ()}, questions={"en": ()})


def test_corpus_rejects_duplicate_ids():
    with pytest.raises(CorpusError, match="'a' occurs more than once"):
        _corpus(item_ids=("a", "a"))


def test_corpus_rejects_empty_text_naming_item():
    with pytest.raises(CorpusError, match="the question of item 'b' in 'de' is empty"):
        _corpus(questions={"en": ("Q one?", "Q two?"), "de": ("F eins?", "  ")})


def test_corpus_rejects_length_mismatch():
    with pytest.raises(CorpusError, match="1 passages in 'de'"):
        _corpus(passages={"en": ("P one", "P two"), "de": ("P eins",)})


def test_corpus_rejects_inconsistent_shared_passage():
    with pytest.raises(CorpusError, match="items sharing passage 'p'"):
        _corpus(passage_keys=("p", "p"))


def test_require_langs_names_missing():
    with pytest.raises(CorpusError, match="no 'zh'; it has en, de"):
        _corpus().select_langs(["en", "zh"])


def test_split_by_group_is_disjoint_and_deterministic(squad_folder):
    c = load_squad_folder(squad_folder)
    train, test = c.split_by_group(0.5, seed=1)
    assert set(train.groups).isdisjoint(test.groups)
    assert len(train) + len(test) == len(c)
    assert set(train.passage_keys).isdisjoint(test.passage_keys)
    again = c.split_by_group(0.5, seed=1)
    assert again[1].item_ids == test.item_ids


def test_split_needs_two_groups():
    with pytest.raises(CorpusError, match="needs 2"):
        _corpus(groups=("g", "g")).split_by_group()


def test_split_rejects_bad_fraction():
    with pytest.raises(ValueError, match="test_fraction"):
        _corpus().split_by_group(1.0)


# ----------------------------------------------------------------------------- SQuAD folders
def test_squad_folder_pairs_questions_and_shares_contexts(squad_folder):
    c = load_squad_folder(squad_folder, ["en", "de"])
    assert c.langs == ("en", "de")
    assert c.item_ids == ("q1", "q2", "q3", "q4", "q5")
    assert c.groups == ("Cats", "Cats", "Cats", "Rivers", "Rivers")
    assert c.n_passages == 3
    assert c.passage_keys[0] == c.passage_keys[1]
    assert c.questions["de"][3] == "Wie lang ist der Nil?"


def test_squad_mismatching_ids_are_named(squad_folder):
    path = squad_folder / "xq.de.json"
    doc = json.loads(path.read_text())
    doc["data"][1]["paragraphs"][0]["qas"][1]["id"] = "zz9"
    path.write_text(json.dumps(doc))
    with pytest.raises(CorpusError, match=r"missing ids 'q5'.*unexpected ids 'zz9'"):
        load_squad_folder(squad_folder, ["en", "de"])


def test_squad_question_under_another_paragraph_is_named(squad_folder):
    path = squad_folder / "xq.de.json"
    doc = json.loads(path.read_text())
    paras = doc["data"][0]["paragraphs"]
    paras[1]["qas"].append(paras[0]["qas"].pop())  # q2 moves to paragraph 1
    path.write_text(json.dumps(doc))
    with pytest.raises(CorpusError, match=r"different paragraphs.*'q2'"):
        load_squad_folder(squad_folder, ["en", "de"])


def test_squad_invalid_json_names_file_and_line(squad_folder):
    (squad_folder / "xq.de.json").write_text('{"data": [\n  {"title": }\n]}')
    with pytest.raises(CorpusError, match=r"xq.de.json: invalid JSON at line 2"):
        load_squad_folder(squad_folder)


def test_squad_wrong_schema(squad_folder):
    (squad_folder / "xq.de.json").write_text('{"rows": []}')
    with pytest.raises(CorpusError, match="not SQuAD format"):
        load_squad_folder(squad_folder)


def test_squad_missing_language(squad_folder):
    with pytest.raises(CorpusError, match=r"no file for language.*zh; found de, en"):
        load_squad_folder(squad_folder, ["en", "zh"])


def test_squad_empty_context(squad_folder):
    path = squad_folder / "xq.en.json"
    doc = json.loads(path.read_text())
    doc["data"][0]["paragraphs"][1]["context"] = ""
    path.write_text(json.dumps(doc))
    with pytest.raises(CorpusError, match="article 0 paragraph 1 has an empty"):
        load_squad_folder(squad_folder)


def test_real_xquad_files(xquad_dir):
    c = load_squad_folder(xquad_dir, ["en", "zh", "es", "ar", "de"])
    assert len(c) == 1190 and c.n_passages == 240 and len(set(c.groups)) == 48


# ----------------------------------------------------------------------------- long format
def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


LONG = [
    {"id": "1", "lang": "en", "passage": "Bees make honey.", "question": "Who makes honey?", "group": "bees"},
    {"id": "1", "lang": "es", "passage": "Las abejas hacen miel.", "question": "¿Quién hace miel?", "group": "bees"},
    {"id": "2", "lang": "en", "passage": "Tea comes from Camellia.", "question": "What plant gives tea?", "group": "tea"},
    {"id": "2", "lang": "es", "passage": "El té viene de la camelia.", "question": "¿Qué planta da el té?", "group": "tea"},
]


def test_long_jsonl(tmp_path):
    c = load_long(_write_jsonl(tmp_path / "c.jsonl", LONG))
    assert c.langs == ("en", "es") and c.item_ids == ("1", "2") and c.groups == ("bees", "tea")
    assert c.n_passages == 2


def test_long_csv_equals_jsonl(tmp_path):
    path = tmp_path / "c.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["id", "lang", "passage", "question", "group"])
        w.writeheader()
        w.writerows(LONG)
    a, b = load_long(path), load_long(_write_jsonl(tmp_path / "c.jsonl", LONG))
    assert a.passages == b.passages and a.questions == b.questions and a.groups == b.groups


def test_long_missing_translation_named(tmp_path):
    with pytest.raises(CorpusError, match="missing ids '2'"):
        load_long(_write_jsonl(tmp_path / "c.jsonl", LONG[:3]))


def test_long_bad_line_named(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps(LONG[0]) + "\n{not json\n")
    with pytest.raises(CorpusError, match=r"c.jsonl:2: invalid JSON"):
        load_long(path)


def test_long_missing_column_named(tmp_path):
    rows = [dict(LONG[0]), *LONG[1:]]
    del rows[0]["question"]
    with pytest.raises(CorpusError, match=r"c.jsonl:1: missing or empty question"):
        load_long(_write_jsonl(tmp_path / "c.jsonl", rows))


def test_long_duplicate_row_named(tmp_path):
    with pytest.raises(CorpusError, match=r"c.jsonl:5: id '1' appears twice for language 'en' \(first at .*c.jsonl:1\)"):
        load_long(_write_jsonl(tmp_path / "c.jsonl", [*LONG, LONG[0]]))


def test_long_unsupported_type(tmp_path):
    p = tmp_path / "c.xlsx"
    p.write_text("x")
    with pytest.raises(CorpusError, match="unsupported file type"):
        load_long(p)


def test_long_empty_file(tmp_path):
    p = tmp_path / "c.jsonl"
    p.write_text("")
    with pytest.raises(CorpusError, match="no rows"):
        load_long(p)


def test_long_non_utf8(tmp_path):
    p = tmp_path / "c.csv"
    p.write_bytes("id,lang,passage,question\n1,en,caf\xe9,q\n".encode("latin-1"))
    with pytest.raises(CorpusError, match="not UTF-8"):
        load_long(p)


# ----------------------------------------------------------------------------- hub schema, local copies
def test_xquad_hub_schema_local_copy(tmp_path):
    rows = {
        "en": [{"id": "a", "context": "C one.", "question": "Qa?", "answers": {"text": ["C"], "answer_start": [0]}},
               {"id": "b", "context": "C one.", "question": "Qb?", "answers": {"text": ["C"], "answer_start": [0]}},
               {"id": "c", "context": "C two.", "question": "Qc?", "answers": {"text": ["C"], "answer_start": [0]}}],
        "zh": [{"id": "a", "context": "语境一。", "question": "问a?", "answers": {"text": ["语"], "answer_start": [0]}},
               {"id": "b", "context": "语境一。", "question": "问b?", "answers": {"text": ["语"], "answer_start": [0]}},
               {"id": "c", "context": "语境二。", "question": "问c?", "answers": {"text": ["语"], "answer_start": [0]}}],
    }
    for lang, r in rows.items():
        _write_jsonl(tmp_path / f"xquad.{lang}.jsonl", r)
    c = load_xquad(["en", "zh"], local=tmp_path)
    assert c.item_ids == ("a", "b", "c") and c.n_passages == 2
    assert c.passages["zh"][2] == "语境二。"
    assert load_corpus(f"xquad:{tmp_path}", ["en", "zh"]).item_ids == c.item_ids


def test_xquad_unknown_language():
    with pytest.raises(CorpusError, match="XQuAD has no ur"):
        load_xquad(["en", "ur"])


def test_belebele_hub_schema_local_copy(tmp_path):
    def row(link, n, passage, q):
        return {"link": link, "question_number": n, "flores_passage": passage, "question": q,
                "mc_answer1": "a", "mc_answer2": "b", "mc_answer3": "c", "mc_answer4": "d",
                "correct_answer_num": "1", "dialect": "x", "ds": "2023-05-03"}

    _write_jsonl(tmp_path / "eng_Latn.jsonl", [row("L1", 1, "P1", "Q1?"), row("L1", 2, "P1", "Q2?"), row("L2", 1, "P2", "Q3?")])
    _write_jsonl(tmp_path / "urd_Arab.jsonl", [row("L1", 1, "پ1", "س1؟"), row("L1", 2, "پ1", "س2؟"), row("L2", 1, "پ2", "س3؟")])
    c = load_belebele(["en", "ur"], local=tmp_path)
    assert c.item_ids == ("L1#1", "L1#2", "L2#1") and c.n_passages == 2 and c.groups == ("L1", "L1", "L2")


def test_belebele_not_parallel_named(tmp_path):
    base = {"flores_passage": "P", "question": "Q", "link": "L1", "question_number": 1}
    _write_jsonl(tmp_path / "eng_Latn.jsonl", [base, {**base, "question_number": 2, "question": "Q2"}])
    _write_jsonl(tmp_path / "zho_Hans.jsonl", [base])
    with pytest.raises(CorpusError, match="missing ids 'L1#2'"):
        load_belebele(["en", "zh"], local=tmp_path)


def test_hub_unreachable_gives_corpus_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CorpusError, match="could not load google/xquad"):
        load_xquad(["en", "zh"])


def test_load_corpus_unknown_path():
    with pytest.raises(CorpusError, match="no such file or folder"):
        load_corpus("/nonexistent/data.jsonl", ["en", "zh"])


def test_passage_first_items(squad_folder):
    c = load_squad_folder(squad_folder)
    assert c.passage_first_items().tolist() == [0, 2, 3]  # q1 and q2 share a paragraph, as do q4 and q5
