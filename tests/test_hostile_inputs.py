"""What a new probe of hostile inputs broke (issue 24, §9 and §10), one test per case.

Sections: texts that look empty or hold control characters (every loader, before anything is written); data paths
that are not regular files; silently wrong inputs (two SQuAD file sets, a duplicated CSV header or JSON key, an
upload named ``..jsonl``, a tampered ``transform.json``); folders xlalign must not empty (dotfiles, temporary-looking
names, hand-written markers); internal errors that must be one line (a full disk, NaN artefacts, a base model that
is not a model, a ``per_query.csv`` that is not UTF-8).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import cli
from fakes import BagOfCharsEncoder

from xlalign.align.base import AlignSpec
from xlalign.core.corpus import ParallelCorpus
from xlalign.core.loaders import DEMO_DIR, load_corpus, load_long, load_squad_folder
from xlalign.errors import CorpusError, DiskFull
from xlalign.services.pipeline import run_alignment
from xlalign.specs import EvalSpec, ModelSpec
from xlalign.store.runs import MARKER, ResultFolder, RunFileError, RunFolder

ROOT = Path(__file__).resolve().parents[1]


def one_line(err: str) -> str:
    """The one error line of a command's stderr (progress bars, which share stderr, left out)."""
    import re

    lines = [x.strip() for x in re.split(r"[\r\n]", err) if x.strip().startswith(("error", "internal error"))]
    assert len(lines) == 1 and "Traceback" not in err and "this is a bug" not in err, err
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def demo_rows(*langs: str) -> list[dict]:
    return [json.loads(line) for lang in langs
            for line in (DEMO_DIR / f"demo.{lang}.jsonl").read_text(encoding="utf-8").splitlines()]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def fake_run(root: Path, name: str = "run", method: str = "centering", model: str = "fake", **kw) -> Path:
    run_alignment(ModelSpec(model), kw.pop("evaluation", EvalSpec(langs=("en", "de"))), AlignSpec(method=method),
                  root / name, encoder=BagOfCharsEncoder(lang_offset={"en": 2.0}), **kw)
    return root / name


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


# ============================================================================================ §9 texts that look empty
#: Each is empty once the invisible characters are removed, yet ``str.strip()`` leaves something.
INVISIBLE = {
    "zero-width": "\u200b\u200c\u200d",
    "spaces-and-zero-width": "\u00a0\u3000\u200b\u2009",
    "format-chars": "\u2060\ufeff\u00ad\u200e\u202a\U000e0020",
    "fillers": "\u3164\u2800\u115f",
}


@pytest.mark.parametrize("kind", sorted(INVISIBLE))
def test_a_long_file_text_that_is_invisible_is_refused_naming_row_and_language(kind, tmp_path, offline, capsys):
    rows = demo_rows("en", "de")
    row = next(i for i, r in enumerate(rows) if r["lang"] == "de")
    rows[row + 3]["passage"] = INVISIBLE[kind]
    data = write_jsonl(tmp_path / "corpus.jsonl", rows)
    out = tmp_path / "out"
    code, stdout, err = cli(capsys, "evaluate", "--data", data, "--langs", "en,de", "--out", out)
    assert code == 2 and stdout == ""
    expected = (f"error: {data}:{row + 4}: the passage (language 'de') is empty once invisible characters are "
                "removed (it holds only ")
    assert one_line(err).startswith(expected), err
    assert not out.exists()  # refused before anything was written


def test_a_csv_text_with_a_nul_is_refused_naming_row_and_language(tmp_path):
    data = tmp_path / "corpus.csv"
    rows = ["id,lang,passage,question", "a,en,Cats purr.,Why?", "a,de,Katzen\x00 schnurren.,Warum?"]
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(CorpusError) as info:
        load_long(data)
    assert str(info.value) == f"{data}:3: the passage (language 'de') holds a control character (U+0000 NUL)"


