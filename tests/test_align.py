"""Alignment: losses, Procrustes, centering, the run pipeline, jobs, comparison statistics."""

from __future__ import annotations

import json
import math
import threading
import time

import numpy as np
import pandas as pd
import pytest
import torch
from fakes import BagOfCharsEncoder, LatentEncoder
from scipy.spatial.distance import jensenshannon
from scipy.stats import ortho_group

from xlalign.align.base import AlignSpec
from xlalign.align.centering import LanguageCentering
from xlalign.align.finetune import (
    REFERENCE_ENCODER_PARAMS,
    estimate_cpu_seconds,
    learning_rate,
    load_triplets,
    padded_batches,
    padded_tokens,
    planned_steps,
)
from xlalign.align.losses import InfoNCELoss, JSDInfoNCELoss, SqrtJSDLoss
from xlalign.align.procrustes import FewPairsWarning, OrthogonalProcrustes, mean_cosine_distance
from xlalign.core.compare import CompareFileError, paired_test, side_by_side
from xlalign.errors import ConfigError, CorpusError
from xlalign.services.pipeline import run_alignment
from xlalign.specs import CenteringOptions, EvalSpec, FinetuneOptions, ModelSpec
from xlalign.store.jobs import JobRunner
from xlalign.store.runs import LOCK_NAME, RunStore, compare_runs, folder_lock, read_status, write_status


# ----------------------------------------------------------------------------- sqrt-JSD
def test_sqrt_jsd_matches_scipy_and_is_symmetric():
    torch.manual_seed(0)
    a, b = torch.randn(5, 16), torch.randn(5, 16)
    loss = SqrtJSDLoss(eps=1e-12)
    ref = np.mean([jensenshannon(torch.softmax(a[i], 0).numpy(), torch.softmax(b[i], 0).numpy()) for i in range(5)])
    assert loss.compute_loss_from_embeddings(a, b).item() == pytest.approx(ref, rel=1e-4)
    assert loss.compute_loss_from_embeddings(a, b).item() == pytest.approx(loss.compute_loss_from_embeddings(b, a).item())


def test_sqrt_jsd_is_sqrt_eps_for_identical_inputs_and_has_finite_gradient():
    z = torch.randn(3, 8, requires_grad=True)
    loss = SqrtJSDLoss(eps=1e-8).compute_loss_from_embeddings(z, z.detach().clone())
    assert loss.item() == pytest.approx(1e-4, rel=1e-3)
    loss.backward()
    assert torch.isfinite(z.grad).all()


def test_sqrt_jsd_bounded_by_sqrt_ln2():
    a = torch.tensor([[50.0, -50.0, -50.0, -50.0]])
    b = torch.tensor([[-50.0, 50.0, -50.0, -50.0]])
    value = SqrtJSDLoss(eps=1e-12).compute_loss_from_embeddings(a, b).item()
    assert value <= math.sqrt(math.log(2)) + 1e-6
    assert value == pytest.approx(math.sqrt(math.log(2)), abs=1e-4)  # disjoint supports: the maximum
    rand = SqrtJSDLoss(eps=1e-12).divergence(torch.randn(100, 32) * 10, torch.randn(100, 32) * 10)
    assert (rand <= math.log(2) + 1e-6).all() and (rand >= 0).all()


@pytest.mark.parametrize(("kw", "msg"), [({"eps": 0.0}, "eps"), ({"temperature": 0.0}, "temperature")])
def test_sqrt_jsd_rejects_bad_parameters(kw, msg):
    with pytest.raises(ValueError, match=msg):
        SqrtJSDLoss(**kw)


def test_sqrt_jsd_rejects_shape_mismatch():
    with pytest.raises(ValueError, match="equal shapes"):
        SqrtJSDLoss().compute_loss_from_embeddings(torch.zeros(2, 3), torch.zeros(2, 4))


