"""Nothing a user owns is lost, nothing wrong is shown silently, and bad input is one line (issue 17, §1–11).

Every case runs through the command line or the Python API (or both) and asserts what is kept on disk: files
still there with the same bytes, no lock or marker left in a folder xlalign did not create, no temporary
folders, not only the exit code. Sections: folders xlalign may replace; replacing a run; a full disk; sweeps
that lose a model; leftovers and SIGTERM; compare; CSV cells and ids; another application's database;
numbers; damaged run files; sequence length; tiny uploads.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import cli, snapshot
from conftest import one_line_error as one_line
from fakes import BagOfCharsEncoder

from xlalign.align.base import AlignSpec
from xlalign.core.loaders import load_long, load_squad_folder
from xlalign.errors import ConfigError, CorpusError
from xlalign.models.cache import CacheError, CacheWarning, EmbeddingCache
from xlalign.services.pipeline import run_alignment
from xlalign.specs import EvalSpec, FinetuneOptions, LsarOptions, ModelSpec
from xlalign.store.runs import LOCK_NAME, MARKER, ResultFolder, RunFileError, compare_runs, csv_text, read_status

ROOT = Path(__file__).resolve().parents[1]


# ============================================================================================ helpers
def siblings(folder: Path) -> list[str]:
    """What a writer may leave next to ``folder``: temporary folders and lock files."""
    return sorted(p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}."))


def model_folder(path: Path) -> Path:
    """What a Hugging Face / sentence-transformers model folder (or any project) looks like."""
    path.mkdir(parents=True)
    (path / "config.json").write_text('{"architectures": ["BertModel"]}')
    (path / "notes.md").write_text("my notes\n")
    (path / "src").mkdir()
    (path / "src" / "train.py").write_text("print('hi')\n")
    return path


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("XLALIGN_PUBLIC", raising=False)


def fake_run(root: Path, name: str = "run", method: str = "centering", **kw) -> Path:
    """A finished alignment run through the API with the character-trigram encoder (no model download)."""
    evaluation = kw.pop("evaluation", EvalSpec(langs=("en", "de")))
    align = kw.pop("align", AlignSpec(method=method))
    run_alignment(ModelSpec("fake"), evaluation, align, root / name, encoder=BagOfCharsEncoder(lang_offset={"en": 2.0}),
                  **kw)
    return root / name


# ============================================================================================ 1. folders xlalign may replace
REFUSED = "holds files xlalign did not write (config.json, notes.md, src); choose an empty or new folder"


@pytest.mark.parametrize("overwrite", [False, True], ids=["plain", "overwrite"])
@pytest.mark.parametrize("command", ["evaluate", "align", "compare", "export", "sweep"])
def test_every_writing_command_refuses_a_folder_xlalign_did_not_write(command, overwrite, tmp_path, offline, capsys):
    project = model_folder(tmp_path / "project")
    before = snapshot(project)
    run = fake_run(tmp_path) if command in ("compare", "export") else None
    args = {"evaluate": ["evaluate", "--data", "demo"], "align": ["align", "--data", "demo"],
            "compare": ["compare", run], "export": ["export", run],
            "sweep": ["sweep", "--models", "m1", "--targets", "de"]}[command]
    code, out, err = cli(capsys, *args, "--out", project, *(["--overwrite"] if overwrite else []))
    assert code == 2 and out == ""
    expected = (f"{project} holds files that are not an xlalign run; choose an empty or new folder"
                if command == "align" else f"{project} {REFUSED}")
    assert one_line(err) == f"error: {expected}"
    assert snapshot(project) == before and siblings(project) == []  # no lock, no marker, nothing beside it


def test_the_python_api_refuses_it_too(tmp_path):
    project = model_folder(tmp_path / "project")
    before = snapshot(project)
    for overwrite in (False, True):
        with pytest.raises(ConfigError, match="holds files that are not an xlalign run"):
            fake_run(tmp_path, "project", overwrite=overwrite)
    with pytest.raises(ConfigError, match="holds files xlalign did not write"), ResultFolder(project, overwrite=True):
        pass
    from xlalign.store.export import export_run

    run = fake_run(tmp_path)
    for overwrite in (False, True):
        with pytest.raises(ConfigError, match="holds files xlalign did not write"):
            export_run(run, project, overwrite=overwrite)
    assert snapshot(project) == before and siblings(project) == []


def test_a_refused_run_into_the_root_folder_leaves_nothing_there(offline, capsys):
    root = Path("/")
    present = {n: (root / n).exists() for n in (LOCK_NAME, MARKER, ".-.lock")}
    listing = sorted(os.listdir(root))
    code, _, err = cli(capsys, "align", "--data", "demo", "--out", "/", "--overwrite")
    assert code == 2 and "holds files that are not an xlalign run" in one_line(err)
    code, _, err = cli(capsys, "evaluate", "--data", "demo", "--out", "/")
    assert code == 2 and "holds files xlalign did not write" in one_line(err)
    assert {n: (root / n).exists() for n in present} == present and sorted(os.listdir(root)) == listing


def test_an_empty_folder_is_used_and_marked(tmp_path, capsys):
    run = fake_run(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli(capsys, "export", run, "--out", empty)[0] == 0
    marker = json.loads((empty / MARKER).read_text())
    assert marker["kind"] == "export" and "transform.json" in marker["files"] and not (empty / LOCK_NAME).exists()


def test_an_output_is_replaced_only_by_its_own_kind_with_overwrite(tmp_path, capsys):
    run = fake_run(tmp_path)
    export = tmp_path / "export"
    assert cli(capsys, "export", run, "--out", export)[0] == 0
    before = snapshot(export)
    code, _, err = cli(capsys, "export", run, "--out", export)
    assert code == 2 and one_line(err) == (f"error: {export} already holds an export; pass --overwrite to replace it, "
                                           "or choose another --out")
    code, _, err = cli(capsys, "compare", run, "--out", export, "--overwrite")
    assert code == 2 and one_line(err) == (f"error: {export} holds an xlalign export output, which compare does not "
                                           "replace; choose another --out")
    assert snapshot(export) == before
    (export / "my-notes.txt").write_text("mine")  # a file the user added: the export is no longer only ours
    code, _, err = cli(capsys, "export", run, "--out", export, "--overwrite")
    assert code == 2 and "holds files xlalign did not write (my-notes.txt)" in one_line(err)
    (export / "my-notes.txt").unlink()
    assert cli(capsys, "export", run, "--out", export, "--overwrite")[0] == 0
    assert (export / "transform.safetensors").exists() and siblings(export) == []


@pytest.mark.parametrize("command", ["export", "compare"])
def test_an_output_folder_may_not_be_an_input(command, tmp_path, capsys):
    run = fake_run(tmp_path)
    before = snapshot(run)
    for out in (run, tmp_path):  # the run itself, and a folder holding it
        code, _, err = cli(capsys, command, run, "--out", out, "--overwrite")
        assert code == 2 and "choose another --out" in one_line(err)
    assert snapshot(run) == before


# ============================================================================================ 2. replacing a run
def test_a_failed_overwrite_keeps_the_earlier_run_whole(tmp_path, monkeypatch):
    run = fake_run(tmp_path)
    before = snapshot(run)
    from xlalign.align.centering import CenteringAligner

    def broken(self, inputs):
        raise RuntimeError("the fit failed after the baseline")

    monkeypatch.setattr(CenteringAligner, "fit", broken)
    with pytest.raises(RuntimeError, match="after the baseline"):
        fake_run(tmp_path, overwrite=True)
    assert snapshot(run) == before and siblings(run) == []
    monkeypatch.undo()
    fake_run(tmp_path, align=AlignSpec(method="procrustes"), overwrite=True)
    assert json.loads((run / "run.json").read_text())["method"] == "procrustes"
    assert (run / "transform" / "transform.json").read_text() != before["transform/transform.json"].decode()
    assert siblings(run) == [] and read_status(run)["state"] == "succeeded"


def test_an_invalid_rank_is_refused_before_any_work_and_keeps_the_run(tmp_path, offline, capsys):
    run = fake_run(tmp_path)
    before = snapshot(run)
    code, _, err = cli(capsys, "align", "--method", "lsar", "--rank", "3", "--langs", "en,de", "--out", run,
                       "--overwrite")
    assert code == 2 and one_line(err) == ("error: LSAR rank 3 is more than the 2 direction(s) 2 fit languages give "
                                           "(passage and query means); choose a rank ≤ 2, or none to choose it on "
                                           "held-out data")
    with pytest.raises(ConfigError, match="LSAR rank 3 is more than"):
        fake_run(tmp_path, align=AlignSpec(method="lsar", options=LsarOptions(rank=3)), overwrite=True)
    assert snapshot(run) == before


def test_ctrl_c_during_an_overwrite_keeps_the_earlier_run(tmp_path, monkeypatch):
    run = fake_run(tmp_path)
    before = snapshot(run)
    from xlalign.align.centering import CenteringAligner

    monkeypatch.setattr(CenteringAligner, "fit", lambda self, inputs: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        fake_run(tmp_path, overwrite=True)
    assert snapshot(run) == before and siblings(run) == []


# ============================================================================================ 3. a full disk
class _FullDisk:
    """A connection whose writes fail as SQLite (or the OS) does when the disk is full."""

    def __init__(self, conn: sqlite3.Connection, error: BaseException) -> None:
        self.conn, self.error = conn, error

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def executemany(self, *a, **kw):
        raise self.error

    def execute(self, *a, **kw):
        return self.conn.execute(*a, **kw)


@pytest.mark.parametrize("error", [sqlite3.OperationalError("database or disk is full"),
                                   OSError(errno.ENOSPC, "No space left on device"),
                                   sqlite3.OperationalError("disk I/O error")], ids=["sqlite-full", "enospc", "io"])
def test_a_full_disk_keeps_the_cache_and_says_no_space(error, tmp_path, monkeypatch):
    path = tmp_path / "embeddings.sqlite"
    cache = EmbeddingCache(path)
    keys = [i.to_bytes(32, "little") for i in range(10)]
    cache.put_many(keys, np.ones((10, 4), dtype=np.float32))
    real = cache._conn
    monkeypatch.setattr(cache, "_conn", lambda: _FullDisk(real(), error))
    if "I/O" in str(error):
        import xlalign.models.cache as module

        monkeypatch.setattr(module.shutil, "disk_usage", lambda p: type("U", (), {"free": 1024})())
    with pytest.warns(CacheWarning, match=r"no space left on its disk .*; new embeddings are not cached until space is "
                                          r"freed \(the cache is kept\)"):
        cache.put_many([b"x" * 32], np.zeros((1, 4), dtype=np.float32))
    cache.put_many([b"y" * 32], np.zeros((1, 4), dtype=np.float32))  # warned once; no error
    monkeypatch.undo()
    assert cache.enabled and not cache.writable and path.exists()
    assert list(tmp_path.glob("*.corrupt-*")) == []
    assert len(cache.get_many(keys)) == 10  # the cache still serves what it has


# ============================================================================================ 4. sweeps
def _fake_cell(model, data, pivot, targets, pool, cache_path=None, progress=None):
    if model.model == "broken":
        raise OSError("weights unreadable")
    return [{"model": model.model, "pair": f"{pivot}+{t}", "query_lang": q, "multi complete@10": 50.0}
            for t in targets for q in (pivot, t)]


def test_a_failed_model_keeps_the_other_rows_and_exits_non_zero(tmp_path, offline, monkeypatch, capsys):
    import xlalign.services.sweep as sweep

    monkeypatch.setattr(sweep, "evaluate_cell", _fake_cell)
    out = tmp_path / "sweep"
    code, stdout, err = cli(capsys, "sweep", "--models", "good,broken,also-good", "--data", "demo", "--targets", "de,es",
                            "--out", out)
    assert code == 1
    assert [x for x in err.splitlines() if x.startswith("error")] == ["error: broken: OSError: weights unreadable",
                                        "error: 1 of 3 model(s) failed; the leaderboard keeps the other models' rows "
                                        "and marks the failed ones"]
    board = pd.read_csv(out / "leaderboard.csv", keep_default_na=False)
    assert board.model.tolist() == ["good"] * 4 + ["broken"] + ["also-good"] * 4
    assert board.set_index("model").loc["broken", "error"] == "OSError: weights unreadable"
    assert (board[board.model != "broken"]["error"] == "").all() and "good" in stdout


def test_bad_sweep_data_stops_before_any_model_and_writes_nothing(tmp_path, offline, monkeypatch, capsys):
    import xlalign.services.sweep as sweep

    called = []
    monkeypatch.setattr(sweep, "evaluate_cell", lambda *a, **k: called.append(a) or [])
    out = tmp_path / "sweep"
    code, _, err = cli(capsys, "sweep", "--models", "a,b", "--data", str(tmp_path / "nope.jsonl"), "--targets", "de",
                       "--out", out)
    assert code == 2 and "nope.jsonl" in one_line(err) and called == [] and not out.exists() and siblings(out) == []


# ============================================================================================ 5. leftovers, SIGTERM
def test_stale_export_temp_folders_are_cleaned_when_an_export_starts(tmp_path, capsys):
    run = fake_run(tmp_path)
    out = tmp_path / "export"
    stale = tmp_path / f".export.tmp-{999999}-deadbeef"
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"0" * 4096)
    assert cli(capsys, "export", run, "--out", out)[0] == 0
    assert not stale.exists() and siblings(out) == []


def test_the_app_cleans_export_work_of_dead_processes_at_start(tmp_path):
    from xlalign.services.lab import Lab

    work = tmp_path / "runs" / ".work"
    dead, live = work / "999999-export-deadbeef", work / f"{os.getpid()}-export-cafe"
    for d in (dead, live):
        d.mkdir(parents=True)
        (d / "big.bin").write_bytes(b"0" * 1024)
    lab = Lab(tmp_path / "runs", cache=EmbeddingCache(tmp_path / "c.sqlite"))
    try:
        assert not dead.exists() and live.exists()
    finally:
        lab.jobs.shutdown()


def test_an_app_export_leaves_no_work_behind(tmp_path):
    from xlalign.services.lab import Lab
    from xlalign.store.runs import write_status

    lab = Lab(tmp_path / "runs", cache=EmbeddingCache(tmp_path / "c.sqlite"))
    try:
        run = fake_run(tmp_path / "runs", "20250101-centering")
        write_status(run, {"state": "succeeded"})
        into = tmp_path / "downloads"
        into.mkdir()
        archive = lab.export_zip(run.name, into)
        assert archive.is_file() and sorted(p.name for p in into.iterdir()) == [archive.name]
        assert list((tmp_path / "runs" / ".work").iterdir()) == []
    finally:
        lab.jobs.shutdown()


def test_one_status_writer_throttles_within_a_stage_only(tmp_path, monkeypatch):
    import xlalign.store.runs as runs

    clock = [100.0]
    monkeypatch.setattr(runs.time, "monotonic", lambda: clock[0])
    writer = runs.StatusWriter(tmp_path, {"state": "running"})
    writer.update(message="running")
    writer.progress("encoding", 1, 10)  # a new stage is always written
    assert read_status(tmp_path)["message"] == "encoding 1/10"
    clock[0] += 0.1
    writer.progress("encoding", 2, 10)  # the same stage within 0.25 s is not
    assert read_status(tmp_path)["message"] == "encoding 1/10"
    writer.progress("encoding", 10, 10)  # its last step is
    assert read_status(tmp_path)["message"] == "encoding 10/10"
    writer.progress("training", 1, 5, loss=2.0)  # and so is the next stage, at once
    assert read_status(tmp_path)["message"] == "training 1/5 · loss 2.000"
    clock[0] += 0.3
    writer.progress("training", 2, 5, loss=1.5)
    status = read_status(tmp_path)
    assert status["message"] == "training 2/5 · loss 1.500" and status["state"] == "running"


_SLOW_ALIGN = textwrap.dedent("""
    import sys, time
    import xlalign.services.pipeline as pipeline
    from xlalign.cli import main

    def slow(model, evaluation, align, run, *rest):
        (run.dir / ".xlalign-train-abc").mkdir()
        print("ready", flush=True)
        time.sleep(600)

    pipeline._run = slow
    sys.exit(main(["align", "--data", "demo", "--langs", "en,de", "--out", sys.argv[1], *sys.argv[2:]]))
