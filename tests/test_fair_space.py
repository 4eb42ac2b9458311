"""A fair public Space (issue 24, §4, §7 and the denial-of-service group of §10), at the service level on fake
encoders: quick alignments never wait behind a fine-tune, a queued run says where it stands and when it should
start, the public limits are stated before they are hit, and one visitor's big job never holds another's small
one. The same through the served app and two ``gradio_client`` visitors: ``tests/test_public_api.py`` and
``tests/test_load.py``."""

from __future__ import annotations

import threading
from collections import deque
from pathlib import Path

import pytest
from fakes import LatentEncoder

from xlalign.align.base import AlignSpec, Cancelled
from xlalign.core.loaders import load_demo
from xlalign.policy import PublicLimits
from xlalign.services.lab import Lab, job_lane
from xlalign.specs import EvalSpec, FinetuneOptions, ModelSpec
from xlalign.store.downloads import DownloadArea
from xlalign.store.runs import read_status

LATENT = ModelSpec(model="latent")
ALICE, BOB, CAROL = ("alice-" + "a" * 32), ("bob-" + "b" * 32), ("carol-" + "c" * 32)
GUARD = 300  # seconds: only a guard against a hang, nothing is timed


def _lab(root: Path, monkeypatch, **limits) -> Lab:
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(root / "gradio-uploads"))
    lab = Lab(root / "runs", public=True, limits=PublicLimits(**limits),
              downloads=DownloadArea(root / "downloads"))
    corpus = load_demo()
    lab._encoders.put(LATENT, LatentEncoder(corpus, dict.fromkeys(corpus.langs, 0.5), query_pull=0.0))
    return lab


@pytest.fixture
def held_fine_tune(monkeypatch):
    """Fine-tunes whose fit waits for ``gate`` (then stops as cancelled): a fine-tune that is still running."""
    from xlalign.align.finetune import FinetuneAligner

    gate, started = threading.Event(), threading.Event()

    def fit(self, inputs):
        started.set()
        assert gate.wait(GUARD)
        raise Cancelled("released by the test")

    monkeypatch.setattr(FinetuneAligner, "fit", fit)
    yield gate, started
    gate.set()


def _state(lab: Lab, run_id: str) -> str:
    return str(read_status(lab.store.root / run_id).get("state"))


def _wait_for(lab: Lab, run_id: str, states: tuple[str, ...]) -> str:
    done = threading.Event()
    for _ in range(GUARD * 10):
        if _state(lab, run_id) in states:
            return _state(lab, run_id)
        done.wait(0.1)
    return _state(lab, run_id)


def test_methods_are_given_their_lane():
    assert job_lane(AlignSpec(method="finetune")) == "training"
    assert {job_lane(AlignSpec(method=m)) for m in ("centering", "lsar", "procrustes")} == {"light"}


def test_a_quick_alignment_never_waits_behind_a_fine_tune(tmp_path, monkeypatch, held_fine_tune):
    gate, started = held_fine_tune
    lab = _lab(tmp_path, monkeypatch)
    tune = lab.submit_alignment(LATENT, EvalSpec(langs=("en", "de")), AlignSpec(
        method="finetune", finetune=FinetuneOptions(max_steps=1)), visitor=ALICE)
    assert started.wait(GUARD) and _state(lab, tune) == "running"  # Alice's fine-tune holds the training worker
    quick = lab.submit_alignment(LATENT, EvalSpec(langs=("en", "de")), AlignSpec(method="centering"), visitor=BOB)
    assert _wait_for(lab, quick, ("succeeded", "failed")) == "succeeded"  # Bob's centering finished…
    assert _state(lab, tune) == "running"  # …while Alice's fine-tune still runs
    assert (lab.store.root / quick / "compare.csv").is_file()
    gate.set()
    assert lab.jobs.wait(GUARD) and _state(lab, tune) == "cancelled"


