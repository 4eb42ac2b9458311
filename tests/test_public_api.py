"""The public Space through its API: two ``gradio_client`` clients are two visitors.

The app is served in public mode on 127.0.0.1 on fake encoders (no model). Each case checks what the
clients get and what is kept on disk.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from conftest import demo_upload, free_port, import_or_skip
from fakes import BagOfCharsEncoder, Gated, LatentEncoder

from xlalign.core.loaders import load_demo
from xlalign.models.cache import EmbeddingCache
from xlalign.specs import ModelSpec
from xlalign.store.runs import read_status

import_or_skip("gradio_client")

GUARD = 300  # seconds: only a guard against a hang, nothing is timed
PUBLIC_ENDPOINTS = {"/on_data", "/run_diagnosis", "/on_drill", "/on_umap", "/on_inclination", "/on_leaderboard",
                    "/submit_alignment", "/runs", "/cancel_run", "/show_run", "/export_run", "/side_by_side"}


class GatedEncoder(Gated, BagOfCharsEncoder):
    """Bag-of-chars with a cache; its first model call waits until ``go`` is set."""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(app, url, root): the app in public mode on loopback; models: latent (no cache), cached, gated."""
    from xlalign.app import assemble
    from xlalign.services.lab import Lab

    root = tmp_path_factory.mktemp("public-api")
    mp = pytest.MonkeyPatch()
    mp.setenv("XLALIGN_PUBLIC", "1")
    mp.setenv("XLALIGN_NO_WARMUP", "1")
    mp.setenv("GRADIO_TEMP_DIR", str(root / "gradio"))
    mp.setenv("XLALIGN_RUNS_DIR", str(root / "runs"))
    mp.setenv("XLALIGN_DEFAULT_MODEL", "latent")
    mp.setenv("XLALIGN_ALLOWED_MODELS", "latent,cached,gated")
    lab = Lab(root / "runs")
    corpus = load_demo()
    cache = EmbeddingCache(root / "cache" / "embeddings.sqlite")
    lab._encoders = type(lab._encoders)(8)
    lab._encoders.put(ModelSpec(model="latent"), LatentEncoder(corpus, dict.fromkeys(corpus.langs, 0.5),
                                                                query_pull=0.0, pull_by_lang={"de": 1.6}))
    lab._encoders.put(ModelSpec(model="cached"), BagOfCharsEncoder(cache=cache, fingerprint="cached-v1"))
    lab._encoders.put(ModelSpec(model="gated"), GatedEncoder(cache=cache, fingerprint="gated-v1"))
    app = assemble(lab)
    app.blocks.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield app, app.blocks.local_url, root
    finally:
        app.blocks.close()
        lab.jobs.shutdown()
        mp.undo()


def _client(url: str):
    from gradio_client import Client

    return Client(url, verbose=False)


def _upload(root: Path, name: str) -> Path:
    return demo_upload(root / "visitor-files" / "deep", name)


def _runs(client) -> list[dict]:
    table = client.predict(api_name="/runs")[0]
    return [dict(zip(table["headers"], row, strict=True)) for row in table["data"]]


def test_only_the_public_actions_are_in_the_api(served):
    _, url, _ = served
    api = _client(url).view_api(return_format="dict", print_info=False)
    assert set(api["named_endpoints"]) == PUBLIC_ENDPOINTS
    assert not api.get("unnamed_endpoints")
    params = [p["parameter_name"] for p in api["named_endpoints"]["/submit_alignment"]["parameters"]]
    assert params[:12] == ["method", "dataset", "upload", "pivot", "targets", "model", "precision", "pool", "remote",
                           "train_data", "train_upload", "test_fraction"]
    assert "request" not in params and "visitor" not in params


