"""bf16 mixed precision for fine-tuning on CPUs: bf16 weights in the passes, fp32 master weights in the optimiser.

``torch.autocast`` on a CPU keeps fp32 weights and activations and converts them around every matrix product,
in the forward pass, the backward pass and (with gradient checkpointing) the recomputed forward: the conversions
cost more than bf16 saves on a CPU without AMX (benchmarks/RESULTS.md, "Training"). Here instead the
Transformer's weights are bf16 (so are its activations: no conversions), its output features are cast back to
fp32 (:func:`xlalign.models.encoders.bf16_weights`: pooling, normalisation and the loss run in fp32), and
:class:`MasterWeightAdamW` keeps an fp32 copy of every trained parameter: each step casts the bf16 gradients to
fp32, runs AdamW on the fp32 copies, and rounds them back into the bf16 weights. Updates far below a bf16 weight's
last bit (learning rates ~1e-5) therefore accumulate in fp32 instead of vanishing; the saved model is the fp32
master weights (:meth:`MasterWeightAdamW.restore_fp32`), not their bf16 rounding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch


class MasterWeightAdamW(torch.optim.AdamW):
    """AdamW over fp32 master copies of ``model``'s trainable (bf16) parameters.

    Weight decay applies to matrices (≥ 2 dimensions: linear and embedding weights), not to biases and
    LayerNorm weights (1-D), as the Hugging Face trainer's default groups do for these models.
    """

    def __init__(self, model: torch.nn.Module, *, lr: float, betas: tuple[float, float], eps: float,
                 weight_decay: float, masters: list[torch.Tensor] | None = None,
                 frozen: dict[str, torch.Tensor] | None = None) -> None:
        """``masters``: the fp32 weights, one per trainable parameter in order, taken before the model was cast to
        bf16 (default: the current parameters in fp32, which for a bf16 model are already rounded); ``frozen``:
        the untrained parameters as they were before the cast, by name, put back exactly by :meth:`restore_fp32`."""
        self.frozen = dict(frozen or {})
        self.shadows = [p for p in model.parameters() if p.requires_grad]
        if masters is None:
            masters = [p.detach().to(torch.float32).clone() for p in self.shadows]
        if len(masters) != len(self.shadows) or any(m.shape != p.shape for m, p in zip(masters, self.shadows, strict=True)):
            raise ValueError("masters must match the model's trainable parameters one for one")
        groups = [{"params": [m for m in masters if m.ndim >= 2], "weight_decay": weight_decay},
                  {"params": [m for m in masters if m.ndim < 2], "weight_decay": 0.0}]
        super().__init__([g for g in groups if g["params"]], lr=lr, betas=betas, eps=eps)
        self.pairs = list(zip(self.shadows, masters, strict=True))

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> Any:
        for p, m in self.pairs:
            m.grad = None if p.grad is None else p.grad.to(torch.float32)
        loss = super().step(closure)
        for p, m in self.pairs:
            p.copy_(m)  # rounded to the model's dtype
            m.grad = None
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.shadows:
            p.grad = None
        super().zero_grad(set_to_none)

    @torch.no_grad()
    def restore_fp32(self, model: torch.nn.Module) -> None:
        """Cast ``model`` back to fp32 and put the exact fp32 master weights into it, and the frozen parameters as
        they were before the cast (for saving: a frozen weight is saved bit for bit as it was loaded)."""
        model.to(torch.float32)
        for p, m in zip([p for p in model.parameters() if p.requires_grad], (m for _, m in self.pairs), strict=True):
            p.copy_(m)
        for name, p in model.named_parameters():
            if name in self.frozen:
                p.copy_(self.frozen[name])


__all__ = ["MasterWeightAdamW"]
