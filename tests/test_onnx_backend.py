"""Issue 26: the encode backends on both kinds of CPU CI may draw (with and without bf16 units), the ONNX Runtime
backend against the PyTorch path, its graph cache, and the fp32 master weights of bf16 fine-tuning. Behaviour only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import import_or_skip
from tiny_model import build_tiny_model

from xlalign.models import device as D
from xlalign.models import onnx_backend as OB
from xlalign.models.encoders import SentenceTransformerEncoder
from xlalign.specs import ModelSpec

WORDS = ["the", "nile", "is", "long", "der", "nil", "ist", "lang", "cats", "purr", "katzen", "schnurren"]
#: The CPU kinds CI may draw: AVX512-BF16 (this project's machine), AMX, and none (bf16 would be emulated).
CPU_KINDS = {"no bf16 units": frozenset({"avx2", "fma"}), "avx512_bf16": frozenset({"avx2", "avx512f", "avx512_bf16"}),
             "amx": frozenset({"avx512f", "amx_tile", "amx_bf16"})}


@pytest.fixture(scope="module")
def tiny_st(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-onnx"), [" ".join(WORDS[i:] + WORDS[:i]) for i in range(6)])


def _texts(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(1, 50)))) for _ in range(n)]


def _cpu_kind(monkeypatch: pytest.MonkeyPatch, flags: frozenset[str]) -> None:
    """Make this process see a CPU with ``flags`` (how `auto` picks the precision, and so the backend)."""
    monkeypatch.setattr(D, "cpu_flags", lambda cpuinfo="/proc/cpuinfo": flags)


def _reference(model_dir: Path, texts: list[str], prompt: str) -> np.ndarray:
    """fp32 PyTorch, one text at a time (no batch, no padding): sentence-transformers itself."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu")
    return np.asarray(model.encode([prompt + t for t in texts], batch_size=1, normalize_embeddings=True))


@pytest.mark.parametrize("backend", ["torch", "onnx"])
@pytest.mark.parametrize("kind", list(CPU_KINDS))
def test_auto_picks_a_backend_per_cpu_kind_and_every_backend_matches_fp32(tiny_st, monkeypatch, kind, backend):
    """`auto` on a CPU without bf16 units is fp32 — through ONNX Runtime when ``XLALIGN_BACKEND=onnx`` asks for it,
    else PyTorch; with bf16 units it is bf16 weights through PyTorch whatever is asked. Each stays within its
    tolerance of the fp32 reference."""
    import_or_skip("onnxruntime")
    _cpu_kind(monkeypatch, CPU_KINDS[kind])
    monkeypatch.setenv("XLALIGN_BACKEND", backend)
    enc = SentenceTransformerEncoder(ModelSpec(str(tiny_st), device="cpu", precision="auto"), cache=None)
    texts = _texts(30, 1)
    got = enc.encode(texts, lang="en", role="passage")
    ref = _reference(tiny_st, texts, "passage: ")
    if kind == "no bf16 units":
        assert (enc.precision, enc._backend, enc._bf16_mode) == ("fp32", backend, "none")
        np.testing.assert_allclose(got, ref, atol=1e-5)
    else:
        assert (enc.precision, enc._backend, enc._bf16_mode) == ("bf16", "torch", "weights")
        assert float((got * ref).sum(1).min()) > 0.999 and not np.allclose(got, ref, atol=1e-5)


@pytest.mark.parametrize("kind", list(CPU_KINDS))
def test_fp32_is_pytorch_unless_xlalign_backend_onnx_opts_in(tiny_st, monkeypatch, kind):
    import_or_skip("onnxruntime")
    _cpu_kind(monkeypatch, CPU_KINDS[kind])
    monkeypatch.delenv("XLALIGN_BACKEND", raising=False)
    texts = _texts(25, 2)
    ref = _reference(tiny_st, texts, "query: ")
    plain = SentenceTransformerEncoder(ModelSpec(str(tiny_st), device="cpu", precision="fp32"), cache=None)
    np.testing.assert_allclose(plain.encode(texts, lang="de", role="query"), ref, atol=2e-6)
    assert plain._backend == "torch"
    monkeypatch.setenv("XLALIGN_BACKEND", "onnx")
    fast = SentenceTransformerEncoder(ModelSpec(str(tiny_st), device="cpu", precision="fp32"), cache=None)
    np.testing.assert_allclose(fast.encode(texts, lang="de", role="query"), ref, atol=1e-5)
    assert fast._backend == "onnx"


def test_an_unknown_backend_is_a_one_line_error(tiny_st, monkeypatch):
    from xlalign.errors import ConfigError

    monkeypatch.setenv("XLALIGN_BACKEND", "tensorrt")
    enc = SentenceTransformerEncoder(ModelSpec(str(tiny_st), device="cpu", precision="fp32"), cache=None)
    with pytest.raises(ConfigError, match="XLALIGN_BACKEND must be one of torch, onnx, got 'tensorrt'"):
        enc.encode(["the nile"], lang="en", role="query")


