"""Load test on loopback: eight sessions diagnose at once through the app's API while an alignment runs; and, in
public mode, twelve visitors submitting alignments at once against the per-visitor and server caps.

The app is served by Gradio on 127.0.0.1 and driven with ``gradio_client`` (one client, hence one
session, per thread). The model is a tiny BERT built here on the demo corpus, so nothing touches the hub.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import free_port, import_or_skip
from tiny_model import build_tiny_model

pytestmark = pytest.mark.slow

PIVOT = "en"
#: One session per entry: every target language of the demo corpus, and two repeats.
TARGETS = ("es", "de", "zh", "ar", "hi", "ur", "es", "zh")
DIAGNOSIS_PARAMS = ["dataset", "upload", "pivot", "targets", "model", "precision", "pool", "remote"]
RSS_GROWTH_LIMIT = 768 * 1024 * 1024  # generous (~100 MiB seen): results of eight sessions and one alignment


def _rss() -> int | None:
    try:
        import psutil
    except ImportError:
        return None
    return int(psutil.Process().memory_info().rss)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(the app's lab, url, tiny model path, model-load counter) with the app listening on loopback."""
    import_or_skip("gradio_client")
    import xlalign.models.encoders as encoders
    from xlalign.core.loaders import load_demo

    root = tmp_path_factory.mktemp("load")
    demo = load_demo()
    texts = [t for lang in demo.langs for t in (*demo.passages[lang], *demo.questions[lang])]
    model = build_tiny_model(root / "model", texts)
    mp = pytest.MonkeyPatch()
    mp.setenv("XLALIGN_DEFAULT_MODEL", str(model))
    mp.setenv("XLALIGN_CACHE_DIR", str(root / "cache"))
    mp.setenv("XLALIGN_RUNS_DIR", str(root / "runs"))  # public mode's run-model check reads it
    mp.setenv("XLALIGN_NO_WARMUP", "1")
    mp.delenv("XLALIGN_PUBLIC", raising=False)
    loads: list[str] = []
    real_load = encoders.load_sentence_transformer

    def counting_load(spec, **kw):
        loads.append(spec.model)
        return real_load(spec, **kw)

    mp.setattr(encoders, "load_sentence_transformer", counting_load)
    from xlalign.app import build_app
    from xlalign.services.lab import Lab

    lab = Lab(root / "runs")
    blocks = build_app(lab)  # reads XLALIGN_DEFAULT_MODEL
    port = free_port()
    blocks.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield lab, f"http://127.0.0.1:{port}/", model, loads
    finally:
        blocks.close()
        lab.jobs.shutdown()
        mp.undo()


