"""The public Space: visitors isolated, no server paths, bounded work, cancel granularity, start-up storage.

Service-level cases (a :class:`Lab` in public mode on fake encoders); the same cases through the served app
and ``gradio_client`` live in ``tests/test_public_api.py``, the load test in ``tests/test_load.py``.
Every case checks what is kept on disk, not only the answer.
"""

from __future__ import annotations

import json
import re
import threading
import tracemalloc
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from conftest import demo_upload as _write_upload
from fakes import Gated, LatentEncoder

from xlalign.align.base import AlignSpec
from xlalign.align.finetune import estimate_cpu_seconds, padded_batches, padded_tokens, planned_steps
from xlalign.core.loaders import load_demo
from xlalign.policy import PathRefused, PolicyError, PublicLimits, check_writable, configure_storage, env_number, max_upload_bytes
from xlalign.services.lab import Lab, run_label
from xlalign.specs import EvalSpec, FinetuneOptions, LsarOptions, ModelSpec
from xlalign.store.downloads import DownloadArea
from xlalign.store.jobs import JobContext, visitor_id
from xlalign.store.runs import read_status

LATENT = ModelSpec(model="latent")
ALICE, BOB = "alice-token-" + "a" * 32, "bob-token-" + "b" * 32
GATE_TIMEOUT = 300  # only a guard against a hang: nothing here measures time


def _public_lab(root: Path, monkeypatch, **limits) -> Lab:
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(root / "gradio-uploads"))
    (root / "gradio-uploads").mkdir(parents=True, exist_ok=True)
    lab = Lab(root / "runs", public=True, limits=PublicLimits(**limits),
              downloads=DownloadArea(root / "downloads", max_bytes=PublicLimits(**limits).downloads_bytes))
    corpus = load_demo()
    lab._encoders.put(LATENT, LatentEncoder(corpus, dict.fromkeys(corpus.langs, 0.5), query_pull=0.0,
                                            pull_by_lang={"de": 1.6}))
    return lab


def _run_dirs(lab: Lab) -> list[str]:
    return sorted(p.name for p in lab.store.root.iterdir() if p.is_dir())


def _all_text(folder: Path) -> str:
    """Every readable text file under ``folder`` and inside every zip there, concatenated."""
    parts = []
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.suffix == ".zip":
            with zipfile.ZipFile(p) as z:
                parts += [z.read(n).decode("utf-8", "replace") for n in z.namelist() if not n.endswith(".safetensors")]
        elif p.is_file() and p.suffix != ".safetensors":
            parts.append(p.read_text(encoding="utf-8", errors="replace"))
    return "\n".join(parts)


# ----------------------------------------------------------------------------- 12. isolation
@pytest.fixture(scope="module")
def two_visitors(tmp_path_factory):
    """A public lab where Alice ran a centering on her own upload (finished) and Bob ran nothing."""
    root = tmp_path_factory.mktemp("public")
    mp = pytest.MonkeyPatch()
    lab = _public_lab(root, mp)
    upload = _write_upload(root / "gradio-uploads" / "f00d" / "deep" / "server", "alice-private.jsonl")
    data = lab.use_upload(upload, ALICE)
    run_id = lab.submit_alignment(LATENT, EvalSpec(data=data, langs=("en", "de")), AlignSpec(method="centering"),
                                  visitor=ALICE)
    assert lab.jobs.wait(GATE_TIMEOUT)
    yield lab, run_id, upload, root
    mp.undo()


def test_a_visitor_lists_only_their_own_runs(two_visitors):
    lab, run_id, _, _ = two_visitors
    assert lab.runs_table(visitor=ALICE).run.tolist() == [run_id]
    assert lab.runs_table(visitor=ALICE).state.tolist() == ["succeeded"]
    assert lab.runs_table(visitor=BOB).empty and lab.runs_table(visitor=None).empty
    status = read_status(lab.store.root / run_id)
    assert status["visitor"] == visitor_id(ALICE) and ALICE not in json.dumps(status)  # only a hash on disk


