"""TJAE: Time Jump AutoEncoder (seeds/002) over log-mel frames; its pooled latent is the "mood of the voice".

Encoder: dilated causal Conv1d layers (kernel 3, left padding (k-1)*d only, so frame t sees frames <= t),
one dilation per layer (1, 2, 4, 8): receptive field 1 + 2*(1+2+4+8) = 31 frames ~ 0.5 s.
Bottleneck: a 1x1 conv to `latent` channels. Decoder: causal layers with the same dilations in reverse; decoder
layer i also receives the feature map of the encoder layer of the same dilation (U-Net-like skip connections that
"jump" each time scale to the decoder), squeezed to `skip` channels and, in training, each dropped whole with probability skip_drop, so that the
bottleneck must carry the voice (without this the latent collapsed to a constant: measured, docs/singing.md).
Input: log-mel standardised per band (statistics of the training set, stored as buffers).
Training: denoising reconstruction (input frames and bands are masked, the clean log-mel is the target), MSE.
Embedding: mean and standard deviation over time of the latent, concatenated and L2-normalised: (2*latent,).
Causal convolutions after WaveNet (van den Oord et al. 2016); reimplemented here.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..nn.checkpoint import read_checkpoint, write_checkpoint
from . import features as fx


@dataclass
class TJAEConfig:
    n_mels: int = fx.N_MELS                    # input/output bands
    hidden: int = 64                           # channels of every conv layer
    latent: int = 16                           # bottleneck channels (embedding = 2 * latent)
    skip: int = 4                              # channels of each skip connection
    dilations: tuple[int, ...] = (1, 2, 4, 8)  # one per encoder layer; decoder uses them reversed
    kernel: int = 3
    crop_frames: int = 188                     # training crop, frames (3 s)
    skip_drop: float = 0.5                     # training: probability of zeroing a whole skip map per sample

    @classmethod
    def from_dict(cls, d: dict) -> "TJAEConfig":
        d = dict(d)
        d["dilations"] = tuple(d.get("dilations", cls.dilations))
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


class CausalConv1d(nn.Conv1d):
    """Conv1d whose output at t depends on inputs <= t only (left padding (kernel-1)*dilation)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, dilation: int = 1):
        super().__init__(c_in, c_out, kernel, dilation=dilation)
        self.left = (kernel - 1) * dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:   # (B, C, T) -> (B, C', T)
        return super().forward(F.pad(x, (self.left, 0)))


class TJAE(nn.Module):
    """forward(mel (B, n_mels, T)) -> (reconstruction of normalize(mel) (B, n_mels, T), latent (B, latent, T))."""

    def __init__(self, cfg: TJAEConfig):
        super().__init__()
        self.cfg = cfg
        k, h = cfg.kernel, cfg.hidden
        self.enc = nn.ModuleList(CausalConv1d(cfg.n_mels if i == 0 else h, h, k, d)
                                 for i, d in enumerate(cfg.dilations))
        self.to_latent = nn.Conv1d(h, cfg.latent, 1)
        self.skips = nn.ModuleList(nn.Conv1d(h, cfg.skip, 1) for _ in cfg.dilations)
        self.dec = nn.ModuleList(CausalConv1d((cfg.latent if i == 0 else h) + cfg.skip, h, k, d)
                                 for i, d in enumerate(reversed(cfg.dilations)))
        self.out = nn.Conv1d(h, cfg.n_mels, 1)
        # per-band standardisation of the log-mel, set from the training data (saved with the model)
        self.register_buffer("band_mean", torch.zeros(cfg.n_mels))
        self.register_buffer("band_std", torch.ones(cfg.n_mels))

    def normalize(self, mel: torch.Tensor) -> torch.Tensor:
        """(B, n_mels, T) log-mel -> standardised per band (the space the model reconstructs in)."""
        return (mel - self.band_mean[:, None]) / self.band_std[:, None]

    def encode(self, mel: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Log-mel (B, n_mels, T) -> (latent (B, latent, T), encoder feature maps [(B, hidden, T)] per dilation)."""
        feats, h = [], self.normalize(mel)
        for conv in self.enc:
            h = F.gelu(conv(h))
            feats.append(h)                          # (B, hidden, T) at time scale of this dilation
        return torch.tanh(self.to_latent(h)), feats

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z, feats = self.encode(mel)
        h = z
        for i, conv in enumerate(self.dec):
            skip = self.skips[-1 - i](feats[-1 - i])    # encoder layer with the same dilation
            if self.training and self.cfg.skip_drop > 0:
                # skip dropout: without it the skips alone reconstruct the input and the latent collapses
                keep = (torch.rand(skip.shape[0], 1, 1) >= self.cfg.skip_drop).to(skip.dtype)
                skip = skip * keep
            h = F.gelu(conv(torch.cat([h, skip], dim=1)))
        return self.out(h), z

    @torch.no_grad()
    def embed(self, mel: torch.Tensor) -> np.ndarray:
        """A clip's log-mel (n_mels, F) -> (2*latent,) float32, L2-normalised mean+std of the latent."""
        z, _ = self.encode(mel.float().unsqueeze(0))
        e = torch.cat([z[0].mean(-1), z[0].std(-1)])
        return F.normalize(e, dim=0).numpy().astype(np.float32)


def mask_input(mel: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Denoising corruption: zero 2 random time spans (<= 12 frames) and 2 band spans (<= 8 bands). (B, M, T)."""
    x = mel.clone()
    b, m, t = x.shape
    for i in range(b):
        for _ in range(2):
            w = int(rng.integers(1, 13))
            s = int(rng.integers(0, max(1, t - w)))
            x[i, :, s:s + w] = 0
            w = int(rng.integers(1, 9))
            s = int(rng.integers(0, max(1, m - w)))
            x[i, s:s + w, :] = 0
    return x


def train_tjae(cfg: TJAEConfig, bases: torch.Tensor, *, steps: int = 400, batch: int = 32, lr: float = 2e-3,
               seed: int = 0, log=print) -> TJAE:
    """Train on log-mel crops bases (N, M, F) (random crop of cfg.crop_frames). Returns the model in eval mode."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = TJAE(cfg).train()
    sample = bases[torch.from_numpy(rng.choice(len(bases), size=min(256, len(bases)), replace=False))].float()
    model.band_mean.copy_(sample.mean(dim=(0, 2)))
    model.band_std.copy_(sample.std(dim=(0, 2)).clamp_min(1e-3))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    for step in range(steps):
        idx = rng.choice(len(bases), size=min(batch, len(bases)), replace=False)
        clean = torch.stack([fx.random_crop(bases[i].float(), cfg.crop_frames, rng) for i in idx])
        recon, _ = model(mask_input(clean, rng))
        loss = F.mse_loss(recon, model.normalize(clean))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0 or step == steps - 1:
            log(f"tjae step {step}/{steps} mse {loss.item():.4f}")
    return model.eval()


def save(model: TJAE, folder: str | Path, card: str, extra: dict | None = None) -> None:
    write_checkpoint(folder, {"model": "tjae", **asdict(model.cfg), **(extra or {})}, model, card)


def load(folder: str | Path) -> TJAE:
    cfg, state = read_checkpoint(folder, "TJAE", "esmr sing train")
    model = TJAE(TJAEConfig.from_dict(cfg))
    model.load_state_dict(state, strict=True)
    return model.eval()