def test_two_visitors_see_open_cancel_and_export_only_their_own_runs(served):
    from gradio_client import handle_file

    app, url, root = served
    alice, bob = _client(url), _client(url)
    upload = _upload(root, "alice-private.jsonl")
    msg, *_ = alice.predict("centering", "demo", handle_file(str(upload)), "en", ["de"], "latent", "auto", "dedup",
                            False, "split", None, 0.5, api_name="/submit_alignment")
    assert msg.startswith("Submitted **centering · subtract · queries own**")
    assert app.lab.jobs.wait(GUARD)
    mine = _runs(alice)
    assert [r["state"] for r in mine] == ["succeeded"] and _runs(bob) == []
    run_id = mine[0]["run"]
    run_dir = root / "runs" / run_id
    on_disk = sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*"))

    header, *_ = alice.predict(run_id, "complete@10", api_name="/show_run")
    assert header.startswith("### centering · subtract · queries own")
    assert "**data** alice-private.jsonl (uploaded)" in header
    exported = Path(alice.predict(run_id, api_name="/export_run"))
    with zipfile.ZipFile(exported) as z:
        shipped = "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist()
                            if not n.endswith(".safetensors"))
    for text in (header, shipped, json.dumps(mine), (run_dir / "config.json").read_text(),
                 (run_dir / "status.json").read_text(), (run_dir / "run.json").read_text()):
        assert str(root) not in text and "/tmp/" not in text and str(upload.parent) not in text

    for endpoint, args in (("/show_run", (run_id, "complete@10")), ("/export_run", (run_id,)),
                           ("/cancel_run", (run_id,)), ("/side_by_side", ([run_id],))):
        with pytest.raises(Exception) as theirs:
            bob.predict(*args, api_name=endpoint)
        with pytest.raises(Exception) as nobodys:
            bob.predict(*[a.replace(run_id, "20990101-000000-none-abcdef") if isinstance(a, str) else
                          [x.replace(run_id, "20990101-000000-none-abcdef") for x in a] for a in args],
                        api_name=endpoint)
        assert str(theirs.value).replace(run_id, "X") == str(nobodys.value).replace("20990101-000000-none-abcdef",
                                                                                     "X"), endpoint
    # Bob changed nothing: Alice's run is whole, still hers, and still succeeded
    assert sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*")) == on_disk
    assert read_status(run_dir)["state"] == "succeeded" and _runs(bob) == []
    assert [r["run"] for r in _runs(alice)] == [run_id]


def test_a_cached_diagnosis_never_waits_behind_another_visitors_encoding(served):
    _, url, _ = served
    encoder = served[0].lab.encoder(ModelSpec(model="gated"))
    alice, bob = _client(url), _client(url)
    bob.predict("demo", None, "en", ["zh"], "cached", "auto", "dedup", False, api_name="/run_diagnosis")  # now cached
    heavy = alice.submit("demo", None, "en", ["de"], "gated", "auto", "dedup", False, api_name="/run_diagnosis")
    assert encoder.started.wait(GUARD)  # Alice's texts are being encoded (and wait there)
    try:
        second = alice.submit("demo", None, "en", ["ar"], "gated", "auto", "dedup", False, api_name="/run_diagnosis")
        with pytest.raises(Exception, match="you already have an encoding running"):
            second.result(timeout=GUARD)  # one encoding per visitor at a time
        result = bob.submit("demo", None, "en", ["zh"], "cached", "auto", "dedup", False,
                            api_name="/run_diagnosis").result(timeout=GUARD)
        assert not heavy.done()  # Bob's cached diagnosis came back while Alice's encoding still ran
        assert next(x for x in result if isinstance(x, str) and x.startswith("### "))
    finally:
        encoder.go.set()
    verdict = next(x for x in heavy.result(timeout=GUARD) if isinstance(x, str) and x.startswith("### "))
    assert "German" in verdict


def test_work_beyond_the_public_limits_is_refused_in_one_line_and_writes_nothing(served):
    from gradio_client import handle_file

    _, url, root = served
    carol = _client(url)
    before = sorted(p.name for p in (root / "runs").iterdir())
    for epochs, refusal in ((10, r"epochs 10 is more than this server allows \(3\)"),
                            (1e9, r"epochs must be ≤ 1000, got 1000000000")):  # the spec's own bound, everywhere
        with pytest.raises(Exception, match=refusal):
            carol.predict("finetune", "demo", None, "en", ["de"], "latent", "auto", "dedup", False, "split", None, 0.5,
                          api_name="/submit_alignment", finetune_epochs=epochs)
    demo = load_demo(["en"])
    many = root / "visitor-files" / "many-languages.jsonl"
    many.write_text("".join(json.dumps({"id": demo.item_ids[i], "lang": lang, "passage": demo.passages["en"][i],
                                        "question": demo.questions["en"][i]}) + "\n"
                            for lang in ("en", "xa", "xb", "xc", "xd", "xe", "xf", "xg", "xh") for i in range(5)))
    refused = "many-languages.jsonl holds 9 languages; this server takes at most 8 per upload"
    with pytest.raises(Exception, match=refused):
        carol.predict("demo", handle_file(str(many)), "en", api_name="/on_data")
    with pytest.raises(Exception, match=refused):
        carol.predict("demo", handle_file(str(many)), "en", ["zh"], "latent", "auto", "dedup", False,
                      api_name="/run_diagnosis")
    assert sorted(p.name for p in (root / "runs").iterdir()) == before
    assert _runs(carol) == []


