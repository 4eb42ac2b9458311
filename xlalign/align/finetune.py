"""JSD + InfoNCE fine-tuning (Hong et al., ICLR 2026) with ``SentenceTransformerTrainer``.

Triplets ``(q_en, p_en, p_tgt)``; defaults from the paper's Appendix C (see
:class:`~xlalign.specs.FinetuneOptions`): 1 epoch, batch 32, linear schedule with warm-up ratio
0.15, AdamW β = (0.9, 0.99), weight decay 0.01, bf16 on GPU, seed 42, and the learning rate of the
model family (2e-5 multilingual-e5, 1e-5 gte-multilingual-base, 4e-6 bge-m3, 3e-5 jina-embeddings-v3).

The trained model is written to a temporary sibling of ``<output>`` and renamed into place only when
complete (:func:`xlalign.atomic.atomic_folder`); a cancelled or failed run leaves no model directory and
no temporary training folder.

:class:`FinetuneAligner` is the method: its artefact is the tuned model itself (``model/`` in the run
folder), and "after" is the tuned model's own embeddings.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xlalign.align.base import AlignerBase, AlignerRecord, ApplyInputs, Cancelled, FitInputs
from xlalign.align.data import TRIPLET_COLUMNS, load_triplets, triplets_from_corpus, write_triplets
from xlalign.atomic import atomic_folder
from xlalign.errors import ConfigError, full_disk_named
from xlalign.models.device import gpu_task
from xlalign.policy import PolicyError
from xlalign.progress import Progress, silent
from xlalign.specs import FinetuneOptions, ModelSpec, to_dict

if TYPE_CHECKING:
    from xlalign.core.evaluate import CorpusEmbeddings
    from xlalign.policy import PublicLimits
#: CPU cost model of a training step (forward + backward of the three columns), for the up-front
#: estimate only (once steps run, the ETA comes from the measured step times, on every device): a
#: column of n rows padded to L tokens costs n·L·(a + b·n·L) seconds — the cost per token grows with
#: the tokens in the batch, whose activations kept for the backward pass outgrow the CPU caches.
#: a = CPU_SECONDS_PER_TOKEN, b = CPU_SECONDS_PER_TOKEN_SQUARED, measured for multilingual-e5-small
#: (21.3 M encoder parameters without the word embeddings) on this project's 2-core CPU; larger encoders
#: scale with their parameter count. ``benchmarks/bench_training.py`` checks the model (RESULTS.md).
CPU_SECONDS_PER_TOKEN = 8.1e-4
CPU_SECONDS_PER_TOKEN_SQUARED = 5.0e-7
REFERENCE_ENCODER_PARAMS = 21.3e6
#: Prefix of the temporary training folders (removed when a run ends; leftovers of killed runs are cleaned).
TRAIN_TMP_PREFIX = ".xlalign-train-"


def learning_rate(model: ModelSpec, options: FinetuneOptions) -> float:
    """The options' rate, else the model family's (Hong et al. 2026, Appendix C), else 2e-5."""
    from xlalign.models.registry import model_info

    if options.learning_rate is not None:
        return float(options.learning_rate)
    info = model_info(model.model)
    return info.learning_rate if info is not None else 2e-5


# --------------------------------------------------------------------------------------------
# Steps and their cost
# --------------------------------------------------------------------------------------------
def planned_steps(n_triplets: int, options: FinetuneOptions) -> int:
    """Optimizer steps: ⌈epochs · ⌈n / batch⌉⌉, capped by ``max_steps`` (which never adds steps)."""
    per_epoch = math.ceil(n_triplets / options.batch_size)
    steps = max(1, math.ceil(per_epoch * options.epochs))
    return min(steps, options.max_steps) if options.max_steps else steps


def warmup_steps(total: int, ratio: float) -> int:
    """Warm-up steps of a run of ``total`` steps: W = min(⌊ratio · total⌋, total − 1).

    The linear schedule (``transformers``' ``get_linear_schedule_with_warmup``) gives step s = 0, 1, …, total − 1
    the rate lr · s / W while s < W, then lr · (total − s) / (total − W). With W ≥ 1 its first step runs at rate 0
    and changes no weight; every later step runs at a rate > 0. Hence:

    * ⌊·⌋, not the ``transformers`` default ⌈·⌉: a short run gets no warm-up rather than a wasted step
      (ratio 0.15: W = 0 below 7 steps);
    * the cap total − 1: a one-step run gets W = 0, so its only step runs at the full rate instead of rate 0.

    Steps that change the weights: total − 1 when W ≥ 1, else total; a run counts them as it goes (the steps
    taken at a rate > 0), since a cancelled run stops early.
    """
    if total < 1:
        return 0
    return max(0, min(math.floor(ratio * total), total - 1))


def _column_lengths(triplets: Sequence[dict[str, str]], options: FinetuneOptions,
                    count_tokens: Callable[[str], int] | None) -> np.ndarray:
    count = count_tokens or (lambda text: len(text) // 3 + 2)
    cap = options.max_seq_length or 512
    return np.array([[min(cap, count(t[c])) for c in TRIPLET_COLUMNS] for t in triplets], dtype=np.int64)


def _window_max(values: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """``max(values[s : s + width])`` along axis 0 (wrapping around) for every start ``s``: a sparse table,
    O(n log width) to build and O(1) per start, whatever the width."""
    ext = np.concatenate([values, values[: width - 1]]) if width > 1 else values
    level = width.bit_length() - 1
    table = ext
    for j in range(level):  # table[i] = max(ext[i : i + 2^(j+1)])
        table = np.maximum(table[: len(table) - (1 << j)], table[1 << j:])
    out: np.ndarray = np.maximum(table[starts], table[starts + width - (1 << level)])
    return out


def _distinct_steps(triplets: Sequence[dict[str, str]], options: FinetuneOptions,
                    count_tokens: Callable[[str], int] | None) -> tuple[int, np.ndarray, int]:
    """(rows per batch, padded lengths (m, 3) of the first m = min(steps, period) steps, planned steps).

    Batches are taken in order and wrap around as epochs do, so step k starts at row k·batch mod n and
    the steps repeat with a period of n / gcd(n, batch) steps. Everything here is bounded by the number
    of triplets, never by the number of steps (``epochs=1e9`` costs what one period costs).
    """
    n = len(triplets)
    lengths = _column_lengths(triplets, options, count_tokens)
    rows = min(options.batch_size, n)
    stride = options.batch_size % n
    period = n // math.gcd(n, stride)
    steps = planned_steps(n, options)
    starts = (np.arange(min(steps, period), dtype=np.int64) * stride) % n
    return rows, _window_max(lengths, starts, rows), steps


def _over_steps(per_step: np.ndarray, steps: int) -> float:
    """Σ over ``steps`` steps of a per-step value given for the first min(steps, period) steps (periodic)."""
    full, rest = divmod(steps, len(per_step))
    return float(full * per_step.sum() + per_step[:rest].sum())


def padded_batches(triplets: Sequence[dict[str, str]], options: FinetuneOptions,
                   count_tokens: Callable[[str], int] | None = None) -> list[tuple[int, int]]:
    """(rows, padded length) of every column of every planned step: the batch's longest text, cut at
    ``max_seq_length``; batches taken in order and wrapping around as epochs do. One entry per step and
    column, so only for small plans (tests, benchmarks): totals use :func:`padded_tokens` and
    :func:`estimate_cpu_seconds`, whose cost does not grow with the steps.

    ``count_tokens`` defaults to a conservative characters/3 when no tokenizer is at hand.
    """
    if not triplets:
        return []
    rows, lengths, steps = _distinct_steps(triplets, options, count_tokens)
    return [(rows, int(length)) for step in range(steps) for length in lengths[step % len(lengths)]]


def padded_tokens(triplets: Sequence[dict[str, str]], options: FinetuneOptions,
                  count_tokens: Callable[[str], int] | None = None) -> int:
    """Tokens the planned steps process, padding included (see :func:`padded_batches`)."""
    if not triplets:
        return 0
    rows, lengths, steps = _distinct_steps(triplets, options, count_tokens)
    per_step = rows * lengths.sum(axis=1)
    full, rest = divmod(steps, len(per_step))
    return int(full) * int(per_step.sum()) + int(per_step[:rest].sum())


def estimate_cpu_seconds(triplets: Sequence[dict[str, str]], options: FinetuneOptions,
                         count_tokens: Callable[[str], int] | None = None,
                         encoder_params: float = REFERENCE_ENCODER_PARAMS) -> float:
    """CPU time for the run: Σ over steps and columns of n·L·(a + b·n·L) (see ``CPU_SECONDS_PER_TOKEN``),
    scaled by the encoder's size. Its cost is bounded by the number of triplets, not the steps."""
    if not triplets:
        return 0.0
    rows, lengths, steps = _distinct_steps(triplets, options, count_tokens)
    tokens = rows * lengths.astype(np.float64)
    per_step = (tokens * (CPU_SECONDS_PER_TOKEN + CPU_SECONDS_PER_TOKEN_SQUARED * tokens)).sum(axis=1)
    return _over_steps(per_step, steps) * encoder_params / REFERENCE_ENCODER_PARAMS


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------
@dataclass
class FinetuneResult:
    """``steps``: the optimizer steps that changed the weights (run at a learning rate > 0); ``optimizer_steps``:
    all steps taken (a warm-up's first step runs at rate 0, :func:`warmup_steps`)."""

    model_dir: Path
    steps: int
    seconds: float
    log: list[dict[str, Any]]
    device: str
    cpu_estimate_s: float | None
    seconds_per_step: float | None
    optimizer_steps: int = 0
    warmup_steps: int = 0


def _callback(progress: Progress, should_stop: Callable[[], bool] | None, log: list[dict[str, Any]]) -> Any:
    """A TrainerCallback that logs every step, reports progress with a measured ETA and honours cancel
    (``cancelled``, ``total`` and ``updating``, the steps taken at a learning rate > 0, tell the caller what
    happened)."""
    from transformers import TrainerCallback

    class _Callback(TrainerCallback):
        started: float | None = None
        total: int | None = None
        cancelled = False
        #: optimizer steps taken at a learning rate > 0: the steps that changed the weights
        updating = 0

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.started, self.total = time.monotonic(), state.max_steps

        def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            optimizer = kw.get("optimizer")
            rates = [float(g.get("lr", 0.0)) for g in getattr(optimizer, "param_groups", None) or []]
            self.updating += any(rate > 0 for rate in rates)

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if should_stop is not None and should_stop():
                self.cancelled = True
                control.should_training_stop = True

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kw: Any) -> None:
            if "loss" not in (logs or {}):  # the trainer's end-of-training summary, not a step
                return
            now = time.monotonic()
            elapsed = now - (self.started if self.started is not None else now)
            step, total = state.global_step, state.max_steps
            parts = {k: float(v) for k, v in (logs or {}).items() if isinstance(v, (int, float))}
            entry = {"step": step, "total": total, "elapsed_s": round(elapsed, 2),
                     "eta_s": round(elapsed / step * (total - step), 1) if step else None, **parts}
            log.append(entry)
            progress("training", step, total, **{k: v for k, v in entry.items() if k not in ("step", "total")})

    return _Callback()


