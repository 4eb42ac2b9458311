"""A catalogue of bad inputs, faults and abuse: each case asserts the exact one-line message the user sees
and that nothing was lost or half-written (earlier results intact, no temporary files, valid status files).

Sections: corpora, command-line flags, models and public mode, run records, the embedding cache,
atomic and exclusive writes (kill -9 included), path traversal, CSV exports.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import cli, one_line_error, rerun_where_file_modes_bind, snapshot
from fakes import BagOfCharsEncoder

from xlalign.core.compare import COMPARE_COLUMNS, CompareFileError, read_compare
from xlalign.core.evaluate import evaluate
from xlalign.core.loaders import load_corpus, load_long, load_squad_folder
from xlalign.errors import ConfigError, CorpusError, ModelLoadError
from xlalign.models.cache import CacheWarning, EmbeddingCache
from xlalign.models.encoders import load_sentence_transformer
from xlalign.models.registry import allowed_models, check_model
from xlalign.policy import PathRefused, redact_paths
from xlalign.specs import EvalSpec, ModelSpec
from xlalign.store.runs import (
    LOCK_NAME,
    MARKER,
    ResultFolder,
    RunBusy,
    RunFolder,
    RunStore,
    atomic_write_json,
    atomic_write_text,
    compare_runs,
    csv_text,
    folder_lock,
    read_status,
    safe_csv_frame,
    write_status,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = {"summary.csv": "a,b\n1,2\n", "matrix.csv": "m\n1\n", "per_query.csv": "q\n1\n", "run.json": "{}\n"}


# ============================================================================================ helpers
def temp_siblings(folder: Path) -> list[str]:
    """Temporary folders and files a writer leaves next to (or inside) ``folder``."""
    names = [p.name for p in folder.parent.iterdir() if ".tmp" in p.name]
    if folder.is_dir():
        names += [p.name for p in folder.iterdir() if p.name.endswith(".tmp") or ".tmp-" in p.name]
    return names


def squad_json(folder: Path, lang: str = "en") -> dict:
    return json.loads((folder / f"xq.{lang}.json").read_text(encoding="utf-8"))


def write_compare(run: Path, rows: int = 4) -> Path:
    run.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame([{"scenario": "multi", "pool": "dedup", "query_lang": q, "doc_lang": "all", "metric": m,
                           "before": 10.0, "after": 20.0, "delta": 10.0, "ci_low": 5.0, "ci_high": 15.0,
                           "p_value": 0.01, "q_value": 0.02, "n_queries": 12}
                          for q in ("en", "zh") for m in ("complete@10", "max_r")][:rows], columns=COMPARE_COLUMNS)
    frame.to_csv(run / "compare.csv", index=False)
    return run / "compare.csv"


# ============================================================================================ corpora: SQuAD
def _squad_cases() -> dict[str, tuple]:
    """name → (mutate(doc) or raw bytes, expected message after '<file>: ' as a regex)."""

    def paragraph_null(d):
        d["data"][0]["paragraphs"][1] = None

    def qas_not_list(d):
        d["data"][0]["paragraphs"][0]["qas"] = {"id": "q1", "question": "Why do cats purr?"}

    def id_not_string(d):
        d["data"][0]["paragraphs"][0]["qas"][0]["id"] = ["q1"]

    def question_not_string(d):
        d["data"][0]["paragraphs"][0]["qas"][1]["question"] = 42

    def data_not_list(d):
        d["data"] = d["data"][0]

    def article_not_object(d):
        d["data"][1] = "Rivers"

    def title_not_string(d):
        d["data"][0]["title"] = ["Cats"]

    def duplicate_question_id(d):
        d["data"][1]["paragraphs"][0]["qas"][0]["id"] = "q1"

    return {
        "paragraph-null": (paragraph_null, r"article 0 paragraph 1 is not an object"),
        "qas-not-a-list": (qas_not_list, r"article 0 paragraph 0: 'qas' is not a list"),
        "id-not-a-string": (id_not_string, r"article 0 paragraph 0: qas\[0\]\.id must be a string, got list"),
        "question-not-a-string": (question_not_string,
                                  r"article 0 paragraph 0: qas\[1\] lacks an 'id' or a non-empty 'question' string"),
        "data-not-a-list": (data_not_list, r"not SQuAD format \(expected an object with a 'data' list\)"),
        "article-not-an-object": (article_not_object, r"data\[1\] is not an object"),
        "title-not-a-string": (title_not_string, r"data\[0\]\.title must be a string, got list"),
        "duplicate-question-id": (duplicate_question_id, r"question id 'q1' occurs twice"),
        "truncated-json": (None, r"invalid JSON at line 1, column \d+: .+"),
        "not-utf8": ("Café ist gut".encode("latin-1"), r"not UTF-8 text"),
        "deeply-nested": (('{"data": ' + "[" * 100_000 + "]" * 100_000 + "}").encode(), r"JSON nested too deeply"),
    }


@pytest.mark.parametrize("case", list(_squad_cases()))
def test_squad_malformed_file_is_named_in_one_line(case, squad_folder):
    change, expected = _squad_cases()[case]
    en = squad_folder / "xq.en.json"
    if case == "truncated-json":
        text = en.read_text(encoding="utf-8")
        en.write_text(text[: len(text) // 2], encoding="utf-8")
    elif isinstance(change, bytes):
        en.write_bytes(change)
    else:
        doc = squad_json(squad_folder)
        change(doc)
        en.write_text(json.dumps(doc), encoding="utf-8")
    before = snapshot(squad_folder)
    with pytest.raises(CorpusError) as info:
        load_squad_folder(squad_folder)
    assert re.fullmatch(re.escape(str(en)) + r":? " + expected, str(info.value)), str(info.value)
    assert snapshot(squad_folder) == before  # a loader never writes


# ============================================================================================ corpora: long format
ROW = {"id": "1", "lang": "en", "group": "g", "passage": "Cats purr.", "question": "Why?"}


def _jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize(("case", "rows", "expected"), [
    ("passage-number", [ROW, {**ROW, "lang": "de", "passage": 42}], ":2: passage must be a string, got int"),
    ("passage-nan", [{**ROW, "passage": float("nan")}], ":1: passage must be a string, got float"),
    ("question-list", [{**ROW, "question": ["Why?"]}], ":1: question must be a string, got list"),
    ("question-bool", [{**ROW, "question": True}], ":1: question must be a string, got bool"),
    ("id-object", [{**ROW, "id": {"n": 1}}], ":1: id must be a string, got dict"),
    ("line-is-array", [ROW, '["2", "en", "p", "q"]'], ":2: expected a JSON object"),
    ("duplicate-id-lang", [ROW, {**ROW, "lang": "de"}, {**ROW, "passage": "Other."}],
     ":3: id '1' appears twice for language 'en' (first at {path}:1)"),
    ("missing-column", [{k: v for k, v in ROW.items() if k != "question"}], ":1: missing or empty question"),
])
def test_long_jsonl_bad_row_is_refused_not_stringified(case, rows, expected, tmp_path):
    path = _jsonl(tmp_path / "c.jsonl", rows)
    with pytest.raises(CorpusError) as info:
        load_long(path)
    assert str(info.value) == f"{path}" + expected.format(path=path)


def test_long_invalid_json_line_names_line(tmp_path):
    path = _jsonl(tmp_path / "c.jsonl", [ROW, '{"id": "2", "lang": "en",'])
    with pytest.raises(CorpusError, match=rf"^{re.escape(str(path))}:2: invalid JSON \(Expecting .+\)$"):
        load_long(path)


def test_long_csv_missing_column_and_extra_fields(tmp_path):
    missing = tmp_path / "missing.csv"
    missing.write_text("id,lang,passage\n1,en,Cats purr.\n", encoding="utf-8")
    with pytest.raises(CorpusError) as info:
        load_long(missing)
    assert str(info.value) == f"{missing}:2: missing or empty question"
    extra = tmp_path / "extra.csv"
    extra.write_text("id,lang,passage,question\n1,en,Cats purr.,Why?\n2,en,Dogs bark.,Why?,surplus\n", encoding="utf-8")
    with pytest.raises(CorpusError) as info:
        load_long(extra)
    assert str(info.value) == f"{extra}:3: more fields than the header has columns"


def test_long_languages_not_parallel_names_the_ids(tmp_path):
    rows = [{**ROW, "id": i, "lang": lang, "passage": f"P{i} {lang}"} for i in ("1", "2", "3") for lang in ("en", "de")]
    path = _jsonl(tmp_path / "c.jsonl", [r for r in rows if not (r["lang"] == "de" and r["id"] in ("2", "3"))])
    with pytest.raises(CorpusError) as info:
        load_long(path)
    assert str(info.value) == "c: c[de] is not parallel to c[en]: missing ids '2', '3' (present in c[en])"
    path = _jsonl(tmp_path / "d.jsonl", [r for r in rows if not (r["lang"] == "en" and r["id"] == "3")])
    with pytest.raises(CorpusError) as info:
        load_long(path)
    assert str(info.value) == "d: not parallel: language 'en' lacks ids '3'"


def test_long_empty_file_and_empty_folder(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(CorpusError) as info:
        load_long(empty)
    assert str(info.value) == f"{empty}: no rows"
    folder = tmp_path / "nothing"
    folder.mkdir()
    (folder / "notes.txt").write_text("x")
    with pytest.raises(CorpusError) as info:
        load_long(folder)
    assert str(info.value) == f"{folder}: no .jsonl or .csv files"


def test_excel_csv_with_bom_loads_exactly_like_without(tmp_path):
    body = ("id,lang,group,passage,question\r\n"
            "1,en,cats,\"Cats purr, mostly.\",Why do cats purr?\r\n1,de,cats,\"Katzen schnurren, meist.\",Warum?\r\n"
            "2,en,nile,The Nile is long.,How long is the Nile?\r\n2,de,nile,Der Nil ist lang.,Wie lang?\r\n")
    (tmp_path / "plain").mkdir()
    (tmp_path / "excel").mkdir()
    (tmp_path / "plain" / "c.csv").write_bytes(body.encode("utf-8"))
    (tmp_path / "excel" / "c.csv").write_bytes(b"\xef\xbb\xbf" + body.encode("utf-8"))
    plain, excel = load_long(tmp_path / "plain" / "c.csv"), load_long(tmp_path / "excel" / "c.csv")
    assert excel == plain
    assert excel.item_ids == ("1", "2") and excel.groups == ("cats", "nile") and excel.langs == ("en", "de")


def test_unknown_data_path(tmp_path):
    with pytest.raises(CorpusError) as info:
        load_corpus(str(tmp_path / "nope"), ["en", "de"])
    assert str(info.value) == f"{tmp_path / 'nope'}: no such file or folder (or use demo, xquad, belebele)"


# ============================================================================================ command-line flags
@pytest.fixture
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("XLALIGN_PUBLIC", raising=False)
    return tmp_path


FLAG_CASES = [
    ("evaluate", ["--max-seq-length", "0"], "error: max sequence length must be a number ≥ 8, got 0"),
    ("evaluate", ["--batch-size", "0"], "error: batch size must be a number ≥ 1, got 0"),
    ("evaluate", ["--langs", "en"], "error: langs must name at least 2 language(s), got ['en']"),
    ("evaluate", ["--langs", "en,en"], "error: langs: en listed twice"),
    ("evaluate", ["--scenarios", "multi,bogus"],
     "error: scenario must be one of multi, multi-1, mono-same, mono-cross, got 'bogus'"),
    ("evaluate", ["--device", "tpu"], "error: device must be cpu, cuda, cuda:N or mps, got 'tpu'"),
    ("align", ["--test-fraction", "1.5"], "error: test fraction must be in (0, 1), got 1.5"),
    ("align", ["--rank", "0"], "error: LSAR rank must be a number ≥ 1, got 0"),
    ("evaluate", ["--model", "nobody/no-such-model"],
     "error: could not load model 'nobody/no-such-model': it is not a local path, not in the Hugging Face cache, and "
     "the Hub is switched off (HF_HUB_OFFLINE=1); offline, use the bundled default bundled:multilingual-e5-small"),
    ("evaluate", ["--model", "Alibaba-NLP/gte-multilingual-base"],
     "error: Alibaba-NLP/gte-multilingual-base runs code from its repository; opt in with --trust-remote-code "
     "(trust_remote_code=True)"),
]


@pytest.mark.parametrize(("command", "flags", "expected"), FLAG_CASES, ids=[" ".join(f) for _, f, _ in FLAG_CASES])
def test_bad_flag_is_one_line_exit_2_and_creates_nothing(command, flags, expected, offline, capsys):
    out = offline / "out"
    code, stdout, err = cli(capsys, command, "--data", "demo", "--out", str(out), "--cache-dir", str(offline / "cache"),
                            *flags)
    assert code == 2 and stdout == ""
    assert one_line_error(err) == expected
    assert not out.exists() and not temp_siblings(out)


def test_bad_choice_flag_is_one_line_without_traceback_or_output(offline, capsys):
    out = offline / "out"
    code, stdout, err = cli(capsys, "evaluate", "--data", "demo", "--out", str(out), "--precision", "fp16")
    assert code == 2 and stdout == ""
    assert one_line_error(err) == ("error: argument --precision: invalid choice: 'fp16' (choose from 'auto', 'fp32', "
                                   "'bf16') (see python -m xlalign evaluate --help)")
    assert not out.exists()


def test_malformed_data_through_the_cli_names_the_file(offline, squad_folder, capsys):
    (squad_folder / "xq.de.json").write_text('{"data": [', encoding="utf-8")
    out = offline / "out"
    code, _, err = cli(capsys, "evaluate", "--data", str(squad_folder), "--langs", "en,de", "--out", str(out))
    assert code == 2
    assert one_line_error(err) == f"error: {squad_folder / 'xq.de.json'}: invalid JSON at line 1, column 11: " \
                                  "Expecting value"
    assert not out.exists() and not temp_siblings(out)


def test_cli_refuses_earlier_results_without_overwrite(offline, capsys):
    out = offline / "out"
    with ResultFolder(out) as folder:  # results xlalign wrote earlier (they carry its marker)
        folder.write(RESULTS)
    before = snapshot(out)
    code, _, err = cli(capsys, "evaluate", "--data", "demo", "--out", str(out))
    assert code == 2
    assert one_line_error(err) == (f"error: {out} already holds results; pass --overwrite to replace them, or choose "
                                   "another --out")
    assert snapshot(out) == before and not temp_siblings(out)


# ============================================================================================ models and public mode
@pytest.fixture
def public(monkeypatch):
    monkeypatch.setenv("XLALIGN_PUBLIC", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("XLALIGN_ALLOWED_MODELS", raising=False)


def test_remote_code_refusal_names_the_opt_in_flag(offline):
    with pytest.raises(ModelLoadError) as info:
        load_sentence_transformer(ModelSpec("jinaai/jina-embeddings-v3"))
    assert str(info.value) == ("jinaai/jina-embeddings-v3 runs code from its repository; opt in with "
                               "--trust-remote-code (trust_remote_code=True)")


def test_public_mode_refuses_remote_code_even_for_listed_models(public):
    with pytest.raises(ModelLoadError) as info:
        load_sentence_transformer(ModelSpec("Alibaba-NLP/gte-multilingual-base", trust_remote_code=True))
    assert str(info.value) == "remote code is disabled on this public server"


def test_public_mode_refuses_unlisted_model(public):
    with pytest.raises(ModelLoadError) as info:
        load_sentence_transformer(ModelSpec("someone/unlisted-model"))
    assert str(info.value) == ("model 'someone/unlisted-model' is not available on this public server; choose one of "
                               "the listed models (operators extend the list with XLALIGN_ALLOWED_MODELS)")


def test_public_mode_refuses_a_local_path(public, tmp_path, capsys):
    local = tmp_path / "model"
    local.mkdir()
    (local / "config.json").write_text("{}")
    with pytest.raises(ModelLoadError, match=r"is not available on this public server"):
        check_model(str(local), False)
    out = tmp_path / "out"
    code, _, err = cli(capsys, "evaluate", "--data", "demo", "--model", str(local), "--out", str(out),
                       "--cache-dir", str(tmp_path / "cache"))
    assert code == 2 and one_line_error(err).startswith(f"error: model '{local}' is not available on this public server")
    assert not out.exists()


@pytest.mark.slow
def test_allowed_models_extends_the_public_list(public, monkeypatch, tmp_path):
    from tiny_model import build_tiny_model

    model = build_tiny_model(tmp_path, ["Cats purr.", "Katzen schnurren.", "Why?"])
    assert str(model) not in allowed_models()
    monkeypatch.setenv("XLALIGN_ALLOWED_MODELS", f" other/model , {model}")
    assert {"other/model", str(model)} <= set(allowed_models())
    loaded = load_sentence_transformer(ModelSpec(str(model), device="cpu"))
    assert loaded.encode(["Cats purr."]).shape == (1, 32)
    with pytest.raises(ModelLoadError, match="remote code is disabled"):
        check_model(str(model), True)


def test_public_error_messages_name_no_server_path(squad_folder):
    (squad_folder / "xq.en.json").write_text("{", encoding="utf-8")
    with pytest.raises(CorpusError) as info:
        load_squad_folder(squad_folder)
    message = str(info.value)
    assert message.startswith(f"{squad_folder / 'xq.en.json'}: invalid JSON at line 1, column 2: ")
    shown = redact_paths(message)
    assert shown == "…/xq.en.json: " + message.split(": ", 1)[1]
    assert str(squad_folder) not in shown and "/tmp" not in shown


# ============================================================================================ run records
def test_malformed_status_lists_as_unreadable_and_others_still_list(tmp_path):
    store = RunStore(tmp_path / "runs")
    for name, state in (("20250101-a", "succeeded"), ("20250102-b", "failed")):
        (store.root / name).mkdir()
        write_status(store.root / name, {"state": state, "message": name})
    (store.root / "20250103-broken").mkdir()
    (store.root / "20250103-broken" / "status.json").write_text('{"state": "runn', encoding="utf-8")
    (store.root / "20250104-bogus").mkdir()
    (store.root / "20250104-bogus" / "status.json").write_text('{"state": "exploded"}', encoding="utf-8")
    runs = {r["run"]: r for r in store.list()}
    assert runs["20250103-broken"]["state"] == "unreadable"
    assert runs["20250103-broken"]["message"] == "unreadable status.json (JSONDecodeError)"
    assert runs["20250104-bogus"] == {"run": "20250104-bogus", "dir": str(store.root / "20250104-bogus"),
                                      "state": "unreadable", "message": "status.json has no valid state"}
    assert runs["20250101-a"]["state"] == "succeeded" and runs["20250102-b"]["state"] == "failed"
    assert store.recover() == []  # unreadable is not active: left alone
    assert (store.root / "20250103-broken" / "status.json").read_text() == '{"state": "runn'


def _compare_faults(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name → (run folder, the message after 'error: ')."""
    faults = {}
    run = tmp_path / "truncated"
    head, last = write_compare(run).read_text().rstrip("\n").rsplit("\n", 1)
    (run / "compare.csv").write_text(head + "\n" + ",".join(last.split(",")[:6]) + ",")  # cut at "after"
    faults["truncated"] = (run, "truncated/compare.csv: line 5: after is not a finite number (truncated or edited file?)")
    run = tmp_path / "no-column"
    frame = pd.read_csv(write_compare(run)).drop(columns=["q_value"])
    frame.to_csv(run / "compare.csv", index=False)
    faults["missing-column"] = (run, "no-column/compare.csv: missing column(s) q_value")
    run = tmp_path / "garbage"
    write_compare(run).write_bytes(bytes(range(256)) * 8)
    faults["binary-garbage"] = (run, "garbage/compare.csv: unreadable (UnicodeDecodeError)")
    run = tmp_path / "infinite"
    path = write_compare(run)
    path.write_text(path.read_text().replace("0.02", "inf", 2).replace("inf", "0.02", 1))
    faults["infinite"] = (run, "infinite/compare.csv: line 3: q_value is not a finite number (truncated or edited file?)")
    run = tmp_path / "not-a-run"
    run.mkdir()
    (run / "notes.txt").write_text("hello")
    faults["not-a-run"] = (run, "not-a-run: no compare.csv (is it a finished alignment run?)")
    return faults


