"""Losses of emotion-based speech-to-music retrieval (docs/methods.md sections 1 and 2), one small function each.

Every loss returns a dict with one named term, e.g. ``{"triplet_loss": tensor}`` (open_clip style), and
`Objective` sums the weighted terms named in a config. Embeddings are L2-normalised, so a dot product is a
cosine. Shapes: B speech rows, M music columns, D embedding size.

Credits (reimplemented, not copied):
- triplet with similarity-weighted negative sampling and EmoSim: Doh, Won, Choi, Nam, "Textless speech-to-music
  retrieval using emotion similarity", ICASSP 2023 (seungheondoh/speech-to-music); EmoSim modifies RankSim
  (Gong et al., ICML 2022, BorealisAI/ranksim-imbalanced-regression).
- InfoNCE: van den Oord et al. 2018; multi-positive form as in SupCon (Khosla et al., NeurIPS 2020).
- KL over similarity distributions and the momentum model: the VAD-guided contrastive method (docs/methods.md section 2).
- momentum distillation targets: ALBEF (Li et al., NeurIPS 2021), alpha * softmax(sim_m / t) + (1 - alpha) * y.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

TEMPERATURE = 0.07  # InfoNCE / distillation temperature (Doh et al.; docs/methods.md section 5.4)

TERMS = ("triplet", "triplet_hard", "emosim", "infonce", "kl", "emotion", "vad")


def cosine_matrix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of every row of a (N, D) with every row of b (M, D) -> (N, M) in [-1, 1]."""
    return F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T