@pytest.mark.parametrize("call", ["run_dir", "run_compare", "run_header", "run", "cancel", "export_zip",
                                  "side_by_side"])
def test_another_visitors_run_is_refused_like_a_run_that_does_not_exist(two_visitors, call):
    lab, run_id, _, _ = two_visitors
    before = sorted(p.name for p in (lab.store.root / run_id).rglob("*"))
    fn = getattr(lab, call)
    arg = [run_id] if call == "side_by_side" else run_id
    with pytest.raises(PathRefused) as theirs:
        fn(arg, visitor=BOB)
    with pytest.raises(PathRefused) as missing:
        fn(["20990101-000000-none-000000"] if call == "side_by_side" else "20990101-000000-none-000000", visitor=BOB)
    assert str(theirs.value).replace(run_id, "X") == str(missing.value).replace("20990101-000000-none-000000", "X")
    with pytest.raises(PathRefused):
        fn(arg)  # no visitor at all: nothing is anybody's
    # nothing changed on disk: Alice's run is whole and still succeeded, no export was written for Bob
    assert sorted(p.name for p in (lab.store.root / run_id).rglob("*")) == before
    assert read_status(lab.store.root / run_id)["state"] == "succeeded"


def test_the_owner_opens_compares_and_exports_her_run(two_visitors):
    lab, run_id, _, _ = two_visitors
    on_disk = pd.read_csv(lab.store.root / run_id / "compare.csv")  # what the run wrote, read here
    assert len(on_disk) > 100  # four scenarios × two languages × the metrics
    pd.testing.assert_frame_equal(lab.run_compare(run_id, visitor=ALICE), on_disk, check_dtype=False)
    archive = lab.export_zip(run_id, visitor=ALICE)
    assert archive.is_file() and archive.parent.parent == lab.downloads.root
    stacked, _wide = lab.side_by_side([run_id], visitor=ALICE)
    assert set(stacked.run) == {run_id}
    pd.testing.assert_frame_equal(stacked.drop(columns="run").reset_index(drop=True), on_disk, check_dtype=False)


# ----------------------------------------------------------------------------- 13. no server paths
def test_no_server_path_in_runs_list_records_header_or_model_card(two_visitors):
    lab, run_id, upload, root = two_visitors
    run_dir = lab.store.root / run_id
    copy = run_dir / "inputs" / "alice-private.jsonl"
    assert copy.read_bytes() == upload.read_bytes()  # the run keeps its own copy of the upload
    header = lab.run_header(run_id, visitor=ALICE)
    table = lab.runs_table(visitor=ALICE)
    archive = lab.export_zip(run_id, visitor=ALICE)
    seen = "\n".join([_all_text(run_dir), json.dumps(header, default=str), table.to_csv(), _all_text(archive.parent)])
    for secret in (str(upload.parent), str(root), str(lab.store.root), "/tmp/", "gradio-uploads"):
        assert secret not in seen, secret
    assert "alice-private.jsonl" in seen  # the upload is named by its own file name
    config = json.loads((run_dir / "config.json").read_text())
    assert config["eval"]["data"] == "upload:alice-private.jsonl"
    assert table.data.iloc[0] == "alice-private.jsonl (uploaded)"


# ----------------------------------------------------------------------------- 14. bounded work
def _brute_force_tokens_and_seconds(triplets, options, count):
    """The former per-step computation, kept here as the independent check."""
    import xlalign.align.finetune as ft

    cap = options.max_seq_length or 512
    lengths = [[min(cap, count(t[c])) for c in ft.TRIPLET_COLUMNS] for t in triplets]
    tokens, seconds = 0, 0.0
    for step in range(planned_steps(len(triplets), options)):
        start = (step * options.batch_size) % len(lengths)
        batch = [lengths[(start + i) % len(lengths)] for i in range(min(options.batch_size, len(lengths)))]
        for c in range(3):
            n, length = len(batch), max(row[c] for row in batch)
            tokens += n * length
            seconds += n * length * (ft.CPU_SECONDS_PER_TOKEN + ft.CPU_SECONDS_PER_TOKEN_SQUARED * n * length)
    return tokens, seconds