@pytest.mark.parametrize("fault", ["truncated", "missing-column", "binary-garbage", "infinite", "not-a-run"])
def test_bad_compare_csv_names_run_and_line(fault, tmp_path):
    run, expected = _compare_faults(tmp_path)[fault]
    with pytest.raises(CompareFileError) as info:
        compare_runs([run])
    assert str(info.value) == expected


def test_compare_of_a_file_instead_of_a_run_folder(tmp_path):
    path = write_compare(tmp_path / "good")
    with pytest.raises(CompareFileError) as info:
        read_compare(path / "compare.csv")
    assert str(info.value) == "compare.csv: not a run folder"


def test_cli_compare_bad_runs_are_one_line_and_write_nothing(tmp_path, capsys):
    good = tmp_path / "good"
    write_compare(good)
    for fault, (run, expected) in _compare_faults(tmp_path).items():
        out = tmp_path / f"out-{fault}"
        code, stdout, err = cli(capsys, "compare", str(good), str(run), "--out", str(out))
        assert code == 2, fault
        assert one_line_error(err) == f"error: {expected}"
        assert not out.exists() and not temp_siblings(out) and stdout == ""


# ============================================================================================ embedding cache
def _fill_cache(path: Path, n: int = 3000) -> list[bytes]:
    cache = EmbeddingCache(path)
    keys = [i.to_bytes(32, "little") for i in range(n)]
    cache.put_many(keys, np.ones((n, 32), dtype=np.float32))
    return keys