def _prepare_model(model_spec: ModelSpec, options: FinetuneOptions, device: str) -> tuple[Any, int | None]:
    """The model to train and the base model's own ``max_seq_length``, which the tuned model is saved with.

    The base is loaded at its own length (not ``model_spec.max_seq_length``, an evaluation setting), then set
    to the training length, which shapes training only: :func:`_save_tuned` puts the base's length back, so
    "before" and "after" encode with the same settings and the export keeps the base model's limits. A
    training length above the model's limit is cut to the limit (the option's default, 256, is above the
    limit of small models: that is not an error)."""
    from xlalign.models.encoders import load_sentence_transformer, model_token_limit

    model = load_sentence_transformer(replace(model_spec, max_seq_length=None), device=device)
    base_length = model.max_seq_length
    if options.max_seq_length is not None:
        limit = model_token_limit(model)
        model.max_seq_length = min(options.max_seq_length, limit) if limit else options.max_seq_length
    if options.freeze_word_embeddings:
        model[0].auto_model.get_input_embeddings().weight.requires_grad_(False)
    return model, base_length


def _token_estimate(model: Any, triplets: Sequence[dict[str, str]], options: FinetuneOptions,
                    prompts: tuple[str, str]) -> float:
    q_prompt, p_prompt = prompts
    tokenizer = model.tokenizer
    cap = options.max_seq_length or 512
    embed = model[0].auto_model.get_input_embeddings().weight.numel()
    encoder_params = sum(p.numel() for p in model.parameters()) - embed
    prompted = [{"q_en": q_prompt + t["q_en"], "p_en": p_prompt + t["p_en"], "p_tgt": p_prompt + t["p_tgt"]}
                for t in triplets]
    return estimate_cpu_seconds(
        prompted, options, lambda text: len(tokenizer(text, truncation=True, max_length=cap)["input_ids"]),
        encoder_params)