def test_the_graph_is_exported_once_per_fingerprint_and_rebuilt_when_incomplete(tiny_st, tmp_path, monkeypatch):
    import_or_skip("onnxruntime")
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(tiny_st), device="cpu")
    exports: list[Path] = []
    real = OB.export_onnx
    monkeypatch.setattr(OB, "export_onnx", lambda m, target: exports.append(target) or real(m, target))
    a = OB.onnx_transformer(model, "fp-1", 1, root=tmp_path)
    b = OB.onnx_transformer(model, "fp-1", 1, root=tmp_path)
    assert len(exports) == 1 and a.session is not b.session  # the second one read the cached graph
    folder = exports[0]
    marker = json.loads((folder / "xlalign-onnx.json").read_text())
    assert marker["max_abs_diff"] <= OB.TOLERANCE and marker["fused"]["Attention"] == 2  # both layers fused
    assert not [p.name for p in folder.parent.iterdir() if ".tmp-" in p.name]  # built aside, renamed whole
    OB.onnx_transformer(model, "fp-2", 1, root=tmp_path)
    assert len(exports) == 2 and exports[1] != folder  # another model (fingerprint): another graph
    (folder / "xlalign-onnx.json").unlink()  # a folder without its marker is not trusted: exported again
    OB.onnx_transformer(model, "fp-1", 1, root=tmp_path)
    assert len(exports) == 3 and (folder / "xlalign-onnx.json").is_file()


def test_a_graph_that_drifts_from_pytorch_is_refused_and_pytorch_serves(tiny_st, monkeypatch, caplog, tmp_path):
    import_or_skip("onnxruntime")
    monkeypatch.setenv("XLALIGN_CACHE_DIR", str(tmp_path))  # no graph of this model cached yet
    monkeypatch.setenv("XLALIGN_BACKEND", "onnx")
    monkeypatch.setattr(OB, "deviation", lambda model, runner: 0.5)
    enc = SentenceTransformerEncoder(ModelSpec(str(tiny_st), device="cpu", precision="fp32"), cache=None)
    texts = _texts(6, 3)
    got = enc.encode(texts, lang="en", role="passage")
    assert enc._backend == "torch" and "ONNX Runtime backend unavailable" in caplog.text
    np.testing.assert_allclose(got, _reference(tiny_st, texts, "passage: "), atol=2e-6)
    assert [p.name for p in (tmp_path / "onnx").iterdir() if not p.name.endswith(".lock")] == []  # nothing kept


def test_layouts_the_backend_cannot_export_stay_on_pytorch(tiny_st):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(tiny_st), device="cpu")
    assert OB.supports_onnx(model)
    assert not OB.supports_onnx([object()])  # not a Transformer first module
    model[0].auto_model.to(torch.bfloat16)
    assert not OB.supports_onnx(model)  # bf16 weights: PyTorch's bf16 path


# ---------------------------------------------------------------------------------------------------------------
# bf16 fine-tuning: fp32 master weights
# ---------------------------------------------------------------------------------------------------------------
def test_master_weights_keep_updates_that_bf16_weights_would_round_away():
    from xlalign.align.mixed import MasterWeightAdamW

    torch.manual_seed(0)
    net = torch.nn.Linear(8, 4).to(torch.bfloat16)
    start = [p.detach().float().clone() for p in net.parameters()]
    opt = MasterWeightAdamW(net, lr=1e-5, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.0)
    plain = torch.optim.AdamW(torch.nn.Linear(8, 4).to(torch.bfloat16).parameters(), lr=1e-5)
    x = torch.randn(16, 8).to(torch.bfloat16)
    for _ in range(3):
        opt.zero_grad()
        net(x).float().square().mean().backward()
        opt.step()
    # AdamW's first steps move every weight by ≈ lr = 1e-5, far below a bf16 weight's last bit (≈ 4e-3 at 1):
    # the fp32 masters moved by ≈ 3e-5 each; the bf16 weights, their rounding, mostly did not.
    masters = [m for _, m in opt.pairs]
    moved = torch.cat([(m - s).abs().flatten() for m, s in zip(masters, start, strict=True)])
    assert float(moved.min()) > 1e-5 and float(moved.max()) < 1e-4
    assert all(p.dtype == torch.bfloat16 for p in net.parameters()) and plain.param_groups  # the model stays bf16
    opt.restore_fp32(net)
    assert all(p.dtype == torch.float32 for p in net.parameters())
    for p, m in zip(net.parameters(), masters, strict=True):
        assert torch.equal(p.detach(), m)  # the saved weights are the exact fp32 masters


