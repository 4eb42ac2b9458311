"""Exports users load without xlalign (checked against what xlalign evaluated), the CLI export, and sweeps (local, Ray)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import import_or_skip, tiny_model_texts
from tiny_model import build_tiny_model

from xlalign.align.base import AlignSpec
from xlalign.cli import main
from xlalign.core.loaders import load_demo
from xlalign.models.cache import EmbeddingCache
from xlalign.services.pipeline import run_alignment
from xlalign.services.sweep import SweepSpec, local_ray_options, loopback_only, run_sweep
from xlalign.specs import EvalSpec, ModelSpec
from xlalign.store.runs import write_status


@pytest.fixture(scope="module")
def tiny(tiny_model_dir) -> Path:
    return tiny_model_dir


def _run(tiny: Path, root: Path, method: str, precision: str = "fp32") -> Path:
    """An alignment run at a stated precision (never ``auto``: its meaning depends on the CPU)."""
    run = root / method
    run_alignment(ModelSpec(str(tiny), device="cpu", precision=precision), EvalSpec(langs=("en", "es")),
                  AlignSpec(method=method), run, cache=EmbeddingCache(root / "cache.sqlite"))
    write_status(run, {"state": "succeeded"})
    return run


#: The independent check runs at the precision of the evaluation. fp32 on both sides agrees to float32 rounding.
#: bf16 is forced, so that machines without bf16 units run this path too (emulated, slower): its 8-bit mantissa
#: rounds activations differently when a text is padded to another batch length (measured: up to 4.9e-3 here).
PRECISIONS = [pytest.param("fp32", 2e-5, id="fp32"), pytest.param("bf16", 1e-2, id="bf16")]


def _at(model, precision: str):
    """Prepare the independent side's model as xlalign encodes at ``precision`` on a CPU: for bf16, bf16
    weights with fp32 pooling (xlalign.models.encoders.bf16_weights); nothing for fp32."""
    import contextlib

    from xlalign.models.encoders import bf16_weights

    if precision == "bf16":
        assert bf16_weights(model)
    return contextlib.nullcontext()


def _evaluated_scores(run: Path) -> pd.DataFrame:
    pq = pd.read_csv(run / "after" / "per_query.csv")
    return pq[(pq.scenario == "mono-cross") & (pq.query_lang == "en")].set_index("query_id")


@pytest.mark.parametrize(("precision", "atol"), PRECISIONS)
def test_exported_lsar_model_reproduces_the_evaluated_scores(tiny, tmp_path, capsys, precision, atol):
    """SentenceTransformer(export) alone gives the query–gold cosines xlalign measured after alignment."""
    from sentence_transformers import SentenceTransformer

    run = _run(tiny, tmp_path, "lsar", precision)
    assert main(["export", str(run), "--out", str(tmp_path / "export")]) == 0
    out = tmp_path / "export"
    assert (out / "README.md").read_text().startswith("---") and (out / "modules.json").exists()
    card = (out / "README.md").read_text()
    assert "library_name: sentence-transformers" in card and "| mono-same |" in card
    model = SentenceTransformer(str(out), device="cpu")
    scored = _evaluated_scores(run)
    demo = load_demo(["en", "es"])
    idx = [demo.item_ids.index(i) for i in scored.index]
    with _at(model, precision):
        q = model.encode([demo.questions["en"][i] for i in idx], prompt_name="query", convert_to_tensor=True)
        p = model.encode([demo.passages["es"][i] for i in idx], prompt_name="passage", convert_to_tensor=True)
    q, p = q.float().numpy(), p.float().numpy()
    np.testing.assert_allclose((q * p).sum(1), scored["score_es"].to_numpy(), atol=atol)


@pytest.mark.parametrize(("precision", "atol"), PRECISIONS)
def test_exported_centering_transform_reproduces_the_evaluated_scores(tiny, tmp_path, precision, atol):
    """The base model + the exported folder's standalone xlalign_apply.py give xlalign's aligned scores."""
    from sentence_transformers import SentenceTransformer

    run = _run(tiny, tmp_path, "centering", precision)
    assert main(["export", str(run), "--out", str(tmp_path / "export")]) == 0
    out = tmp_path / "export"
    spec = importlib.util.spec_from_file_location("xlalign_apply_export", out / "xlalign_apply.py")
    standalone = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(standalone)  # type: ignore[union-attr]
    t = standalone.load(out)
    base = SentenceTransformer(str(tiny), device="cpu")
    scored = _evaluated_scores(run)
    demo = load_demo(["en", "es"])
    idx = [demo.item_ids.index(i) for i in scored.index]
    with _at(base, precision):
        q = base.encode([demo.questions["en"][i] for i in idx], prompt_name="query", normalize_embeddings=True,
                        convert_to_tensor=True)
        p = base.encode([demo.passages["es"][i] for i in idx], prompt_name="passage", normalize_embeddings=True,
                        convert_to_tensor=True)
    q, p = t.apply(q.float().numpy(), "en", "query"), t.apply(p.float().numpy(), "es", "passage")
    np.testing.assert_allclose((q * p).sum(1), scored["score_es"].to_numpy(), atol=atol)
    assert "language-aware" in (out / "README.md").read_text()


#: Runs each model card's code block as a user would, in its own folder, with xlalign unimportable (a blocked
#: module, not a path trick): one Python for every card, so that torch starts once. argv[1]: JSON
#: [[name, folder, code file], ...]; prints {name: {"ok", "stdout", "error"}} as JSON on its last line.
_CARDS_WITHOUT_XLALIGN = """
import contextlib, io, json, os, sys, traceback
sys.modules["xlalign"] = None
results = {}
for name, folder, path in json.loads(sys.argv[1]):
    os.chdir(folder)
    sys.modules.pop("xlalign_apply", None)  # each export folder's own copy
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(open(path).read(), "card", "exec"), {"__name__": "__main__"})
        results[name] = {"ok": True, "stdout": out.getvalue()}
    except BaseException:
        results[name] = {"ok": False, "stdout": out.getvalue(), "error": traceback.format_exc()}
