"""ONNX Runtime as a backend for a sentence-transformers model's Transformer module (CPU, fp32).

:func:`onnx_transformer` exports the model's Hugging Face transformer once per model fingerprint with
``torch.onnx`` (eager attention, so that ONNX Runtime's transformer optimiser recognises it), fuses it with
that optimiser (attention, skip-LayerNorm, bias-GELU) and keeps the result in the xlalign cache
(``<cache>/onnx/<hash of the fingerprint>/model.onnx``, built in a temporary sibling and renamed into place
whole: :func:`xlalign.atomic.atomic_folder`). :class:`OrtTransformer` runs it in an ``InferenceSession``;
:func:`ort_encode` swaps it for the Transformer inside one ``SentenceTransformer.encode`` call, so the
tokeniser, the pooling, any dense layer and the normalisation stay sentence-transformers' own.

Used only where it is measured faster than PyTorch (benchmarks/RESULTS.md, "Encoding") and where
``onnxruntime`` is installed; its token embeddings equal PyTorch's fp32 ones to ~1e-6 (tests/test_onnx_backend.py).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from xlalign.atomic import atomic_folder, clean_temp_siblings

log = logging.getLogger(__name__)

#: Bump when the exported graph changes (export options, optimiser settings): cached graphs then rebuild.
EXPORT_VERSION = "1"
_MODEL_FILE = "model.onnx"
_MARKER = "xlalign-onnx.json"
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def ort_available() -> bool:
    """True when ``onnxruntime`` and ``onnx`` can be imported (the backend is optional)."""
    return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "onnx"))


def onnx_cache_dir(fingerprint: str, root: Path | None = None) -> Path:
    """Where the graph of the model with this fingerprint is kept."""
    from xlalign.models.cache import default_cache_dir

    base = root if root is not None else default_cache_dir() / "onnx"
    return base / hashlib.sha256(f"{EXPORT_VERSION}|{fingerprint}".encode()).hexdigest()[:24]


def _hf_model(st_model: Any) -> Any:
    from sentence_transformers.base.modules import Transformer

    first = st_model[0]
    if not isinstance(first, Transformer):
        raise TypeError(f"the ONNX backend needs a Transformer first module, got {type(first).__name__}")
    return first.auto_model


def supports_onnx(st_model: Any) -> bool:
    """Whether the model's layout is one this backend exports: an encoder-only BERT-family Transformer
    (text input ids and an attention mask in, token embeddings out), fp32 weights."""
    try:
        hf = _hf_model(st_model)
    except (TypeError, IndexError, AttributeError, ImportError):
        return False
    import torch

    model_type = str(getattr(hf.config, "model_type", ""))
    fp32 = all(p.dtype == torch.float32 for p in hf.parameters())
    return fp32 and model_type in ("bert", "xlm-roberta", "roberta") and not getattr(hf.config, "is_decoder", False)


def _model_inputs(hf: Any) -> list[str]:
    import inspect

    params = inspect.signature(hf.forward).parameters
    return [n for n in _INPUTS if n in params and (n != "token_type_ids" or bool(getattr(hf.config, "type_vocab_size", 0)))]


def export_onnx(st_model: Any, target: Path) -> None:
    """Export and optimise the model's transformer to ``target/model.onnx`` (``target`` is built whole)."""
    import torch
    from onnxruntime.transformers import optimizer

    hf = _hf_model(st_model)
    names = _model_inputs(hf)

    class Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.hf = hf

        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            return self.hf(**dict(zip(names, args, strict=True)), return_dict=True).last_hidden_state  # type: ignore[no-any-return]

    dummy = tuple(torch.ones(2, 8, dtype=torch.long) if n != "token_type_ids" else torch.zeros(2, 8, dtype=torch.long)
                  for n in names)
    axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "token_embeddings"]}
    previous = getattr(hf.config, "_attn_implementation", None)
    hf.config._attn_implementation = "eager"  # the pattern ONNX Runtime's optimiser fuses into Attention
    try:
        with atomic_folder(target, replace=True) as tmp:
            raw = tmp / "raw.onnx"
            with torch.no_grad():
                torch.onnx.export(Wrapped().eval(), dummy, str(raw), dynamo=False, input_names=names,
                                  output_names=["token_embeddings"], dynamic_axes=axes, opset_version=17)
            cfg = hf.config
            opt = optimizer.optimize_model(str(raw), model_type="bert", num_heads=cfg.num_attention_heads,
                                           hidden_size=cfg.hidden_size, opt_level=0)
            opt.save_model_to_file(str(tmp / _MODEL_FILE))
            raw.unlink()
            marker = {"version": EXPORT_VERSION, "inputs": names, "fused": opt.get_fused_operator_statistics()}
            (tmp / _MARKER).write_text(json.dumps(marker), encoding="utf-8")
            hf.config._attn_implementation = previous
            marker["max_abs_diff"] = deviation(st_model, OrtTransformer(tmp, 1))
            if not marker["max_abs_diff"] <= TOLERANCE:  # NaN fails too
                raise RuntimeError(f"the exported graph's token embeddings differ from PyTorch's by "
                                   f"{marker['max_abs_diff']:.2e} (> {TOLERANCE:g})")
            (tmp / _MARKER).write_text(json.dumps(marker), encoding="utf-8")
    finally:
        hf.config._attn_implementation = previous