def test_master_weights_follow_fp32_adamw_and_decay_only_matrices():
    from xlalign.align.mixed import MasterWeightAdamW

    torch.manual_seed(1)
    ref = torch.nn.Linear(6, 3)
    net = torch.nn.Linear(6, 3)
    net.load_state_dict(ref.state_dict())
    opt_ref = torch.optim.AdamW([{"params": [ref.weight], "weight_decay": 0.1}, {"params": [ref.bias], "weight_decay": 0.0}],
                                lr=1e-2, betas=(0.9, 0.99), eps=1e-8)
    opt = MasterWeightAdamW(net, lr=1e-2, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)  # fp32 net: the same maths
    assert [g["weight_decay"] for g in opt.param_groups] == [0.1, 0.0]
    x = torch.randn(10, 6)
    for o, m in ((opt_ref, ref), (opt, net)):
        for _ in range(4):
            o.zero_grad()
            m(x).square().mean().backward()
            o.step()
    for a, b in zip(ref.parameters(), net.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-7)


def test_checkpointing_is_chosen_by_the_memory_the_largest_step_needs(tmp_path):
    from sentence_transformers import SentenceTransformer

    from xlalign.align.finetune import ACTIVATION_BYTES_PER_TOKEN, needs_checkpointing
    from xlalign.specs import FinetuneOptions

    model_dir = build_tiny_model(tmp_path, ["a b c d e f g"])
    model = SentenceTransformer(str(model_dir), device="cpu")
    trip = [{"q_en": "a b", "p_en": "a b c d", "p_tgt": "e f g"}] * 4
    opts = FinetuneOptions(batch_size=4, max_seq_length=32)
    assert not needs_checkpointing(model, trip, opts, bf16=False, available=1e15)
    assert needs_checkpointing(model, trip, opts, bf16=False, available=1.0)
    assert not needs_checkpointing(model, [], opts, bf16=False, available=1.0)
    # bf16 activations take half the bytes: a budget between the two needs decides
    tokens = 4 * (4 + 6 + 5)  # rows × ([CLS] a b [SEP]) + ([CLS] a b c d [SEP]) + ([CLS] e f g [SEP])
    scale = (sum(p.numel() for p in model.parameters()) - model[0].auto_model.get_input_embeddings().weight.numel()) / 21.3e6
    need = tokens * ACTIVATION_BYTES_PER_TOKEN * scale
    assert needs_checkpointing(model, trip, opts, bf16=False, available=1.5 * need)
    assert not needs_checkpointing(model, trip, opts, bf16=True, available=1.5 * need)


@pytest.mark.parametrize("kind", ["no bf16 units", "avx512_bf16"])
def test_cpu_fine_tune_precision_follows_the_cpu_kind_and_saves_fp32_weights(monkeypatch, tmp_path, kind):
    """With bf16 units the default fine-tune trains bf16 weights over fp32 masters (no autocast) and saves fp32
    weights that moved; without them it is fp32. Either way the saved model loads and encodes."""
    from safetensors.numpy import load_file

    from xlalign.align.finetune import finetune
    from xlalign.specs import FinetuneOptions

    _cpu_kind(monkeypatch, CPU_KINDS[kind])
    model_dir = build_tiny_model(tmp_path / "m", [" ".join(WORDS[i:] + WORDS[:i]) for i in range(6)])
    trip = [{"q_en": " ".join(WORDS[i : i + 3]), "p_en": " ".join(WORDS[i : i + 6]), "p_tgt": " ".join(WORDS[i + 2 :])}
            for i in range(8)]
    res = finetune(ModelSpec(str(model_dir), device="cpu"), FinetuneOptions(batch_size=4, max_seq_length=32,
                                                                            learning_rate=1e-3), trip, tmp_path / "out")
    record = json.loads((res.model_dir / "xlalign_finetune.json").read_text())
    expected = "bf16 weights, fp32 master weights" if kind == "avx512_bf16" else "fp32"
    assert record["precision"] == expected and record["bf16"] is (kind == "avx512_bf16")
    before, after = load_file(str(model_dir / "model.safetensors")), load_file(str(res.model_dir / "model.safetensors"))
    assert all(v.dtype == np.float32 for v in after.values())
    assert sum(not np.array_equal(before[k], after[k]) for k in before) > len(before) // 2
    if kind == "avx512_bf16":  # fp32 masters, not their bf16 rounding: most weights are not bf16-representable
        w = after["encoder.layer.0.intermediate.dense.weight"]
        assert not np.array_equal(w, torch.from_numpy(w).to(torch.bfloat16).float().numpy())


def test_importing_xlalign_makes_openmp_threads_sleep_unless_the_user_chose(tmp_path):
    import os
    import subprocess
    import sys

    code = "import os, xlalign; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "PASSIVE"
    out = subprocess.run([sys.executable, "-c", code], env={**env, "OMP_WAIT_POLICY": "ACTIVE"}, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "ACTIVE"
