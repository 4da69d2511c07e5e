"""SSCL: self-supervised contrastive learning for singing voices (Yakura, Watanabe, Goto, TASLP 2022), with MoCo.

MoCo (He et al., CVPR 2020; facebookresearch/moco, reimplemented here): a query encoder theta_q trained by
gradient, a key encoder theta_k <- m theta_k + (1 - m) theta_q, and a queue of past keys (a registered buffer,
saved with the model) as the dictionary of negatives. Loss: InfoNCE on cosine scores / temperature, i.e. a
cross-entropy whose correct class (the positive key) sits at index 0.

Policies (which augmented copy of the anchor is the positive and which is an extra, per-sample negative):
  timbre      positive = time-stretched anchor, negative = pitch-shifted anchor  (tempo changes nothing, pitch/formant
              changes make another voice)
  expression  positive = pitch-shifted anchor,  negative = time-stretched anchor
  plain       positive = another crop of the same clip, no extra negative (instance discrimination: the ablation)
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..nn.blocks import conv2d_stack
from ..nn.checkpoint import read_checkpoint, write_checkpoint
from . import features as fx

POLICIES = ("timbre", "expression", "plain")


@dataclass
class SSCLConfig:
    n_mels: int = fx.N_MELS        # input mel bands
    channels: tuple[int, ...] = (8, 16, 32, 64)  # conv block widths (each block halves mel and time)
    dim: int = 128                 # output embedding size
    queue_size: int = 1024         # keys kept as negatives
    momentum: float = 0.99         # m in theta_k <- m theta_k + (1 - m) theta_q
    temperature: float = 0.1       # InfoNCE temperature on cosine scores
    crop_frames: int = 64          # training crop and inference window, frames of 16 ms (~1 s)
    policy: str = "timbre"         # timbre | expression | plain

    @classmethod
    def from_dict(cls, d: dict) -> "SSCLConfig":
        d = dict(d)
        d["channels"] = tuple(d.get("channels", cls.channels))
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


class SSCLEncoder(nn.Module):
    """Log-mel (B, n_mels, T) -> L2-normalised embedding (B, dim). Conv blocks, then mean+max over time."""

    def __init__(self, cfg: SSCLConfig):
        super().__init__()
        self.conv, c_in = conv2d_stack(cfg.channels)
        self.window = cfg.crop_frames
        freq = cfg.n_mels // 2 ** len(cfg.channels)
        self.head = nn.Sequential(nn.Linear(2 * c_in * freq, 256), nn.ReLU(inplace=True), nn.Linear(256, cfg.dim))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        h = self.conv(mel.unsqueeze(1))                  # (B, C, n_mels / 16, T / 16)
        h = h.flatten(1, 2)                              # (B, C * freq, T')
        h = torch.cat([h.mean(-1), h.amax(-1)], dim=1)   # (B, 2 C freq)
        return F.normalize(self.head(h), dim=1)          # (B, dim)


def info_nce(q: torch.Tensor, k_pos: torch.Tensor, negatives: torch.Tensor, temperature: float,
             extra_neg: torch.Tensor | None = None) -> torch.Tensor:
    """InfoNCE with cosine scores. q, k_pos: (B, D) unit vectors; negatives: (K, D) shared (the queue);
    extra_neg: (B, D) one per-sample negative or None. Mean over the batch of -log softmax(logits)[0]."""
    pos = (q * k_pos).sum(1, keepdim=True)                      # (B, 1)
    parts = [pos]
    if extra_neg is not None:
        parts.append((q * extra_neg).sum(1, keepdim=True))      # (B, 1)
    parts.append(q @ negatives.t())                             # (B, K)
    logits = torch.cat(parts, dim=1) / temperature
    labels = torch.zeros(len(q), dtype=torch.long, device=q.device)
    return F.cross_entropy(logits, labels)


class MoCo(nn.Module):
    """Query/key encoders + queue. forward(query_mel, key_mel, neg_mel=None) -> loss (training only)."""

    def __init__(self, cfg: SSCLConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder_q = SSCLEncoder(cfg)
        self.encoder_k = SSCLEncoder(cfg)
        self.encoder_k.load_state_dict(self.encoder_q.state_dict())
        for p in self.encoder_k.parameters():
            p.requires_grad = False
        self.register_buffer("queue", F.normalize(torch.randn(cfg.queue_size, cfg.dim), dim=1))
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def momentum_update(self) -> None:
        m = self.cfg.momentum
        for pk, pq in zip(self.encoder_k.parameters(), self.encoder_q.parameters()):
            pk.mul_(m).add_(pq.detach(), alpha=1.0 - m)
        for bk, bq in zip(self.encoder_k.buffers(), self.encoder_q.buffers()):
            bk.copy_(bq)  # BatchNorm running statistics

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        """Write keys (B, D) at the pointer, wrapping around; oldest keys are overwritten first."""
        n, size = len(keys), self.queue.shape[0]
        idx = (int(self.queue_ptr) + torch.arange(n)) % size
        self.queue[idx] = keys.detach()
        self.queue_ptr.fill_((int(self.queue_ptr) + n) % size)

    def forward(self, query: torch.Tensor, key: torch.Tensor, neg: torch.Tensor | None = None) -> torch.Tensor:
        q = self.encoder_q(query)
        with torch.no_grad():
            self.momentum_update()
            k = self.encoder_k(key)
            kn = self.encoder_k(neg) if neg is not None else None
        loss = info_nce(q, k, self.queue.clone().detach(), self.cfg.temperature, kn)
        self.enqueue(k)
        return loss


# ---- views for the policies ---------------------------------------------------------------------------------
def make_views(y: np.ndarray, rng: np.random.Generator, n_shift: int = 2) -> dict[str, torch.Tensor]:
    """Precompute the augmentations of one crop y (T,) at 16 kHz: base log-mel (M, F) and n_shift pitch-shifted
    copies (n_shift, M, F), shifts drawn from +-[2, 6] semitones (float16 to save memory)."""
    base = fx.logmel(y)
    shifts = rng.uniform(2.0, 6.0, n_shift) * rng.choice([-1.0, 1.0], n_shift)
    shifted = torch.stack([fx.pitch_shift_mel(y, float(s)) for s in shifts])
    return {"base": base.half(), "shifted": shifted.half()}


def batch_views(bases: torch.Tensor, shifted: torch.Tensor, policy: str, crop: int,
                rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(query, key, extra negative or None), each (B, M, crop), for one batch.
    bases: (B, M, F) log-mel; shifted: (B, S, M, F) pitch-shifted copies of the same crops."""
    b = len(bases)
    qs, ks, ns = [], [], []
    for i in range(b):
        base = bases[i].float()
        rate = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.15, 0.35))
        stretched = fx.stretch_frames(base, 2.0 ** rate)
        pitched = shifted[i, int(rng.integers(shifted.shape[1]))].float()
        qs.append(fx.random_crop(base, crop, rng))
        if policy == "timbre":
            ks.append(fx.random_crop(stretched, crop, rng))
            ns.append(fx.random_crop(pitched, crop, rng))
        elif policy == "expression":
            ks.append(fx.random_crop(pitched, crop, rng))
            ns.append(fx.random_crop(stretched, crop, rng))
        else:
            ks.append(fx.random_crop(base, crop, rng))
    neg = torch.stack(ns) if ns else None
    return torch.stack(qs), torch.stack(ks), neg