""")


def _spawn(script: str, *args: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT)
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        raise AssertionError(f"child did not start: {line!r} {proc.stderr.read()[-2000:]}")
    return proc


def test_sigterm_during_a_new_run_records_it_as_interrupted(tmp_path):
    run = tmp_path / "run"
    proc = _spawn(_SLOW_ALIGN, str(run))
    assert read_status(run)["state"] == "running"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait() == 143
    assert proc.stderr.read().strip().splitlines()[-1] == "terminated"
    status = read_status(run)
    assert status["state"] == "interrupted" and status["message"].startswith("interrupted: the process was asked")
    assert sorted(p.name for p in run.iterdir()) == [MARKER, "status.json"]  # scratch removed, lock file too


def test_sigterm_during_an_overwrite_keeps_the_earlier_run(tmp_path):
    run = fake_run(tmp_path)
    before = snapshot(run)
    proc = _spawn(_SLOW_ALIGN, str(run), "--overwrite")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait() == 143
    assert snapshot(run) == before and siblings(run) == []


_SLOW_APP = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from xlalign.services.lab import Lab

    lab = Lab(Path(sys.argv[1]))
    run_dir = lab.store.new_run_dir("slow")

    def job(ctx):
        (ctx.run_dir / ".xlalign-train-abc").mkdir()
        ctx.progress("training", 2, 10)
        print("ready", flush=True)
        time.sleep(600)

    lab.jobs.submit(run_dir, job, method="slow")
    lab.exit_on_sigterm()
    time.sleep(600)
""")


