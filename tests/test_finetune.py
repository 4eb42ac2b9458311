"""The JSD + InfoNCE fine-tune through SentenceTransformerTrainer, on a tiny model built here."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from tiny_model import build_tiny_model

from xlalign.align.finetune import Cancelled, FinetuneConfig, finetune, triplets_from_corpus
from xlalign.align.pipeline import AlignConfig, run_alignment
from xlalign.encoders import EmbeddingCache, SentenceTransformerEncoder
from xlalign.errors import ConfigError
from xlalign.loaders import load_demo


@pytest.fixture(scope="module")
def demo():
    return load_demo(["en", "es"])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, demo) -> Path:
    texts = list(demo.passages["en"]) + list(demo.passages["es"]) + list(demo.questions["en"])
    return build_tiny_model(tmp_path_factory.mktemp("tiny"), texts)


def test_short_finetune_logs_both_parts_and_saves_a_loadable_model(tiny, demo, tmp_path):
    triplets = triplets_from_corpus(demo, "en", "es")[:24]
    cfg = FinetuneConfig(model_id=str(tiny), batch_size=8, max_seq_length=32, learning_rate=1e-3, device="cpu")
    seen = []
    res = finetune(cfg, triplets, tmp_path / "model", progress=seen.append)
    assert res.steps == 3 and res.model_dir.is_dir()
    assert any("jsd" in e and "nce" in e for e in seen)
    assert all(e["total"] == 3 for e in seen)
    meta = json.loads((res.model_dir / "xlalign_finetune.json").read_text())
    assert meta["config"]["variant"] == "jsd+nce" and meta["steps"] == 3
    before = SentenceTransformerEncoder(str(tiny), device="cpu").encode(["hola"], lang="es", role="passage")
    after = SentenceTransformerEncoder(str(res.model_dir), device="cpu").encode(["hola"], lang="es", role="passage")
    assert after.shape == before.shape and abs(float(after[0] @ before[0])) < 0.99999  # weights changed
    assert not (tmp_path / "model.partial").exists()


def test_cancel_mid_run_leaves_no_model_directory(tiny, demo, tmp_path):
    triplets = triplets_from_corpus(demo, "en", "es")[:40]
    cfg = FinetuneConfig(model_id=str(tiny), batch_size=8, max_seq_length=32, device="cpu")
    steps = []

    def stop_after_two() -> bool:
        steps.append(1)
        return len(steps) >= 2

    with pytest.raises(Cancelled, match="cancelled after 2 of 5 steps"):
        finetune(cfg, triplets, tmp_path / "model", should_stop=stop_after_two)
    assert not (tmp_path / "model").exists() and not (tmp_path / "model.partial").exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_finetune_refuses_to_overwrite_and_too_few_triplets(tiny, demo, tmp_path):
    triplets = triplets_from_corpus(demo, "en", "es")[:8]
    with pytest.raises(ConfigError, match="fewer than one batch"):
        finetune(FinetuneConfig(model_id=str(tiny), batch_size=16), triplets, tmp_path / "m")
    (tmp_path / "m").mkdir()
    with pytest.raises(ConfigError, match="already exists"):
        finetune(FinetuneConfig(model_id=str(tiny), batch_size=4), triplets, tmp_path / "m")


@pytest.mark.parametrize("variant", ["nce", "jsd", "nce_psg"])
def test_ablation_variants_train(tiny, demo, tmp_path, variant):
    triplets = triplets_from_corpus(demo, "en", "es")[:8]
    seen = []
    finetune(FinetuneConfig(model_id=str(tiny), variant=variant, batch_size=4, max_seq_length=16, device="cpu"),
             triplets, tmp_path / "m", progress=seen.append)
    part = {"nce": "nce", "jsd": "jsd", "nce_psg": "nce_psg"}[variant]
    assert any(part in e for e in seen)


def test_finetune_run_end_to_end_through_the_pipeline(tiny, tmp_path):
    cfg = AlignConfig(method="finetune", data="demo", langs=("en", "es"), model=str(tiny),
                      finetune={"batch_size": 8, "max_seq_length": 32, "max_steps": 2, "device": "cpu"})
    out = run_alignment(cfg, tmp_path / "run", cache_dir=tmp_path / "cache")
    run = tmp_path / "run"
    assert (run / "model" / "modules.json").exists()
    log = [json.loads(x) for x in (run / "train_log.jsonl").read_text().splitlines()]
    assert log[0]["step"] == 0 and log[0]["total"] == 2 and log[0]["device"] == "cpu"
    assert 0 <= log[0]["cpu_estimate_s"] < 1  # a 2-layer, 32-dimensional model
    steps = [e for e in log if e["step"] >= 1]
    assert len(steps) >= 2 and "jsd" in steps[0] and "nce" in steps[0]
    table = pd.read_csv(run / "compare.csv")
    assert len(table) > 0 and out.record["finetune"]["steps"] == 2
    assert (run / "train_triplets.csv").exists()
    # The after-evaluation used the tuned model: its embeddings are in the cache under a new fingerprint.
    assert len(EmbeddingCache(tmp_path / "cache" / "embeddings.sqlite")) > 0