def _evaluate_with(cache: EmbeddingCache, squad_folder: Path) -> BagOfCharsEncoder:
    corpus = load_squad_folder(squad_folder)
    encoder = BagOfCharsEncoder(cache=cache)
    result = evaluate(corpus, encoder, EvalSpec(data=str(squad_folder), langs=("en", "de")))
    assert set(result.summary_frame().scenario) == {"multi", "multi-1", "mono-same", "mono-cross"}
    return encoder


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_corrupt_cache_is_moved_aside_and_rebuilt(damage, tmp_path, squad_folder):
    path = tmp_path / "cache" / "embeddings.sqlite"
    _fill_cache(path)
    for suffix in ("-wal", "-shm"):  # as if the writer had checkpointed and exited
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3] if damage == "truncated" else os.urandom(8192))
    with pytest.warns(CacheWarning, match=r"embedding cache .*embeddings\.sqlite was corrupted .*; moved it to "
                                          r"embeddings\.sqlite\.corrupt-\S+ and started a new one"):
        cache = EmbeddingCache(path)
        encoder = _evaluate_with(cache, squad_folder)
    aside = sorted(p.name for p in path.parent.glob("embeddings.sqlite.corrupt-*"))
    assert len(aside) == 1 and (path.parent / aside[0]).stat().st_size > 0
    assert cache.enabled and len(cache) == encoder.n_texts_encoded > 0
    again = _evaluate_with(cache, squad_folder)
    assert again.n_texts_encoded == 0  # the fresh cache serves the second run