def test_upload_bytes_are_bounded_per_visitor_through_the_api(served, monkeypatch):
    from gradio_client import handle_file

    app, url, root = served
    monkeypatch.setattr(app.lab, "limits", type(app.lab.limits)(visitor_upload_mb=0.4))
    dave, erin = _client(url), _client(url)
    sizes = []
    for k in range(3):
        path = _upload(root, f"dave-{k}.jsonl")
        sizes.append(path.stat().st_size)
        if sum(sizes) <= 0.4 * 2**20:
            dave.predict("demo", handle_file(str(path)), "en", api_name="/on_data")
        else:
            with pytest.raises(Exception, match=r"your uploads add up to .* MB, more than the 0\.4 MB this server"):
                dave.predict("demo", handle_file(str(path)), "en", api_name="/on_data")
            break
    else:
        pytest.fail(f"three uploads of {sizes} bytes fitted in 0.4 MB")
    erin.predict("demo", handle_file(str(path)), "en", api_name="/on_data")  # Erin has her own budget


def test_the_hidden_free_text_model_box_is_ignored_in_public_mode(served):
    """An API client can still send the Models tab's hidden text box: a server path there loads nothing."""
    app, url, root = served
    frank = _client(url)
    loaded = len(app.lab._encoders)
    table, *_ = frank.predict("demo", None, "en", ["de"], "dedup", "auto", ["latent"], f"{root}/runs,/etc",
                              api_name="/on_leaderboard")
    table = table.get("value", table)  # a gr.Dataframe update (column widths) holds the table under "value"
    models = {row[table["headers"].index("model")] for row in table["data"]}
    assert models == {"latent"} and len(app.lab._encoders) == loaded


def test_identical_downloads_of_two_visitors_have_unguessable_addresses_of_their_own(served):
    """Gradio would serve an output file from a copy named by a hash of its contents (the same address for the
    same file, for anyone and on any server); the download area is served in place, one random folder per
    download, and a download expires."""
    import re

    import httpx
    from gradio_client import Client

    app, url, root = served
    grace, hank = Client(url, verbose=False, download_files=False), Client(url, verbose=False, download_files=False)
    files = {}
    for name, client in (("grace", grace), ("hank", hank)):
        out = client.predict("demo", None, "en", ["de"], "cached", "auto", "dedup", False, api_name="/run_diagnosis")
        exports = next(x for x in out if isinstance(x, list) and x and isinstance(x[0], dict))
        files[name] = next(f for f in exports if f["orig_name"] == "summary.csv")
    a, b = Path(files["grace"]["path"]), Path(files["hank"]["path"])
    assert a.read_bytes() == b.read_bytes() and a != b  # the same table, two addresses
    for path in (a, b):
        assert app.lab.downloads.root in path.parents  # served where it is: no copy in Gradio's cache
        assert re.fullmatch(r"dl-\d{9}-[A-Za-z0-9_-]{24}", path.parent.name)
    assert not any(p.name == "summary.csv" and app.lab.downloads.root not in p.parents
                   for p in (root / "gradio").rglob("summary.csv"))
    link = files["grace"]["url"]
    assert httpx.get(link).status_code == 200
    saved = app.lab.downloads.max_age_s
    try:
        app.lab.downloads.max_age_s = 1e-9  # as if an hour had passed
        app.lab.downloads.trim()
    finally:
        app.lab.downloads.max_age_s = saved
    assert not a.exists() and httpx.get(link).status_code != 200  # an expired link serves nothing


def test_the_state_of_idle_and_closed_sessions_is_forgotten(served):
    import gc
    import weakref

    from xlalign.app.housekeeping import expire_sessions

    app, url, _ = served
    holder = app.blocks.state_holder
    ivan, judy = _client(url), _client(url)
    for client in (ivan, judy):
        client.predict("demo", None, "en", ["de"], "cached", "auto", "dedup", False, api_name="/run_diagnosis")
    mine = {c.session_hash for c in (ivan, judy)}
    assert mine <= set(holder.session_data)
    diag_id = app.page.diag._id
    kept = [weakref.ref(holder.session_data[s].state_data[diag_id]) for s in mine]
    assert all(ref() is not None for ref in kept)  # each visitor's diagnosis, with its embeddings, in memory
    assert expire_sessions(app.blocks, app.visitors, idle_s=3600, closed_s=60) == []  # used just now: kept
    gone = expire_sessions(app.blocks, app.visitors, idle_s=0, closed_s=0)
    assert mine <= set(gone) and not mine & set(holder.session_data)
    gc.collect()
    assert all(ref() is None for ref in kept)  # the diagnoses and everything they held are freed
    with pytest.raises(Exception, match="Run a diagnosis first"):  # a visitor back after expiry starts afresh
        ivan.predict(20, True, "", api_name="/on_umap")