def test_sigterm_to_the_app_records_its_runs_as_interrupted(tmp_path):
    root = tmp_path / "runs"
    proc = _spawn(_SLOW_APP, str(root))
    (run,) = [p for p in root.iterdir() if not p.name.startswith(".")]
    assert read_status(run)["state"] == "running"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait() == 143
    status = read_status(run)
    assert status["state"] == "interrupted" and status["message"] == "interrupted: the server was stopped (SIGTERM)"
    assert not (run / ".xlalign-train-abc").exists()


# ============================================================================================ 6. compare
def test_compare_shows_each_runs_own_baseline_when_queries_differ(tmp_path, capsys):
    a = fake_run(tmp_path, "half", align=AlignSpec(method="centering", test_fraction=0.5))
    b = fake_run(tmp_path, "third", align=AlignSpec(method="centering", test_fraction=0.3, split_seed=7))
    code, stdout, _ = cli(capsys, "compare", a, b, "--out", tmp_path / "cmp")
    assert code == 0
    assert stdout.startswith("note: The runs were evaluated on different held-out queries (half: ")
    assert "their 'after' values are not comparable with each other" in stdout.splitlines()[0]
    wide = pd.read_csv(tmp_path / "cmp" / "side_by_side.csv")
    assert "baseline" not in wide.columns and {"half baseline", "third baseline"} <= set(wide.columns)
    for name in ("half", "third"):
        own = pd.read_csv(tmp_path / name / "compare.csv")
        merged = wide.merge(own, on=["scenario", "pool", "query_lang", "doc_lang", "metric"])
        assert len(merged) > 0
        np.testing.assert_allclose(merged[f"{name} baseline"], merged["before"].round(4))
        np.testing.assert_allclose(merged[name], merged["after"].round(4))


