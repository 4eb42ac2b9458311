"""JSD + InfoNCE fine-tuning (Hong et al., ICLR 2026) with ``SentenceTransformerTrainer``.

Triplets ``(q_en, p_en, p_tgt)``; defaults from the paper's Appendix C: 1 epoch, batch 32, linear
schedule with warm-up ratio 0.15, AdamW β = (0.9, 0.99), weight decay 0.01, bf16 on GPU, seed 42,
and the learning rate of the model family (2e-5 multilingual-e5, 1e-5 gte-multilingual-base,
4e-6 bge-m3, 3e-5 jina-embeddings-v3).

The trained model is written to ``<output>.partial`` and renamed to ``<output>`` only when complete;
a cancelled or failed run leaves no model directory.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from xlalign.align.losses import VARIANTS, JSDInfoNCELoss
from xlalign.corpus import ParallelCorpus
from xlalign.errors import ConfigError, CorpusError
from xlalign.loaders import read_long_rows

TRIPLET_COLUMNS = ("q_en", "p_en", "p_tgt")
#: Measured on this project's 2-core CPU machine: one training step (forward + backward of the three
#: columns) costs 1.9 ms per padded token for multilingual-e5-small, whose encoder without the word
#: embeddings has 21.3 M parameters (7.9–9.1 s per step at batch 16 on the demo corpus). Larger
#: encoders scale with their parameter count. Used for the up-front estimate; the live ETA replaces it.
CPU_SECONDS_PER_TOKEN = 1.9e-3
REFERENCE_ENCODER_PARAMS = 21.3e6


class Cancelled(Exception):
    """The run was cancelled; nothing was saved."""


@dataclass(frozen=True)
class FinetuneConfig:
    """Training settings; ``learning_rate=None`` takes the model family's rate from the registry."""

    model_id: str
    variant: str = "jsd+nce"
    epochs: float = 1.0
    batch_size: int = 32
    learning_rate: float | None = None
    warmup_ratio: float = 0.15
    weight_decay: float = 0.01
    adam_beta1: float = 0.9
    adam_beta2: float = 0.99
    scale: float = 20.0
    max_seq_length: int | None = 256
    freeze_word_embeddings: bool = False
    seed: int = 42
    max_steps: int = -1
    bf16: bool | None = None
    trust_remote_code: bool = False
    device: str | None = None

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ConfigError(f"variant must be one of {', '.join(VARIANTS)}, got {self.variant!r}")
        if not self.epochs > 0:
            raise ConfigError(f"epochs must be > 0, got {self.epochs}")
        if self.batch_size < 2:
            raise ConfigError(f"batch_size must be ≥ 2 (in-batch negatives), got {self.batch_size}")
        if self.learning_rate is not None and not 0 < self.learning_rate < 1:
            raise ConfigError(f"learning_rate must be in (0, 1), got {self.learning_rate}")
        if not 0 <= self.warmup_ratio < 1:
            raise ConfigError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be ≥ 0, got {self.weight_decay}")
        if not (0 <= self.adam_beta1 < 1 and 0 <= self.adam_beta2 < 1):
            raise ConfigError("Adam betas must be in [0, 1)")
        if self.scale <= 0:
            raise ConfigError(f"scale must be > 0, got {self.scale}")
        if self.max_seq_length is not None and self.max_seq_length < 8:
            raise ConfigError(f"max_seq_length must be ≥ 8, got {self.max_seq_length}")
        if self.max_steps == 0 or self.max_steps < -1:
            raise ConfigError(f"max_steps must be -1 (use epochs) or ≥ 1, got {self.max_steps}")

    def resolved_learning_rate(self) -> float:
        from xlalign.encoders import model_info

        if self.learning_rate is not None:
            return self.learning_rate
        info = model_info(self.model_id)
        return info.learning_rate if info is not None else 2e-5

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "learning_rate": self.resolved_learning_rate()}


