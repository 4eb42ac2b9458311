"""Training: does the sqrt-JSD term survive bf16, and what does a fine-tune step cost (fp32 vs bf16)?

    python benchmarks/bench_training.py [--batch 16] [--steps 3]

1. **JSD under bf16.** Softmaxed 384-d embeddings are nearly uniform (≈ 1/384 each), so the JSD of two
   of them is made of tiny differences. On one batch of demo triplets, the loss and the gradient of
   the model's parameters are computed in fp32 and under ``torch.autocast(bfloat16)`` — with xlalign's
   loss (which computes the divergence in fp32 inside autocast) and with a naive bf16 divergence —
   and compared (relative loss error, gradient cosine).
2. **Step time.** A few optimiser steps of the JSD + InfoNCE fine-tune in fp32 and in bf16 mixed
   precision on this machine's device (samples/s). On CUDA the same script gives the GPU figures.
3. **The up-front CPU estimate** (``estimate_cpu_seconds``, shown before a fine-tune starts) against the
   measured fp32 step time, for short (demo) and long (XQuAD, when ``../shared/data/xquad`` exists)
   passages at batch 16 and 32 (CPU only).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from xlalign.align.finetune import estimate_cpu_seconds, finetune, triplets_from_corpus
from xlalign.align.losses import JSDInfoNCELoss
from xlalign.core.loaders import load_corpus, load_demo
from xlalign.models.bundled import bundled_model_dir
from xlalign.models.device import best_device, cpu_has_bf16_units, cpu_model
from xlalign.specs import FinetuneOptions, ModelSpec


def _naive_jsd(z_a: torch.Tensor, z_b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """sqrt-JSD computed in whatever dtype autocast gives (no fp32 upcast) — the thing to avoid."""
    p, q = torch.softmax(z_a, -1), torch.softmax(z_b, -1)
    m = 0.5 * (p + q)
    js = 0.5 * (p * (p / m).log()).sum(-1) + 0.5 * (q * (q / m).log()).sum(-1)
    return torch.sqrt(js.clamp_min(0) + eps).mean()


def jsd_under_bf16(model_dir: Path, batch: int, device: str) -> dict[str, float]:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device=device)
    demo = load_demo(["en", "zh"])
    trip = triplets_from_corpus(demo, "en", "zh")[:batch]
    feats = [model.tokenize(["passage: " + t[c] for t in trip]) for c in ("p_en", "p_tgt")]
    feats = [{k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in f.items()} for f in feats]
    loss = JSDInfoNCELoss(model, variant="jsd")

    def grad(bf16: bool, naive: bool) -> tuple[float, torch.Tensor]:
        model.zero_grad()
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16):
            z = [model(f)["sentence_embedding"] for f in feats]
            value = _naive_jsd(*z) if naive else loss.jsd.compute_loss_from_embeddings(*z)
        value.backward()
        g = torch.cat([p.grad.flatten().float() for p in model.parameters() if p.grad is not None])
        return float(value), g.clone()

    ref_loss, ref_grad = grad(False, False)
    out = {"fp32_loss": ref_loss}
    for name, naive in (("xlalign", False), ("naive", True)):
        value, g = grad(True, naive)
        out[f"{name}_bf16_loss"] = value
        out[f"{name}_bf16_loss_rel_err"] = abs(value - ref_loss) / ref_loss
        out[f"{name}_bf16_grad_cos"] = float(torch.nn.functional.cosine_similarity(g, ref_grad, dim=0))
    if device == "cpu":  # xlalign's CPU training: bf16 weights (fp32 features out), no autocast
        from xlalign.models.encoders import bf16_weights

        bf16_weights(model)
        value, g = grad(False, False)
        out["weights_bf16_loss"] = value
        out["weights_bf16_loss_rel_err"] = abs(value - ref_loss) / ref_loss
        out["weights_bf16_grad_cos"] = float(torch.nn.functional.cosine_similarity(g, ref_grad, dim=0))
    return out


DEFAULT_XQUAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "xquad"
PROMPTS = ("query: ", "passage: ")


def _seconds_per_step(model_dir: Path, trip: list[dict[str, str]], batch: int, steps: int, device: str,
                      bf16: bool, checkpointing: bool | None = None) -> tuple[float, bool]:
    """Wall seconds per optimiser step, timed from the end of the first step (start-up excluded), and whether
    gradient checkpointing was on (None: xlalign's choice, by memory)."""
    opts = FinetuneOptions(batch_size=batch, max_steps=steps, max_seq_length=256, bf16=bf16,
                           gradient_checkpointing=checkpointing)
    with tempfile.TemporaryDirectory() as tmp:
        res = finetune(ModelSpec(str(model_dir), device=device), opts, trip, Path(tmp) / "m", prompts=PROMPTS)
        record = json.loads((Path(tmp) / "m" / "xlalign_finetune.json").read_text())
    times = [e["elapsed_s"] for e in res.log if "loss" in e]
    per = (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else res.seconds / max(1, res.steps)
    return per, bool(record.get("gradient_checkpointing"))


def step_times(model_dir: Path, batch: int, steps: int, device: str, rounds: int = 2) -> dict[str, Any]:
    """fp32 and bf16 fine-tune steps alternating (fp32, bf16, fp32, bf16, …), best of ``rounds`` each."""
    trip = triplets_from_corpus(load_demo(["en", "zh"]), "en", "zh")[: batch * steps]
    out: dict[str, Any] = {"fp32": [], "bf16": [], "loads": []}
    for _ in range(rounds):
        for name, bf16 in (("fp32", False), ("bf16", True)):
            seconds, ckpt = _seconds_per_step(model_dir, trip, batch, steps, device, bf16)
            out[name].append(seconds)
            out[f"{name}_checkpointing"] = ckpt
            out["loads"].append(os.getloadavg()[0])
    return out


def estimate_check(model_dir: Path, xquad: Path | None, steps: int = 3) -> list[dict[str, Any]]:
    """Estimated vs measured fp32 seconds per step on CPU, for the steps that are timed (2…steps)."""
    from sentence_transformers import SentenceTransformer

    tokenizer = SentenceTransformer(str(model_dir), device="cpu").tokenizer
    count = lambda text: len(tokenizer(text, truncation=True, max_length=256)["input_ids"])
    sources = {"demo": triplets_from_corpus(load_demo(["en", "zh"]), "en", "zh")}
    if xquad is not None and xquad.is_dir():
        sources["XQuAD"] = triplets_from_corpus(load_corpus(str(xquad), ["en", "zh"]), "en", "zh")
    rows = []
    for name, all_trip in sources.items():
        for batch in (16, 32):
            trip = all_trip[: batch * steps]
            timed = trip[batch:]  # the steps after the first
            prompted = [{"q_en": PROMPTS[0] + t["q_en"], "p_en": PROMPTS[1] + t["p_en"], "p_tgt": PROMPTS[1] + t["p_tgt"]}
                        for t in timed]
            est = estimate_cpu_seconds(prompted, FinetuneOptions(batch_size=batch, max_seq_length=256), count)
            est /= max(1, len(timed) // batch)
            measured, _ = _seconds_per_step(model_dir, trip, batch, steps, "cpu", bf16=False, checkpointing=True)
            length = sum(min(256, count(PROMPTS[1] + t["p_en"])) for t in timed) / len(timed)
            rows.append({"data": name, "batch": batch, "mean_passage_tokens": length, "measured_s": measured,
                         "estimate_s": est})
    return rows


def run(batch: int = 16, steps: int = 3, xquad: Path | None = DEFAULT_XQUAD, evidence: Path | None = None,
        estimate: bool = True) -> dict[str, Any]:
    device = best_device()
    model_dir = bundled_model_dir()
    out: dict[str, Any] = {"device": device, "cpu": cpu_model(), "bf16_units": cpu_has_bf16_units(), "batch": batch,
                           **jsd_under_bf16(model_dir, batch, device)}
    if device.startswith("cuda"):
        out["gpu"] = torch.cuda.get_device_name(0)
    out["steps"] = step_times(model_dir, batch, steps, device)
    out["fp32_samples_per_s"] = batch / min(out["steps"]["fp32"])
    out["bf16_samples_per_s"] = batch / min(out["steps"]["bf16"])
    if device == "cpu" and estimate:
        out["estimate"] = estimate_check(model_dir, xquad, steps)
    out["evidence"] = str(evidence) if evidence else None
    return out


def markdown(r: dict[str, Any]) -> str:
    where = r.get("gpu") or f"{r['cpu']} (bf16 units: {'yes' if r['bf16_units'] else 'no'})"
    return "\n".join([
        f"Device: {r['device']} — {where}; batch {r['batch']} demo triplets (en+zh), bundled multilingual-e5-small.", "",
        "| JSD term | loss | rel. error vs fp32 | gradient cosine vs fp32 |", "|---|---|---|---|",
        f"| fp32 | {r['fp32_loss']:.6f} | – | 1 |",
        f"| bf16 autocast, xlalign loss (divergence in fp32) | {r['xlalign_bf16_loss']:.6f} | "
        f"{r['xlalign_bf16_loss_rel_err']:.2e} | {r['xlalign_bf16_grad_cos']:.4f} |",
        f"| bf16 autocast, naive bf16 divergence | {r['naive_bf16_loss']:.6f} | {r['naive_bf16_loss_rel_err']:.2e} | "
        f"{r['naive_bf16_grad_cos']:.4f} |",
        *_weights_row(r),
        *_steps_markdown(r),
        *_estimate_markdown(r.get("estimate") or []),
        *ablations_markdown(Path(r["evidence"]) if r.get("evidence") else None),
    ])


def _weights_row(r: dict[str, Any]) -> list[str]:
    if "weights_bf16_loss" not in r:
        return []
    return [f"| bf16 weights, fp32 features and loss (xlalign's CPU training) | {r['weights_bf16_loss']:.6f} | "
            f"{r['weights_bf16_loss_rel_err']:.2e} | {r['weights_bf16_grad_cos']:.4f} |"]


def _steps_markdown(r: dict[str, Any]) -> list[str]:
    s = r["steps"]
    bf16 = ("bf16 weights + fp32 master weights (no autocast)" if r["device"] == "cpu"
            else "bf16 mixed precision (autocast)")
    ckpt = lambda k: "on" if s[f"{k}_checkpointing"] else "off"
    loads = ", ".join(f"{x:.1f}" for x in s["loads"])
    return ["", f"Fine-tune step (JSD + InfoNCE), batch {r['batch']} demo triplets, fp32 and bf16 runs alternating, "
            f"best of {len(s['fp32'])} each (seconds per step after the first; load average after each run: {loads}):", "",
            "| precision | s/step (best; all) | samples/s | gradient checkpointing | × fp32 |", "|---|---:|---:|---|---:|",
            f"| fp32 | {min(s['fp32']):.1f} ({', '.join(f'{x:.1f}' for x in s['fp32'])}) | {r['fp32_samples_per_s']:.2f} | "
            f"{ckpt('fp32')} | 1.00 |",
            f"| {bf16} | {min(s['bf16']):.1f} ({', '.join(f'{x:.1f}' for x in s['bf16'])}) | {r['bf16_samples_per_s']:.2f} | "
            f"{ckpt('bf16')} | **{r['bf16_samples_per_s'] / r['fp32_samples_per_s']:.2f}×** (target ≥ 1.3×) |"]


def _estimate_markdown(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    out = ["", "Up-front CPU estimate vs measured fp32 step (en+zh triplets, max length 256):", "",
           "| data | batch | mean passage tokens | measured s/step | estimate s/step | estimate / measured |",
           "|---|---|---|---|---|---|"]
    out += [f"| {r['data']} | {r['batch']} | {r['mean_passage_tokens']:.0f} | {r['measured_s']:.1f} | "
            f"{r['estimate_s']:.1f} | {r['estimate_s'] / r['measured_s']:.2f} |" for r in rows]
    return out


#: The fine-tune ablations of issue 20 §4 (run folders written by ``benchmarks/evidence.py xquad --ablations``).
ABLATIONS = {"finetune_jsd-nce": "JSD + InfoNCE, λ = 1 (the paper's loss)", "finetune_nce": "InfoNCE only",
             "finetune_nce_psg": "InfoNCE, passages only", "finetune_jsd-nce_λ10": "JSD + InfoNCE, λ = 10",
             "finetune_jsd-nce_λ100": "JSD + InfoNCE, λ = 100"}


def ablations_markdown(root: Path | None) -> list[str]:
    """Held-out Multi Complete@10 before → after, with the 95 % bootstrap CI of the change and the adjusted
    q, from each finished ablation's ``compare.csv``; the ones not (yet) finished are named."""
    if root is None or not root.is_dir():
        return ["", f"Fine-tune ablations: no run folders at {root} (run `python benchmarks/evidence.py xquad "
                "--ablations --out DIR`, then `--evidence DIR`)."]
    import json

    import pandas as pd

    out = ["", f"Fine-tune ablations on XQuAD en+zh (held-out half of the topics; fp32 encoding; 1 epoch on this CPU; "
           f"run folders in `{root}`): Multi Complete@10, before → after, Δ [95 % CI], q.", "",
           "| loss | en queries | zh queries | steps | seconds |", "|---|---|---|---:|---:|"]
    missing = []
    for folder, label in ABLATIONS.items():
        f = root / folder
        if not (f / "compare.csv").exists():
            missing.append(label)
            continue
        t = pd.read_csv(f / "compare.csv")
        t = t[(t.scenario == "multi") & (t.metric == "complete@10")]
        cell = {r.query_lang: f"{r.before:.1f} → {r.after:.1f}, {r.delta:+.1f} [{r.ci_low:+.1f}, {r.ci_high:+.1f}], "
                              f"q = {r.q_value:.3g}" for r in t.itertuples()}
        ft = json.loads((f / "run.json").read_text()).get("finetune", {}) if (f / "run.json").exists() else {}
        out.append(f"| {label} | {cell.get('en', '–')} | {cell.get('zh', '–')} | {ft.get('steps', '–')} | "
                   f"{ft.get('seconds', float('nan')):.0f} |")
    if missing:
        out += ["", f"Not finished when this section was written: {'; '.join(missing)}."]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--no-estimate", action="store_true", help="skip the CPU estimate check (4 more fine-tunes)")
    args = ap.parse_args()
    print(markdown(run(args.batch, args.steps, estimate=not args.no_estimate)))


if __name__ == "__main__":
    main()