def test_two_corruptions_in_the_same_second_keep_both_copies(tmp_path, monkeypatch):
    import xlalign.models.cache as cache

    monkeypatch.setattr(cache.time, "strftime", lambda fmt, *a: "20250101-000000")
    path = tmp_path / "embeddings.sqlite"
    for payload in (b"first garbage " * 300, b"second garbage " * 300):
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        path.write_bytes(payload)
        with pytest.warns(CacheWarning, match="was corrupted"):
            assert len(EmbeddingCache(path)) == 0
    kept = sorted(p.read_bytes()[:6] for p in tmp_path.glob("embeddings.sqlite.corrupt-*"))
    assert kept == [b"first ", b"second"]


def test_read_only_cache_folder_turns_caching_off(tmp_path, squad_folder, request):
    folder = tmp_path / "ro"
    folder.mkdir()
    os.chmod(folder, 0o500)
    if os.access(folder, os.W_OK):  # root: chmod does not bind it; run this test where it does
        rerun_where_file_modes_bind(request)
        return
    try:
        with pytest.warns(CacheWarning, match=r"embedding cache .*embeddings\.sqlite is not writable .*; continuing "
                                              "without caching"):
            cache = EmbeddingCache(folder / "embeddings.sqlite")
        assert not cache.enabled
        encoder = _evaluate_with(cache, squad_folder)
        assert encoder.n_texts_encoded > 0 and len(cache) == 0
    finally:
        os.chmod(folder, 0o700)
    assert list(folder.iterdir()) == []