def train_moco(cfg: SSCLConfig, bases: torch.Tensor, shifted: torch.Tensor, *, steps: int = 600,
               batch: int = 48, lr: float = 1e-3, seed: int = 0, log=print) -> MoCo:
    """Train MoCo on precomputed crops. bases: (N, M, F); shifted: (N, S, M, F). Returns the trained model."""
    if cfg.policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = MoCo(cfg).train()
    opt = torch.optim.AdamW(model.encoder_q.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    for step in range(steps):
        idx = rng.choice(len(bases), size=min(batch, len(bases)), replace=False)
        q, k, n = batch_views(bases[idx], shifted[idx], cfg.policy, cfg.crop_frames, rng)
        loss = model(q, k, n)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0 or step == steps - 1:
            log(f"sscl-{cfg.policy} step {step}/{steps} loss {loss.item():.3f}")
    return model.eval()


# ---- saving, loading, embedding a clip --------------------------------------------------------------------
def save(model: MoCo, folder: str | Path, card: str, extra: dict | None = None) -> None:
    write_checkpoint(folder, {"model": "sscl-moco", **asdict(model.cfg), **(extra or {})}, model, card)


def load(folder: str | Path) -> SSCLEncoder:
    """The query encoder of a saved MoCo checkpoint (strict load), in eval mode."""
    cfg, state = read_checkpoint(folder, "SSCL", "esmr sing train")
    model = MoCo(SSCLConfig.from_dict(cfg))
    model.load_state_dict(state, strict=True)
    return model.encoder_q.eval()


@torch.no_grad()
def embed_mel(encoder: SSCLEncoder, mel: torch.Tensor) -> np.ndarray:
    """A whole clip's log-mel (M, F) -> mean of the embeddings of windows of encoder.window frames (half-window
    hop), L2-normalised: (dim,) float32."""
    window = encoder.window
    hop = max(1, window // 2)
    f = mel.shape[-1]
    if f < window:
        mel = F.pad(mel, (0, window - f))
        f = window
    starts = list(range(0, f - window + 1, hop)) or [0]
    wins = torch.stack([mel[:, s:s + window] for s in starts]).float()
    e = encoder(wins).mean(0)
    return F.normalize(e, dim=0).numpy().astype(np.float32)