print(json.dumps(results))
"""


def _card_code(card: str) -> str:
    return card.split("```python\n", 1)[1].split("```", 1)[0]


@pytest.fixture(scope="module")
def cards(tiny, tmp_path_factory) -> dict[str, tuple[Path, str, dict]]:
    """Each method's run exported, and the usage code of the cards that name no base folder (LSAR: the export is
    the model) run as written (``_CARDS_WITHOUT_XLALIGN``): method → (export folder, the code, what running it gave;
    {} when not run)."""
    root = tmp_path_factory.mktemp("cards")
    made, jobs = {}, []
    for method in ("centering", "procrustes", "lsar"):
        base = root / method
        out = base / "export"
        assert main(["export", str(_run(tiny, base, method)), "--out", str(out)]) == 0
        code = _card_code((out / "README.md").read_text(encoding="utf-8"))
        (base / "card.py").write_text(code, encoding="utf-8")
        if method == "lsar":  # the other cards load the base by its folder's name, which is the user's to give
            jobs.append([method, str(base), str(base / "card.py")])
        made[method] = (out, code)
    res = subprocess.run([sys.executable, "-c", _CARDS_WITHOUT_XLALIGN, json.dumps(jobs)], capture_output=True,
                         text=True, timeout=1800)
    assert res.returncode == 0, res.stderr[-2000:]
    results = json.loads(res.stdout.strip().splitlines()[-1])
    return {method: (*made[method], results.get(method, {})) for method in made}


def test_cli_evaluate_says_how_its_results_were_made(tiny, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", str(tiny), "--device", "cpu", "--langs", "en,es", "--precision", "fp32",
                 "--pool", "per-question", "--out", str(out), "--cache-dir", str(tmp_path / "cache")]) == 0
    stdout = capsys.readouterr().out
    assert "made with: model" in stdout and "precision fp32 on cpu · per-question pools · xlalign " in stdout
    record = json.loads((out / "run.json").read_text())
    assert record["made_with"]["precision"] == "fp32" and record["made_with"]["pool"] == "per-question"
    for name in ("summary.csv", "matrix.csv", "per_query.csv"):
        frame = pd.read_csv(out / name)
        assert (frame.model_fingerprint == record["model"]["fingerprint"]).all() and (frame.precision == "fp32").all()
        assert frame.xlalign_version.nunique() == 1


@pytest.mark.parametrize("method", ["centering", "procrustes", "lsar"])
def test_the_model_cards_usage_code_runs_as_written_without_xlalign(cards, tiny, method):
    """A card made from a local base model names it by its folder's last part, never its path (a card's code run
    with a Hub id on a machine without the server's folders: tests/test_model_cards.py). The LSAR export holds its
    base, so its code runs as written; every exported file is readable by all."""
    out, code, ran = cards[method]
    card = (out / "README.md").read_text(encoding="utf-8")
    assert str(tiny) not in card and str(out.parent) not in card
    if method != "lsar":
        assert "SentenceTransformer('st')" in code and "pass its path on your machine" in card
    else:
        assert "SentenceTransformer('export')" in code
        assert ran["ok"], ran.get("error", "")[-2000:]
        assert "[[" in ran["stdout"]  # it printed the query–document scores
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in out.rglob("*") if p.is_file()}
    assert set(modes.values()) == {"0o644"}, modes  # safetensors writes 0600; exports are readable like the rest


def test_export_refuses_an_unfinished_run_and_an_existing_folder(tiny, tmp_path, capsys):
    run = _run(tiny, tmp_path, "centering")
    write_status(run, {"state": "running"})
    assert main(["export", str(run), "--out", str(tmp_path / "x")]) == 2
    assert "is not a finished alignment run" in capsys.readouterr().err and not (tmp_path / "x").exists()
    write_status(run, {"state": "succeeded"})
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    assert main(["export", str(run), "--out", str(tmp_path / "taken")]) == 2
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"


def test_cli_align_lsar_end_to_end(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["align", "--method", "lsar", "--model", str(tiny), "--device", "cpu", "--langs", "en,es",
                 "--out", str(out), "--cache-dir", str(tmp_path / "cache")])
    stdout = capsys.readouterr().out
    assert code == 0 and "lsar (rank=" in stdout and "python -m xlalign export" in stdout
    from xlalign.models.device import resolve_precision

    used = resolve_precision("auto", "cpu")  # bf16 on a CPU with bf16 units, fp32 elsewhere
    assert f"made with: model {tiny} (fingerprint dir:" in stdout and f"precision {used} (auto) on cpu" in stdout
    status = json.loads((out / "status.json").read_text())
    assert status["state"] == "succeeded" and status["progress"] == 1.0
    record = json.loads((out / "run.json").read_text())
    assert record["lsar"]["rank_source"] == "held-out" and record["lsar"]["rank"] in (1, 2)
    made = record["made_with"]
    assert (made["precision"], made["requested_precision"], made["pool"]) == (used, "auto", "dedup")
    assert made["fingerprint"] == record["model_fingerprint"] and made["version"]
    before = pd.read_csv(out / "before" / "summary.csv")
    assert (before.precision == used).all() and (before.model_fingerprint == made["fingerprint"]).all()
    assert main(["align", "--method", "lsar", "--model", str(tiny), "--langs", "en,es", "--out", str(out)]) == 2
    assert "already holds a finished run" in capsys.readouterr().err


def test_cli_compare_end_to_end(tiny, tmp_path, capsys):
    runs = [_run(tiny, tmp_path, m) for m in ("centering", "lsar")]
    assert main(["compare", *map(str, runs), "--out", str(tmp_path / "cmp")]) == 0
    wide = pd.read_csv(tmp_path / "cmp" / "side_by_side.csv")
    assert {"baseline", "centering", "lsar", "lsar delta", "lsar lo", "lsar hi", "lsar q"} <= set(wide.columns)
    assert all(pd.api.types.is_numeric_dtype(wide[c]) for c in ("lsar delta", "lsar lo", "lsar hi", "lsar q"))
    assert "baseline" in capsys.readouterr().out


@pytest.fixture(scope="module")
def two_models(tmp_path_factory, tiny) -> list[str]:
    other = build_tiny_model(tmp_path_factory.mktemp("tiny2"), tiny_model_texts(), seed=1)
    return [str(tiny), str(other)]


def test_local_sweep_writes_one_leaderboard(two_models, tmp_path, capsys):
    code = main(["sweep", "--models", ",".join(two_models), "--data", "demo", "--pivot", "en", "--targets", "es,de",
                 "--out", str(tmp_path / "sweep"), "--device", "cpu", "--cache-dir", str(tmp_path / "cache")])
    assert code == 0
    board = pd.read_csv(tmp_path / "sweep" / "leaderboard.csv")
    assert len(board) == 2 * 2 * 2  # models × targets × query languages
    assert list(board.model.unique()) == two_models and set(board.pair) == {"en+es", "en+de"}
    from xlalign.core.verdict import KINDS

    assert board["verdict"].str.removesuffix(" (borderline)").isin(KINDS).all()
    assert board["verdict"].str.len().gt(0).all()  # every pair was judged
    assert {"model_fingerprint", "precision", "xlalign_version"} <= set(board.columns)
    assert "made with: " in capsys.readouterr().out


@pytest.mark.slow
def test_ray_sweep_equals_the_local_sweep(two_models, tmp_path):
    ray = import_or_skip("ray")
    spec = SweepSpec(models=tuple(ModelSpec(m, device="cpu") for m in two_models), data="demo", pivot="en",
                     targets=("es", "de"))
    local = run_sweep(spec, cache_dir=tmp_path / "local")
    loopback_only()
    ray.init(**local_ray_options(num_cpus=2))
    try:
        nodes = ray.nodes()
        assert [n["NodeManagerAddress"] for n in nodes] == ["127.0.0.1"]  # loopback only, not the machine's address
        remote = run_sweep(spec, engine="ray", cache_dir=tmp_path / "ray")
    finally:
        ray.shutdown()
    # Ray workers run torch on one thread (num_cpus=1), so float sums can differ in the last bits and flip
    # a near-tie: allow one query's worth (1/168 ≈ 0.6 points) on means, and nothing on the grid itself.
    assert local[["model", "pair", "query_lang"]].equals(remote[["model", "pair", "query_lang"]])
    pd.testing.assert_frame_equal(local, remote, check_exact=False, atol=1.0)


def test_a_local_ray_instance_binds_to_loopback_only(monkeypatch):
    from xlalign.services import sweep as S

    monkeypatch.delenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", raising=False)
    constants = types.SimpleNamespace(ENABLE_RAY_CLUSTER=True)
    monkeypatch.setitem(sys.modules, "ray._private.ray_constants", constants)
    seen: dict = {}
    fake = types.SimpleNamespace(is_initialized=lambda: False, init=lambda **kw: seen.update(kw),
                                 cluster_resources=dict, remote=lambda **kw: (lambda f: f))
    monkeypatch.setitem(sys.modules, "ray", fake)
    grid = types.SimpleNamespace(models=(), targets=(), data="demo", pivot="en", pool="dedup")
    assert S._run_ray(grid, None, None, lambda *a, **k: None, {}) == []
    assert seen["_node_ip_address"] == "127.0.0.1" and seen["include_dashboard"] is False
    # Ray on Linux would replace 127.0.0.1 by the machine's address unless its cluster switch is off.
    assert os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] == "0" and constants.ENABLE_RAY_CLUSTER is False
    assert str(Path(S.__file__).resolve().parents[2]) == seen["runtime_env"]["env_vars"]["PYTHONPATH"]
    assert local_ray_options(num_cpus=2)["num_cpus"] == 2


def test_sweep_spec_rejects_bad_grids():
    from xlalign.errors import ConfigError

    with pytest.raises(ConfigError, match="at least one model"):
        SweepSpec(models=(), data="demo", pivot="en", targets=("es",))
    with pytest.raises(ConfigError, match="listed twice"):
        SweepSpec(models=(ModelSpec("a"), ModelSpec("a")), data="demo", pivot="en", targets=("es",))
    with pytest.raises(ConfigError, match="listed twice"):
        SweepSpec(models=(ModelSpec("a"),), data="demo", pivot="en", targets=("en",))


def test_cli_help_for_sweep_runs_without_ray():
    """With ray unimportable (``sys.modules["ray"] = None`` before anything runs), ``sweep --help`` works."""
    code = ("import sys; sys.modules['ray'] = None\n"
            "from xlalign.cli import main\n"
            "main(['sweep', '--help'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    assert "--engine {local,ray}" in out.stdout


def test_local_sweep_runs_without_ray(two_models, tmp_path, monkeypatch, caplog):
    """A local sweep never imports ray: with ray unimportable it still runs, on the local engine, and only
    ``--engine ray`` asks for it (one line)."""
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    spec = SweepSpec(models=(ModelSpec(two_models[0], device="cpu"),), data="demo", pivot="en", targets=("es",))
    with caplog.at_level("INFO", logger="xlalign.services.sweep"):
        board = run_sweep(spec, cache_dir=tmp_path)
    assert board.attrs["failed"] == {} and len(board) == 2 and (board.error == "").all()
    assert [r.getMessage() for r in caplog.records] == ["sweep: local engine, 1 models × 1 targets"]
    from xlalign.errors import ConfigError

    with pytest.raises(ConfigError, match="--engine ray needs Ray"):
        run_sweep(spec, engine="ray", cache_dir=tmp_path)