def _diagnose(url: str, model: Path, target: str, start: threading.Barrier) -> tuple[str, str, dict]:
    """One session: its own client, one Diagnose press; returns (target, verdict markdown, summary table)."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    start.wait(timeout=120)
    result = client.predict("demo", None, PIVOT, [target], str(model), "fp32", "dedup", False,
                            api_name="/run_diagnosis")
    verdict = next(x for x in result if isinstance(x, str) and x.startswith("### "))
    summary = next(x for x in result if isinstance(x, dict) and "headers" in x)
    return target, verdict, summary


def test_eight_sessions_diagnose_while_an_alignment_runs(served):
    from gradio_client import Client

    from xlalign.align.base import AlignSpec
    from xlalign.report.verdict_text import lang_name
    from xlalign.specs import EvalSpec, ModelSpec

    lab, url, model, loads = served
    api = Client(url, verbose=False).view_api(return_format="dict", print_info=False)
    endpoint = api["named_endpoints"]["/run_diagnosis"]
    assert [p["parameter_name"] for p in endpoint["parameters"]] == DIAGNOSIS_PARAMS

    # Warm up (model load, English embeddings), then measure memory from here.
    _, verdict, _ = _diagnose(url, model, "de", threading.Barrier(1))
    assert lang_name("de") in verdict
    before = _rss()

    run_id = lab.submit_alignment(ModelSpec(model=str(model), precision="fp32"),
                                  EvalSpec(data="demo", langs=(PIVOT, "es"), pool="dedup"),
                                  AlignSpec(method="centering"))
    start = threading.Barrier(len(TARGETS))
    with ThreadPoolExecutor(max_workers=len(TARGETS)) as pool:
        futures = [pool.submit(_diagnose, url, model, t, start) for t in TARGETS]
        outcomes = [f.result(timeout=900) for f in futures]
    assert lab.jobs.wait(timeout=900)

    assert [t for t, _, _ in outcomes] == list(TARGETS)
    for target, verdict, summary in outcomes:
        others = {lang_name(x) for x in TARGETS if x != target}
        assert f"{lang_name(target)} queries:" in verdict, verdict
        assert f"{lang_name(PIVOT)} queries against the {lang_name(target)} gold:" in verdict
        leaked = [name for name in others if name in verdict]
        assert not leaked, f"the {target} session's verdict names {leaked}: {verdict}"
        langs = [h for h in summary["headers"] if h in {PIVOT, *TARGETS}]
        assert langs == [PIVOT, target], summary["headers"]

    status = lab.store.list()
    job = next(r for r in status if r["run"] == run_id)
    assert job["state"] == "succeeded", job
    assert (lab.run_dir(run_id) / "compare.csv").exists()
    # One model in memory, shared by every session and the job; loaded once.
    assert len(lab._encoders) == 1 <= lab._encoders.capacity
    assert loads == [str(model)]
    after = _rss()
    if before is not None and after is not None:
        assert after - before < RSS_GROWTH_LIMIT, f"RSS grew by {(after - before) / 2**20:.0f} MiB"


# ----------------------------------------------------------------------------- public mode: the caps under load
CLIENTS, SUBMITS_EACH = 12, 3


@pytest.fixture(scope="module")
def served_public(tmp_path_factory):
    """(lab, url, tiny model path) with the app in public mode on loopback (caps: 2 per visitor, 8 in all)."""
    import_or_skip("gradio_client")
    from xlalign.core.loaders import load_demo

    root = tmp_path_factory.mktemp("load-public")
    demo = load_demo()
    model = build_tiny_model(root / "model", [t for lang in demo.langs
                                              for t in (*demo.passages[lang], *demo.questions[lang])])
    mp = pytest.MonkeyPatch()
    for name, value in {"XLALIGN_PUBLIC": "1", "XLALIGN_DEFAULT_MODEL": str(model), "XLALIGN_ALLOWED_MODELS": str(model),
                        "XLALIGN_CACHE_DIR": str(root / "cache"), "XLALIGN_RUNS_DIR": str(root / "runs"),
                        "XLALIGN_NO_WARMUP": "1", "XLALIGN_VISITOR_ACTIVE": "2", "XLALIGN_SERVER_ACTIVE": "8",
                        "GRADIO_TEMP_DIR": str(root / "gradio")}.items():
        mp.setenv(name, value)
    from xlalign.app import build_app
    from xlalign.services.lab import Lab

    lab = Lab(root / "runs")
    blocks = build_app(lab)
    port = free_port()
    blocks.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield lab, f"http://127.0.0.1:{port}/", model
    finally:
        blocks.close()
        lab.jobs.shutdown()
        mp.undo()


def _submit_many(url: str, model: Path, start: threading.Barrier) -> tuple[object, list[str], list[str]]:
    """One visitor: its own client, three submits at once; returns (client, accepted messages, refusals)."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    start.wait(timeout=120)
    jobs = [client.submit("centering", "demo", None, PIVOT, ["es"], str(model), "fp32", "dedup", False, "split", None,
                          0.5, api_name="/submit_alignment") for _ in range(SUBMITS_EACH)]
    accepted, refused = [], []
    for job in jobs:
        try:
            accepted.append(job.result(timeout=900)[0])
        except Exception as e:  # the refusal reaches the client as one line
            refused.append(str(e))
    return client, accepted, refused