@pytest.mark.parametrize(("n", "batch", "epochs", "max_steps"), [(7, 3, 5, None), (12, 4, 2.5, None), (10, 32, 3, None),
                                                                 (9, 9, 1, None), (31, 8, 7, 40), (5, 2, 13, 17)])
def test_cpu_estimate_equals_the_step_by_step_sum(n, batch, epochs, max_steps):
    import random

    rng = random.Random(n * 1000 + batch)
    triplets = [{c: "x" * rng.randint(1, 120) for c in ("q_en", "p_en", "p_tgt")} for _ in range(n)]
    options = FinetuneOptions(batch_size=batch, epochs=epochs, max_steps=max_steps, max_seq_length=64)
    tokens, seconds = _brute_force_tokens_and_seconds(triplets, options, len)
    assert padded_tokens(triplets, options, len) == tokens
    assert estimate_cpu_seconds(triplets, options, len) == pytest.approx(seconds, rel=1e-12)
    assert sum(n * length for n, length in padded_batches(triplets, options, len)) == tokens


def test_cpu_estimate_for_millions_of_steps_takes_no_memory_per_step():
    """The most the spec allows (1,000 epochs) at batch 2 of 10,000 triplets: five million steps. The former
    estimate built one list entry per step and column (15 million here; with epochs=1e9 it grew by 18 MB/s);
    this one works on one period of distinct batches."""
    triplets = [{"q_en": "q" * (i % 50 + 1), "p_en": "p" * 200, "p_tgt": "t" * (i % 7 + 90)} for i in range(10_000)]
    options = FinetuneOptions(batch_size=2, epochs=1000)
    steps = planned_steps(len(triplets), options)
    assert steps == 5_000_000
    one_period = FinetuneOptions(batch_size=2, epochs=1)  # 5,000 steps: every batch once
    tracemalloc.start()
    try:
        estimate = estimate_cpu_seconds(triplets, options)
        tokens = padded_tokens(triplets, options)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, f"{peak / 2**20:.1f} MiB for one estimate"
    assert estimate == pytest.approx(1000 * estimate_cpu_seconds(triplets, one_period), rel=1e-9)
    assert tokens == 1000 * padded_tokens(triplets, one_period)


@pytest.mark.parametrize(("options", "message"), [
    (FinetuneOptions(epochs=4), "epochs 4 is more than this server allows (3)"),
    (FinetuneOptions(max_steps=301), "max steps 301 is more than this server allows (300)"),
])
def test_public_fine_tune_beyond_the_caps_is_refused_before_any_work(tmp_path, monkeypatch, options, message):
    lab = _public_lab(tmp_path, monkeypatch)
    with pytest.raises(PolicyError, match=re.escape(message)):
        lab.submit_alignment(LATENT, EvalSpec(langs=("en", "de")), AlignSpec(method="finetune", finetune=options),
                             visitor=ALICE)
    assert _run_dirs(lab) == []  # nothing was created


def test_public_fine_tune_without_a_step_cap_gets_the_servers(tmp_path, monkeypatch):
    lab = _public_lab(tmp_path, monkeypatch, max_steps=7)
    gate = threading.Event()
    lab.jobs.submit(lab.store.new_run_dir("blocker"), lambda ctx: gate.wait(GATE_TIMEOUT), lane="training")  # holds training
    try:
        run_id = lab.submit_alignment(LATENT, EvalSpec(langs=("en", "de")), AlignSpec(method="finetune"),
                                      visitor=ALICE)
        config = read_status(lab.store.root / run_id)["config"]
        assert config["align"]["options"]["max_steps"] == 7
        assert "≤7 steps" in lab.runs_table(visitor=ALICE).set_index("run").loc[run_id, "label"]
        assert lab.cancel(run_id, visitor=ALICE)
    finally:
        gate.set()
    assert lab.jobs.wait(GATE_TIMEOUT)
    assert read_status(lab.store.root / run_id)["state"] == "cancelled"