def test_a_squad_question_with_an_escape_character_is_refused_naming_it(squad_folder):
    doc = json.loads((squad_folder / "xq.de.json").read_text(encoding="utf-8"))
    doc["data"][1]["paragraphs"][0]["qas"][1]["question"] = "Welcher Fluss\x1b[31m ist 6650 km lang?"
    (squad_folder / "xq.de.json").write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(CorpusError) as info:
        load_squad_folder(squad_folder, ["en", "de"])
    assert str(info.value) == (f"{squad_folder / 'xq.de.json'}: article 1 paragraph 0: qas[1]: the question 'q5' "
                               "(language 'de') holds a control character (U+001B ESCAPE)")


def test_a_squad_context_of_format_characters_only_is_refused(squad_folder):
    doc = json.loads((squad_folder / "xq.en.json").read_text(encoding="utf-8"))
    doc["data"][0]["paragraphs"][1]["context"] = "\u2060\u200b\ufeff"
    (squad_folder / "xq.en.json").write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(CorpusError, match=r"xq\.en\.json: article 0 paragraph 1: the context \(language 'en'\) is "
                                          r"empty once invisible characters are removed \(it holds only U\+2060, "
                                          r"U\+200B, U\+FEFF\)"):
        load_squad_folder(squad_folder, ["en", "de"])


def test_a_triplet_file_with_an_invisible_target_passage_is_refused(tmp_path):
    from xlalign.align.data import load_triplets

    path = write_jsonl(tmp_path / "triplets.jsonl", [{"q_en": "Why?", "p_en": "Because.", "p_tgt": "Porque."},
                                                      {"q_en": "How?", "p_en": "Thus.", "p_tgt": "\u200b\u00a0"}])
    with pytest.raises(CorpusError) as info:
        load_triplets(path)
    assert str(info.value) == ("triplets.jsonl:2: p_tgt (the target language) is empty once invisible characters are "
                               "removed (it holds only U+200B, U+00A0)")


def test_an_unpaired_surrogate_from_json_is_refused(tmp_path):
    rows = demo_rows("en", "de")
    rows[0]["question"] = "Why \ud800?"
    data = tmp_path / "c.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")  # ASCII JSON: "\ud800" escaped
    with pytest.raises(CorpusError, match=r"c\.jsonl:1: the question \(language 'en'\) holds an unpaired surrogate "
                                          r"\(U\+D800\), which is not Unicode text"):
        load_long(data)


def test_every_loader_builds_corpora_that_refuse_invisible_texts_by_item_and_language():
    """The corpus itself (what the XQuAD/Belebele loaders and any API caller build) refuses them too."""
    with pytest.raises(CorpusError, match=r"corpus 'c': the question of item 'b' in 'de' is empty once invisible "
                                          r"characters are removed \(it holds only U\+200B\)"):
        ParallelCorpus("c", ("a", "b"), ("g1", "g2"), ("a", "b"), {"en": ("P1.", "P2."), "de": ("P1.", "P2.")},
                       {"en": ("Q1?", "Q2?"), "de": ("F1?", "\u200b")})


def test_an_id_with_a_control_character_is_refused(tmp_path):
    rows = demo_rows("en", "de")
    for r in rows:
        if r["id"] == rows[1]["id"]:
            r["id"] = r["id"] + "\x07"
    with pytest.raises(CorpusError, match=r"c\.jsonl:2: id '.*\\x07' holds a control character \(U\+0007 BEL\)"):
        load_long(write_jsonl(tmp_path / "c.jsonl", rows))


def test_visible_text_with_joiners_and_direction_marks_is_kept(tmp_path):
    rows = demo_rows("en", "de")
    rows[0]["question"] = "Why 👩\u200d🔬 \u200fmark?"
    corpus = load_long(write_jsonl(tmp_path / "c.jsonl", rows))
    assert corpus.questions["en"][0] == "Why 👩\u200d🔬 \u200fmark?"


def test_a_control_character_in_a_data_file_name_never_reaches_an_export(tmp_path):
    rows = demo_rows("en", "de")
    data = write_jsonl(tmp_path / "bell\x07\x1b[31mred.jsonl", rows)
    from xlalign.store.export import export_run

    run = fake_run(tmp_path, evaluation=EvalSpec(data=str(data), langs=("en", "de")))
    out = export_run(run, tmp_path / "export")
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".md", ".json", ".py"):
            text = path.read_text(encoding="utf-8")
            assert not [c for c in text if ord(c) < 32 and c not in "\n\t\r"], path.name