def test_runs_on_the_same_queries_share_one_baseline(tmp_path):
    a, b = fake_run(tmp_path, "c"), fake_run(tmp_path, "p", "procrustes")
    found = compare_runs([a, b])
    assert found.shared_baseline and found.notes == [] and "baseline" in found.wide().columns


def test_compare_refuses_runs_of_different_data_or_languages(tmp_path, capsys):
    a = fake_run(tmp_path, "de")
    b = fake_run(tmp_path, "es", evaluation=EvalSpec(langs=("en", "es")))
    code, stdout, err = cli(capsys, "compare", a, b, "--out", tmp_path / "cmp")
    assert code == 2 and stdout == ""
    assert one_line(err) == ("error: de and es were evaluated on different data or languages (demo en+de vs demo "
                             "en+es); compare runs of one dataset and one language set")
    assert not (tmp_path / "cmp").exists()


def test_compare_of_runs_with_the_same_folder_name_or_one_run_twice(tmp_path, capsys):
    a, b = fake_run(tmp_path / "x", "run"), fake_run(tmp_path / "y", "run", "procrustes")
    assert cli(capsys, "compare", a, b, "--out", tmp_path / "cmp")[0] == 0
    wide = pd.read_csv(tmp_path / "cmp" / "side_by_side.csv")
    assert {"x/run", "y/run", "x/run delta", "y/run delta", "x/run lo", "y/run hi"} <= set(wide.columns)
    assert set(pd.read_csv(tmp_path / "cmp" / "compare.csv").run) == {"x/run", "y/run"}
    code, _, err = cli(capsys, "compare", a, tmp_path / "x" / ".." / "x" / "run", "--out", tmp_path / "cmp2")
    assert code == 2 and one_line(err) == f"error: run {a} is listed twice; list each run once"
    assert not (tmp_path / "cmp2").exists()