def test_unopenable_cache_file_turns_caching_off(tmp_path, squad_folder):
    """A path that SQLite cannot open (here: a folder where the file should be) behaves like a read-only cache."""
    path = tmp_path / "embeddings.sqlite"
    path.mkdir()
    with pytest.warns(CacheWarning, match=r"is not writable \(unable to open database file\); continuing without caching"):
        cache = EmbeddingCache(path)
    assert not cache.enabled
    first = _evaluate_with(cache, squad_folder)
    assert first.n_texts_encoded > 0 and len(cache) == 0 and path.is_dir() and list(path.iterdir()) == []


# ============================================================================================ atomic, exclusive writes
@pytest.fixture
def earlier(tmp_path) -> Path:
    out = tmp_path / "out"
    with ResultFolder(out) as folder:
        folder.write(RESULTS)
    return out


def test_result_folders_log_what_became_of_them(tmp_path, caplog):
    out = tmp_path / "out"
    with caplog.at_level("INFO", logger="xlalign.store.runs"):
        with ResultFolder(out) as folder:
            folder.write(RESULTS)
        with pytest.raises(RuntimeError, match="boom"), ResultFolder(out, overwrite=True):
            raise RuntimeError("boom")
    assert [r.getMessage() for r in caplog.records] == [
        f"evaluate folder {out} written (swapped in whole)", f"evaluate folder {out} not completed (RuntimeError)"]
    assert sorted(snapshot(out)) == sorted([*RESULTS, MARKER])  # the earlier results are kept