def _training_args(options: FinetuneOptions, model_spec: ModelSpec, work: Path, steps: int, device: str,
                   bf16: bool, checkpointing: bool, prompts: dict[str, str]) -> Any:
    from sentence_transformers import SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers

    return SentenceTransformerTrainingArguments(
        output_dir=str(work / "checkpoints"), max_steps=steps, per_device_train_batch_size=options.batch_size,
        learning_rate=learning_rate(model_spec, options), lr_scheduler_type="linear",
        warmup_steps=warmup_steps(steps, options.warmup_ratio), weight_decay=options.weight_decay,
        adam_beta1=options.adam_beta1, adam_beta2=options.adam_beta2, bf16=bf16, seed=options.seed,
        data_seed=options.seed, use_cpu=device == "cpu",
        batch_sampler=BatchSamplers.NO_DUPLICATES, prompts=prompts or None, logging_steps=1, save_strategy="no",
        report_to="none", disable_tqdm=True, gradient_checkpointing=checkpointing)


#: ZeroGPU reservation: the CPU token-cost model divided by this speed-up of a Space GPU over the 2-core
#: CPU it was measured on, plus start-up. An assumption until a GPU step time is measured (RESULTS.md).
ZEROGPU_SPEEDUP = 25.0


def _zerogpu_seconds(model_spec: ModelSpec, options: FinetuneOptions, triplets: Sequence[dict[str, str]],
                     *args: Any, **kwargs: Any) -> int:
    return int(120 + estimate_cpu_seconds(triplets, options) / ZEROGPU_SPEEDUP)