# ============================================================================================ §10 not a regular file
def test_data_that_is_a_fifo_is_refused_before_it_is_read(tmp_path):
    """A FIFO named like a corpus: refused without waiting for a writer. (Were it opened and read, the writer below
    would feed it a small valid corpus, so that the old behaviour fails this test instead of hanging it.)"""
    fifo = tmp_path / "corpus.jsonl"
    os.mkfifo(fifo)
    text = "".join((DEMO_DIR / "demo.en.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)[:3])
    assert len(text.encode()) < 16_384  # fits in the pipe's buffer: the writer never waits for a read

    def writer() -> None:
        try:
            with open(fifo, "w", encoding="utf-8") as f:  # waits until a reader opens the FIFO
                f.write(text)
        except OSError:
            pass  # the reader went away: nothing to feed

    feeder = threading.Thread(target=writer, daemon=True)
    feeder.start()
    try:
        with pytest.raises(CorpusError) as info:
            load_corpus(str(fifo), ["en"])
        assert str(info.value) == f"{fifo}: not a regular file (a pipe, device or socket); pass a data file"
    finally:
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # lets a writer still waiting to open go on
        feeder.join()
        os.close(fd)


def test_data_that_is_a_device_is_refused(tmp_path):
    link = tmp_path / "zero.jsonl"
    link.symlink_to("/dev/zero")
    with pytest.raises(CorpusError, match=r"zero\.jsonl: not a regular file \(a pipe, device or socket\)"):
        load_corpus(str(link), ["en"])


def test_a_data_file_over_the_size_cap_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("XLALIGN_MAX_DATA_MB", "0.01")  # 10,485 bytes
    data = write_jsonl(tmp_path / "big.jsonl", demo_rows("en", "de"))
    assert data.stat().st_size > 10_485
    with pytest.raises(CorpusError) as info:
        load_long(data)
    assert str(info.value) == f"{data}: larger than 0.01 MB, the most a data file may have here (XLALIGN_MAX_DATA_MB)"


# ============================================================================================ §10 silently wrong
def test_a_squad_folder_with_two_file_sets_is_refused(squad_folder):
    for lang in ("en", "de"):
        shutil.copy(squad_folder / f"xq.{lang}.json", squad_folder / f"other.{lang}.json")
    with pytest.raises(CorpusError) as info:
        load_corpus(str(squad_folder), ["en", "de"])
    assert str(info.value) == (f"{squad_folder}: several SQuAD files for language 'de' (other.de.json, xq.de.json); "
                               "keep one set of <name>.<lang>.json files per folder")


def test_a_csv_whose_header_names_a_column_twice_is_refused(tmp_path):
    data = tmp_path / "c.csv"
    data.write_text("id,lang,passage,question,question\na,en,P.,Q one?,Q two?\n", encoding="utf-8")
    with pytest.raises(CorpusError) as info:
        load_long(data)
    assert str(info.value) == f"{data}:1: the header names column(s) 'question' more than once"


def test_a_json_line_that_names_a_key_twice_is_refused(tmp_path):
    data = tmp_path / "c.jsonl"
    data.write_text('{"id": "a", "lang": "en", "passage": "P.", "question": "Q1?", "question": "Q2?"}\n',
                    encoding="utf-8")
    with pytest.raises(CorpusError, match=r"c\.jsonl:1: the object names 'question' more than once"):
        load_long(data)


def test_an_upload_named_dotdot_jsonl_keeps_its_extension_and_runs(tmp_path, monkeypatch):
    from xlalign.services.lab import Lab, safe_upload_name

    assert [safe_upload_name(n) for n in ("..jsonl", ".csv", "a b?.CSV", "../x/y.jsonl", "...")] == \
        ["upload.jsonl", "upload.csv", "a-b.CSV", "y.jsonl", "upload"]
    upload = write_jsonl(tmp_path / "..jsonl", demo_rows("en", "de"))
    lab = Lab(tmp_path / "runs", public=True)
    monkeypatch.setattr(lab, "encoder", lambda model: BagOfCharsEncoder(lang_offset={"en": 2.0}))
    run_id = lab.submit_alignment(ModelSpec("bundled:multilingual-e5-small"),
                                  EvalSpec(data=str(upload), langs=("en", "de")), AlignSpec(method="centering"),
                                  visitor="alice")
    lab.jobs.wait()
    table = lab.runs_table(visitor="alice")
    assert table.state.tolist() == ["succeeded"], table.message.tolist()
    assert table.data.iloc[0] == "upload.jsonl (uploaded)"
    assert (lab.store.root / run_id / "inputs" / "upload.jsonl").is_file()


def test_a_failed_runs_message_names_the_upload_not_its_server_copy(tmp_path, monkeypatch):
    from xlalign.services.lab import Lab

    rows = demo_rows("en", "de")
    rows[5]["passage"] = "\u200b"
    upload = write_jsonl(tmp_path / "mine.jsonl", rows)
    said = "upload:mine.jsonl:6: the passage (language 'en') is empty"
    public = Lab(tmp_path / "public-runs", public=True)  # public: refused at once (it reads the file to count texts)
    with pytest.raises(CorpusError) as refused:
        public.submit_alignment(ModelSpec("bundled:multilingual-e5-small"), EvalSpec(data=str(upload),
                                langs=("en", "de")), AlignSpec(method="centering"), visitor="alice")
    assert str(refused.value).startswith(said) and str(tmp_path) not in str(refused.value)
    assert public.runs_table(visitor="alice").empty
    lab = Lab(tmp_path / "runs")  # local: the run reads its own copy of the file, and fails naming the upload
    monkeypatch.setattr(lab, "encoder", lambda model: BagOfCharsEncoder())
    lab.submit_alignment(ModelSpec("bundled:multilingual-e5-small"), EvalSpec(data=str(upload), langs=("en", "de")),
                         AlignSpec(method="centering"))
    lab.jobs.wait()
    message = lab.runs_table().message.iloc[0]
    assert message.startswith(f"CorpusError: {said}"), message
    assert str(tmp_path) not in message and "/inputs/" not in message


@pytest.mark.parametrize(("field", "value", "message"), [
    ("langs", "enzh", "'langs' must be a non-empty list of names, got 'enzh'"),
    ("langs", ["en", "en"], "'langs' names one twice"),
    ("roles", ["query", "document"], "unknown role(s) ['document']"),
    ("dimension", "68", "'dimension' must be a positive whole number, got '68'"),
    ("pivot", "fr", "the pivot 'fr' is not one of its languages"),
])
def test_a_tampered_transform_json_is_refused_by_both_loaders(field, value, message, tmp_path):
    """Both the numpy-only ``xlalign_apply.py`` of an export and xlalign's own loader validate the file."""
    from xlalign.align.transform import LanguageAwareTransform
    from xlalign.store.export import export_run

    out = export_run(fake_run(tmp_path, method="procrustes"), tmp_path / "export")
    config = json.loads((out / "transform.json").read_text(encoding="utf-8"))
    (out / "transform.json").write_text(json.dumps({**config, field: value}), encoding="utf-8")
    with pytest.raises(ValueError, match=r"transform\.json: " + _re(message)):
        LanguageAwareTransform.load(out)
    code = f"import sys; sys.modules['xlalign'] = None; import xlalign_apply; xlalign_apply.load({str(out)!r})"
    done = subprocess.run([sys.executable, "-c", code], cwd=out, capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert done.returncode == 1 and message in done.stderr.strip().splitlines()[-1], done.stderr[-1500:]


def _re(text: str) -> str:
    import re

    return re.escape(text)


def test_a_transform_tensor_with_nan_or_of_an_unlisted_language_is_refused(tmp_path):
    from safetensors.numpy import load_file, save_file

    from xlalign.align import standalone_apply

    out = tmp_path / "run" / "transform"
    fake_run(tmp_path, method="procrustes")
    tensors = load_file(str(out / "transform.safetensors"))
    name = next(k for k in tensors if k.startswith("A."))
    save_file({**tensors, name: np.full_like(tensors[name], np.nan)}, str(out / "transform.safetensors"))
    with pytest.raises(ValueError, match=rf"transform\.safetensors: tensor '{_re(name)}' holds NaN or infinite"):
        standalone_apply.load(out)
    save_file({**tensors, "A.query.fr": tensors[name]}, str(out / "transform.safetensors"))
    with pytest.raises(ValueError, match=r"tensor 'A\.query\.fr' is not a map of a listed role and language"):
        standalone_apply.load(out)


# ============================================================================================ §10 deleted without asking
#: Files a user may have in a folder they point --out at: none was written by xlalign.
USER_FILES = {".draft.tmp": "draft", "draft.tmp": "d", ".env": "KEY=1", ".notes.tmp-1": "n", "~$thesis.docx": "lock",
              ".summary.csv.abcdefgh.tmp": "looks like an old temporary file", "thesis.docx": "chapter 1"}
#: Markers written by hand (or by another program): none lists files xlalign wrote.
HAND_MARKERS = {"evaluate-null": {"kind": "evaluate", "files": None},
                "evaluate-null-versioned": {"xlalign": "0.1.0", "kind": "evaluate", "files": None},
                "align-null-versioned": {"xlalign": "0.1.0", "kind": "align", "files": None},
                "evaluate-files-string": {"xlalign": "0.1.0", "kind": "evaluate", "files": "thesis.docx"}}


def _user_folder(path: Path, name: str, marker: dict | None = None) -> Path:
    path.mkdir(parents=True)
    (path / name).write_text(USER_FILES[name], encoding="utf-8")
    if marker is not None:
        (path / MARKER).write_text(json.dumps(marker), encoding="utf-8")
    return path


def _write_results(out: Path, overwrite: bool) -> None:
    with ResultFolder(out, overwrite=overwrite) as folder:
        folder.write({"summary.csv": "a\n1\n"})


def _write_run(out: Path, overwrite: bool) -> None:
    with RunFolder(out, overwrite=overwrite) as folder:
        folder.finish("succeeded")


@pytest.mark.parametrize("overwrite", [False, True], ids=["plain", "overwrite"])
@pytest.mark.parametrize("name", sorted(USER_FILES))
@pytest.mark.parametrize("writer", [_write_results, _write_run], ids=["evaluate", "align"])
def test_a_folder_holding_only_a_users_file_is_refused_and_kept(writer, name, overwrite, tmp_path):
    out = _user_folder(tmp_path / "out", name)
    before = snapshot(out)
    with pytest.raises(Exception, match="holds files"):
        writer(out, overwrite)
    assert snapshot(out) == before


@pytest.mark.parametrize("overwrite", [False, True], ids=["plain", "overwrite"])
@pytest.mark.parametrize("marker", sorted(HAND_MARKERS))
@pytest.mark.parametrize("name", ["thesis.docx", ".draft.tmp", ".env"])
def test_a_hand_written_marker_does_not_let_xlalign_delete_a_users_file(name, marker, overwrite, tmp_path):
    out = _user_folder(tmp_path / "out", name, HAND_MARKERS[marker])
    before = snapshot(out)
    writer = _write_run if HAND_MARKERS[marker]["kind"] == "align" else _write_results
    with pytest.raises(Exception, match="holds files"):
        writer(out, overwrite)
    assert snapshot(out) == before


def test_an_evaluation_replaces_its_own_results_but_not_a_file_added_beside_them(tmp_path):
    out = tmp_path / "out"
    _write_results(out, False)
    _write_results(out, True)  # its own files, listed in its marker: replaced
    marker = json.loads((out / MARKER).read_text(encoding="utf-8"))
    assert marker["files"] == ["summary.csv"] and marker["format"] == 2
    (out / ".draft.tmp").write_text("mine", encoding="utf-8")
    with pytest.raises(Exception, match=r"holds files xlalign did not write \(\.draft\.tmp\)"):
        _write_results(out, True)
    assert (out / ".draft.tmp").read_text(encoding="utf-8") == "mine"


def test_a_run_replaces_itself_but_not_a_file_added_inside_its_folders(tmp_path):
    run = fake_run(tmp_path)
    listed = json.loads((run / MARKER).read_text(encoding="utf-8"))["files"]
    assert "before/" in listed and "before/summary.csv" in listed and "transform/transform.json" in listed
    (run / "before" / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(Exception, match="holds files that are not an xlalign run"):
        fake_run(tmp_path, overwrite=True)
    (run / "before" / "notes.txt").unlink()
    fake_run(tmp_path, overwrite=True)  # nothing of the user's inside: replaced


def test_a_failed_run_lists_its_files_and_can_be_replaced(tmp_path):
    data = write_jsonl(tmp_path / "c.jsonl", demo_rows("en", "de"))
    with pytest.raises(ValueError, match="the encoder broke"):
        _failing_run(tmp_path, data)
    marker = json.loads((tmp_path / "run" / MARKER).read_text(encoding="utf-8"))
    assert marker["files"] is not None and "status.json" in marker["files"]
    fake_run(tmp_path, evaluation=EvalSpec(data=str(data), langs=("en", "de")), overwrite=True)


def _failing_run(root: Path, data: Path) -> None:
    class Broken(BagOfCharsEncoder):
        def _encode_uncached(self, texts, prompt, lang):
            if lang == "de":
                raise ValueError("the encoder broke")
            return super()._encode_uncached(texts, prompt, lang)

    run_alignment(ModelSpec("fake"), EvalSpec(data=str(data), langs=("en", "de")), AlignSpec(method="centering"),
                  root / "run", encoder=Broken())


def test_a_users_temp_looking_file_inside_a_run_survives_its_clean_up(tmp_path):
    from xlalign.store.runs import clean_leftovers

    run = fake_run(tmp_path)
    for name in (".draft.tmp", "x.partial", ".notes.tmp-1"):
        (run / name).write_text("mine", encoding="utf-8")
    (run / ".config.json.xlalign-abcd1234.tmp").write_text("{", encoding="utf-8")  # what a killed writer leaves
    assert clean_leftovers(run) == [".config.json.xlalign-abcd1234.tmp"]
    assert all((run / n).read_text(encoding="utf-8") == "mine" for n in (".draft.tmp", "x.partial", ".notes.tmp-1"))


def test_the_cli_refuses_a_folder_with_a_users_dotfile(tmp_path, offline, capsys):
    out = _user_folder(tmp_path / "out", ".draft.tmp")
    code, _, err = cli(capsys, "evaluate", "--data", "demo", "--out", out, "--overwrite")
    assert code == 2 and one_line(err) == (f"error: {out} holds files xlalign did not write (.draft.tmp); choose an "
                                           "empty or new folder")
    assert snapshot(out) == {".draft.tmp": b"draft"}


# ============================================================================================ §10 internal errors
_FULL = 'Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "No space left on device" })'


def _disk_full(*args, **kwargs):
    from safetensors import SafetensorError

    raise SafetensorError(_FULL)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    from tiny_model import build_tiny_model

    from xlalign.core.loaders import load_demo

    demo = load_demo(["en", "de"])
    return build_tiny_model(tmp_path_factory.mktemp("tiny"), [*demo.passages["en"], *demo.passages["de"],
                                                              *demo.questions["en"]])


def test_a_full_disk_while_a_fine_tune_saves_is_one_line(tiny, tmp_path, monkeypatch, capsys):
    from sentence_transformers import SentenceTransformer

    monkeypatch.setattr(SentenceTransformer, "save", _disk_full)
    code, _, err = cli(capsys, "align", "--method", "finetune", "--model", tiny, "--device", "cpu", "--data", "demo",
                       "--langs", "en,de", "--max-steps", "1", "--train-batch-size", "4", "--out", tmp_path / "run",
                       "--cache-dir", tmp_path / "cache")
    assert code == 2 and one_line(err) == ("error: no space left on the device while writing the tuned model (model); "
                                           "free some space and run it again")
    assert not (tmp_path / "run" / "model").exists() and not list((tmp_path / "run").glob(".*model*"))


def test_a_full_disk_during_an_overwrite_keeps_the_earlier_run(tmp_path, monkeypatch):
    import safetensors.numpy

    run = fake_run(tmp_path, method="lsar")
    before = snapshot(run)
    monkeypatch.setattr(safetensors.numpy, "save_file", _disk_full)
    with pytest.raises(DiskFull) as info:
        fake_run(tmp_path, method="lsar", overwrite=True)
    assert str(info.value) == ("no space left on the device while writing lsar.safetensors; free some space and run "
                               "it again")
    assert snapshot(run) == before and not [p for p in tmp_path.iterdir() if p.name.startswith(".run.")]


def test_a_full_disk_during_an_lsar_export_is_one_line(tiny, tmp_path, monkeypatch, capsys):
    from sentence_transformers import SentenceTransformer

    from xlalign.models.cache import EmbeddingCache

    run = tmp_path / "run"
    run_alignment(ModelSpec(str(tiny), device="cpu"), EvalSpec(langs=("en", "de")), AlignSpec(method="lsar"), run,
                  cache=EmbeddingCache(tmp_path / "c.sqlite"))
    monkeypatch.setattr(SentenceTransformer, "save", _disk_full)
    code, _, err = cli(capsys, "export", run, "--out", tmp_path / "export")
    assert code == 2 and one_line(err) == ("error: no space left on the device while writing the export (export); "
                                           "free some space and run it again")
    assert not (tmp_path / "export").exists()


def test_a_full_disk_anywhere_else_is_one_line_too(tmp_path, monkeypatch, capsys):
    """Where no writer names what it was writing, the command line still says it in one line (no "bug")."""
    import xlalign.cli as cli_module

    monkeypatch.setattr(cli_module, "cmd_compare", lambda args: _disk_full())
    code, _, err = cli(capsys, "compare", tmp_path, "--out", tmp_path / "cmp")
    assert code == 2 and one_line(err).startswith("error: no space left on the device (SafetensorError: ")


def test_an_lsar_artefact_with_nan_components_is_named(tmp_path, capsys):
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    run = fake_run(tmp_path, method="lsar")
    path = run / "lsar.safetensors"
    with safe_open(str(path), framework="np") as f:
        meta = f.metadata()
    arrays = load_file(str(path))
    arrays["components"][0, 0] = np.nan
    save_file(arrays, str(path), metadata=meta)
    code, _, err = cli(capsys, "export", run, "--out", tmp_path / "export")
    assert code == 2 and one_line(err) == (f"error: run/lsar.safetensors is missing or damaged ({path}: 'components' "
                                           "holds NaN or infinite values); run the alignment again (--overwrite) to "
                                           "rebuild it")


def test_a_run_whose_base_model_is_not_a_model_is_refused_on_export(tmp_path, offline, capsys):
    run = fake_run(tmp_path, method="lsar", model="/etc")
    code, _, err = cli(capsys, "export", run, "--out", tmp_path / "export")
    assert code == 2 and one_line(err).startswith("error: could not load model from /etc: ")
    assert not (tmp_path / "export").exists()


def test_a_base_model_whose_pooling_needs_remote_code_is_refused_on_export_as_on_evaluate(tiny, tmp_path, offline,
                                                                                         capsys):
    base = tmp_path / "remote"
    shutil.copytree(tiny, base)
    modules = json.loads((base / "modules.json").read_text(encoding="utf-8"))
    pooling = base / next(m["path"] for m in modules if "Pooling" in m["type"]) / "config.json"
    config = json.loads(pooling.read_text(encoding="utf-8"))
    pooling.write_text(json.dumps({**config, "auto_map": {"Pooling": "custom.Pooling"}}), encoding="utf-8")
    run = fake_run(tmp_path, method="lsar", model=str(base))
    code, _, err = cli(capsys, "evaluate", "--model", base, "--data", "demo", "--langs", "en,de",
                       "--out", tmp_path / "eval")
    evaluate_says = one_line(err)
    code2, _, err2 = cli(capsys, "export", run, "--out", tmp_path / "export")
    assert code == 2 and code2 == 2 and evaluate_says.startswith(f"error: could not load model from {base}: ")
    assert one_line(err2) == evaluate_says and not (tmp_path / "export").exists()


def test_a_per_query_csv_that_is_not_utf8_is_named(tmp_path):
    from xlalign.store.runs import Run

    run = fake_run(tmp_path)
    (run / "before" / "per_query.csv").write_bytes(b"query_id,score\n\xff\xfe,1\n")
    with pytest.raises(RunFileError) as info:
        Run(run).per_query_text("before")
    assert str(info.value) == ("run/before/per_query.csv is damaged (not UTF-8 text at byte 15); run the alignment "
                               "again (--overwrite) to rebuild the run")