def test_result_folder_refuses_earlier_results_unless_overwrite(earlier):
    before = snapshot(earlier)
    with pytest.raises(ConfigError) as info, ResultFolder(earlier):
        pass
    assert str(info.value) == f"{earlier} already holds results; pass --overwrite to replace them, or choose another --out"
    assert snapshot(earlier) == before
    with ResultFolder(earlier, overwrite=True) as folder:
        folder.write({"summary.csv": "new\n"})
    after = snapshot(earlier)
    marker = json.loads(after.pop(MARKER))  # xlalign's own marker: what makes the folder replaceable
    assert after == {"summary.csv": b"new\n"} and not temp_siblings(earlier)
    assert marker["kind"] == "evaluate" and marker["files"] == ["summary.csv"]


def test_result_folder_refuses_foreign_files_even_with_overwrite(tmp_path):
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.docx").write_bytes(b"precious")
    (out / "summary.csv").write_text("mine\n")
    before = snapshot(out)
    with pytest.raises(ConfigError) as info, ResultFolder(out, overwrite=True):
        pass
    assert str(info.value) == f"{out} holds files xlalign did not write (chapter1.docx); choose an empty or new folder"
    assert snapshot(out) == before


def test_second_result_writer_gets_run_busy(earlier):
    before = snapshot(earlier)
    with ResultFolder(earlier, overwrite=True):
        with pytest.raises(RunBusy) as info, ResultFolder(earlier, overwrite=True):
            pass
        assert str(info.value) == f"{earlier} is being written by another xlalign run; wait for it or choose another folder"
    assert snapshot(earlier) == before


def test_failure_while_writing_keeps_previous_results(earlier, monkeypatch):
    import xlalign.store.runs as runs

    before = snapshot(earlier)
    real = runs.atomic_write_text
    calls = []

    def failing(path, text):
        calls.append(path)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real(path, text)

    monkeypatch.setattr(runs, "atomic_write_text", failing)
    with pytest.raises(OSError, match="No space left"), ResultFolder(earlier, overwrite=True) as folder:
        folder.write({name: "new\n" for name in RESULTS})
    assert snapshot(earlier) == before and not temp_siblings(earlier)


def test_failure_while_swapping_keeps_previous_results(earlier, monkeypatch):
    """The old folder is moved aside before the new one moves in; a failure in between must put it back."""
    before = snapshot(earlier)
    real = os.replace

    def failing(src, dst, *a, **kw):
        if Path(dst) == earlier and ".tmp-" in Path(src).name and ".tmp-old-" not in Path(src).name:
            raise KeyboardInterrupt  # Ctrl-C at the worst moment
        return real(src, dst, *a, **kw)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(KeyboardInterrupt), ResultFolder(earlier, overwrite=True) as folder:
        folder.write({name: "new\n" for name in RESULTS})
    monkeypatch.undo()
    assert snapshot(earlier) == before and not temp_siblings(earlier)


def test_leftovers_of_a_killed_writer_are_cleaned_or_restored(earlier):
    before = snapshot(earlier)
    stale = earlier.parent / f".{earlier.name}.tmp-999-deadbeef"
    stale.mkdir()
    (stale / "summary.csv").write_text("half\n")
    aside = earlier.parent / f".{earlier.name}.tmp-old-cafebabe"
    os.replace(earlier, aside)  # killed between moving the old results aside and moving the new ones in
    with pytest.raises(ConfigError, match="already holds results"), ResultFolder(earlier):
        pass
    assert snapshot(earlier) == before and not temp_siblings(earlier)