@gpu_task(_zerogpu_seconds)
def finetune(model_spec: ModelSpec, options: FinetuneOptions, triplets: Sequence[dict[str, str]],
             output_dir: str | Path, *, prompts: tuple[str, str] = ("", ""), progress: Progress | None = None,
             should_stop: Callable[[], bool] | None = None) -> FinetuneResult:
    """Train ``model_spec``'s model on ``triplets`` and save it to ``output_dir`` atomically.

    ``prompts`` are the (query, passage) prompts of the model family (the encoder's). Reports
    ``progress("training", step, total, loss=…, jsd=…, nce=…, eta_s=…)`` after every step, plus one
    ``progress("training", 0, total, cpu_estimate_s=…)`` before on CPU. Raises :class:`Cancelled`
    when ``should_stop()`` turns true. The try/finally that guarantees no partial model and no temporary
    folder survives spans the whole training (:func:`_train`, then :func:`_save_tuned`).
    """

    from xlalign.models.device import best_device

    if len(triplets) < options.batch_size:
        raise ConfigError(f"{len(triplets)} triplets is fewer than one batch of {options.batch_size}")
    output = Path(output_dir)
    if output.exists():
        raise ConfigError(f"{output.name} already exists; refusing to overwrite a model")
    report = progress or silent
    device = model_spec.device or best_device()
    model, base_length = _prepare_model(model_spec, options, device)
    steps = planned_steps(len(triplets), options)
    estimate = _token_estimate(model, triplets, options, prompts) if device == "cpu" else None
    report("training", 0, steps, device=device, **({"cpu_estimate_s": round(estimate, 1)} if estimate else {}))
    bf16 = options.bf16 if options.bf16 is not None else bf16_by_default(device)
    master = bf16 and device == "cpu"  # bf16 weights + fp32 master weights (xlalign.align.mixed), not autocast
    checkpointing = (options.gradient_checkpointing if options.gradient_checkpointing is not None
                     else device == "cpu" and needs_checkpointing(model, triplets, options, bf16))
    log: list[dict[str, Any]] = []
    output.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=TRAIN_TMP_PREFIX, dir=output.parent))
    started = time.monotonic()
    try:
        args = _training_args(options, model_spec, work, steps, device, bf16 and not master, checkpointing,
                              _column_prompts(prompts))
        optimizer = _master_weights(model, options, model_spec) if master else None
        done, updating = _train(model, options, triplets, args, _callback(report, should_stop, log), optimizer)
        if optimizer is not None:
            optimizer.restore_fp32(model)
        warm = warmup_steps(steps, options.warmup_ratio)
        record = {"model": to_dict(model_spec), "options": to_dict(options),
                  "learning_rate": learning_rate(model_spec, options), "steps": updating, "optimizer_steps": done,
                  "warmup_steps": warm, "bf16": bf16,
                  "precision": "bf16 weights, fp32 master weights" if master else "bf16 autocast" if bf16 else "fp32",
                  "gradient_checkpointing": checkpointing, "log": log}
        model.max_seq_length = base_length  # the training length shaped training only
        _save_tuned(model, output, prompts, record)
        seconds = time.monotonic() - started
        return FinetuneResult(output, updating, seconds, log, device, estimate, seconds / done if done else None,
                              optimizer_steps=done, warmup_steps=warm)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _column_prompts(prompts: tuple[str, str]) -> dict[str, str]:
    """The (query, passage) prompts per triplet column, blank ones left out."""
    return {k: v for k, v in {"q_en": prompts[0], "p_en": prompts[1], "p_tgt": prompts[1]}.items() if v}