# --------------------------------------------------------------------------------------------
# Triplets
# --------------------------------------------------------------------------------------------
def triplets_from_corpus(corpus: ParallelCorpus, pivot: str, target: str) -> list[dict[str, str]]:
    """One triplet per item: its pivot-language question, pivot passage and target passage."""
    corpus.require_langs([pivot, target])
    return [{"q_en": corpus.questions[pivot][i], "p_en": corpus.passages[pivot][i], "p_tgt": corpus.passages[target][i]}
            for i in range(len(corpus))]


def load_triplets(path: str | Path) -> list[dict[str, str]]:
    """An uploaded JSONL/CSV of triplets with columns ``q_en, p_en, p_tgt`` (errors name the line)."""
    rows = read_long_rows(path)
    if not rows:
        raise CorpusError(f"{path}: no triplets")
    out = []
    for n, row in rows:
        missing = [c for c in TRIPLET_COLUMNS if not str(row.get(c) or "").strip()]
        if missing:
            raise CorpusError(f"{path}:{n}: missing or empty {', '.join(missing)} (need columns q_en, p_en, p_tgt)")
        out.append({c: str(row[c]) for c in TRIPLET_COLUMNS})
    return out


def write_triplets(path: str | Path, triplets: Sequence[dict[str, str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(TRIPLET_COLUMNS))
        w.writeheader()
        w.writerows(triplets)


def planned_steps(n_triplets: int, config: FinetuneConfig) -> int:
    """Optimizer steps the trainer will take (``max_steps`` wins over epochs)."""
    if config.max_steps > 0:
        return config.max_steps
    return max(1, math.ceil(n_triplets / config.batch_size) * math.ceil(config.epochs))


def estimate_cpu_seconds(triplets: Sequence[dict[str, str]], config: FinetuneConfig,
                         count_tokens: Callable[[str], int] | None = None,
                         encoder_params: float = REFERENCE_ENCODER_PARAMS) -> float:
    """CPU time for the run: padded tokens per step × measured cost per token, scaled by model size.

    Batches are padded to their longest text per column and cut at ``max_seq_length``.
    ``count_tokens`` defaults to a conservative characters/3 when no tokenizer is at hand.
    """
    if not triplets:
        return 0.0
    count = count_tokens or (lambda text: len(text) // 3 + 2)
    cap = config.max_seq_length or 512
    lengths = [[min(cap, count(t[c])) for c in TRIPLET_COLUMNS] for t in triplets]
    steps = planned_steps(len(triplets), config)
    total = 0
    for step in range(steps):
        start = (step * config.batch_size) % len(lengths)
        batch = [lengths[(start + i) % len(lengths)] for i in range(min(config.batch_size, len(lengths)))]
        total += sum(len(batch) * max(row[c] for row in batch) for c in range(len(TRIPLET_COLUMNS)))
    return total * CPU_SECONDS_PER_TOKEN * encoder_params / REFERENCE_ENCODER_PARAMS


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------
@dataclass
class FinetuneResult:
    model_dir: Path
    steps: int
    seconds: float
    log: list[dict[str, float]]
    device: str
    cpu_estimate_s: float


def _progress_callback(progress: Callable[[dict[str, Any]], None] | None, should_stop: Callable[[], bool] | None,
                       log: list[dict[str, float]], state_box: dict[str, Any]) -> Any:
    from transformers import TrainerCallback

    class _Callback(TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            state_box["start"] = time.time()
            state_box["total"] = state.max_steps

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if should_stop is not None and should_stop():
                state_box["cancelled"] = True
                control.should_training_stop = True

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kw: Any) -> None:
            logs = dict(logs or {})
            elapsed = time.time() - state_box.get("start", time.time())
            step, total = state.global_step, state.max_steps
            entry = {"step": step, "total": total, "elapsed_s": round(elapsed, 2),
                     "eta_s": round(elapsed / step * (total - step), 1) if step else None,
                     **{k: v for k, v in logs.items() if isinstance(v, (int, float))}}
            log.append(entry)
            if progress is not None:
                progress(entry)

    return _Callback()


def finetune(
    config: FinetuneConfig,
    triplets: Sequence[dict[str, str]],
    output_dir: str | Path,
    *,
    progress: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> FinetuneResult:
    """Train and save to ``output_dir`` atomically. Raises :class:`Cancelled` when stopped early."""
    import torch
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers

    from xlalign.encoders import SentenceTransformerEncoder, best_device, load_sentence_transformer

    if len(triplets) < config.batch_size:
        raise ConfigError(f"{len(triplets)} triplets is fewer than one batch of {config.batch_size}")
    output = Path(output_dir)
    if output.exists():
        raise ConfigError(f"{output} already exists; refusing to overwrite a model")
    device = config.device or best_device()
    model = load_sentence_transformer(config.model_id, device=device, trust_remote_code=config.trust_remote_code)
    if config.max_seq_length is not None:
        model.max_seq_length = config.max_seq_length
    if config.freeze_word_embeddings:
        model[0].auto_model.get_input_embeddings().weight.requires_grad_(False)
    enc = SentenceTransformerEncoder(config.model_id)
    q_prompt, p_prompt = enc.prompt_for("query"), enc.prompt_for("passage")
    tokenizer = model.tokenizer
    embed = model[0].auto_model.get_input_embeddings().weight.numel()
    encoder_params = sum(p.numel() for p in model.parameters()) - embed
    estimate = estimate_cpu_seconds(
        [{"q_en": q_prompt + t["q_en"], "p_en": p_prompt + t["p_en"], "p_tgt": p_prompt + t["p_tgt"]} for t in triplets],
        config, lambda text: len(tokenizer(text, truncation=False)["input_ids"]), encoder_params)
    if progress is not None:
        progress({"step": 0, "total": planned_steps(len(triplets), config), "device": device,
                  "cpu_estimate_s": round(estimate, 1)})
    prompts = {k: v for k, v in {"q_en": q_prompt, "p_en": p_prompt, "p_tgt": p_prompt}.items() if v}
    bf16 = config.bf16 if config.bf16 is not None else (device == "cuda" and torch.cuda.is_bf16_supported())
    dataset = Dataset.from_list([{c: t[c] for c in TRIPLET_COLUMNS} for t in triplets])
    log: list[dict[str, float]] = []
    box: dict[str, Any] = {}
    work = Path(tempfile.mkdtemp(prefix=".xlalign-train-", dir=output.parent if output.parent.exists() else None))
    partial = output.with_name(output.name + ".partial")
    started = time.time()
    try:
        args = SentenceTransformerTrainingArguments(
            output_dir=str(work / "checkpoints"),
            num_train_epochs=config.epochs,
            max_steps=config.max_steps,
            per_device_train_batch_size=config.batch_size,
            learning_rate=config.resolved_learning_rate(),
            lr_scheduler_type="linear",
            warmup_ratio=config.warmup_ratio,
            weight_decay=config.weight_decay,
            adam_beta1=config.adam_beta1,
            adam_beta2=config.adam_beta2,
            bf16=bf16,
            seed=config.seed,
            data_seed=config.seed,
            use_cpu=device == "cpu",
            batch_sampler=BatchSamplers.NO_DUPLICATES,
            prompts=prompts or None,
            logging_steps=1,
            save_strategy="no",
            report_to="none",
            disable_tqdm=True,
        )
        loss = JSDInfoNCELoss(model, variant=config.variant, scale=config.scale)
        trainer = SentenceTransformerTrainer(
            model=model, args=args, train_dataset=dataset, loss=loss,
            callbacks=[_progress_callback(progress, should_stop, log, box)],
        )
        trainer.train()
        if box.get("cancelled"):
            raise Cancelled(f"cancelled after {trainer.state.global_step} of {box.get('total')} steps")
        shutil.rmtree(partial, ignore_errors=True)
        model.save(str(partial))
        (partial / "xlalign_finetune.json").write_text(
            json.dumps({"config": config.to_dict(), "steps": trainer.state.global_step, "log": log}, indent=2))
        partial.rename(output)
        return FinetuneResult(output, trainer.state.global_step, time.time() - started, log, device, estimate)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(partial, ignore_errors=True)