def test_run_folder_refuses_a_finished_run_unless_overwrite(tmp_path):
    run = tmp_path / "run"
    with RunFolder(run, record={"method": "centering"}) as folder:
        (run / "compare.csv").write_text("x\n")
        folder.finish("succeeded", message="done")
    before = snapshot(run)
    with pytest.raises(ConfigError) as info, RunFolder(run):
        pass
    assert str(info.value) == (f"{run} already holds a finished run; pass --overwrite to replace it, or choose another "
                               "--out")
    assert snapshot(run) == before
    with RunFolder(run, overwrite=True) as folder:
        folder.finish("succeeded")
    assert not (run / "compare.csv").exists() and read_status(run)["state"] == "succeeded"


def test_run_folder_refuses_a_folder_that_is_not_a_run(tmp_path):
    run = tmp_path / "photos"
    run.mkdir()
    (run / "cat.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(ConfigError) as info, RunFolder(run, overwrite=True):
        pass
    assert str(info.value) == f"{run} holds files that are not an xlalign run; choose an empty or new folder"
    assert (run / "cat.jpg").read_bytes() == b"\xff\xd8" and not (run / "status.json").exists()


def test_run_folder_live_run_gets_run_busy(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    write_status(run, {"state": "running", "message": "training 3/10"})
    holder = folder_lock(run / LOCK_NAME)
    holder.acquire()
    before = snapshot(run)
    try:
        with pytest.raises(RunBusy) as info, RunFolder(run, overwrite=True):
            pass
    finally:
        holder.release()
    assert str(info.value) == f"{run} is being written by another xlalign run; wait for it or choose another folder"
    assert snapshot(run) == before


def test_an_overwritten_failed_run_keeps_no_trace_of_its_error(tmp_path):
    run = tmp_path / "run"
    with pytest.raises(RuntimeError, match="boom"), RunFolder(run, record={"method": "lsar"}):
        raise RuntimeError("boom")
    failed = read_status(run)
    assert failed["state"] == "failed" and failed["error"] == "boom"
    with pytest.raises(ConfigError, match="already holds a failed run; pass --overwrite"):
        RunFolder(run, record={"method": "lsar"}).__enter__()
    assert read_status(run) == failed  # a failed run is the user's too: kept until --overwrite
    with RunFolder(run, overwrite=True, record={"method": "lsar"}) as folder:
        folder.finish("succeeded", message="done")
    done = json.loads((run / "status.json").read_text())
    assert done["state"] == "succeeded" and "error" not in done and "boom" not in json.dumps(done)
    with pytest.raises(ValueError, match="invalid run state 'exploded'"):
        write_status(run, {"state": "exploded"})
    assert json.loads((run / "status.json").read_text()) == done
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]


_HOLD_RUN = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from xlalign.store.runs import RunFolder

    run = Path(sys.argv[1])
    with RunFolder(run, record={"method": "finetune"}) as folder:
        folder.progress()("training", 3, 10)
        (run / ".xlalign-train-abc123").mkdir()
        (run / ".xlalign-train-abc123" / "step-3.bin").write_bytes(b"0" * 64)
        (run / "model.partial").mkdir()
        (run / "model.partial" / "weights.safetensors").write_bytes(b"1" * 64)
        print("ready", flush=True)
        time.sleep(600)
""")

_HOLD_JOB = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from xlalign.store.jobs import JobRunner

    def job(ctx):
        ctx.progress("training", 1, 10)
        print("ready", flush=True)
        time.sleep(600)

    JobRunner().submit(Path(sys.argv[1]), job, method="finetune")
    time.sleep(600)
""")


def _spawn(script: str, run: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", script, str(run)], stdout=subprocess.PIPE, text=True, env=env,
                            cwd=ROOT)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        proc.wait()
        raise AssertionError(f"child did not start (exit {proc.poll()}): {line!r}")
    return proc


@pytest.mark.slow
def test_kill_9_mid_run_is_recovered_and_live_runs_are_left_alone(tmp_path):
    store = RunStore(tmp_path / "runs")
    dead_run, live_run = store.root / "20250101-dead", store.root / "20250102-live"
    live = _spawn(_HOLD_JOB, live_run)
    try:
        victim = _spawn(_HOLD_RUN, dead_run)
        os.kill(victim.pid, signal.SIGKILL)
        assert victim.wait() == -signal.SIGKILL
        assert read_status(dead_run)["state"] == "running"  # what a killed run leaves behind
        live_before = read_status(live_run)
        assert live_before["state"] == "running"

        assert store.recover() == ["20250101-dead"]

        status = json.loads((dead_run / "status.json").read_text())
        assert status["state"] == "interrupted" and status["progress"] is None
        assert status["message"] == "interrupted: the process running it stopped (last: training 3/10)"
        assert sorted(status["cleaned"]) == [".xlalign-train-abc123", "model.partial"]
        assert sorted(p.name for p in dead_run.iterdir()) == [LOCK_NAME, MARKER, "status.json"]
        assert read_status(live_run) == live_before
        assert store.recover() == []  # idempotent
    finally:
        live.kill()
        live.wait()
    assert store.recover() == ["20250102-live"]  # once its owner is gone, it is recovered too


