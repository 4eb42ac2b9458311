"""Losses of Hong et al. (ICLR 2026, §4): sqrt-JSD embedding alignment + cross-lingual InfoNCE.

Each part is a small ``nn.Module`` whose ``compute_loss_from_embeddings`` needs no model, and the
combined :class:`JSDInfoNCELoss` is a sentence-transformers loss over triplet columns
``(q_en, p_en, p_tgt)`` that returns a dict of parts; ``SentenceTransformerTrainer`` sums and logs
them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn

from xlalign.specs import VARIANTS


class SqrtJSDLoss(nn.Module):
    """L_JSD = mean_i sqrt(JSD(P(z_a,i) ‖ P(z_b,i)) + ε)   (Hong et al. 2026, Eqs. 4–6)

    P(z) = softmax(z / T) over the embedding dimensions (Eq. 5; T = 1 in the paper) and
    JSD(P‖Q) = ½ KL(P‖M) + ½ KL(Q‖M), M = ½(P + Q), in nats, so 0 ≤ JSD ≤ ln 2. ε sits inside
    the square root: sqrt has an infinite derivative at 0, and identical inputs give JSD = 0.
    Log-probabilities are computed with ``log_softmax`` for stability, always in float32 with
    autocast off: softmaxed 384-d embeddings are nearly uniform (each ≈ 1/384), and bf16's 8-bit
    mantissa cannot resolve the differences the divergence is made of.
    """

    def __init__(self, eps: float = 1e-8, temperature: float = 1.0) -> None:
        super().__init__()
        if eps <= 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.eps = eps
        self.temperature = temperature

    def divergence(self, z_a: Tensor, z_b: Tensor) -> Tensor:
        """Per-row JSD (nats), shape (n,)."""
        if z_a.shape != z_b.shape:
            raise ValueError(f"embeddings must have equal shapes, got {tuple(z_a.shape)} and {tuple(z_b.shape)}")
        with torch.autocast(device_type=z_a.device.type, enabled=False):
            log_p = torch.log_softmax(z_a.float() / self.temperature, dim=-1)
            log_q = torch.log_softmax(z_b.float() / self.temperature, dim=-1)
            log_m = torch.logsumexp(torch.stack([log_p, log_q]), dim=0) - math.log(2.0)
            kl_pm = (log_p.exp() * (log_p - log_m)).sum(-1)
            kl_qm = (log_q.exp() * (log_q - log_m)).sum(-1)
            return (0.5 * (kl_pm + kl_qm)).clamp_min(0.0)

    def compute_loss_from_embeddings(self, z_a: Tensor, z_b: Tensor) -> Tensor:
        return torch.sqrt(self.divergence(z_a, z_b) + self.eps).mean()

    def forward(self, z_a: Tensor, z_b: Tensor) -> Tensor:
        return self.compute_loss_from_embeddings(z_a, z_b)


class InfoNCELoss(nn.Module):
    """L_NCE = −1/n Σ_i log( exp(s·cos(a_i, p_i)) / Σ_j exp(s·cos(a_i, p_j)) )   (Eq. 7)

    Anchors ``a`` (the target-language passages) against positives ``p`` (their English queries);
    the other rows' positives are the in-batch negatives; ``s`` is the scale (1/temperature).
    Delegates to sentence-transformers' ``MultipleNegativesRankingLoss`` computation.
    """

    def __init__(self, scale: float = 20.0) -> None:
        super().__init__()
        if scale <= 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

        self.scale = scale
        # The model is only used by MNRL.forward, which is never called here.
        self._mnrl = MultipleNegativesRankingLoss(model=None, scale=scale)  # type: ignore[arg-type]

    def compute_loss_from_embeddings(self, anchors: Tensor, positives: Tensor) -> Tensor:
        if anchors.shape != positives.shape:
            raise ValueError(f"anchors and positives differ in shape: {tuple(anchors.shape)} vs {tuple(positives.shape)}")
        return self._mnrl.compute_loss_from_embeddings([anchors, positives], None)  # type: ignore[arg-type]

    def forward(self, anchors: Tensor, positives: Tensor) -> Tensor:
        return self.compute_loss_from_embeddings(anchors, positives)


class JSDInfoNCELoss(nn.Module):
    """sentence-transformers loss over columns ``(q_en, p_en, p_tgt)``; returns ``{"jsd", "nce"}``.

    Variants (Hong et al. 2026, Table 3 ablations):

    * ``jsd+nce``  L = λ·sqrt-JSD(p_en, p_tgt) + InfoNCE(p_tgt → q_en)   (the proposed method, λ = 1)
    * ``nce``      InfoNCE(p_tgt → q_en) only ("w/o L_JSD")
    * ``jsd``      sqrt-JSD(p_en, p_tgt) only ("w/o L_NCE")
    * ``nce_psg``  InfoNCE(p_tgt → p_en) (the L_NCE_psg baseline)
    """

    def __init__(self, model: Any, variant: str = "jsd+nce", scale: float = 20.0, jsd_weight: float = 1.0,
                 nce_weight: float = 1.0, eps: float = 1e-8, temperature: float = 1.0) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        if jsd_weight < 0 or nce_weight < 0:
            raise ValueError("loss weights must be ≥ 0")
        self.model = model
        self.variant = variant
        self.jsd_weight = jsd_weight
        self.nce_weight = nce_weight
        self.jsd = SqrtJSDLoss(eps=eps, temperature=temperature)
        self.nce = InfoNCELoss(scale=scale)

    def compute_loss_from_embeddings(self, q_en: Tensor, p_en: Tensor, p_tgt: Tensor) -> dict[str, Tensor]:
        parts: dict[str, Tensor] = {}
        if self.variant in ("jsd+nce", "jsd"):
            parts["jsd"] = self.jsd_weight * self.jsd.compute_loss_from_embeddings(p_en, p_tgt)
        if self.variant in ("jsd+nce", "nce"):
            parts["nce"] = self.nce_weight * self.nce.compute_loss_from_embeddings(p_tgt, q_en)
        if self.variant == "nce_psg":
            parts["nce_psg"] = self.nce_weight * self.nce.compute_loss_from_embeddings(p_tgt, p_en)
        return parts

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor | None = None) -> dict[str, Tensor]:
        feats = list(sentence_features)
        if len(feats) != 3:
            raise ValueError(f"expected three text columns (q_en, p_en, p_tgt), got {len(feats)}")
        q_en, p_en, p_tgt = (self.model(f)["sentence_embedding"] for f in feats)
        return self.compute_loss_from_embeddings(q_en, p_en, p_tgt)

    def get_config_dict(self) -> dict[str, Any]:
        return {"variant": self.variant, "scale": self.nce.scale, "jsd_weight": self.jsd_weight,
                "nce_weight": self.nce_weight, "eps": self.jsd.eps, "temperature": self.jsd.temperature}

    @property
    def citation(self) -> str:
        return ("@inproceedings{hong2026semantic, title={Improving Semantic Proximity in Information Retrieval "
                "through Cross-Lingual Alignment}, booktitle={ICLR}, year={2026}}")
