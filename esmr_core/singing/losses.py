"""Losses of the singing encoders (docs/methods.md section 3): InfoNCE for SSCL, denoising reconstruction for TJAE."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(q: torch.Tensor, k_pos: torch.Tensor, negatives: torch.Tensor, temperature: float,
             extra_neg: torch.Tensor | None = None) -> torch.Tensor:
    """InfoNCE with cosine scores. q, k_pos: (B, D) unit vectors; negatives: (K, D) shared (the queue);
    extra_neg: (B, D) one per-sample negative or None. Mean over the batch of -log softmax(logits)[0], i.e. a
    cross-entropy whose correct class (the positive key) sits at index 0."""
    pos = (q * k_pos).sum(1, keepdim=True)                      # (B, 1)
    parts = [pos]
    if extra_neg is not None:
        parts.append((q * extra_neg).sum(1, keepdim=True))      # (B, 1)
    parts.append(q @ negatives.t())                             # (B, K)
    logits = torch.cat(parts, dim=1) / temperature
    labels = torch.zeros(len(q), dtype=torch.long, device=q.device)
    return F.cross_entropy(logits, labels)


def reconstruction_loss(recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """TJAE: MSE between the reconstruction of the masked input and the clean, standardised log-mel (B, M, T)."""
    return F.mse_loss(recon, target)