# ============================================================================================ path traversal
@pytest.fixture
def lab_with_runs(tmp_path):
    from xlalign.services.lab import Lab

    root = tmp_path / "runs"
    outside = tmp_path / "outside"
    write_compare(outside)
    write_status(outside, {"state": "succeeded"})
    lab = Lab(root, cache=EmbeddingCache(tmp_path / "cache.sqlite"))
    (root / "escape").symlink_to(outside, target_is_directory=True)
    (root / ".lock").mkdir()
    write_status(root / ".lock", {"state": "succeeded"})
    good = root / "20250101-good"
    write_compare(good)
    write_status(good, {"state": "succeeded"})
    yield lab, outside
    lab.jobs.shutdown()


TRAVERSAL = {"parent": "../outside", "absolute": None, "hidden": ".lock", "symlink-out": "escape",
             "missing": "20990101-nope", "missing-parent": "../nowhere"}


@pytest.mark.parametrize("case", list(TRAVERSAL))
@pytest.mark.parametrize("call", ["store.path", "run_dir", "run_compare", "cancel"])
def test_run_names_outside_the_store_are_one_refusal(case, call, lab_with_runs):
    lab, outside = lab_with_runs
    name = TRAVERSAL[case] or str(outside)
    fn = lab.store.path if call == "store.path" else getattr(lab, call)
    before = snapshot(outside)
    with pytest.raises(PathRefused) as info:
        fn(name)
    assert str(info.value) == f"run {name!r} is not valid"  # says nothing about whether it exists
    assert snapshot(outside) == before


def test_a_real_run_is_still_found(lab_with_runs):
    lab, _ = lab_with_runs
    assert lab.run_compare("20250101-good")["metric"].tolist()[:2] == ["complete@10", "max_r"]


def test_listing_and_recovery_ignore_a_symlink_out_of_the_store(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    write_status(outside, {"state": "running", "message": "not yours"})
    store = RunStore(tmp_path / "runs")
    (store.root / "escape").symlink_to(outside, target_is_directory=True)
    before = snapshot(outside)
    assert [r["run"] for r in store.list()] == []
    assert store.recover() == []
    assert snapshot(outside) == before


# ============================================================================================ exports
def test_csv_cells_that_would_run_as_formulas_are_neutralised():
    frame = pd.DataFrame({"text": ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "plain", "a=b"],
                          "value": [-1.5, 2.0, -3.0, 0.0, 1e-3, 7.0], "count": [-1, 2, 3, 4, 5, 6]})
    safe = safe_csv_frame(frame)
    assert safe["text"].tolist() == ["'=HYPERLINK(\"http://x\")", "'+1+1", "'-2+3", "'@SUM(A1)", "plain", "a=b"]
    assert safe["value"].tolist() == [-1.5, 2.0, -3.0, 0.0, 1e-3, 7.0] and safe["count"].tolist() == [-1, 2, 3, 4, 5, 6]
    assert frame["text"][0] == "=HYPERLINK(\"http://x\")"  # the caller's frame is untouched
    assert csv_text(frame).splitlines()[1:3] == ['"\'=HYPERLINK(""http://x"")",-1.5,-1', "'+1+1,2.0,2"]


def test_csv_text_round_trip_keeps_numbers_and_prefixes_formulas():
    frame = pd.DataFrame({"query": ["-what?", "@home", "ok"], "rank": [1, 2, 3], "delta": [-0.5, 0.25, -10.0]})
    back = pd.read_csv(io.StringIO(csv_text(frame)))
    assert back["query"].tolist() == ["'-what?", "'@home", "ok"]
    assert back["rank"].tolist() == [1, 2, 3] and back["delta"].tolist() == [-0.5, 0.25, -10.0]


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640)])
def test_atomic_writes_follow_the_umask_and_leave_no_temp_files(tmp_path, umask, mode):
    """Files get what the umask *at write time* allows of 0666 (set here, whatever it was at import), and
    artefacts written 0600 by safetensors are published the same way."""
    from xlalign.align.artefacts import save_arrays

    old = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "a.txt", "one\n")
        atomic_write_text(tmp_path / "a.txt", "two\n")
        atomic_write_json(tmp_path / "b.json", {"x": 1})
        with ResultFolder(tmp_path / "out") as folder:
            folder.write({"summary.csv": "s\n"})
        save_arrays(tmp_path / "c.safetensors", "test", {"x": np.zeros(2)})
    finally:
        os.umask(old)
    for p in (tmp_path / "a.txt", tmp_path / "b.json", tmp_path / "out" / "summary.csv", tmp_path / "c.safetensors"):
        assert (p.stat().st_mode & 0o777) == mode, p
    assert (tmp_path / "out").stat().st_mode & 0o777 == mode | 0o111 & ~umask  # a folder: the search bits too
    assert (tmp_path / "a.txt").read_text() == "two\n"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == ["a.txt", "b.json",
                                                                                        "c.safetensors", "out"]