def bf16_by_default(device: str) -> bool:
    """bf16 mixed precision unless asked otherwise: on CUDA with bf16 support, and on CPUs with bf16 units
    (AVX512-BF16 or AMX), where bf16 weights with fp32 master weights are faster than fp32 (RESULTS.md)."""
    import torch

    from xlalign.models.device import cpu_has_bf16_units

    if device.startswith("cuda"):
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    return device == "cpu" and cpu_has_bf16_units()


#: Activation memory kept for the backward pass per padded token, fp32, multilingual-e5-small (its 21.3 M encoder
#: parameters; scaled by a larger encoder's): XQuAD batch 32 took 16.5 GB without checkpointing (specs.py).
ACTIVATION_BYTES_PER_TOKEN = 1.2e6


def needs_checkpointing(model: Any, triplets: Sequence[dict[str, str]], options: FinetuneOptions, bf16: bool,
                        available: float | None = None) -> bool:
    """Gradient checkpointing (a third more compute) only where the largest step's activations would not fit
    in half the memory available now (``/proc/meminfo`` MemAvailable; assumed to fit where unknown)."""
    if not triplets:
        return False
    tokenizer = model.tokenizer
    cap = options.max_seq_length or 512
    rows, lengths, _ = _distinct_steps(
        triplets, options, lambda text: len(tokenizer(text, truncation=True, max_length=cap)["input_ids"]))
    embed = model[0].auto_model.get_input_embeddings().weight.numel()
    scale = (sum(p.numel() for p in model.parameters()) - embed) / REFERENCE_ENCODER_PARAMS
    need = float((rows * lengths.sum(axis=1)).max()) * ACTIVATION_BYTES_PER_TOKEN * scale * (0.5 if bf16 else 1.0)
    free = available if available is not None else _available_memory()
    return free is not None and need > 0.5 * free