# ============================================================================================ 7. CSV cells and ids
FORMULAS = ["\r=1+1", "\n=1+1", "\t@SUM(A1)", "ok\n=HYPERLINK(\"http://x\")", "ok\r\n+1", "ok\r-1", " =1",
            "ok\u2028=1", "ok\x0b@x", "fine\ntext"]


def test_no_line_of_a_csv_cell_reaches_a_spreadsheet_as_a_formula():
    frame = pd.DataFrame({"text": FORMULAS, "n": range(len(FORMULAS))})
    frame["=cmd|' /C calc'!A0"] = "x"  # a column name is a cell too (run names become columns)
    text = csv_text(frame)
    for line in text.splitlines():  # a reader that splits on every line break sees these lines
        for cell in line.split(","):
            assert not cell.lstrip(' \t"').startswith(("=", "+", "-", "@")), repr(line)
    back = pd.read_csv(io.StringIO(text))
    assert back["text"].tolist()[-1] == "fine\ntext"  # harmless text is unchanged
    assert back["text"].tolist()[3] == "ok\n'=HYPERLINK(\"http://x\")"


def test_ids_that_differ_only_in_surrounding_spaces_are_refused(squad_folder, tmp_path, offline, capsys):
    for name in ("xq.en.json", "xq.de.json"):
        path = squad_folder / name
        path.write_text(path.read_text().replace('"id": "q2"', '"id": "q1 "'))
    with pytest.raises(CorpusError, match=r"item ids 'q1' and 'q1 ' differ only in leading or trailing spaces"):
        load_squad_folder(squad_folder)
    out = tmp_path / "out"
    code, _, err = cli(capsys, "evaluate", "--data", squad_folder, "--langs", "en,de", "--out", out)
    assert code == 2 and "differ only in leading or trailing spaces" in one_line(err) and not out.exists()