def test_every_queued_run_says_where_it_stands_and_when_it_should_start(tmp_path, monkeypatch, held_fine_tune):
    gate, started = held_fine_tune
    lab = _lab(tmp_path, monkeypatch, visitor_active=3)
    tune = AlignSpec(method="finetune", finetune=FinetuneOptions(max_steps=1))
    first = lab.submit_alignment(LATENT, EvalSpec(langs=("en", "de")), tune, visitor=ALICE)
    assert started.wait(GUARD)
    second = lab.submit_alignment(LATENT, EvalSpec(langs=("en", "de")), tune, visitor=BOB)
    third = lab.submit_alignment(LATENT, EvalSpec(langs=("en", "de")), tune, visitor=CAROL)
    rows = {v: lab.runs_table(visitor=v).set_index("run") for v in (BOB, CAROL)}
    # nothing measured yet on this server: the position, and no invented time
    assert rows[BOB].at[second, "message"] == ("queued: 1st in the training queue (fine-tunes), behind 1 running; no "
                                               "estimate yet (no such run has finished on this server)")
    assert rows[CAROL].at[third, "message"].startswith("queued: 2nd in the training queue (fine-tunes), behind 1 "
                                                       "running and 1 waiting;")
    # measured: the running fine-tune reports 60 s left, a fine-tune here typically takes 120 s
    lab.jobs._jobs[first][0].status["eta_s"] = 60.0
    lab.jobs._durations["finetune"] = deque([100.0, 120.0, 140.0])
    assert lab.runs_table(visitor=BOB).set_index("run").at[second, "time left"] == "starts in ≈ 60 s"
    row = lab.runs_table(visitor=CAROL).set_index("run").loc[third]
    assert row["message"].endswith("; starts in ≈ 3 min") and row["time left"] == "starts in ≈ 3 min"  # 60 + 120 s
    gate.set()
    assert lab.jobs.wait(GUARD)


# ----------------------------------------------------------------------------- the limits, stated before they are hit
def _component(app, elem_id: str):
    return next(b for b in app.blocks.blocks.values() if getattr(b, "elem_id", None) == elem_id)


def test_the_public_controls_state_this_servers_caps(tmp_path, monkeypatch):
    from xlalign.app import assemble
    from xlalign.app.inputs import model_choices

    for name, value in {"XLALIGN_PUBLIC": "1", "XLALIGN_NO_WARMUP": "1", "XLALIGN_MAX_EPOCHS": "3",
                        "XLALIGN_MAX_STEPS": "300", "XLALIGN_MAX_UPLOAD_MB": "20", "XLALIGN_MAX_LANGS": "8",
                        "XLALIGN_MAX_TEXTS": "12000", "GRADIO_TEMP_DIR": str(tmp_path / "gradio")}.items():
        monkeypatch.setenv(name, value)
    app = assemble(Lab(tmp_path / "runs"))
    try:
        epochs, steps = _component(app, "opt-FinetuneOptions-epochs"), _component(app, "opt-FinetuneOptions-max_steps")
        assert epochs.info == "training epochs (on this server: more than 0, at most 3)" and "1000" not in epochs.info
        assert steps.label == "Max steps (empty: 300)" and "on this server: 1–300" in steps.info
        assert _component(app, "upload").label.endswith(
            "— on this server: up to 20 MB, 8 languages, 12,000 texts to encode")
        assert "(at most 7 on this server)" in _component(app, "targets").info
        offered = [m for _, m in model_choices()]
        assert "BAAI/bge-m3" in offered  # remote code is refused here: models that need it are not offered
        assert "Alibaba-NLP/gte-multilingual-base" not in offered and "jinaai/jina-embeddings-v3" not in offered
        assert set(offered) >= {m for _, m in _component(app, "lb-models").choices}
    finally:
        app.lab.jobs.shutdown()
    monkeypatch.delenv("XLALIGN_PUBLIC")
    local = assemble(Lab(tmp_path / "runs-local"))  # a local app: the spec's own range, every model
    try:
        assert "range (0, 1000]" in _component(local, "opt-FinetuneOptions-epochs").info
        assert "jinaai/jina-embeddings-v3" in [m for _, m in model_choices()]
    finally:
        local.lab.jobs.shutdown()


def test_a_model_that_needs_remote_code_is_refused_in_public_mode(monkeypatch):
    from xlalign.errors import ModelLoadError
    from xlalign.models.registry import check_model

    monkeypatch.setenv("XLALIGN_PUBLIC", "1")
    with pytest.raises(ModelLoadError, match="runs code from its repository, which this public server refuses"):
        check_model("jinaai/jina-embeddings-v3", False)


# ----------------------------------------------------------------------------- §10: one encoder, shared fairly
class SteppedEncoder(LatentEncoder):
    """The latent fake, 8 texts per model call; its first call waits until ``release`` is set."""

    chunk_size = 8

    def __init__(self, corpus, *args, **kwargs) -> None:
        super().__init__(corpus, *args, **kwargs)
        self.started, self.release = threading.Event(), threading.Event()
        self.calls = 0

    def _encode_uncached(self, texts, prompt, lang):
        self.calls += 1
        if self.calls == 1:
            self.started.set()
            assert self.release.wait(GUARD)
        return super()._encode_uncached(texts, prompt, lang)