# ----------------------------------------------------------------------------- InfoNCE
def test_infonce_equals_hand_computation():
    torch.manual_seed(1)
    anchors, positives = torch.randn(4, 6), torch.randn(4, 6)
    scale = 20.0
    a = anchors.numpy() / np.linalg.norm(anchors.numpy(), axis=1, keepdims=True)
    p = positives.numpy() / np.linalg.norm(positives.numpy(), axis=1, keepdims=True)
    expected = 0.0
    for i in range(4):
        logits = [scale * float(a[i] @ p[j]) for j in range(4)]
        expected += -(logits[i] - math.log(sum(math.exp(x) for x in logits)))
    expected /= 4
    got = InfoNCELoss(scale).compute_loss_from_embeddings(anchors, positives).item()
    assert got == pytest.approx(expected, rel=1e-5)


def test_infonce_rejects_bad_scale_and_shapes():
    with pytest.raises(ValueError, match="scale"):
        InfoNCELoss(0.0)
    with pytest.raises(ValueError, match="differ in shape"):
        InfoNCELoss().compute_loss_from_embeddings(torch.zeros(2, 3), torch.zeros(3, 3))


# ----------------------------------------------------------------------------- combined loss
class _FakeModel(torch.nn.Module):
    """Maps features {"x": tensor} through one linear layer, as a sentence-transformers model would."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(6, 6)

    def forward(self, features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"sentence_embedding": self.lin(features["x"])}


def test_combined_gradient_equals_sum_of_parts():
    torch.manual_seed(2)
    model = _FakeModel()
    feats = [{"x": torch.randn(4, 6)} for _ in range(3)]
    loss = JSDInfoNCELoss(model, variant="jsd+nce")
    parts = loss(feats)
    assert set(parts) == {"jsd", "nce"}
    torch.stack(list(parts.values())).sum().backward()
    combined = model.lin.weight.grad.clone()
    grads = []
    for variant in ("jsd", "nce"):
        model.zero_grad()
        sum(JSDInfoNCELoss(model, variant=variant)(feats).values()).backward()
        grads.append(model.lin.weight.grad.clone())
    torch.testing.assert_close(combined, grads[0] + grads[1])


def test_variants_return_their_parts():
    model = _FakeModel()
    feats = [{"x": torch.randn(4, 6)} for _ in range(3)]
    assert set(JSDInfoNCELoss(model, variant="nce")(feats)) == {"nce"}
    assert set(JSDInfoNCELoss(model, variant="jsd")(feats)) == {"jsd"}
    assert set(JSDInfoNCELoss(model, variant="nce_psg")(feats)) == {"nce_psg"}
    z = [model(f)["sentence_embedding"] for f in feats]
    psg = JSDInfoNCELoss(model, variant="nce_psg")(feats)["nce_psg"]
    assert psg.item() == pytest.approx(InfoNCELoss().compute_loss_from_embeddings(z[2], z[1]).item(), rel=1e-6)


def test_combined_loss_rejects_bad_variant_and_column_count():
    with pytest.raises(ValueError, match="variant"):
        JSDInfoNCELoss(_FakeModel(), variant="kl")
    with pytest.raises(ValueError, match="three text columns"):
        JSDInfoNCELoss(_FakeModel())([{"x": torch.randn(2, 6)}] * 2)


# ----------------------------------------------------------------------------- Procrustes
def test_procrustes_recovers_a_known_rotation():
    rng = np.random.default_rng(0)
    q = ortho_group.rvs(16, random_state=1)
    x = rng.normal(size=(200, 16))
    est = OrthogonalProcrustes(normalize=False).fit(x, x @ q)
    np.testing.assert_allclose(est.W_, q, atol=1e-10)
    np.testing.assert_allclose(est.transform(x[:5]), (x[:5] @ q).astype(np.float32), atol=1e-5)
    assert est.fit_distance_ == pytest.approx(0.0, abs=1e-6)


def test_procrustes_with_centering_recovers_rotation_and_offset():
    rng = np.random.default_rng(3)
    q = ortho_group.rvs(8, random_state=4)
    x = rng.normal(size=(100, 8)) + 5.0
    y = (x - x.mean(0)) @ q + 2.0
    est = OrthogonalProcrustes(center=True, normalize=False).fit(x, y)
    np.testing.assert_allclose(est.transform(x), y, atol=1e-4)


def test_procrustes_with_few_pairs_is_optimal_and_the_identity_outside_their_span():
    from scipy.linalg import orthogonal_procrustes

    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(6, 40)), rng.normal(size=(6, 40))
    with pytest.warns(FewPairsWarning):
        est = OrthogonalProcrustes(center=False, normalize=False).fit(x, y)
    w = est.W_
    np.testing.assert_allclose(w.T @ w, np.eye(40), atol=1e-10)  # orthogonal
    free, _ = orthogonal_procrustes(x, y)  # scipy's unrestricted optimum reaches the same residual
    assert np.linalg.norm(x @ w - y) == pytest.approx(np.linalg.norm(x @ free - y), rel=1e-10)
    span = np.linalg.qr(np.concatenate([x, y]).T)[0]  # (40, 12)
    v = rng.normal(size=40)
    v -= span @ (span.T @ v)  # a direction no pair touches: left as it is
    np.testing.assert_allclose(v @ w, v, atol=1e-10)
    assert np.linalg.norm(v @ free - v) > 0.1  # where the unrestricted SVD solution scrambles it


def test_procrustes_warns_when_pairs_below_dimension():
    rng = np.random.default_rng(0)
    with pytest.warns(FewPairsWarning, match="10 parallel pairs for 32 dimensions"):
        OrthogonalProcrustes().fit(rng.normal(size=(10, 32)), rng.normal(size=(10, 32)))


def test_procrustes_save_load_roundtrip_without_pickle(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 8)), rng.normal(size=(50, 8))
    est = OrthogonalProcrustes(center=True).fit(x, y)
    est.save(tmp_path / "p.safetensors")
    assert b"pickle" not in (tmp_path / "p.safetensors").read_bytes()[:200]
    back = OrthogonalProcrustes.load(tmp_path / "p.safetensors")
    np.testing.assert_allclose(back.transform(x), est.transform(x), atol=1e-5)
    assert back.center and back.n_pairs_ == 50


@pytest.mark.parametrize(("x", "y", "msg"), [
    (np.zeros((5, 3)), np.zeros((5, 4)), "equal shape"),
    (np.zeros((1, 3)), np.zeros((1, 3)), "at least 2"),
    (np.full((5, 3), np.nan), np.zeros((5, 3)), "NaN"),
])
def test_procrustes_rejects_bad_input(x, y, msg):
    with pytest.raises(ValueError, match=msg):
        OrthogonalProcrustes().fit(x, y)


def test_procrustes_transform_before_fit_and_wrong_dim():
    with pytest.raises(RuntimeError, match="not fitted"):
        OrthogonalProcrustes().transform(np.zeros((2, 3)))
    est = OrthogonalProcrustes().fit(np.eye(3), np.eye(3))
    with pytest.raises(ValueError, match=r"expected \(n, 3\)"):
        est.transform(np.zeros((2, 4)))


def test_mean_cosine_distance():
    assert mean_cosine_distance(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[1.0, 0.0], [1.0, 0.0]])) == pytest.approx(0.5)


# ----------------------------------------------------------------------------- centering
def test_centering_removes_a_known_shift():
    rng = np.random.default_rng(0)
    en = rng.normal(size=(50, 8))
    shift = rng.normal(size=8) * 3
    tgt = en + shift  # the same sentences, displaced by a language offset
    est = LanguageCentering(pivot="en", mode="shift").fit({"en": en, "xx": tgt})
    np.testing.assert_allclose(est.offset("xx"), -shift, atol=1e-12)
    np.testing.assert_allclose(est.offset("en"), 0.0)
    aligned = est.transform(tgt, "xx")
    assert mean_cosine_distance(aligned, en) == pytest.approx(0.0, abs=1e-6)
    assert mean_cosine_distance(tgt, en) > 0.1


def test_centering_subtract_mode_zeroes_each_mean():
    rng = np.random.default_rng(1)
    data = {"en": rng.normal(size=(40, 4)) + 2, "xx": rng.normal(size=(40, 4)) - 1}
    est = LanguageCentering(mode="subtract").fit(data)
    for lang, x in data.items():
        np.testing.assert_allclose((x + est.offset(lang)).mean(0), 0.0, atol=1e-12)


def test_centering_save_load(tmp_path):
    est = LanguageCentering().fit({"en": np.eye(3), "xx": np.eye(3) + 1})
    est.save(tmp_path / "c.safetensors")
    back = LanguageCentering.load(tmp_path / "c.safetensors")
    np.testing.assert_allclose(back.offset("xx"), est.offset("xx"), atol=1e-6)


def test_centering_rejects_bad_use():
    with pytest.raises(ValueError, match="mode"):
        LanguageCentering(mode="rotate")
    with pytest.raises(ValueError, match="pivot"):
        LanguageCentering(pivot="en", mode="shift").fit({"xx": np.eye(2)})
    with pytest.raises(ValueError, match="different dimensions"):
        LanguageCentering().fit({"en": np.eye(2), "xx": np.eye(3)})
    with pytest.raises(ValueError, match="non-empty"):
        LanguageCentering().fit({"en": np.zeros((0, 2)), "xx": np.eye(2)})
    with pytest.raises(RuntimeError, match="not fitted"):
        LanguageCentering().transform(np.eye(2), "en")
    with pytest.raises(KeyError, match="no mean"):
        LanguageCentering().fit({"en": np.eye(2)}).transform(np.eye(2), "de")


# ----------------------------------------------------------------------------- pipeline
@pytest.mark.parametrize("method", ["centering", "procrustes", "lsar"])
def test_pipeline_on_demo_writes_a_complete_run(tmp_path, method):
    enc = BagOfCharsEncoder(lang_offset={"en": 2.0, "de": 0.5})
    out = run_alignment(ModelSpec("fake"), EvalSpec(langs=("en", "de")), AlignSpec(method=method), tmp_path,
                        encoder=enc)
    artefact = {"centering": "transform/transform.safetensors", "procrustes": "transform/transform.safetensors",
                "lsar": "lsar.safetensors"}[method]
    for f in ("config.json", "split.json", "run.json", "compare.csv", "before/summary.csv", "before/per_query.csv",
              "before/matrix.csv", "after/summary.csv", "after/per_query.csv", "after/matrix.csv", artefact):
        assert (tmp_path / f).exists(), f
    split = json.loads((tmp_path / "split.json").read_text())
    assert set(split["train_groups"]).isdisjoint(split["test_groups"])
    per_query = pd.read_csv(tmp_path / "before" / "per_query.csv")
    assert set(per_query.query_id) == set(split["test_items"])
    assert set(per_query.query_id).isdisjoint(split["train_items"])
    table = pd.read_csv(tmp_path / "compare.csv")
    assert list(table.columns) == ["scenario", "pool", "query_lang", "doc_lang", "metric", "before", "after", "delta",
                                   "ci_low", "ci_high", "p_value", "q_value", "n_queries", "model",
                                   "model_fingerprint", "precision", "xlalign_version"]  # stamped: how "before" was made
    assert table.model_fingerprint.nunique() == 1 and table.precision.nunique() == 1
    assert set(table.scenario) == {"multi", "multi-1", "mono-same", "mono-cross"}
    np.testing.assert_allclose(table.delta, table.after - table.before, atol=1e-9)
    assert out.record["n_eval_queries"] == len(split["test_items"])


def test_pipeline_logs_its_phase_timings_at_debug(tmp_path, caplog):
    """One DEBUG line per phase, in run order, on the module loggers: encode (evaluation texts), rank,
    metrics and neighbourhoods (before), encode (centering's training texts, inside fit), fit, rank, metrics and
    neighbourhoods (after)."""
    with caplog.at_level("DEBUG", logger="xlalign"):
        run_alignment(ModelSpec("fake"), EvalSpec(langs=("en", "de")), AlignSpec(method="centering"), tmp_path,
                      encoder=BagOfCharsEncoder())
    timings = [(r.name.rsplit(".", 1)[1], r.levelname, r.getMessage().split()[1]) for r in caplog.records
               if r.getMessage().startswith("timing: ")]
    assert timings == [("evaluate", "DEBUG", "encode"), ("evaluate", "DEBUG", "rank"), ("evaluate", "DEBUG", "metrics"),
                       ("neighbourhoods", "DEBUG", "neighbourhoods"),
                       ("evaluate", "DEBUG", "encode"), ("pipeline", "DEBUG", "fit"),
                       ("evaluate", "DEBUG", "rank"), ("evaluate", "DEBUG", "metrics"),
                       ("neighbourhoods", "DEBUG", "neighbourhoods")]
    fit = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("timing: fit "))
    assert "method=centering" in fit
    caplog.clear()
    with caplog.at_level("INFO", logger="xlalign"):
        run_alignment(ModelSpec("fake"), EvalSpec(langs=("en", "de")), AlignSpec(method="centering"),
                      tmp_path / "quiet", encoder=BagOfCharsEncoder())
    assert not [r for r in caplog.records if r.getMessage().startswith("timing: ")]


@pytest.mark.parametrize("mode", ["shift", "subtract"])
def test_centering_removes_a_planted_english_inclination(tmp_path, mode):
    from xlalign.core.loaders import load_demo

    corpus = load_demo(["en", "de"])
    enc = LatentEncoder(corpus, {"en": 1.0, "de": 0.5}, query_pull=0.8)
    align = AlignSpec(method="centering", centering=CenteringOptions(mode=mode))
    out = run_alignment(ModelSpec("latent"), EvalSpec(langs=("en", "de")), align, tmp_path, encoder=enc, corpus=corpus)
    t = out.compare.set_index(["scenario", "query_lang", "metric"])
    assert t.loc[("multi", "de", "pivot_over_gold"), "before"] == 100.0
    assert t.loc[("multi", "de", "pivot_over_gold"), "after"] == 0.0
    assert t.loc[("multi", "de", "displaced_by_pivot@10"), "before"] > 50
    assert t.loc[("multi", "de", "complete@10"), "after"] > t.loc[("multi", "de", "complete@10"), "before"] + 50
    assert t.loc[("multi", "de", "complete@10"), "p_value"] < 0.01
    assert out.record["centering"]["queries"] == "own"


def test_uploaded_triplets_that_leak_are_rejected(tmp_path):
    from xlalign.core.loaders import load_demo

    demo = load_demo(["en", "de"])
    rows = [{"q_en": demo.questions["en"][0], "p_en": demo.passages["en"][0], "p_tgt": demo.passages["de"][0]}]
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    align = AlignSpec(method="centering", train_data=str(path))
    with pytest.raises(CorpusError, match="shares 1 de passage"):
        run_alignment(ModelSpec("fake"), EvalSpec(langs=("en", "de")), align, tmp_path / "run", encoder=BagOfCharsEncoder())


def test_triplet_file_errors_name_the_line(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("q_en,p_en,p_tgt\nq,p,t\nq2,,t2\n")
    with pytest.raises(CorpusError, match=r"t.csv:3: missing or empty p_en"):
        load_triplets(path)


@pytest.mark.parametrize(("kw", "msg"), [
    ({"method": "rotate"}, "method must be one of"),
    ({"test_fraction": 0.0}, "test fraction"),
    ({"test_fraction": True}, "test fraction"),
    ({"train_data": " "}, "train data"),
    ({"fit_langs": ("en",)}, "at least 2"),
    ({"centering": {"mode": "x"}}, "options must be"),
])
def test_align_spec_rejects(kw, msg):
    with pytest.raises(ConfigError, match=msg):
        AlignSpec(**kw)


@pytest.mark.parametrize(("cls", "kw", "msg"), [
    (CenteringOptions, {"mode": "x"}, "centering mode"),
    (CenteringOptions, {"queries": "x"}, "centering queries"),
])
def test_method_options_reject(cls, kw, msg):
    with pytest.raises(ConfigError, match=msg):
        cls(**kw)


@pytest.mark.parametrize(("kw", "msg"), [
    ({"variant": "x"}, "variant"), ({"epochs": 0}, "epochs"), ({"learning_rate": 2.0}, "learning rate"),
    ({"warmup_ratio": 1.0}, "warm-up"), ({"weight_decay": -1}, "weight decay"), ({"adam_beta2": 1.0}, "betas"),
    ({"scale": 0}, "scale"), ({"max_seq_length": 4}, "max sequence length"), ({"max_steps": 0}, "max steps"),
    ({"batch_size": 1}, "batch size"), ({"jsd_weight": -0.1}, "JSD weight"),
])
def test_finetune_options_reject(kw, msg):
    with pytest.raises(ConfigError, match=msg):
        FinetuneOptions(**kw)


def test_finetune_learning_rate_defaults_follow_the_paper():
    default = FinetuneOptions()
    assert learning_rate(ModelSpec("bundled:multilingual-e5-small"), default) == 2e-5
    assert learning_rate(ModelSpec("BAAI/bge-m3"), default) == 4e-6
    assert learning_rate(ModelSpec("Alibaba-NLP/gte-multilingual-base"), default) == 1e-5
    assert learning_rate(ModelSpec("jinaai/jina-embeddings-v3"), default) == 3e-5
    assert learning_rate(ModelSpec("x/unknown"), FinetuneOptions(learning_rate=1e-4)) == 1e-4


def test_padded_tokens_are_counted_per_batch_and_column():
    triplets = [{"q_en": "q" * 10, "p_en": "p" * 100, "p_tgt": "t" * 50}, {"q_en": "q" * 20, "p_en": "p" * 40, "p_tgt": "t" * 60}]
    count = len  # one token per character, for a hand check
    cfg = FinetuneOptions(batch_size=2, max_seq_length=80, epochs=3, max_steps=3)
    # each step: 2 × (max q 20 + max p_en min(100, 80) + max p_tgt 60) = 320 tokens; 3 steps
    assert padded_tokens(triplets, cfg, count) == 3 * 320
    same = [triplets[0], dict(triplets[0])]  # equal lengths: nothing is padded
    assert padded_tokens(same, FinetuneOptions(batch_size=2, max_seq_length=80), count) == 2 * (10 + 80 + 50)
    assert estimate_cpu_seconds(triplets, cfg, count, encoder_params=2 * REFERENCE_ENCODER_PARAMS) == \
        pytest.approx(2 * estimate_cpu_seconds(triplets, cfg, count))  # scales with the encoder's size
    assert padded_batches(triplets, cfg, count) == [(2, 20), (2, 80), (2, 60)] * 3


def test_cpu_estimate_is_the_cost_model_by_hand(monkeypatch):
    import xlalign.align.finetune as ft

    monkeypatch.setattr(ft, "CPU_SECONDS_PER_TOKEN", 1e-3)
    monkeypatch.setattr(ft, "CPU_SECONDS_PER_TOKEN_SQUARED", 1e-6)
    triplets = [{"q_en": "q" * 10, "p_en": "p" * 100, "p_tgt": "t" * 50}, {"q_en": "q" * 20, "p_en": "p" * 40, "p_tgt": "t" * 60}]
    cfg = FinetuneOptions(batch_size=2, max_seq_length=80, max_steps=1)
    # one step, columns (n=2, L=20), (2, 80), (2, 60): Σ n·L·(a + b·n·L)
    by_hand = sum(2 * n * (1e-3 + 1e-6 * 2 * n) for n in (20, 80, 60))
    assert estimate_cpu_seconds(triplets, cfg, len) == pytest.approx(by_hand)
    assert planned_steps(100, FinetuneOptions(batch_size=32)) == 4
    # max steps caps the epochs' steps and never adds any: 11 steps an epoch, capped at 30 → 11
    assert planned_steps(352, FinetuneOptions(batch_size=32, max_steps=30)) == 11
    assert planned_steps(352, FinetuneOptions(batch_size=32, max_steps=5)) == 5
    assert planned_steps(100, FinetuneOptions(batch_size=32, epochs=2.5)) == 10


# ----------------------------------------------------------------------------- comparison statistics
def test_paired_test_identical_sides():
    x = np.arange(20, dtype=float)
    r = paired_test(x, x)
    assert r["delta"] == 0 and r["p_value"] == 1.0 and r["ci_low"] == r["ci_high"] == 0


def test_paired_test_detects_a_consistent_gain():
    rng = np.random.default_rng(0)
    b = rng.normal(size=200)
    r = paired_test(b, b + 0.5 + rng.normal(scale=0.1, size=200))
    assert r["delta"] == pytest.approx(0.5, abs=0.05)
    assert r["ci_low"] < r["delta"] < r["ci_high"] and r["ci_low"] > 0.4
    assert r["p_value"] < 0.001


def test_paired_test_no_effect_is_not_significant():
    rng = np.random.default_rng(1)
    b = rng.normal(size=300)
    r = paired_test(b, b + rng.normal(scale=1.0, size=300) * rng.choice([-1, 1], 300))
    assert r["p_value"] > 0.05 and r["ci_low"] < 0 < r["ci_high"]


@pytest.mark.parametrize(("before", "after", "kw", "msg"), [
    (np.zeros(3), np.zeros(4), {}, "expected two non-empty \\(Q,\\) arrays of equal shape"),
    (np.zeros(0), np.zeros(0), {}, "expected two non-empty"),
    (np.zeros(3), np.zeros(3), {"n_boot": 0}, "n_boot and n_perm must be ≥ 1"),
    (np.zeros(3), np.zeros(3), {"n_perm": 0}, "n_boot and n_perm must be ≥ 1"),
    (np.zeros(3), np.array([0.0, np.nan, 1.0]), {}, "before/after values must be finite"),
])
def test_paired_test_rejects_mismatch(before, after, kw, msg):
    with pytest.raises(ValueError, match=msg):
        paired_test(before, after, **kw)


def test_compare_several_runs_side_by_side(tmp_path):
    enc = BagOfCharsEncoder(lang_offset={"en": 2.0})
    dirs = []
    for method in ("centering", "procrustes"):
        d = tmp_path / method
        run_alignment(ModelSpec("fake"), EvalSpec(langs=("en", "de")), AlignSpec(method=method), d, encoder=enc)
        dirs.append(d)
    stacked = compare_runs(dirs).stacked
    assert set(stacked.run) == {"centering", "procrustes"}
    wide = side_by_side(stacked)
    assert list(wide.columns) == ["baseline", *[f"{m}{c}" for m in ("centering", "procrustes")
                                                for c in ("", " delta", " lo", " hi", " q")]]
    assert all(pd.api.types.is_float_dtype(wide[c]) for c in wide.columns)  # numbers, not '+65.48 [+54.76, …]'
    row = stacked[(stacked.run == "centering") & (stacked.scenario == "multi") & (stacked.query_lang == "de")
                  & (stacked.metric == "complete@10")].iloc[0]
    cells = wide.loc[("multi", "dedup", "de", "en+de", "complete@10"), ["centering delta", "centering lo", "centering hi"]]
    np.testing.assert_allclose(cells.to_numpy(dtype=float), np.round([row.delta, row.ci_low, row.ci_high], 4))
    with pytest.raises(CompareFileError, match=r"nothing: no compare\.csv"):
        compare_runs([tmp_path / "nothing"])


# ----------------------------------------------------------------------------- jobs and runs
def test_job_lifecycle_success_failure_and_queue_order(tmp_path):
    runner = JobRunner()
    order: list[str] = []

    def ok(ctx):
        order.append(ctx.run_dir.name)
        ctx.progress("half", 0.5)
        return {"result": 1}

    def bad(ctx):
        raise RuntimeError("boom")

    store = RunStore(tmp_path)
    a, b, c = store.new_run_dir("a"), store.new_run_dir("b"), store.new_run_dir("c")
    runner.submit(a, ok)
    runner.submit(b, bad)
    runner.submit(c, ok)
    assert runner.wait(30)
    assert read_status(a)["state"] == "succeeded" and read_status(a)["result"] == 1
    assert read_status(a)["progress"] == 1.0 and read_status(a)["pid"] > 0
    assert read_status(b)["state"] == "failed" and "boom" in read_status(b)["message"]
    assert read_status(c)["state"] == "succeeded"
    assert order == [a.name, c.name]


def test_cancel_queued_and_running_jobs(tmp_path):
    runner = JobRunner()
    started = threading.Event()

    def slow(ctx):
        started.set()
        for i in range(200):
            ctx.progress("slow", i, 200)  # a job's progress report raises once a cancel was asked for
            time.sleep(0.01)
        return {}

    store = RunStore(tmp_path)
    first, second = store.new_run_dir("first"), store.new_run_dir("second")
    runner.submit(first, slow)
    runner.submit(second, slow)
    assert started.wait(10)
    assert runner.cancel(second.name)  # still queued: cancelled at once
    assert read_status(second)["state"] == "cancelled"
    assert runner.cancel(first.name)
    assert runner.wait(30)
    assert read_status(first)["state"] == "cancelled"
    assert not runner.cancel(first.name) and not runner.cancel("unknown")


def test_restart_marks_dead_runs_interrupted_but_not_live_ones(tmp_path):
    store = RunStore(tmp_path)
    dead, live, done = store.new_run_dir("dead"), store.new_run_dir("live"), store.new_run_dir("done")
    for d, state in ((dead, "running"), (live, "running"), (done, "succeeded")):
        write_status(d, {"state": state, "message": "training 3/60"})
    (dead / ".xlalign-train-abc").mkdir()
    (dead / "model.partial").mkdir()
    held = folder_lock(live / LOCK_NAME)
    held.acquire()  # another live process owns this run
    try:
        again = RunStore(tmp_path)
        assert again.recover() == [dead.name]
    finally:
        held.release()
    status = read_status(dead)
    assert status["state"] == "interrupted" and "training 3/60" in status["message"]
    assert sorted(status["cleaned"]) == [".xlalign-train-abc", "model.partial"] and not (dead / "model.partial").exists()
    assert read_status(live)["state"] == "running" and read_status(done)["state"] == "succeeded"
    assert {r["run"] for r in again.list()} == {dead.name, live.name, done.name}


def test_write_status_replaces_the_file_instead_of_merging(tmp_path):
    write_status(tmp_path, {"state": "failed", "error": "boom"})
    write_status(tmp_path, {"state": "succeeded"})
    assert read_status(tmp_path) == {"state": "succeeded"}


def test_status_rejects_unknown_state(tmp_path):
    with pytest.raises(ValueError, match="invalid run state"):
        write_status(tmp_path, {"state": "paused"})


def test_loading_an_artefact_of_the_wrong_kind_is_refused(tmp_path):
    OrthogonalProcrustes().fit(np.eye(3), np.eye(3)).save(tmp_path / "p.safetensors")
    with pytest.raises(ValueError, match="not a saved LanguageCentering"):
        LanguageCentering.load(tmp_path / "p.safetensors")
    LanguageCentering().fit({"en": np.eye(2), "xx": np.eye(2)}).save(tmp_path / "c.safetensors")
    with pytest.raises(ValueError, match="not a saved OrthogonalProcrustes"):
        OrthogonalProcrustes.load(tmp_path / "c.safetensors")


def test_one_changed_query_is_never_significant():
    """The sign-flip null of a single changed query is ±delta, half and half, so the two-sided p is ≈ 1; resampled
    sums taken in another order must not break that tie (a regression: scipy's relative tolerance gave 0.001)."""
    rng = np.random.default_rng(3)
    before = rng.uniform(0, 100, size=84)
    after = before.copy()
    after[7] += 36.907
    r = paired_test(before, after)
    assert r["delta"] == pytest.approx(36.907 / 84) and r["p_value"] > 0.9


def test_job_progress_shows_step_loss_and_time_left(tmp_path):
    from xlalign.store.jobs import JobContext

    ctx = JobContext(tmp_path, {"state": "running"})
    ctx.progress("training", 3, 60, loss=2.1934, eta_s=250.0, overall=0.4)
    status = read_status(tmp_path)
    assert status["message"] == "training 3/60 · loss 2.193 · about 4 min left" and status["progress"] == 0.4
