"""Hardware choices: precision resolution, bf16 autocast, the ZeroGPU decorator, and model-spec propagation."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch

from xlalign.models import device as D


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor: 0\nflags\t\t: fpu avx2 amx_bf16 amx_tile\nmodel name\t: Test CPU\n")
    D.cpu_flags.cache_clear()
    flags = D.cpu_flags(str(info))
    assert {"avx2", "amx_bf16"} <= flags and D.cpu_has_bf16_units(flags)
    assert D.cpu_model(str(info)) == "Test CPU"
    assert D.cpu_flags(str(tmp_path / "missing")) == frozenset()


@pytest.mark.parametrize(("flags", "expected"), [
    (frozenset({"avx2"}), "fp32"), (frozenset({"avx512_bf16"}), "bf16"), (frozenset({"amx_bf16"}), "bf16"),
])
def test_auto_precision_on_cpu_follows_the_bf16_units(flags, expected):
    assert D.resolve_precision("auto", "cpu", flags=flags) == expected


def test_explicit_precision_wins_and_bad_values_are_refused():
    assert D.resolve_precision("bf16", "cpu", flags=frozenset()) == "bf16"
    assert D.resolve_precision("fp32", "cpu", flags=frozenset({"amx_bf16"})) == "fp32"
    assert D.resolve_precision("auto", "mps") == "fp32"
    with pytest.raises(ValueError, match="precision must be"):
        D.resolve_precision("fp16", "cpu")


def test_bf16_autocast_changes_the_matmul_dtype_and_fp32_does_not():
    a = torch.randn(4, 8)
    with D.autocast("cpu", "bf16"):
        assert (a @ a.T).dtype == torch.bfloat16
    with D.autocast("cpu", "fp32"):
        assert (a @ a.T).dtype == torch.float32


def test_gpu_task_is_a_no_op_off_zerogpu(monkeypatch):
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)

    def f(x):
        return x + 1

    assert D.gpu_task(60)(f) is f


def test_gpu_task_wraps_with_spaces_on_zerogpu(monkeypatch):
    seen = {}

    def gpu(duration):
        def wrap(fn):
            seen["duration"], seen["fn"] = duration, fn
            return lambda *a, **k: ("on gpu", fn(*a, **k))
        return wrap

    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.setitem(sys.modules, "spaces", types.SimpleNamespace(GPU=gpu))
    wrapped = D.gpu_task(lambda x: 7)(lambda x: x * 2)
    assert wrapped(3) == ("on gpu", 6) and seen["duration"](3) == 7


def test_encoder_fingerprint_keys_on_precision(tmp_path):
    from tiny_model import build_tiny_model

    from xlalign.models.cache import EmbeddingCache
    from xlalign.models.encoders import SentenceTransformerEncoder
    from xlalign.specs import ModelSpec

    model = build_tiny_model(tmp_path, ["a b c", "d e f"])
    cache = EmbeddingCache(tmp_path / "c.sqlite")
    fp32 = SentenceTransformerEncoder(ModelSpec(str(model), device="cpu", precision="fp32"), cache=cache)
    bf16 = SentenceTransformerEncoder(ModelSpec(str(model), device="cpu", precision="bf16"), cache=cache)
    assert fp32.fingerprint != bf16.fingerprint and "precision=bf16" in bf16.fingerprint
    a = fp32.encode(["a b c"], lang="en", role="query")
    b = bf16.encode(["a b c"], lang="en", role="query")
    assert bf16.n_texts_encoded == 1  # not served from the fp32 entry
    assert float((a * b).sum()) > 0.99 and not np.array_equal(a, b)