def _small_upload(root: Path) -> Path:
    import json

    demo = load_demo(["en", "de"])
    root.mkdir(parents=True, exist_ok=True)
    path = root / "twelve.jsonl"
    path.write_text("".join(json.dumps({"id": demo.item_ids[i], "lang": x, "passage": demo.passages[x][i],
                                        "question": demo.questions[x][i]}) + "\n" for i in range(6) for x in ("en", "de")))
    return path


def test_a_small_diagnosis_waits_one_batch_of_a_big_one_not_all_of_it(tmp_path, monkeypatch):
    lab = _lab(tmp_path, monkeypatch)
    demo = load_demo()
    big = SteppedEncoder(demo, dict.fromkeys(demo.langs, 0.5), query_pull=0.0)
    lab._encoders.put(ModelSpec(model="big"), big)
    small_data = lab.use_upload(_small_upload(tmp_path / "gradio-uploads" / "x"), BOB)
    small_corpus = lab.corpus(small_data)
    lab._encoders.put(ModelSpec(model="small"), LatentEncoder(small_corpus, dict.fromkeys(small_corpus.langs, 0.5)))
    results: dict[str, object] = {}

    def diagnose(who: str, model: str, data: str, langs: tuple[str, ...]) -> None:
        results[who] = lab.diagnose(ModelSpec(model=model), EvalSpec(data=data, langs=langs), visitor=who)

    alice = threading.Thread(target=diagnose, args=(ALICE, "big", "demo", tuple(demo.langs)))
    alice.start()
    assert big.started.wait(GUARD)  # Alice's 2,352 texts are being encoded, 8 at a time
    bob = threading.Thread(target=diagnose, args=(BOB, "small", small_data, ("en", "de")))
    bob.start()
    for _ in range(GUARD * 10):  # Bob is in line for the encoder
        if lab._turns.waiting():
            break
        threading.Event().wait(0.1)
    assert lab._turns.waiting() == 1
    big.release.set()
    bob.join(GUARD)
    assert BOB in results and alice.is_alive()  # Bob's 24 texts came back while Alice's encoding goes on
    assert big.calls < 2352 // 8
    alice.join(GUARD)
    assert ALICE in results and big.calls == 2352 // 8


def test_a_public_request_encodes_at_most_max_texts_and_cached_texts_do_not_count(tmp_path, monkeypatch):
    from fakes import BagOfCharsEncoder

    from xlalign.core.evaluate import encode_corpus
    from xlalign.models.cache import EmbeddingCache
    from xlalign.policy import PolicyError

    lab = _lab(tmp_path, monkeypatch, max_texts=500)
    bag = BagOfCharsEncoder(cache=EmbeddingCache(tmp_path / "cache.sqlite"))
    lab._encoders.put(ModelSpec(model="bag"), bag)
    spec = EvalSpec(data="demo", langs=("en", "de"))  # 2 × (168 passages + 168 questions) = 672 texts
    with pytest.raises(PolicyError, match="672 texts to encode; this server encodes at most 500 per request"):
        lab.diagnose(ModelSpec(model="bag"), spec, visitor=ALICE)
    with pytest.raises(PolicyError, match="672 texts to encode; this server encodes at most 500 per request"):
        lab.submit_alignment(ModelSpec(model="bag"), spec, AlignSpec(method="centering"), visitor=ALICE)
    assert [p for p in lab.store.root.iterdir() if not p.name.startswith(".")] == []  # no run was created
    encode_corpus(load_demo(["en", "de"]), bag, ("en", "de"))  # now every text is in the cache…
    calls = bag.n_model_calls
    assert lab.diagnose(ModelSpec(model="bag"), spec, visitor=ALICE).verdicts  # …and the diagnosis is served
    assert bag.n_model_calls == calls


