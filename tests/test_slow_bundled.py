"""Slow tests on the real default model (bundled multilingual-e5-small), CPU only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xlalign.align.base import AlignSpec
from xlalign.align.finetune import Cancelled, finetune, triplets_from_corpus
from xlalign.core.loaders import load_demo, load_squad_folder
from xlalign.services.pipeline import run_alignment
from xlalign.specs import EvalSpec, FinetuneOptions, ModelSpec

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("method", ["centering", "procrustes", "lsar"])
def test_demo_alignment_with_default_model(method, bundled_encoder, tmp_path):
    out = run_alignment(ModelSpec(), EvalSpec(langs=("en", "zh")), AlignSpec(method=method), tmp_path,
                        encoder=bundled_encoder)
    split = json.loads((tmp_path / "split.json").read_text())
    table = pd.read_csv(tmp_path / "compare.csv")
    assert set(table.scenario) == {"multi", "multi-1", "mono-same", "mono-cross"}
    assert (table.n_queries == len(split["test_items"])).all()
    assert out.record["n_eval_queries"] == len(split["test_items"]) < 168
    if method == "procrustes":
        p = out.record["procrustes"]["targets"]["zh"]
        assert p["fit_distance_after"] < p["fit_distance_before"]
        assert p["n_pairs"] < 384 and any("under-determined" in w for w in out.record["warnings"])
    if method == "lsar":
        lsar = out.record["lsar"]
        assert lsar["rank_source"] == "held-out" and 1 <= lsar["rank"] <= lsar["max_rank"] == 2
        assert [c["rank"] for c in lsar["rank_curve"]] == [0, 1, 2]


def test_short_finetune_of_the_default_model(bundled_model_path, tmp_path):
    demo = load_demo(["en", "zh"])
    triplets = triplets_from_corpus(demo, "en", "zh")[:32]
    model = ModelSpec(str(bundled_model_path), device="cpu")
    opts = FinetuneOptions(batch_size=16, max_seq_length=64, max_steps=2, freeze_word_embeddings=True)
    seen = []
    res = finetune(model, opts, triplets, tmp_path / "model", prompts=("query: ", "passage: "),
                   progress=lambda stage, done, total, **m: seen.append(m))
    assert res.steps == 2 and any("jsd" in e and "nce" in e for e in seen)
    from safetensors.numpy import load_file
    from sentence_transformers import SentenceTransformer

    w0, w1 = load_file(str(bundled_model_path / "model.safetensors")), load_file(str(res.model_dir / "model.safetensors"))
    assert sorted(w0) == sorted(w1)
    frozen = [k for k in w0 if "word_embeddings" in k]
    assert frozen and all(np.array_equal(w0[k], w1[k]) for k in frozen)  # freeze_word_embeddings held
    moved = [k for k in w0 if not np.array_equal(w0[k], w1[k])]
    assert len(moved) > len(w0) // 2  # the optimiser updated most of the other tensors
    text = ["query: 茶是从哪里来的？"]
    vec = SentenceTransformer(str(res.model_dir), device="cpu").encode(text, normalize_embeddings=True)
    base = SentenceTransformer(str(bundled_model_path), device="cpu").encode(text, normalize_embeddings=True)
    assert vec.shape == base.shape == (1, 384)
    cos = float(vec[0] @ base[0])
    assert 0.9 < cos < 1 - 1e-6  # two small steps: the same model, moved

    calls = []
    with pytest.raises(Cancelled):
        finetune(model, opts, triplets, tmp_path / "cancelled", should_stop=lambda: calls.append(1) or len(calls) >= 1)
    assert not (tmp_path / "cancelled").exists() and not (tmp_path / "cancelled.partial").exists()


def test_xquad_centering_improves_chinese_complete_at_10(xquad_dir, bundled_encoder, tmp_path):
    corpus = load_squad_folder(xquad_dir, ["en", "zh"])
    out = run_alignment(ModelSpec(), EvalSpec(data=str(xquad_dir), langs=("en", "zh")), AlignSpec(method="centering"),
                        tmp_path, encoder=bundled_encoder, corpus=corpus)
    row = out.compare.set_index(["scenario", "query_lang", "metric"]).loc[("multi", "zh", "complete@10")]
    assert row["after"] - row["before"] >= 30, row.to_dict()
    assert row["p_value"] < 0.01 and row["ci_low"] > 0
    split = json.loads((tmp_path / "split.json").read_text())
    assert set(split["train_groups"]).isdisjoint(split["test_groups"])


def test_cli_evaluate_demo_offline_on_the_default_model(tmp_path, bundled_cache_dir):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "XLALIGN_CACHE_DIR": str(bundled_cache_dir)}
    proc = subprocess.run([sys.executable, "-m", "xlalign", "evaluate", "--data", "demo", "--langs", "en,zh",
                           "--out", str(tmp_path / "out")], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=1800)
    assert proc.returncode == 0, proc.stderr[-2000:]
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["model"]["model"] == "bundled:multilingual-e5-small"
    assert run["model"]["prompts"] == {"query": "query: ", "passage": "passage: "}
    assert "multi" in proc.stdout and "complete@10" in proc.stdout
    assert "Chinese queries: same-language clustering" in proc.stdout  # the demo's finding for this model


def test_app_diagnoses_with_the_default_model(monkeypatch, bundled_cache_dir, bundled_dir, tmp_path):
    from xlalign.app import assemble
    from xlalign.app.inputs import default_model
    from xlalign.services.lab import Lab

    monkeypatch.delenv("XLALIGN_DEFAULT_MODEL", raising=False)
    monkeypatch.setenv("XLALIGN_CACHE_DIR", str(bundled_cache_dir))  # the converted model and its embeddings
    monkeypatch.setenv("XLALIGN_NO_WARMUP", "1")
    assert default_model() == "bundled:multilingual-e5-small"
    app = assemble(Lab(tmp_path / "runs"))  # a lab on this test's runs folder
    assert app.page.model.value == "bundled:multilingual-e5-small"
    out = app.diagnose.run_diagnosis("demo", None, "en", ["zh"], default_model(), "auto", "dedup", False,
                                     progress=lambda *a, **k: None)
    diag, verdict, table = out[app.page.diag], out[app.page.verdict], out[app.page.summary]
    assert diag.model.model == "bundled:multilingual-e5-small" and "168 queries per language" in verdict
    assert "**Chinese queries: same-language clustering**" in verdict
    assert set(table.scenario) == {"multi", "multi-1", "mono-same", "mono-cross"}
    assert {"en", "zh"} <= set(table.columns)