def _available_memory(meminfo: str = "/proc/meminfo") -> float | None:
    try:
        for line in Path(meminfo).read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                return float(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _master_weights(model: Any, options: FinetuneOptions, model_spec: ModelSpec) -> Any:
    """The Transformer cast to bf16 (fp32 features out) and an AdamW over fp32 master copies of its weights."""
    import torch

    from xlalign.align.mixed import MasterWeightAdamW
    from xlalign.models.encoders import bf16_weights

    # The master copies are the fp32 weights as loaded, taken before the cast: copies of the bf16-rounded weights
    # would start training (and a run that changes nothing would end) from the base model rounded to bf16.
    # The frozen ones (freeze_word_embeddings) are kept too, to be put back exactly when the model is saved.
    masters = [p.detach().to(torch.float32).clone() for p in model.parameters() if p.requires_grad]
    frozen = {name: p.detach().clone() for name, p in model.named_parameters() if not p.requires_grad}
    if not bf16_weights(model):
        raise ConfigError("bf16 training on a CPU needs a Transformer first module followed by pooling")
    return MasterWeightAdamW(model, lr=learning_rate(model_spec, options), betas=(options.adam_beta1, options.adam_beta2),
                             eps=1e-8, weight_decay=options.weight_decay, masters=masters, frozen=frozen)


def _train(model: Any, options: FinetuneOptions, triplets: Sequence[dict[str, str]], args: Any, callback: Any,
           optimizer: Any = None) -> tuple[int, int]:
    """Run the trainer with the JSD + InfoNCE loss: (steps done, steps done at a learning rate > 0)
    (:class:`Cancelled` if stopped)."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer
    from transformers.trainer_callback import PrinterCallback

    from xlalign.align.losses import JSDInfoNCELoss

    dataset = Dataset.from_list([{c: t[c] for c in TRIPLET_COLUMNS} for t in triplets])
    loss = JSDInfoNCELoss(model, variant=options.variant, scale=options.scale, jsd_weight=options.jsd_weight)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=dataset, loss=loss, callbacks=[callback],
                                         optimizers=(optimizer, None))  # type: ignore[arg-type]  # None: the trainer's own
    trainer.remove_callback(PrinterCallback)  # stdout is for results; steps go to the progress callback
    trainer.train()
    done: int = trainer.state.global_step
    if callback.cancelled:
        raise Cancelled(f"cancelled after {done} of {callback.total} steps")
    return done, int(callback.updating)


def _save_tuned(model: Any, output: Path, prompts: tuple[str, str], record: dict[str, Any]) -> None:
    """The tuned model, with the family's prompts and its training record, put in place atomically."""
    model.prompts = {**(model.prompts or {}), **{k: v for k, v in (("query", prompts[0]), ("passage", prompts[1]),
                                                                   ("document", prompts[1])) if v}}
    with full_disk_named(f"the tuned model ({output.name})"), atomic_folder(output) as tmp:
        model.save(str(tmp), create_model_card=False)
        (tmp / "xlalign_finetune.json").write_text(json.dumps(record, indent=2), encoding="utf-8")


# --------------------------------------------------------------------------------------------
# The method
# --------------------------------------------------------------------------------------------
def tuned_spec(model: ModelSpec, model_dir: str | Path) -> ModelSpec:
    """The base model's spec (device, precision, batch, length, remote code) pointing at its tuned copy."""
    return replace(model, model=str(model_dir))


@dataclass
class FinetuneRecord(AlignerRecord):
    """The options used, then what the training did: ``steps`` (the steps that changed the weights, run at a
    learning rate > 0), ``optimizer_steps`` (all steps taken), warm-up steps, time, device, the CPU estimate."""

    options: dict[str, Any] = field(default_factory=dict)
    steps: int = 0
    optimizer_steps: int = 0
    warmup_steps: int = 0
    planned_steps: int = 0
    seconds: float = 0.0
    seconds_per_step: float | None = None
    device: str = ""
    cpu_estimate_s: float | None = None
    n_triplets: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The options flat, then the training figures (the layout ``run.json`` has always had)."""
        rest = {k: v for k, v in super().to_dict().items() if k != "options"}
        return {**self.options, **rest}


class FinetuneAligner(AlignerBase):
    """The paper's JSD + InfoNCE fine-tune: the artefact is the tuned model."""

    name = "finetune"
    Options = FinetuneOptions
    summary = "JSD + InfoNCE fine-tune"
    flag_prefix = ""
    key_options = ("variant", "jsd_weight", "epochs", "max_steps")
    language_agnostic = True
    artefacts = ("model",)
    model_folder = "model"
    scratch = (f"{TRAIN_TMP_PREFIX}*",)
    work_files = ("train_triplets.csv", "train_log.jsonl")
    card_what = ("A sentence-transformers model: {base} fine-tuned with {method} (Hong et al., ICLR 2026: a square-root "
                 "Jensen–Shannon divergence between the embeddings of an English passage and its translation, plus a "
                 "cross-lingual InfoNCE loss between target-language passages and English questions) on triplets from "
                 "the training split. Its weights changed; its architecture, tokenizer, prompts and maximum sequence "
                 "length are the base model's. It loads with `SentenceTransformer(path)` alone (no xlalign needed) "
                 "and needs no language tag.")
    options: FinetuneOptions
    model_dir_: Path
    model_spec_: ModelSpec | None = None

    @classmethod
    def bounded(cls, options: FinetuneOptions, limits: PublicLimits) -> FinetuneOptions:
        """Refuse epochs or steps beyond the server's caps; a fine-tune without a step cap gets the cap."""
        if options.epochs > limits.max_epochs:
            raise PolicyError(f"epochs {options.epochs:g} is more than this server allows ({limits.max_epochs:g})")
        if options.max_steps is not None and options.max_steps > limits.max_steps:
            raise PolicyError(f"max steps {options.max_steps} is more than this server allows ({limits.max_steps})")
        return options if options.max_steps is not None else replace(options, max_steps=limits.max_steps)

    @classmethod
    def caps(cls, limits: PublicLimits) -> dict[str, tuple[str, str]]:
        """(label, help) of each option :meth:`bounded` caps, with this server's limits (the public app's controls
        state them before a refusal)."""
        return {"epochs": ("Epochs", f"training epochs (on this server: more than 0, at most {limits.max_epochs:g})"),
                "max_steps": (f"Max steps (empty: {limits.max_steps})",
                              f"cap on optimizer steps (on this server: 1–{limits.max_steps})")}

    @classmethod
    def label_parts(cls, options: FinetuneOptions, done: Mapping[str, object]) -> list[str] | None:
        """``fine-tune jsd+nce · λ 1 · 1 epoch · ≤300 steps`` (and, once known, how many steps changed the
        weights)."""
        o = options
        parts = [f"fine-tune {o.variant}", f"λ {o.jsd_weight:g}", f"{o.epochs:g} epoch{'s' if o.epochs != 1 else ''}"]
        if o.max_steps is not None:
            parts.append(f"≤{o.max_steps} steps")
        if done.get("steps") is not None:
            n = done["steps"]
            parts.append(f"{n} step{'' if n == 1 else 's'} changed the weights")
        return parts

    def fit(self, inputs: FitInputs) -> FinetuneRecord:
        from xlalign.models.encoders import SentenceTransformerEncoder

        if not isinstance(inputs.encoder, SentenceTransformerEncoder):
            raise ConfigError("a fine-tune needs a sentence-transformers model")
        opts, triplets, work = self.options, inputs.data.triplets, Path(inputs.work_dir)
        write_triplets(work / "train_triplets.csv", triplets)
        log_path = work / "train_log.jsonl"
        log_path.write_text("", encoding="utf-8")  # a rerun starts a new log

        def on_progress(stage: str, done: float = 0, total: float | None = None, **metrics: Any) -> None:
            if stage == "training":
                with open(log_path, "a", encoding="utf-8") as f:
                    f.write(json.dumps({"step": done, "total": total, **metrics}) + "\n")
            inputs.progress(stage, done, total, **metrics)

        prompts = (inputs.encoder.prompt_for("query"), inputs.encoder.prompt_for("passage"))
        result = finetune(inputs.model, opts, triplets, work / "model", prompts=prompts,
                          progress=on_progress, should_stop=inputs.should_stop)
        self.model_dir_ = result.model_dir
        return FinetuneRecord(options=to_dict(opts), steps=result.steps, optimizer_steps=result.optimizer_steps,
                              warmup_steps=result.warmup_steps, planned_steps=planned_steps(len(triplets), opts),
                              seconds=round(result.seconds, 1), seconds_per_step=result.seconds_per_step,
                              device=result.device, cpu_estimate_s=result.cpu_estimate_s, n_triplets=len(triplets))

    def save(self, folder: Path) -> None:
        """The tuned model was written into the run folder by the fit; elsewhere it is moved there."""
        target = Path(folder) / "model"
        if self.model_dir_.resolve() != target.resolve():
            shutil.move(str(self.model_dir_), target)
            self.model_dir_ = target

    @classmethod
    def load(cls, folder: Path, options: Any) -> FinetuneAligner:
        aligner = cls(options)
        aligner.model_dir_ = Path(folder) / "model"
        if not (aligner.model_dir_ / "modules.json").is_file():
            raise FileNotFoundError(f"{aligner.model_dir_ / 'modules.json'} is missing")
        return aligner

    def apply(self, inputs: ApplyInputs) -> CorpusEmbeddings:
        from xlalign.core.evaluate import encode_corpus

        encoder = inputs.encoder_for(tuned_spec(inputs.model, self.model_dir_))
        return encode_corpus(inputs.corpus, encoder, inputs.langs, inputs.progress)

    def export(self, into: Path, *, base_model: str) -> None:
        shutil.copytree(self.model_dir_, into, dirs_exist_ok=True)
        (Path(into) / "README.md").unlink(missing_ok=True)  # the caller writes the export's own card


__all__ = ["TRIPLET_COLUMNS", "Cancelled", "FinetuneAligner", "FinetuneRecord", "FinetuneResult", "estimate_cpu_seconds",
           "finetune", "learning_rate", "load_triplets", "padded_batches", "padded_tokens", "planned_steps",
           "triplets_from_corpus", "tuned_spec", "warmup_steps", "write_triplets"]