# ----------------------------------------------------------------------------- downloads: unguessable, expiring, bounded
def test_downloads_have_unguessable_names_of_their_own_and_expire(tmp_path):
    import re as regex

    from xlalign.store.downloads import DownloadArea

    clock = [1_000.0]
    area = DownloadArea(tmp_path / "dl", max_age_s=3600, clock=lambda: clock[0])
    same = "query_lang,value\nen,1\n"
    a, b = (Path(area.save({"summary.csv": same})[0]) for _ in range(2))
    assert a.read_text() == b.read_text() and a.parent != b.parent  # identical files, two addresses
    for path in (a, b):
        assert regex.fullmatch(r"dl-\d{9}-[A-Za-z0-9_-]{24}", path.parent.name)  # 144 random bits, no content hash
    clock[0] += 1800
    c = Path(area.save({"later.csv": "x"})[0])
    assert a.exists() and b.exists()
    clock[0] += 1801  # a and b are now older than an hour: their links stop working; c is 1801 s old
    assert sorted(area.trim()) == sorted([a.parent.name, b.parent.name])
    assert not a.exists() and not b.exists() and c.exists()


def test_the_download_area_sits_in_gradios_cache_and_is_never_an_upload(tmp_path, monkeypatch):
    from xlalign.policy import uploaded_file
    from xlalign.store.downloads import DownloadArea

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    area = DownloadArea()
    path = Path(area.save({"summary.csv": "a,b\n"})[0])
    assert (tmp_path / "gradio").resolve() in path.resolve().parents  # served in place: Gradio makes no copy
    assert not uploaded_file(path)  # a visitor cannot hand a download back as their upload
    upload = tmp_path / "gradio" / "f00d" / "mine.jsonl"
    upload.parent.mkdir(parents=True)
    upload.write_text("{}\n")
    assert uploaded_file(upload)
    area.remove()
    assert not path.exists() and [p.name for p in (tmp_path / "gradio").iterdir()] == ["f00d"]


def test_a_visitors_second_export_of_a_run_costs_nothing(tmp_path, monkeypatch):
    import xlalign.store.export as export

    lab = _lab(tmp_path, monkeypatch)
    run_id = lab.submit_alignment(LATENT, EvalSpec(langs=("en", "de")), AlignSpec(method="centering"), visitor=ALICE)
    assert lab.jobs.wait(GUARD)
    calls: list[str] = []
    real = export.export_run
    monkeypatch.setattr(export, "export_run", lambda run, out, **kw: calls.append(str(run)) or real(run, out, **kw))
    seen: list[tuple[str, float, float | None]] = []
    first = lab.export_zip(run_id, visitor=ALICE, progress=lambda stage, done=0, total=None, **kw: seen.append(
        (stage, done, total)))
    again = lab.export_zip(run_id, visitor=ALICE)
    assert again == first and len(calls) == 1  # built and zipped once
    assert seen[0][0].startswith("preparing the export") and seen[-1][0] == "zipping the export, MB"
    assert seen[-1][1] == pytest.approx(seen[-1][2])  # the zip's progress reaches its end
    assert len(list(lab.downloads.folders())) == 1


def test_the_zip_stores_weights_and_deflates_text(tmp_path):
    import zipfile

    from xlalign.store.downloads import zip_folder

    folder = tmp_path / "run-export"
    (folder / "model").mkdir(parents=True)
    (folder / "model" / "model.safetensors").write_bytes(bytes(range(256)) * 4096)
    (folder / "README.md").write_text("# card\n" * 1000)
    reports: list[tuple[float, float]] = []
    zip_folder(folder, tmp_path / "out.zip", lambda stage, done=0, total=None, **kw: reports.append((done, total)))
    with zipfile.ZipFile(tmp_path / "out.zip") as z:
        kinds = {i.filename: i.compress_type for i in z.infolist()}
        assert z.read("run-export/model/model.safetensors") == bytes(range(256)) * 4096
    assert kinds == {"run-export/README.md": zipfile.ZIP_DEFLATED, "run-export/model/model.safetensors": zipfile.ZIP_STORED}
    assert reports[-1][0] == pytest.approx(reports[-1][1]) and [d for d, _ in reports] == sorted(d for d, _ in reports)
    assert not list(tmp_path.glob(".out.zip.tmp-*"))


