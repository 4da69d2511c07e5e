"""MATE's loss (docs/methods.md section 4):
    L = lambda * KL(e_target || e_pred) + (1 - lambda) * (MSE(arousal) + MSE(valence))
or, class-balanced (Cui, Jia, Lin, Song, Belongie, "Class-Balanced Loss Based on Effective Number of Samples",
CVPR 2019), a per-sample weight (1 - beta) / (1 - beta^n_j) of the sample's class j times a BCE emotion term.
Arousal and valence targets are on 1..5 (esmr_core.mate.data maps a corpus's [0, 1] values to 1 + 4x)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F


def class_balanced_weights(counts: Sequence[int], beta: float) -> np.ndarray:
    """Cui et al. 2019: w_j = (1 - beta) / (1 - beta^n_j), rescaled so the weights sum to the number of classes.
    Classes with n_j = 0 get weight 0."""
    n = np.asarray(counts, np.float64)
    w = np.where(n > 0, (1.0 - beta) / (1.0 - np.power(beta, np.maximum(n, 1))), 0.0)
    return w / w.sum() * len(n) if w.sum() > 0 else w


def mate_loss(out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], lam: float,
              class_weights: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Named loss terms. out: model outputs with S = 1 squeezed or not; batch: targets (n, C), arousal/valence (n,).

    class_weights None: emotion term = KL(target || softmax(logits)), batch mean.
    class_weights (C,): emotion term = per-sample weight (sum_j t_j w_j) x BCE(sigmoid(logits), target) summed
    over classes (Cui et al.'s class-balanced sigmoid loss)."""
    logits = out["logits"].reshape(-1, out["logits"].shape[-1])
    t = batch["targets"]
    if class_weights is None:
        emo = F.kl_div(F.log_softmax(logits, -1), t, reduction="batchmean")
    else:
        w = t @ class_weights                                                      # (n,)
        bce = F.binary_cross_entropy_with_logits(logits, t, reduction="none").sum(-1)
        emo = (w * bce).mean()
    a = F.mse_loss(out["arousal"].reshape(-1), batch["arousal"])
    v = F.mse_loss(out["valence"].reshape(-1), batch["valence"])
    return {"emotion_loss": emo, "arousal_loss": a, "valence_loss": v,
            "loss": lam * emo + (1.0 - lam) * (a + v)}