def test_long_format_ids_with_spaces_are_the_same_item_or_an_error(tmp_path):
    rows = [{"id": " q1", "lang": "en", "passage": "p", "question": "q"},
            {"id": "q1", "lang": "en", "passage": "p2", "question": "q2"}]
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(CorpusError, match=r"id 'q1' appears twice for language 'en'"):
        load_long(path)


# ============================================================================================ 8. another application's database
def _foreign_db(path: Path) -> str:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO users (name) VALUES ('ada')")
    conn.commit()
    conn.close()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_database_of_another_application_is_refused_and_untouched(tmp_path, offline, capsys):
    path = tmp_path / "cache" / "embeddings.sqlite"
    path.parent.mkdir()
    digest = _foreign_db(path)
    with pytest.raises(CacheError, match=r"is an SQLite database that is not an xlalign embedding cache \(tables "
                                         r"users\); xlalign leaves it untouched"):
        EmbeddingCache(path)
    out = tmp_path / "out"
    code, _, err = cli(capsys, "evaluate", "--data", "demo", "--out", out, "--cache-dir", path.parent)
    assert code == 2 and "not an xlalign embedding cache" in one_line(err)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in path.parent.iterdir()) == ["embeddings.sqlite"]  # no -wal, no -shm, nothing aside
    assert not out.exists()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()


def test_a_database_with_another_application_id_is_refused(tmp_path):
    path = tmp_path / "e.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA application_id = 1234")
    conn.execute("CREATE TABLE emb (key BLOB PRIMARY KEY, vec BLOB NOT NULL)")
    conn.commit()
    conn.close()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(CacheError, match="application id 0x4d2"):
        EmbeddingCache(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_our_cache_with_a_damaged_table_is_set_aside_and_rebuilt(tmp_path):
    path = tmp_path / "embeddings.sqlite"
    EmbeddingCache(path).put_many([b"k" * 32], np.ones((1, 4), dtype=np.float32))
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE emb")
    conn.execute("CREATE TABLE emb (key BLOB)")
    conn.commit()
    conn.close()
    with pytest.warns(CacheWarning, match=r"embeddings\.sqlite was corrupted \(malformed embedding cache: its table "
                                          r"has another layout\); moved it to embeddings\.sqlite\.corrupt-"):
        cache = EmbeddingCache(path)
    assert cache.enabled and len(cache) == 0 and len(list(tmp_path.glob("embeddings.sqlite.corrupt-*"))) == 1


def test_a_cache_written_before_the_application_id_is_still_ours(tmp_path):
    path = tmp_path / "embeddings.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE emb (key BLOB PRIMARY KEY, vec BLOB NOT NULL)")
    conn.execute("INSERT INTO emb VALUES (?, ?)", (b"k" * 32, np.ones(4, dtype=np.float32).tobytes()))
    conn.commit()
    conn.close()
    assert len(EmbeddingCache(path)) == 1