def test_one_running_and_one_queued_per_visitor_and_a_server_cap(tmp_path, monkeypatch):
    lab = _public_lab(tmp_path, monkeypatch, visitor_active=2, server_active=4)
    gate = threading.Event()
    lab.jobs.submit(lab.store.new_run_dir("blocker"), lambda ctx: gate.wait(GATE_TIMEOUT), lane="light")  # 1 of the server's 4
    spec, align = EvalSpec(langs=("en", "de")), AlignSpec(method="centering")
    try:
        alice = [lab.submit_alignment(LATENT, spec, align, visitor=ALICE) for _ in range(2)]
        with pytest.raises(PolicyError, match="you already have 2 runs queued or running"):
            lab.submit_alignment(LATENT, spec, align, visitor=ALICE)
        bob = lab.submit_alignment(LATENT, spec, align, visitor=BOB)
        with pytest.raises(PolicyError, match="the server is busy"):
            lab.submit_alignment(LATENT, spec, align, visitor="carol-" + "c" * 32)
        assert len(_run_dirs(lab)) == 1 + 2 + 1  # refused submissions left no run folder
        assert lab.cancel(alice[0], visitor=ALICE)  # a cancelled run frees its place
        assert read_status(lab.store.root / alice[0])["state"] == "cancelled"
        third = lab.submit_alignment(LATENT, spec, align, visitor=ALICE)
    finally:
        gate.set()
    assert lab.jobs.wait(GATE_TIMEOUT)
    states = {r: read_status(lab.store.root / r)["state"] for r in (alice[1], bob, third)}
    assert set(states.values()) == {"succeeded"}, states