#: Largest |difference| allowed between the graph's token embeddings and PyTorch's fp32 ones (checked at export).
TOLERANCE = 1e-4
PROBE_TEXTS = ("query: how long is the Nile?",
               "passage: " + "Der Nil ist mit etwa 6.650 km der längste Fluss Afrikas. 尼罗河是非洲最长的河流。 " * 6, "x")


def deviation(st_model: Any, runner: OrtTransformer) -> float:
    """Max |ONNX Runtime − PyTorch| over the real (unpadded) token embeddings of :data:`PROBE_TEXTS`, one padded
    batch: the check that the export and the optimiser's fusions kept the model's arithmetic."""
    import torch

    with torch.inference_mode():
        features = st_model.preprocess(list(PROBE_TEXTS))
        ref = st_model[0](dict(features))["token_embeddings"].float()
        got = torch.from_numpy(runner({k: v.numpy() for k, v in features.items() if k in _INPUTS}))
    mask = features["attention_mask"].bool()
    return float((got - ref)[mask].abs().max())


_EXPORT_LOCK = threading.Lock()


def onnx_transformer(st_model: Any, fingerprint: str, threads: int, root: Path | None = None) -> OrtTransformer:
    """The model's transformer as an :class:`OrtTransformer`, exported on first use for this fingerprint
    (under a file lock, so concurrent processes export once) and read from the cache after."""
    from filelock import FileLock

    target = onnx_cache_dir(fingerprint, root)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _EXPORT_LOCK, FileLock(str(target.parent / f".{target.name}.lock")):
        if not _complete(target):
            clean_temp_siblings(target)
            log.info("exporting %s to ONNX (once per model): %s", fingerprint, target)
            export_onnx(st_model, target)
    return OrtTransformer(target, threads)


def _complete(target: Path) -> bool:
    try:
        marker = json.loads((target / _MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(marker, dict) and marker.get("version") == EXPORT_VERSION and (target / _MODEL_FILE).is_file()


class OrtTransformer:
    """An ``InferenceSession`` over an exported transformer: token ids in, fp32 token embeddings out."""

    def __init__(self, folder: Path, threads: int) -> None:
        import onnxruntime as ort

        marker = json.loads((folder / _MARKER).read_text(encoding="utf-8"))
        self.inputs: list[str] = list(marker["inputs"])
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if os.environ.get("OMP_WAIT_POLICY", "").strip().upper() == "PASSIVE":  # as PyTorch's threads (device.py)
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(folder / _MODEL_FILE), options, providers=["CPUExecutionProvider"])

    def __call__(self, features: dict[str, Any]) -> np.ndarray:
        feed = {}
        for name in self.inputs:
            value = features.get(name)
            if value is None and name == "token_type_ids":
                value = np.zeros_like(np.asarray(features["input_ids"]))
            feed[name] = np.ascontiguousarray(np.asarray(value), dtype=np.int64)
        out: np.ndarray = self.session.run(None, feed)[0]
        return out


def ort_encode(st_model: Any, runner: OrtTransformer, texts: list[str], prompt: str = "") -> np.ndarray:
    """One batch: sentence-transformers' preprocessing (tokeniser, padding to the longest text), the token
    embeddings from ONNX Runtime, sentence-transformers' later modules, L2-normalised float32 rows."""
    import torch

    with torch.inference_mode():
        features = st_model.preprocess(texts, prompt=prompt or None)
        emb = ort_forward(st_model, runner, features)["sentence_embedding"].float()
        out: np.ndarray = torch.nn.functional.normalize(emb, dim=-1).numpy()
    return out


def ort_forward(st_model: Any, runner: OrtTransformer, features: dict[str, Any]) -> Any:
    """The SentenceTransformer's forward with ``runner`` in place of its first module: the token embeddings
    from ONNX Runtime, then every later module (pooling, dense, normalisation) as sentence-transformers runs
    them."""
    import torch

    ids = features["input_ids"]
    arrays = {k: v.cpu().numpy() if torch.is_tensor(v) else v for k, v in features.items() if k in _INPUTS}
    token_embeddings = torch.from_numpy(runner(arrays)).to(ids.device)
    out = dict(features)
    out["token_embeddings"] = token_embeddings
    for module in list(st_model)[1:]:
        out = module(out)
    return out


__all__ = ["OrtTransformer", "export_onnx", "onnx_cache_dir", "onnx_transformer", "ort_available", "ort_encode",
           "ort_forward", "supports_onnx"]