# ============================================================================================ 9. numbers
NUMBERS = [
    (["--lr", "nan"], "learning rate must be a finite number, got nan", FinetuneOptions, {"learning_rate": float("nan")}),
    (["--jsd-weight", "inf"], "JSD weight must be a finite number, got inf", FinetuneOptions,
     {"jsd_weight": float("inf")}),
    (["--epochs", "inf"], "epochs must be a finite number, got inf", FinetuneOptions, {"epochs": float("inf")}),
    (["--epochs", "1e9"], "epochs must be ≤ 1000, got 1000000000", FinetuneOptions, {"epochs": 1e9}),
    (["--scale", "nan"], "InfoNCE scale must be a finite number, got nan", FinetuneOptions, {"scale": float("nan")}),
    (["--seed", "-1"], "seed must be a number ≥ 0, got -1", FinetuneOptions, {"seed": -1}),
    (["--seed", "2.5"], "seed must be a whole number, got 2.5", FinetuneOptions, {"seed": 2.5}),
    (["--train-batch-size", "1000000000000"], "train batch size must be ≤ 4096, got 1000000000000", FinetuneOptions,
     {"batch_size": 10**12}),
    (["--max-steps", "1e12"], "max steps must be ≤ 10000000, got 1000000000000", FinetuneOptions,
     {"max_steps": 10**12}),
    (["--batch-size", "1000000000000"], "batch size must be ≤ 65536, got 1000000000000", ModelSpec,
     {"batch_size": 10**12}),
    (["--max-seq-length", "inf"], "max sequence length must be a finite number, got inf", ModelSpec,
     {"max_seq_length": float("inf")}),
    (["--rank", "1000000000"], "LSAR rank must be ≤ 4096, got 1000000000", LsarOptions, {"rank": 10**9}),
    (["--test-fraction", "nan"], "test fraction must be a finite number, got nan", AlignSpec,
     {"test_fraction": float("nan")}),
    (["--test-fraction", "1"], "test fraction must be in (0, 1), got 1", AlignSpec, {"test_fraction": 1.0}),
    (["--split-seed", "-1"], "split seed must be a number ≥ 0, got -1", AlignSpec, {"split_seed": -1}),
]


@pytest.mark.parametrize(("flags", "message", "spec", "kwargs"), NUMBERS, ids=[" ".join(n[0]) for n in NUMBERS])
def test_numbers_are_checked_before_any_work_with_one_message(flags, message, spec, kwargs, tmp_path, offline, capsys):
    out = tmp_path / "out"
    method = {FinetuneOptions: ["--method", "finetune"], LsarOptions: ["--method", "lsar"]}.get(spec, [])
    code, stdout, err = cli(capsys, "align", "--data", "demo", *method, *flags, "--out", out)
    assert code == 2 and stdout == "" and one_line(err) == f"error: {message}"
    if message.endswith("nan"):  # NaN is not equal to itself: the message shows it as it came
        with pytest.raises(ConfigError) as info:
            spec(**kwargs)
        assert str(info.value) == message
    else:
        with pytest.raises(ConfigError, match=f"^{message.replace('(', '[(]').replace(')', '[)]')}$"):
            spec(**kwargs)
    assert not out.exists() and siblings(out) == []


def test_the_app_gives_the_same_message(monkeypatch, tmp_path):
    """The app's method controls, as shown (every default) but with NaN typed as the learning rate."""
    monkeypatch.setenv("XLALIGN_RUNS_DIR", str(tmp_path / "runs"))
    from xlalign.align.base import method_options
    from xlalign.app import controls
    from xlalign.specs import option

    def shown(group: str, name: str):
        o = option(method_options()[group], name)
        return "" if o.optional and o.kind in (int, float) else o.default

    values = ["nan" if (g, n) == ("finetune", "learning_rate") else shown(g, n) for g, n in controls.METHOD_FIELDS]
    with pytest.raises(ConfigError) as info:
        controls.nested_options(tuple(values))
    assert str(info.value) == "learning rate must be a finite number, got nan"