def test_the_upload_folder_is_bounded_oldest_first(tmp_path, monkeypatch):
    import os

    from xlalign.policy import PolicyError
    from xlalign.store.downloads import trim_uploads

    root = tmp_path / "gradio-uploads"
    files = []
    for k in range(5):  # five never-used uploads of 1 MB, oldest first
        path = root / f"{k:02d}hash" / f"junk-{k}.jsonl"
        path.parent.mkdir(parents=True)
        path.write_bytes(b"x" * 2**20)
        os.utime(path, (1_000 + k, 1_000 + k))
        files.append(path)
    area = root / "xlalign-downloads-1-abc" / "dl-000000001-x"
    area.mkdir(parents=True)
    (area / "export.zip").write_bytes(b"z" * 3 * 2**20)  # downloads are not uploads: never counted or removed
    removed = trim_uploads(root, int(2.5 * 2**20))
    assert removed == ["00hash/junk-0.jsonl", "01hash/junk-1.jsonl", "02hash/junk-2.jsonl"]
    assert [p.exists() for p in files] == [False, False, False, True, True] and not (root / "00hash").exists()
    assert (area / "export.zip").exists()
    lab = _lab(tmp_path, monkeypatch, uploads_mb=1.5)  # a visitor whose upload went asks to upload it again
    with pytest.raises(PolicyError, match=r"your upload was removed .*: upload it again"):
        lab.use_upload(files[3], ALICE)
    assert lab.use_upload(files[4], ALICE) == str(files[4])


_SIGTERM_APP = """
import sys, time
from pathlib import Path
from xlalign.services.lab import Lab

lab = Lab(Path(sys.argv[1]))
path = lab.downloads.save({"summary.csv": "a,b\\n"})[0]
lab.exit_on_sigterm()
print(path, flush=True)
time.sleep(600)
"""


def test_sigterm_leaves_no_download_area_behind(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    gradio = tmp_path / "gradio"
    env = {**os.environ, "GRADIO_TEMP_DIR": str(gradio), "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir()
    proc = subprocess.Popen([sys.executable, "-c", _SIGTERM_APP, str(tmp_path / "runs")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=Path(__file__).resolve().parents[1])
    written = Path(proc.stdout.readline().strip())
    assert written.is_file() and gradio.resolve() in written.resolve().parents
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(GUARD) == 143
    assert list(gradio.iterdir()) == [] and list((tmp_path / "tmp").iterdir()) == []


# ----------------------------------------------------------------------------- §7: progress that tells the truth
class _Clock:
    """A stand-in for the ``time`` module of :mod:`xlalign.store.runs`: both clocks advance only when told."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return 1_700_000_000.0 + self.now


def test_the_time_left_is_measured_counts_down_and_never_says_0_s_while_work_remains(tmp_path, monkeypatch):
    import xlalign.store.runs as runs
    from xlalign.services.lab import _left
    from xlalign.store.jobs import JobContext

    clock = _Clock()
    monkeypatch.setattr(runs, "time", clock)
    ctx = JobContext(tmp_path, {"state": "running"})
    ctx.progress("training", 0, 1, cpu_estimate_s=0.4)  # a 1-step fine-tune: the cost model says 0.4 s
    assert _left(read_status(tmp_path)) == "< 1 s (estimate)"
    clock.now = 17.0  # the step is still running 17 s later
    assert _left(read_status(tmp_path)) == "taking longer than estimated (+17 s)"
    ctx.progress("training", 1, 1, eta_s=0.0, loss=1.0)
    clock.now = 18.0
    ctx.progress("encoding de passages and queries", 0, 120)  # the evaluation after training: nothing measured yet
    status = read_status(tmp_path)
    assert status["eta_s"] is None and _left(status) == "" and "left" not in status["message"]
    clock.now = 28.0
    ctx.progress("encoding de passages and queries", 40, 120)  # 40 texts in 10 s: 80 more take 20 s
    status = read_status(tmp_path)
    assert status["eta_s"] == 20.0 and _left(status) == "≈ 20 s"
    clock.now = 33.0
    assert _left(read_status(tmp_path)) == "≈ 15 s"  # counted down between two reports


def test_the_cost_model_estimate_is_scaled_by_what_this_server_measured(tmp_path, monkeypatch):
    lab = _lab(tmp_path, monkeypatch)
    seen: list[dict] = []
    plain = lab._calibrated(lambda stage, done=0, total=None, **m: seen.append(m))
    plain("training", 0, 6, cpu_estimate_s=51.0)
    lab._measured({"seconds": 306.0, "cpu_estimate_s": 51.0, "steps": 6})  # a fine-tune here took 6× its estimate
    lab._calibrated(lambda stage, done=0, total=None, **m: seen.append(m))("training", 0, 6, cpu_estimate_s=51.0)
    assert [m["cpu_estimate_s"] for m in seen] == [51.0, 306.0]