def test_twelve_visitors_submitting_at_once_get_the_caps_and_only_their_own_runs(served_public):
    lab, url, model = served_public
    gate = threading.Event()
    lab.jobs.submit(lab.store.new_run_dir("blocker"), lambda ctx: gate.wait(900), lane="light")  # hold the quick lane
    start = threading.Barrier(CLIENTS)
    try:
        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            outcomes = [f.result(timeout=900) for f in [pool.submit(_submit_many, url, model, start)
                                                        for _ in range(CLIENTS)]]
        accepted = sum(len(a) for _, a, _ in outcomes)
        assert accepted == 7  # the server's 8, one held by the blocker
        assert all(len(a) <= 2 for _, a, _ in outcomes)
        refusals = [r for _, _, rs in outcomes for r in rs]
        assert len(refusals) == CLIENTS * SUBMITS_EACH - 7
        assert all(("the server is busy" in r or "you already have 2 runs" in r) and "\n" not in r for r in refusals)
        # on disk: the blocker and exactly the accepted runs, nothing for a refused submit
        assert len([p for p in lab.store.root.iterdir() if p.is_dir()]) == 1 + 7
        lists = []
        for client, mine, _ in outcomes:
            table = client.predict(api_name="/runs")[0]
            runs = [dict(zip(table["headers"], row, strict=True)) for row in table["data"]]
            assert len(runs) == len(mine) and all(r["state"] == "queued" for r in runs)
            assert {r["run"] for r in runs} == {re.search(r"\(`([^`]+)`\)", m).group(1) for m in mine}  # theirs only
            lists += [r["run"] for r in runs]
        assert len(set(lists)) == 7  # nobody sees another visitor's run
    finally:
        gate.set()
    assert lab.jobs.wait(timeout=900)
    finished = [r for r in lab.store.list() if r["run"] in lists]
    assert [r["state"] for r in finished] == ["succeeded"] * 7


def _runs(client) -> dict[str, dict]:
    table = client.predict(api_name="/runs")[0]
    rows = [dict(zip(table["headers"], row, strict=True)) for row in table["data"]]
    return {r["run"]: r for r in rows}


def test_a_visitors_centering_finishes_while_anothers_fine_tune_runs(served_public, monkeypatch):
    """Visitor A's fine-tune holds the training worker (its fit waits for the test); visitor B's centering, submitted
    after it, finishes in its own time, and A's second fine-tune says where it stands in its queue."""
    from gradio_client import Client

    from xlalign.align.base import Cancelled
    from xlalign.align.finetune import FinetuneAligner

    lab, url, model = served_public
    gate, started = threading.Event(), threading.Event()

    def held_fit(self, inputs):
        started.set()
        assert gate.wait(900)
        raise Cancelled("released by the test")

    monkeypatch.setattr(FinetuneAligner, "fit", held_fit)
    a, b = Client(url, verbose=False), Client(url, verbose=False)
    tune = ["finetune", "demo", None, PIVOT, ["es"], str(model), "fp32", "dedup", False, "split", None, 0.5]
    first = re.search(r"\(`([^`]+)`\)", a.predict(*tune, api_name="/submit_alignment")[0]).group(1)
    try:
        assert started.wait(900)
        second = re.search(r"\(`([^`]+)`\)", a.predict(*tune, api_name="/submit_alignment")[0]).group(1)
        msg = b.predict("centering", "demo", None, PIVOT, ["es"], str(model), "fp32", "dedup", False, "split", None, 0.5,
                        api_name="/submit_alignment")[0]
        quick = re.search(r"\(`([^`]+)`\)", msg).group(1)
        for _ in range(900):
            if _runs(b)[quick]["state"] in ("succeeded", "failed"):
                break
            gate.wait(1)  # not timed: only polls the state (the gate is not set here)
        assert _runs(b)[quick]["state"] == "succeeded"  # B's centering is done…
        mine = _runs(a)
        assert mine[first]["state"] == "running" and mine[second]["state"] == "queued"  # …while A's fine-tune runs
        assert mine[second]["message"].startswith("queued: 1st in the training queue (fine-tunes), behind 1 running;")
        assert set(_runs(b)) == {quick}  # B sees only B's run
    finally:
        for run_id in (first, locals().get("second")):
            if run_id:
                a.predict(run_id, api_name="/cancel_run")
        gate.set()
    assert lab.jobs.wait(timeout=900)
    assert {_runs(a)[r]["state"] for r in (first, second)} == {"cancelled"}