# ============================================================================================ 10. damaged run files
DAMAGE = {
    "config.json": ("config.json", b"{not json", "run/config.json is damaged (JSONDecodeError); run the alignment "
                                                 "again (--overwrite) to rebuild the run"),
    "config-section": ("config.json", b'{"model": {"model": "fake"}}', "run/config.json is damaged (no 'eval' "
                                                                        "section); run the alignment again "
                                                                        "(--overwrite) to rebuild the run"),
    "run.json": ("run.json", b"\xff\xfegarbage", "run/run.json is damaged (UnicodeDecodeError); run the alignment "
                                                 "again (--overwrite) to rebuild the run"),
    "split.json": ("split.json", b"[1, 2]", "run/split.json is damaged (a JSON list, not an object); run the "
                                            "alignment again (--overwrite) to rebuild the run"),
    "transform.safetensors": ("transform/transform.safetensors", b"garbage" * 10, "run/transform is missing or "
                                                                                 "damaged ("),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_damaged_run_file_is_named_with_what_to_do(case, tmp_path, capsys):
    run = fake_run(tmp_path)
    name, payload, expected = DAMAGE[case]
    (run / name).write_bytes(payload)
    before = snapshot(run)
    code, _, err = cli(capsys, "export", run, "--out", tmp_path / "export")
    assert code == 2 and one_line(err).startswith(f"error: {expected}")
    assert not (tmp_path / "export").exists() and snapshot(run) == before
    if name in ("config.json", "split.json"):
        other = fake_run(tmp_path, "other")
        code, _, err = cli(capsys, "compare", other, run, "--out", tmp_path / "cmp")
        assert code == 2 and one_line(err).startswith(f"error: {expected}")


def test_a_damaged_lsar_artefact_is_named(tmp_path, capsys):
    run = fake_run(tmp_path, method="lsar")
    artefact = run / "lsar.safetensors"
    artefact.write_bytes(artefact.read_bytes()[:40])
    with pytest.raises(RunFileError, match=r"^run/lsar\.safetensors is missing or damaged \(.*\); run the alignment "
                                           r"again \(--overwrite\) to rebuild it$"):
        __import__("xlalign.store.runs", fromlist=["Run"]).Run(run).aligner()


# ============================================================================================ 11. sequence length, tiny uploads
@pytest.fixture(scope="module")
def tiny(tiny_model_dir) -> Path:
    return tiny_model_dir


def test_a_sequence_length_above_the_models_limit_is_an_error(tiny, tmp_path, offline, capsys):
    from xlalign.models.encoders import load_sentence_transformer

    with pytest.raises(ConfigError, match=r"^max sequence length 1000 is above the limit of .* \(128 tokens\); pass at "
                                          r"most 128, or leave it empty for the model's own limit$"):
        load_sentence_transformer(ModelSpec(str(tiny), device="cpu", max_seq_length=1000))
    out = tmp_path / "out"
    code, _, err = cli(capsys, "evaluate", "--model", tiny, "--device", "cpu", "--max-seq-length", "1000", "--langs",
                       "en,de", "--out", out, "--cache-dir", tmp_path / "cache")
    errors = [x for x in err.splitlines() if x.startswith("error")]  # after the encoding bar, before any text
    assert code == 2 and len(errors) == 1 and "is above the limit of" in errors[0]
    assert not out.exists() and siblings(out) == [] and not list((tmp_path / "cache").glob("*.corrupt*"))
    assert load_sentence_transformer(ModelSpec(str(tiny), device="cpu", max_seq_length=128)).max_seq_length == 128


def test_the_training_length_is_cut_to_the_models_limit(tiny):
    from xlalign.align.finetune import _prepare_model

    model, base_length = _prepare_model(ModelSpec(str(tiny), device="cpu"), FinetuneOptions(max_seq_length=256), "cpu")
    assert model.max_seq_length == 128  # the option's default (256) is above this small model's limit: cut, not refused
    assert base_length == 128  # what the tuned model is saved with


def test_an_upload_with_too_few_passages_is_refused_before_any_encoding(tmp_path):
    from xlalign.services.lab import Lab

    rows = [{"id": f"q{i}", "lang": lang, "passage": f"{lang} passage {i % 4}", "question": f"{lang} question {i}",
             "passage_id": f"p{i % 4}"} for i in range(8) for lang in ("en", "de")]
    path = tmp_path / "upload.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    lab = Lab(tmp_path / "runs", cache=EmbeddingCache(tmp_path / "c.sqlite"))
    encoder = BagOfCharsEncoder()
    lab._encoders.put(ModelSpec("fake"), encoder)
    try:
        with pytest.raises(CorpusError, match=r"^corpus 'upload' has 4 distinct passage\(s\); at least 5 are needed$"):
            lab.diagnose(ModelSpec("fake"), EvalSpec(data=str(path), langs=("en", "de")))
        with pytest.raises(CorpusError, match="at least 5 are needed"):
            lab.inclination(ModelSpec("fake"), str(path), "en", ["de"])
        assert encoder.n_texts_encoded == 0
    finally:
        lab.jobs.shutdown()