def _pick_negatives(sim: torch.Tensor, neg_mask: torch.Tensor, hardest: bool,
                    generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Index of one negative per row (B,) and a bool (B,) telling which rows have any negative."""
    has_neg = neg_mask.any(dim=1)
    with torch.no_grad():
        if hardest:
            idx = sim.masked_fill(~neg_mask, float("-inf")).argmax(dim=1)
        else:
            # probability proportional to (cos + 1) / 2 among negatives: harder negatives more likely
            w = ((sim + 1.0) / 2.0).clamp_min(1e-6) * neg_mask
            w[~has_neg] = 1.0  # rows without negatives are dropped below; keep multinomial valid
            idx = torch.multinomial(w, 1, generator=generator).squeeze(1)
    return idx, has_neg


def triplet_loss(anchor: torch.Tensor, positive: torch.Tensor, candidates: torch.Tensor,
                 neg_mask: torch.Tensor, margin: float = 0.4, hardest: bool = False,
                 generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """Cosine-distance triplet loss, mean over anchors of max(0, d(a, p) - d(a, n) + margin), d = 1 - cos.

    anchor (B, D) speech, positive (B, D) its music, candidates (M, D) music that negatives come from,
    neg_mask (B, M) bool: True where candidate j has a label different from anchor i's target. One negative per
    anchor: sampled with probability (cos + 1) / 2 (Doh et al.), or the most similar one when `hardest`.
    Anchors without any negative are left out. Returns {"triplet_loss"} or {"triplet_hard_loss"}.
    """
    name = "triplet_hard_loss" if hardest else "triplet_loss"
    sim = cosine_matrix(anchor, candidates)  # (B, M)
    idx, has_neg = _pick_negatives(sim, neg_mask.bool(), hardest, generator)
    pos = (F.normalize(anchor, dim=-1) * F.normalize(positive, dim=-1)).sum(-1)  # (B,)
    neg = sim.gather(1, idx[:, None]).squeeze(1)  # (B,)
    per = F.relu(neg - pos + margin)  # = relu(d(a,p) - d(a,n) + margin)
    if not has_neg.any():
        return {name: anchor.sum() * 0.0}
    return {name: per[has_neg].mean()}


def emosim_loss(sim: torch.Tensor, label_sim: torch.Tensor,
                generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """EmoSim (Doh et al.): per speech row, the unique values of S_y, one random music column per unique value,
    MSE between S_z and S_y at those columns (mean over all picked entries).

    sim (B, M) cosine S_z, label_sim (B, M) label similarity S_y in [0, 1]. Returns {"emosim_loss"}.
    """
    sy = label_sim.detach()
    rows, cols = [], []
    for i in range(sy.shape[0]):
        values, inverse = torch.unique(torch.round(sy[i] * 1e6), return_inverse=True)
        order = torch.randperm(sy.shape[1], generator=generator, device=sy.device)
        # walk the columns in a random order; the first one met for each unique value is that value's pick
        pos_in_order = torch.empty_like(order)
        pos_in_order[order] = torch.arange(len(order), device=sy.device)
        first = torch.full((len(values),), len(order), dtype=torch.long, device=sy.device)
        first.scatter_reduce_(0, inverse, pos_in_order, reduce="amin", include_self=True)
        picked = order[first]
        rows.append(torch.full_like(picked, i))
        cols.append(picked)
    r, c = torch.cat(rows), torch.cat(cols)
    return {"emosim_loss": F.mse_loss(sim[r, c], label_sim[r, c].to(sim.dtype))}


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over rows with any target mass of -sum_j targets_ij * log_softmax(logits)_ij.

    targets (N, M) non-negative; each row is normalised to sum 1 (multi-positive -> uniform over positives).
    """
    mass = targets.sum(dim=1)
    keep = mass > 0
    if not keep.any():
        return logits.sum() * 0.0
    t = targets[keep] / mass[keep, None]
    logp = F.log_softmax(logits[keep], dim=1)
    return -(t * logp.masked_fill(t == 0, 0.0)).sum(dim=1).mean()


def info_nce_loss(speech: torch.Tensor, music: torch.Tensor, pos_mask: torch.Tensor, temperature: float = TEMPERATURE,
                  queue: torch.Tensor | None = None, queue_pos_mask: torch.Tensor | None = None,
                  s2m_targets: torch.Tensor | None = None, m2s_targets: torch.Tensor | None = None,
                  ) -> dict[str, torch.Tensor]:
    """Symmetric multi-positive InfoNCE, (speech->music + music->speech) / 2.

    speech (B, D), music (M, D) L2-normalised; pos_mask (B, M) True where music j shares the label of speech i's
    target. queue (K, D) extra music negatives/positives for speech->music with queue_pos_mask (B, K).
    Soft targets (momentum distillation) replace the label targets when given: s2m_targets (B, M + K),
    m2s_targets (M, B). Returns {"infonce_loss"}.
    """
    keys = music if queue is None else torch.cat([music, queue], dim=0)
    logits_s2m = speech @ keys.T / temperature  # (B, M + K)
    if s2m_targets is None:
        s2m_targets = pos_mask.float() if queue is None else torch.cat([pos_mask, queue_pos_mask], 1).float()
    logits_m2s = music @ speech.T / temperature  # (M, B)
    if m2s_targets is None:
        m2s_targets = pos_mask.T.float()
    loss = (soft_cross_entropy(logits_s2m, s2m_targets) + soft_cross_entropy(logits_m2s, m2s_targets)) / 2
    return {"infonce_loss": loss}


def kl_similarity_loss(sim: torch.Tensor, label_sim: torch.Tensor, t1: float = 0.1,
                       t2: float = 0.1) -> dict[str, torch.Tensor]:
    """KL(softmax(S_y / t1) || softmax(S_z / t2)) per speech row, mean over rows (docs/methods.md section 2).

    sim (B, M) cosine S_z, label_sim (B, M) S_y in [0, 1]. Zero when S_z / t2 equals S_y / t1 up to a
    per-row constant. Returns {"kl_loss"}.
    """
    target = F.softmax(label_sim.detach().to(sim.dtype) / t1, dim=1)
    logq = F.log_softmax(sim / t2, dim=1)
    return {"kl_loss": F.kl_div(logq, target, reduction="batchmean")}


@torch.no_grad()
def distillation_targets(sim_m: torch.Tensor, targets: torch.Tensor, alpha: float = 0.4,
                         temperature: float = TEMPERATURE) -> torch.Tensor:
    """ALBEF momentum distillation: alpha * softmax(sim_m / t) + (1 - alpha) * targets (rows normalised).

    sim_m (N, M) cosine from the momentum model, targets (N, M) label targets (0/1 or soft). Rows of the result
    sum to 1 (rows whose targets are all zero keep only the momentum part, scaled by alpha).
    """
    t = targets.float()
    t = t / t.sum(dim=1, keepdim=True).clamp_min(1e-12)
    return alpha * F.softmax(sim_m / temperature, dim=1) + (1 - alpha) * t


def emotion_loss(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """Cross-entropy of the emotion head: logits (B, 7), labels (B,) long. Returns {"emotion_loss"}."""
    return {"emotion_loss": F.cross_entropy(logits, labels)}


def vad_loss(pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """MSE of the valence/arousal/dominance head: pred, target (B, 3) in [0, 1]. Returns {"vad_loss"}."""
    return {"vad_loss": F.mse_loss(pred, target.to(pred.dtype))}


@dataclass
class LossConfig:
    weights: dict[str, float] = field(default_factory=lambda: {"triplet": 1.0})  # term name -> weight (TERMS)
    margin: float = 0.4  # triplet margin on cosine distance
    temperature: float = TEMPERATURE  # InfoNCE / distillation temperature
    t1: float = 0.1  # KL: temperature of the label-similarity row
    t2: float = 0.1  # KL: temperature of the cosine row
    alpha: float = 0.4  # momentum distillation weight of the momentum soft targets

    def __post_init__(self) -> None:
        unknown = sorted(set(self.weights) - set(TERMS))
        if unknown:
            raise ValueError(f"unknown loss terms {unknown}; known: {list(TERMS)}")


class Objective:
    """Sum of weighted loss terms named in a LossConfig; returns every term plus "loss" (the total)."""

    def __init__(self, cfg: LossConfig):
        self.cfg = cfg

    def __call__(self, out: dict[str, torch.Tensor], generator: torch.Generator | None = None
                 ) -> dict[str, torch.Tensor]:
        """out holds (from the training step):
        speech (B, D), music (B, D) paired positives, pos_mask (B, B), label_sim (B, B) in [0, 1];
        optional: queue (K, D) + queue_pos_mask (B, K); s2m_targets / m2s_targets (momentum soft targets);
        emotion_logits (B, 7) + emotion (B,); vad_pred + vad (B, 3).
        """
        w, c = self.cfg.weights, self.cfg
        speech, music = out["speech"], out["music"]
        terms: dict[str, torch.Tensor] = {}
        sim = speech @ music.T  # (B, B) cosine of normalised embeddings
        if w.get("triplet"):
            terms |= triplet_loss(speech, music, music, ~out["pos_mask"], c.margin, False, generator)
        if w.get("triplet_hard"):
            terms |= triplet_loss(speech, music, music, ~out["pos_mask"], c.margin, True, generator)
        if w.get("emosim"):
            terms |= emosim_loss(sim, out["label_sim"], generator)
        if w.get("infonce"):
            terms |= info_nce_loss(speech, music, out["pos_mask"], c.temperature, out.get("queue"),
                                   out.get("queue_pos_mask"), out.get("s2m_targets"), out.get("m2s_targets"))
        if w.get("kl"):
            terms |= kl_similarity_loss(sim, out["label_sim"], c.t1, c.t2)
        if w.get("emotion"):
            terms |= emotion_loss(out["emotion_logits"], out["emotion"])
        if w.get("vad"):
            terms |= vad_loss(out["vad_pred"], out["vad"])
        total = sum(w[name.removesuffix("_loss")] * value for name, value in terms.items())
        terms["loss"] = total if terms else speech.sum() * 0.0
        return terms
