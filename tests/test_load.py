"""Load test on loopback: eight sessions diagnose at once through the app's API while an alignment runs.

The app is served by Gradio on 127.0.0.1 and driven with ``gradio_client`` (one client, hence one
session, per thread). The model is a tiny BERT built here on the demo corpus, so nothing touches the hub.
"""

from __future__ import annotations

import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from tiny_model import build_tiny_model

pytestmark = pytest.mark.slow

PIVOT = "en"
#: One session per entry: every target language of the demo corpus, and two repeats.
TARGETS = ("es", "de", "zh", "ar", "hi", "ur", "es", "zh")
DIAGNOSIS_PARAMS = ["dataset", "upload", "pivot", "targets", "model", "precision", "pool", "remote"]
RSS_GROWTH_LIMIT = 768 * 1024 * 1024  # generous (~100 MiB seen): results of eight sessions and one alignment


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss() -> int | None:
    try:
        import psutil
    except ImportError:
        return None
    return int(psutil.Process().memory_info().rss)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(the app's lab, url, tiny model path, model-load counter) with the app listening on loopback."""
    pytest.importorskip("gradio_client")
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
    port = _free_port()
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