def test_many_concurrent_submits_never_overshoot_the_caps(tmp_path, monkeypatch):
    lab = _public_lab(tmp_path, monkeypatch, visitor_active=2, server_active=5)
    gate = threading.Event()
    lab.jobs.submit(lab.store.new_run_dir("blocker"), lambda ctx: gate.wait(GATE_TIMEOUT), lane="light")
    visitors = [f"visitor-{k}-" + "v" * 32 for k in range(4)]
    outcomes: list[str] = []

    def submit(v: str) -> None:
        try:
            outcomes.append(lab.submit_alignment(LATENT, EvalSpec(langs=("en", "de")), AlignSpec(), visitor=v))
        except PolicyError:
            outcomes.append("refused")

    threads = [threading.Thread(target=submit, args=(v,)) for v in visitors for _ in range(10)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        accepted = [o for o in outcomes if o != "refused"]
        assert len(accepted) == 4 and lab.jobs.active() == 5  # the server's cap, with the blocker
        per_visitor = [lab.jobs.active(v) for v in visitors]
        assert max(per_visitor) <= 2 and sum(per_visitor) == 4
        assert len(_run_dirs(lab)) == 1 + 4
    finally:
        gate.set()
        for run_id in [o for o in outcomes if o != "refused"]:
            lab.jobs.cancel(run_id)
    assert lab.jobs.wait(GATE_TIMEOUT)


def test_an_upload_with_too_many_languages_is_refused(tmp_path, monkeypatch):
    lab = _public_lab(tmp_path, monkeypatch, max_langs=3)
    upload = _write_upload(tmp_path / "gradio-uploads" / "x", "many.jsonl", langs=("en", "de", "zh", "ar"), n_items=6)
    with pytest.raises(PolicyError, match=re.escape("many.jsonl holds 4 languages; this server takes at most 3 per upload")):
        lab.languages(lab.use_upload(upload, ALICE))
    assert len(lab._corpora) == 0  # not kept in memory either
    with pytest.raises(PolicyError, match="4 languages asked for; this server takes at most 3"):
        lab.diagnose(LATENT, EvalSpec(langs=("en", "de", "zh", "ar")))
    with pytest.raises(PolicyError, match="4 languages asked for"):
        lab.submit_alignment(LATENT, EvalSpec(langs=("en", "de", "zh", "ar")), AlignSpec(), visitor=ALICE)
    assert _run_dirs(lab) == []


def test_upload_bytes_are_bounded_per_visitor(tmp_path, monkeypatch):
    lab = _public_lab(tmp_path, monkeypatch, visitor_upload_mb=0.1)  # 104,857 bytes
    first = _write_upload(tmp_path / "gradio-uploads" / "a", "one.jsonl", n_items=60)
    second = _write_upload(tmp_path / "gradio-uploads" / "b", "two.jsonl", n_items=60)
    size = first.stat().st_size
    assert 0.05 * 2**20 < size <= 0.1 * 2**20
    lab.use_upload(first, ALICE)
    lab.use_upload(first, ALICE)  # the same file again costs nothing
    total = (size + second.stat().st_size) / 2**20
    with pytest.raises(PolicyError, match=re.escape(f"your uploads add up to {total:.1f} MB, more than the 0.1 MB")):
        lab.use_upload(second, ALICE)
    small = _write_upload(tmp_path / "gradio-uploads" / "c", "three.jsonl", n_items=2)
    lab.use_upload(small, ALICE)  # fits: the refused file was not counted
    lab.use_upload(second, BOB)  # another visitor has their own budget…
    with pytest.raises(PolicyError, match="your uploads add up to"):
        lab.use_upload(first, BOB)  # …which the file just used counts against
    with pytest.raises(PolicyError, match="that file is not an upload"):
        lab.use_upload(_write_upload(tmp_path / "elsewhere", "x.jsonl", n_items=2), ALICE)
    assert first.exists() and second.exists()  # refusing deletes nothing


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-5", "0", "lots", "1e400"])
def test_max_upload_mb_must_be_a_finite_positive_number(monkeypatch, value):
    monkeypatch.setenv("XLALIGN_MAX_UPLOAD_MB", value)
    with pytest.raises(PolicyError) as e:
        max_upload_bytes()
    assert str(e.value).startswith(f"XLALIGN_MAX_UPLOAD_MB={value!r} is not valid") and "\n" not in str(e.value)


def test_max_upload_mb_accepts_finite_values(monkeypatch):
    monkeypatch.setenv("XLALIGN_MAX_UPLOAD_MB", "2.5")
    assert max_upload_bytes() == int(2.5 * 2**20)
    monkeypatch.setenv("XLALIGN_MAX_UPLOAD_MB", "")
    assert max_upload_bytes() == 20 * 2**20


@pytest.mark.parametrize(("name", "value"), [("XLALIGN_MAX_STEPS", "2.5"), ("XLALIGN_MAX_LANGS", "1"),
                                             ("XLALIGN_VISITOR_ACTIVE", "nan"), ("XLALIGN_DOWNLOADS_MB", "inf")])
def test_every_public_limit_is_validated(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(PolicyError, match=f"{name}="):
        PublicLimits.from_env()
    assert env_number("XLALIGN_UNSET_FOR_TEST", 3.0) == 3.0


def test_the_download_area_is_bounded_in_bytes_and_keeps_the_newest(tmp_path):
    area = DownloadArea(tmp_path / "dl", max_bytes=10_000)
    stranger = tmp_path / "dl" / "not-ours"
    stranger.mkdir(parents=True)
    (stranger / "keep.bin").write_bytes(b"x" * 50_000)
    folders = [Path(area.save({"table.csv": str(k) * 3_000})[0]).parent for k in range(6)]
    assert area.size() <= 10_000 and folders[-1].exists()
    assert (folders[-1] / "table.csv").read_text() == "5" * 3_000
    assert [f.exists() for f in folders] == [False, False, False, True, True, True]
    big = area.new_folder()
    (big / "model.zip").write_bytes(b"z" * 25_000)  # one download larger than the whole budget
    area.trim(keep=big)
    assert big.exists() and [f.exists() for f in folders].count(True) == 0
    assert (stranger / "keep.bin").exists()  # never a folder the area did not create


# ----------------------------------------------------------------------------- cancel and the runs list
class GatedEncoder(Gated, LatentEncoder):
    """The latent fake, one batch of 8 texts per model call; the first call waits for ``go``."""

    chunk_size = 8


def test_cancel_shows_cancelling_at_once_and_stops_after_the_batch_in_hand(tmp_path, monkeypatch):
    lab = _public_lab(tmp_path, monkeypatch)
    corpus = load_demo()
    gated = GatedEncoder(corpus, dict.fromkeys(corpus.langs, 0.5), query_pull=0.0)
    lab._encoders.put(LATENT, gated)
    run_id = lab.submit_alignment(LATENT, EvalSpec(langs=("en", "de")), AlignSpec(), visitor=ALICE)
    assert gated.started.wait(GATE_TIMEOUT)
    assert lab.cancel(run_id, visitor=ALICE)
    row = lab.runs_table(visitor=ALICE).set_index("run").loc[run_id]
    assert row.state == "cancelling" and row.message.startswith("cancelling…")
    assert read_status(lab.store.root / run_id)["cancel_requested"]
    gated.go.set()
    assert lab.jobs.wait(GATE_TIMEOUT)
    status = read_status(lab.store.root / run_id)
    assert status["state"] == "cancelled" and status["message"].startswith("cancelled during encoding en, de passages")
    assert gated.calls == 1  # the batch in hand finished; no other batch was encoded after the cancel
    run_dir = lab.store.root / run_id
    assert not (run_dir / "compare.csv").exists() and not (run_dir / "before").exists()
    assert lab.runs_table(visitor=ALICE).set_index("run").loc[run_id, "state"] == "cancelled"


def test_the_runs_list_shows_an_estimate_before_the_first_step(tmp_path, monkeypatch):
    import xlalign.store.runs as runs

    clock = [1000.0]
    monkeypatch.setattr(runs.time, "monotonic", lambda: clock[0])  # a controlled clock: no real time involved
    ctx = JobContext(tmp_path, {"state": "running"})
    ctx.progress("training", 0, 18, cpu_estimate_s=1260.0, device="cpu")
    status = read_status(tmp_path)
    assert status["message"] == "training 0/18 · about 21 min left (estimate)"
    assert status["eta_s"] == 1260.0 and status["eta_estimated"] is True
    clock[0] += 60.0  # past the status writer's throttle
    ctx.progress("training", 3, 18, eta_s=600.0, loss=1.25)
    status = read_status(tmp_path)
    assert status["message"] == "training 3/18 · loss 1.250 · about 10 min left" and status["eta_estimated"] is False


def test_run_labels_are_short_and_name_the_chosen_rank():
    assert run_label(AlignSpec()) == "centering · subtract · queries own"
    assert run_label(AlignSpec(method="lsar")) == "LSAR · rank chosen on held-out data · both"
    assert run_label(AlignSpec(method="lsar"), {"lsar": {"rank": 3, "rank_source": "held-out"}}) == \
        "LSAR · rank 3 (held-out) · both"
    assert run_label(AlignSpec(method="lsar", lsar=LsarOptions(rank=2))) == "LSAR · rank 2 · both"
    assert run_label(AlignSpec(method="finetune", finetune=FinetuneOptions(max_steps=30))) == \
        "fine-tune jsd+nce · λ 1 · 1 epoch · ≤30 steps"
    assert run_label(AlignSpec(method="procrustes", train_data="demo")) == \
        "Procrustes · centred · pairs both · trained on demo"
    assert "None" not in AlignSpec(method="lsar").describe()


# ----------------------------------------------------------------------------- 16. storage at start-up
def test_persistent_storage_is_used_when_mounted(tmp_path):
    env = {"XLALIGN_PERSISTENT_DIR": str(tmp_path / "data")}
    assert configure_storage(env) == {}  # not mounted: nothing changes
    (tmp_path / "data").mkdir()
    chosen = configure_storage(env)
    assert chosen == {"XLALIGN_RUNS_DIR": str(tmp_path / "data" / "xlalign" / "runs"),
                      "HF_HOME": str(tmp_path / "data" / "huggingface")}
    assert env["XLALIGN_RUNS_DIR"] == chosen["XLALIGN_RUNS_DIR"]
    mine = {"XLALIGN_PERSISTENT_DIR": str(tmp_path / "data"), "XLALIGN_RUNS_DIR": "/elsewhere"}
    assert "XLALIGN_RUNS_DIR" not in configure_storage(mine) and mine["XLALIGN_RUNS_DIR"] == "/elsewhere"


def test_an_unwritable_folder_is_one_line_naming_the_variable(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(PolicyError) as e:
        check_writable(blocker / "runs", "XLALIGN_RUNS_DIR")
    assert str(e.value) == f"cannot write to {blocker / 'runs'} (Not a directory): set XLALIGN_RUNS_DIR to a " \
        "writable folder"
    assert check_writable(tmp_path / "new" / "runs", "XLALIGN_RUNS_DIR").is_dir()
    assert list((tmp_path / "new" / "runs").iterdir()) == []  # the check leaves nothing behind


@pytest.mark.parametrize(("env", "expected"), [
    ({"XLALIGN_RUNS_DIR": "{blocker}/runs"}, "set XLALIGN_RUNS_DIR to a writable folder"),
    ({"XLALIGN_CACHE_DIR": "{blocker}/cache"}, "set XLALIGN_CACHE_DIR to a writable folder"),
    ({"XLALIGN_MAX_UPLOAD_MB": "nan"}, "XLALIGN_MAX_UPLOAD_MB='nan' is not valid"),
    ({"XLALIGN_MAX_STEPS": "inf"}, "XLALIGN_MAX_STEPS='inf' is not valid"),
])
def test_the_server_refuses_to_start_in_one_line(tmp_path, env, expected):
    """``python app.py`` with an unwritable folder or an invalid limit: one line naming the variable, exit 2, and
    nothing served or written."""
    import os
    import subprocess
    import sys

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    root = Path(__file__).resolve().parents[1]
    full = {**os.environ, "XLALIGN_RUNS_DIR": str(tmp_path / "runs"), "XLALIGN_CACHE_DIR": str(tmp_path / "cache"),
            "XLALIGN_PERSISTENT_DIR": str(tmp_path / "no-data"), "PORT": "1", "PYTHONPATH": str(root),
            **{k: v.format(blocker=blocker) for k, v in env.items()}}
    done = subprocess.run([sys.executable, str(root / "app.py")], env=full, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], done.stderr[-2000:]
    assert "Traceback" not in done.stderr and done.stdout == ""
    if any(k.startswith("XLALIGN_MAX") for k in env):  # a bad limit is refused before any folder is made
        assert not (tmp_path / "runs").exists() and not (tmp_path / "cache").exists()


# ----------------------------------------------------------------------------- 17. the image's embedding cache
@pytest.mark.slow
def test_prewarm_fills_the_cache_so_a_first_demo_diagnosis_makes_no_model_call(bundled_dir, tmp_path, monkeypatch):
    """What the Dockerfile runs at build time (here for en+zh at fp32), then a fresh server's first diagnosis:
    every embedding comes from the cache, the model is never loaded."""
    from xlalign.services.prewarm import warm

    cache_root = tmp_path / "cache"
    cache_root.mkdir()
    (cache_root / "models").symlink_to(bundled_dir.parent)  # the converted model, not converted again
    monkeypatch.setenv("XLALIGN_CACHE_DIR", str(cache_root))
    from xlalign.report import figures

    compiled = []  # UMAP's kernels are compiled for real by the app's start-up warm-up (browser tests), not here
    monkeypatch.setattr(figures, "warm_up", lambda: compiled.append(1))
    encoded = warm(("fp32",), langs=("en", "zh"))
    assert compiled == [1]
    assert encoded["fp32"] == 2 * (168 + len(set(load_demo(["en"]).passage_keys)))  # questions + distinct passages
    assert warm(("fp32",), langs=("en", "zh")) == {"fp32": 0}  # a second build step finds everything cached
    assert (cache_root / "embeddings.sqlite").stat().st_size > 0

    lab = Lab(tmp_path / "runs", public=True)  # a fresh server on the image's cache
    diag = lab.diagnose(ModelSpec(precision="fp32"), EvalSpec(langs=("en", "zh")))
    encoder = lab.encoder(ModelSpec(precision="fp32"))
    assert (encoder.n_model_calls, encoder.n_texts_encoded) == (0, 0) and encoder._model is None
    assert diag.verdicts and diag.spec.langs == ("en", "zh")


def test_two_uploads_of_the_same_name_are_both_kept_by_name(tmp_path, monkeypatch):
    """Evaluation data and training triplets, both uploaded as data.jsonl: the run keeps both files, records
    them by name only, and finishes."""
    lab = _public_lab(tmp_path, monkeypatch)
    demo = load_demo(["en", "de"])
    groups = sorted(set(demo.groups))
    held = [i for i, g in enumerate(demo.groups) if g in groups[: len(groups) // 2]]
    train = [i for i, g in enumerate(demo.groups) if g not in groups[: len(groups) // 2]]
    evaluation = tmp_path / "gradio-uploads" / "a" / "data.jsonl"
    evaluation.parent.mkdir(parents=True)
    evaluation.write_text("".join(json.dumps({"id": demo.item_ids[i], "lang": lang, "group": demo.groups[i],
                                              "passage": demo.passages[lang][i], "question": demo.questions[lang][i]})
                                  + "\n" for lang in ("en", "de") for i in held), encoding="utf-8")
    triplets = tmp_path / "gradio-uploads" / "b" / "data.jsonl"
    triplets.parent.mkdir(parents=True)
    triplets.write_text("".join(json.dumps({"q_en": demo.questions["en"][i], "p_en": demo.passages["en"][i],
                                            "p_tgt": demo.passages["de"][i]}) + "\n" for i in train), encoding="utf-8")
    run_id = lab.submit_alignment(LATENT, EvalSpec(data=lab.use_upload(evaluation, ALICE), langs=("en", "de")),
                                  AlignSpec(method="procrustes", train_data=lab.use_upload(triplets, ALICE)),
                                  visitor=ALICE)
    assert lab.jobs.wait(GATE_TIMEOUT)
    run_dir = lab.store.root / run_id
    assert read_status(run_dir)["state"] == "succeeded", read_status(run_dir)
    assert (run_dir / "inputs" / "data.jsonl").read_bytes() == evaluation.read_bytes()
    assert (run_dir / "inputs" / "2-data.jsonl").read_bytes() == triplets.read_bytes()
    config = json.loads((run_dir / "config.json").read_text())
    assert (config["eval"]["data"], config["align"]["train_data"]) == ("upload:data.jsonl", "upload:2-data.jsonl")
    header = lab.run_header(run_id, visitor=ALICE)
    assert (header["data"], header["train_data"]) == ("data.jsonl (uploaded)", "2-data.jsonl (uploaded)")
    assert str(tmp_path) not in _all_text(run_dir)
