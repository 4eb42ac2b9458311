"""The JSD + InfoNCE fine-tune through SentenceTransformerTrainer, on a tiny model built here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xlalign.align.base import AlignSpec
from xlalign.align.finetune import Cancelled, finetune, triplets_from_corpus
from xlalign.core.loaders import load_demo
from xlalign.errors import ConfigError
from xlalign.models.cache import EmbeddingCache
from xlalign.models.encoders import SentenceTransformerEncoder
from xlalign.services.pipeline import run_alignment
from xlalign.specs import EvalSpec, FinetuneOptions, ModelSpec

PROMPTS = ("query: ", "passage: ")


@pytest.fixture(scope="module")
def demo():
    return load_demo(["en", "es"])


@pytest.fixture(scope="module")
def tiny(tiny_model_dir) -> Path:
    return tiny_model_dir


def test_short_finetune_logs_both_parts_and_saves_a_loadable_model(tiny, demo, tmp_path):
    triplets = triplets_from_corpus(demo, "en", "es")[:24]
    opts = FinetuneOptions(batch_size=8, max_seq_length=32, learning_rate=1e-3)
    seen = []
    res = finetune(ModelSpec(str(tiny), device="cpu"), opts, triplets, tmp_path / "model", prompts=PROMPTS,
                   progress=lambda stage, done, total, **m: seen.append({"step": done, "total": total, **m}))
    assert res.steps == 3 and res.model_dir.is_dir()
    assert any("jsd" in e and "nce" in e for e in seen)
    assert all(e["total"] == 3 for e in seen) and seen[0]["step"] == 0 and "cpu_estimate_s" in seen[0]
    assert [e["step"] for e in seen if "loss" in e] == [1, 2, 3]
    meta = json.loads((res.model_dir / "xlalign_finetune.json").read_text())
    assert meta["options"]["variant"] == "jsd+nce" and meta["steps"] == 3 and meta["learning_rate"] == 1e-3
    from safetensors.numpy import load_file

    w0, w1 = load_file(str(tiny / "model.safetensors")), load_file(str(res.model_dir / "model.safetensors"))
    moved = [k for k in w0 if not np.array_equal(w0[k], w1[k])]
    assert len(moved) > len(w0) // 2  # most tensors were updated by the optimiser
    cfg = json.loads((res.model_dir / "config_sentence_transformers.json").read_text())
    assert cfg["prompts"]["query"] == "query: " and cfg["prompts"]["passage"] == "passage: "
    assert not (tmp_path / "model.partial").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temporary training folder left


def test_gradient_checkpointing_trains_the_same_model_in_less_memory(tiny, demo, tmp_path):
    """Checkpointing recomputes activations instead of keeping them: the same losses, gradients and weights (on
    by default only where the largest step's activations would not fit); the record says which was used."""
    from safetensors.numpy import load_file

    triplets = triplets_from_corpus(demo, "en", "es")[:24]
    runs = {}
    for on in (True, False):
        seen: list[dict] = []
        opts = FinetuneOptions(batch_size=8, max_seq_length=32, learning_rate=1e-3, gradient_checkpointing=on,
                               bf16=False)
        res = finetune(ModelSpec(str(tiny), device="cpu"), opts, triplets, tmp_path / f"gc-{on}", prompts=PROMPTS,
                       progress=lambda stage, done, total, seen=seen, **m: seen.append(m))
        assert json.loads((res.model_dir / "xlalign_finetune.json").read_text())["gradient_checkpointing"] is on
        runs[on] = ([(e["loss"], e["grad_norm"]) for e in seen if "loss" in e],
                    load_file(str(res.model_dir / "model.safetensors")))
    assert len(runs[True][0]) == 3 and runs[True][0] == pytest.approx(runs[False][0], rel=1e-5)
    for name, weight in runs[True][1].items():
        np.testing.assert_allclose(weight, runs[False][1][name], rtol=1e-5, atol=1e-6, err_msg=name)
    default = finetune(ModelSpec(str(tiny), device="cpu"), FinetuneOptions(batch_size=8, max_seq_length=32, max_steps=1),
                       triplets, tmp_path / "default", prompts=PROMPTS)
    # by default only where memory needs it: a tiny model's steps fit many times over
    assert json.loads((default.model_dir / "xlalign_finetune.json").read_text())["gradient_checkpointing"] is False


def test_cancel_mid_run_leaves_no_model_directory(tiny, demo, tmp_path):
    triplets = triplets_from_corpus(demo, "en", "es")[:40]
    opts = FinetuneOptions(batch_size=8, max_seq_length=32)
    steps = []

    def stop_after_two() -> bool:
        steps.append(1)
        return len(steps) >= 2

    with pytest.raises(Cancelled, match="cancelled after 2 of 5 steps"):
        finetune(ModelSpec(str(tiny), device="cpu"), opts, triplets, tmp_path / "model", should_stop=stop_after_two)
    assert not (tmp_path / "model").exists() and not (tmp_path / "model.partial").exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_a_jobs_cancel_stops_the_fine_tune_within_one_step(tiny, demo, tmp_path):
    """A background run's cancel (the job's flag) takes effect at the next step's report: at most one more step
    runs after it, and nothing is kept (no model, no partial model, no temporary training folder)."""
    from xlalign.store.jobs import JobCancelled, JobContext
    from xlalign.store.runs import read_status

    triplets = triplets_from_corpus(demo, "en", "es")[:40]
    ctx = JobContext(tmp_path / "run", {"state": "running"})
    (tmp_path / "run").mkdir()
    logged = []

    def report(stage, done=0, total=None, **metrics):
        ctx.progress(stage, done, total, **metrics)
        if "loss" in metrics:
            logged.append(done)
            if done == 1:
                ctx.cancel_event.set()  # the visitor presses Cancel during step 2

    with pytest.raises(JobCancelled, match=r"cancelled during training \(2/5\)"):
        finetune(ModelSpec(str(tiny), device="cpu"), FinetuneOptions(batch_size=8, max_seq_length=32), triplets,
                 tmp_path / "run" / "model", progress=report, should_stop=ctx.should_stop)
    assert logged == [1]  # step 2 (running when cancel came) finished; its report stopped the run; no step 3
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["status.json"]
    assert read_status(tmp_path / "run")["message"].startswith("training 1/5")


def test_finetune_refuses_to_overwrite_and_too_few_triplets(tiny, demo, tmp_path):
    triplets = triplets_from_corpus(demo, "en", "es")[:8]
    with pytest.raises(ConfigError, match="fewer than one batch"):
        finetune(ModelSpec(str(tiny)), FinetuneOptions(batch_size=16), triplets, tmp_path / "m")
    (tmp_path / "m").mkdir()
    with pytest.raises(ConfigError, match="already exists"):
        finetune(ModelSpec(str(tiny)), FinetuneOptions(batch_size=4), triplets, tmp_path / "m")


@pytest.mark.parametrize("variant", ["nce", "jsd", "nce_psg"])
def test_ablation_variants_train(tiny, demo, tmp_path, variant):
    triplets = triplets_from_corpus(demo, "en", "es")[:8]
    seen = []
    finetune(ModelSpec(str(tiny), device="cpu"), FinetuneOptions(variant=variant, batch_size=4, max_seq_length=16),
             triplets, tmp_path / "m", progress=lambda stage, done, total, **m: seen.append(m))
    parts = {"nce": {"nce"}, "jsd": {"jsd"}, "nce_psg": {"nce_psg"}}[variant]
    logged = [set(e) & {"jsd", "nce", "nce_psg"} for e in seen if "loss" in e]
    assert logged and all(x == parts for x in logged)


def test_finetune_run_end_to_end_through_the_pipeline(tiny, tmp_path):
    # fp32 encoding on every CPU kind (training itself is bf16 over fp32 master weights where the CPU has bf16
    # units): the saved weights' movement is measured, not bf16's rounding of it
    model = ModelSpec(str(tiny), device="cpu", precision="fp32")
    align = AlignSpec(method="finetune", finetune=FinetuneOptions(batch_size=8, max_seq_length=32, max_steps=2))
    cache = EmbeddingCache(tmp_path / "cache" / "embeddings.sqlite")
    out = run_alignment(model, EvalSpec(langs=("en", "es")), align, tmp_path / "run", cache=cache)
    run = tmp_path / "run"
    assert (run / "model" / "modules.json").exists() and (run / "model" / "README.md").exists()
    log = [json.loads(x) for x in (run / "train_log.jsonl").read_text().splitlines()]
    assert log[0]["step"] == 0 and log[0]["total"] == 2 and log[0]["device"] == "cpu"
    assert 0 <= log[0]["cpu_estimate_s"] < 1  # a 2-layer, 32-dimensional model
    steps = [e for e in log if e["step"] >= 1]
    assert [e["step"] for e in steps] == [1, 2] and "jsd" in steps[0] and "nce" in steps[0]
    assert all(e["eta_s"] is not None for e in steps)  # measured from step times
    assert out.record["finetune"]["steps"] == 2 and (run / "train_triplets.csv").exists()
    _compare_table_equals_a_fresh_evaluation(run, model, cache, out.after.spec)
    # The "after" evaluation used the tuned model: its embeddings are cached under the tuned model's fingerprint.
    tuned = SentenceTransformerEncoder(ModelSpec(str(run / "model"), device="cpu", precision="fp32"), cache=cache)
    before_fp = out.record["model_fingerprint"]
    assert tuned.fingerprint != before_fp
    q = out.after.spec.langs[1]
    text = out.after.per_query[out.after.per_query.query_lang == q]["query"].iloc[0]
    n = tuned.n_texts_encoded
    tuned.encode([text], lang=q, role="query")
    assert tuned.n_texts_encoded == n  # served from the cache the after-evaluation filled


def _compare_table_equals_a_fresh_evaluation(run: Path, model: ModelSpec, cache: EmbeddingCache, spec: EvalSpec):
    """compare.csv's before and after columns equal the core's metrics on the held-out items (split.json),
    encoded here by the base model and by the tuned model, and the fine-tune changed the embeddings."""
    from xlalign.core.evaluate import PIVOT_ALIASES, encode_corpus, evaluate_embeddings

    corpus = load_demo(list(spec.langs))
    held_out = set(json.loads((run / "split.json").read_text())["test_items"])
    corpus = corpus.subset([i for i, item in enumerate(corpus.item_ids) if item in held_out])
    keys = ["scenario", "pool", "query_lang", "doc_lang", "metric"]
    table = pd.read_csv(run / "compare.csv").fillna({"doc_lang": ""}).set_index(keys)
    embeddings = {}
    for side, path in (("before", model.model), ("after", str(run / "model"))):
        encoder = SentenceTransformerEncoder(ModelSpec(path, device="cpu", precision=model.precision), cache=cache)
        embeddings[side] = encode_corpus(corpus, encoder, spec.langs)
        fresh = evaluate_embeddings(corpus, embeddings[side], spec).summary_frame()
        fresh = fresh.fillna({"doc_lang": ""}).set_index(keys)["value"]
        aliases = {metric for *_, metric in set(fresh.index) - set(table.index)}
        assert set(table.index) <= set(fresh.index) and aliases <= set(PIVOT_ALIASES)  # compare skips the aliases
        np.testing.assert_allclose(table[side], fresh.loc[table.index], rtol=1e-9, atol=1e-9, err_msg=side)
    moved = np.abs(embeddings["after"].passages["es"] - embeddings["before"].passages["es"]).max()
    assert moved > 1e-4  # two steps at the default rate (every weight ±3e-5) move fp32 embeddings ~4e-4; noise ~1e-7
    assert (table["delta"].abs() > 0).any()


def test_every_model_load_carries_the_model_spec(tiny, tmp_path, monkeypatch):
    """Device, remote-code opt-in and sequence length reach the baseline, the trainer and the tuned model's load."""
    import xlalign.models.encoders as enc

    seen = []
    real = enc.load_sentence_transformer

    def spy(spec, **kw):
        seen.append((spec.model, spec.trust_remote_code, spec.device, spec.max_seq_length, kw.get("device")))
        return real(spec, **kw)

    monkeypatch.setattr(enc, "load_sentence_transformer", spy)
    model = ModelSpec(str(tiny), device="cpu", trust_remote_code=True, max_seq_length=64)
    align = AlignSpec(method="finetune", finetune=FinetuneOptions(batch_size=8, max_seq_length=32, max_steps=1))
    run_alignment(model, EvalSpec(langs=("en", "es")), align, tmp_path / "run",
                  cache=EmbeddingCache(tmp_path / "c.sqlite"))
    loaded = {m for m, *_ in seen}
    assert loaded == {str(tiny), str(tmp_path / "run" / "model")}  # base (baseline + trainer) and the tuned copy
    assert all(trust and dev == "cpu" and kw in (None, "cpu") for _, trust, dev, _length, kw in seen)
    # Both evaluations encode at the evaluation length; the trainer loads the base at its own length, which the
    # training length then replaces for training only (the tuned model is saved with the base's length).
    assert [length for m, *_, length, _kw in seen if m == str(tiny)] == [64, None]  # the baseline, then the trainer
    assert {length for m, *_, length, _kw in seen if m != str(tiny)} == {64}


@pytest.mark.parametrize(("total", "ratio", "expected"), [
    (1, 0.15, 0), (2, 0.15, 0), (6, 0.15, 0), (7, 0.15, 1), (20, 0.15, 3), (100, 0.15, 15), (300, 0.15, 45),
    (1, 0.99, 0), (2, 0.99, 1), (10, 0.0, 0), (10, 0.5, 5)])
def test_warmup_steps_are_the_floor_of_the_ratio_capped_below_the_total(total, ratio, expected):
    from xlalign.align.finetune import warmup_steps

    assert warmup_steps(total, ratio) == expected  # min(floor(ratio * total), total - 1), by hand


def test_the_warmup_never_leaves_a_run_without_a_step_at_a_positive_rate():
    """Through transformers' own linear schedule (the one the trainer uses): every run of 1–60 steps at every
    ratio has a step at a rate > 0, and the steps at rate 0 are exactly the first one when there is a warm-up."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    from xlalign.align.finetune import warmup_steps

    for total in range(1, 61):
        for ratio in (0.0, 0.05, 0.15, 0.5, 0.99):
            w = warmup_steps(total, ratio)
            optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
            schedule = get_linear_schedule_with_warmup(optimizer, w, total)
            rates = []
            for _ in range(total):
                rates.append(optimizer.param_groups[0]["lr"])
                optimizer.step()
                schedule.step()
            positive = sum(r > 0 for r in rates)
            assert positive >= 1, (total, ratio)
            assert positive == (total - 1 if w >= 1 else total), (total, ratio, rates)


def test_a_one_step_fine_tune_changes_the_weights_and_counts_the_step(tiny, demo, tmp_path):
    """Max steps 1 at the default warm-up ratio: the only step runs at the full rate (no warm-up), changes the
    weights, and is the one step reported."""
    from safetensors.numpy import load_file

    triplets = triplets_from_corpus(demo, "en", "es")[:8]
    opts = FinetuneOptions(batch_size=2, max_steps=1, max_seq_length=16, learning_rate=1e-3)
    seen: list[dict] = []
    res = finetune(ModelSpec(str(tiny), device="cpu"), opts, triplets, tmp_path / "m", prompts=PROMPTS,
                   progress=lambda stage, done, total, **m: seen.append(m))
    w0, w1 = load_file(str(tiny / "model.safetensors")), load_file(str(res.model_dir / "model.safetensors"))
    assert sum(not np.array_equal(w0[k], w1[k]) for k in w0) > len(w0) // 2
    assert (res.steps, res.optimizer_steps, res.warmup_steps) == (1, 1, 0)
    assert [e["learning_rate"] for e in seen if "loss" in e] == [pytest.approx(1e-3)]  # the rate the step ran at
    meta = json.loads((res.model_dir / "xlalign_finetune.json").read_text())
    assert (meta["steps"], meta["optimizer_steps"], meta["warmup_steps"]) == (1, 1, 0)


def _sequence_lengths(folder: Path) -> tuple[object, object, int]:
    """(tokenizer_config's model_max_length, sentence_bert_config's max_seq_length, the length a load uses)."""
    from sentence_transformers import SentenceTransformer

    tok = json.loads((folder / "tokenizer_config.json").read_text()).get("model_max_length")
    sbert = folder / "sentence_bert_config.json"
    st = json.loads(sbert.read_text()).get("max_seq_length") if sbert.exists() else None
    return tok, st, SentenceTransformer(str(folder), device="cpu").max_seq_length


def test_a_fine_tune_that_changes_no_weight_reports_no_significant_change(tiny, tmp_path, monkeypatch):
    """Issue 24 §1: a fine-tune whose training length is 8 tokens and whose step changes no weight (learning rate 0)
    must measure "after" exactly as "before": the same embeddings, so no metric changes (q ≥ 0.05 everywhere, Δ = 0),
    a report of 0 steps that changed the weights, and a tuned model (and its export) with the base's length."""
    from safetensors.numpy import load_file

    import xlalign.align.finetune as ft
    from xlalign.services.lab import run_label
    from xlalign.store.export import export_run

    monkeypatch.setattr(ft, "learning_rate", lambda model, options: 0.0)
    model = ModelSpec(str(tiny), device="cpu")
    align = AlignSpec(method="finetune", finetune=FinetuneOptions(batch_size=2, max_steps=1, max_seq_length=8))
    out = run_alignment(model, EvalSpec(langs=("en", "es")), align, tmp_path / "run",
                        cache=EmbeddingCache(tmp_path / "c.sqlite"))
    tuned = tmp_path / "run" / "model"
    w0, w1 = load_file(str(tiny / "model.safetensors")), load_file(str(tuned / "model.safetensors"))
    assert all(np.array_equal(w0[k], w1[k]) for k in w0)  # the premise: not one weight moved
    table = out.compare
    assert len(table) > 100 and (table["q_value"] >= 0.05).all(), table[table["q_value"] < 0.05].to_string()
    np.testing.assert_array_equal(table["after"].to_numpy(), table["before"].to_numpy())
    done = out.record["finetune"]
    assert (done["steps"], done["optimizer_steps"]) == (0, 1)
    assert "0 steps changed the weights" in run_label(align, out.record)
    base = _sequence_lengths(tiny)
    assert base[2] == 128 and _sequence_lengths(tuned) == base
    exported = export_run(tmp_path / "run", tmp_path / "export")
    assert _sequence_lengths(exported) == base


def test_master_weights_are_the_fp32_weights_as_loaded_not_their_bf16_rounding(tiny):
    """bf16 training over fp32 master weights (CPUs with bf16 units): the masters are the loaded fp32 weights, so a
    run that changes nothing saves the base model bit for bit on every CPU kind."""
    import torch
    from sentence_transformers import SentenceTransformer

    import xlalign.align.finetune as ft

    model = SentenceTransformer(str(tiny), device="cpu")
    before = [p.detach().clone() for p in model.parameters() if p.requires_grad]
    optimizer = ft._master_weights(model, FinetuneOptions(), ModelSpec(str(tiny)))
    assert model[0].auto_model.dtype == torch.bfloat16  # the forward pass runs bf16 weights
    assert any(not torch.equal(p.float(), b) for p, b in zip(model.parameters(), before, strict=True))  # rounded
    masters = [m for _, m in optimizer.pairs]
    assert all(torch.equal(m, b) for m, b in zip(masters, before, strict=True))  # the masters are not
    optimizer.restore_fp32(model)
    assert all(torch.equal(p, b) for p, b in zip(model.parameters(), before, strict=True))
