"""The singing encoders (docs/methods.md section 3): SSCL with MoCo, and TJAE. Both are `Pretrained` models
(esmr_core/nn/checkpoint.py): `MoCo.from_pretrained("checkpoints/sscl-timbre").encoder_q` is the timbre encoder,
`TJAE.from_pretrained("checkpoints/tjae")` the mood encoder.

SSCL: self-supervised contrastive learning for singing voices (Yakura, Watanabe, Goto, TASLP 2022), with MoCo
(He et al., CVPR 2020; facebookresearch/moco, reimplemented here): a query encoder theta_q trained by gradient, a key
encoder theta_k <- m theta_k + (1 - m) theta_q, and a queue of past keys (a registered buffer, saved with the model)
as the dictionary of negatives (esmr_core/nn/momentum.py). Loss: losses.info_nce. The training views of each policy
are made by data.batch_views.

TJAE: Time Jump AutoEncoder over log-mel frames; its pooled latent is the "mood of the voice".
Encoder: dilated causal Conv1d layers (kernel 3, left padding (k-1)*d only, so frame t sees frames <= t),
one dilation per layer (1, 2, 4, 8): receptive field 1 + 2*(1+2+4+8) = 31 frames ~ 0.5 s.
Bottleneck: a 1x1 conv to `latent` channels. Decoder: causal layers with the same dilations in reverse; decoder
layer i also receives the feature map of the encoder layer of the same dilation (U-Net-like skip connections that
"jump" each time scale to the decoder), squeezed to `skip` channels and, in training, each dropped whole with
probability skip_drop, so that the bottleneck must carry the voice (without this the latent collapsed to a
constant: measured, docs/singing.md). Input: log-mel standardised per band (statistics of the training set, stored
as buffers). Embedding: mean and standard deviation over time of the latent, concatenated and L2-normalised:
(2*latent,). Causal convolutions after WaveNet (van den Oord et al. 2016); reimplemented here.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..nn.blocks import conv2d_stack
from ..nn.checkpoint import Pretrained
from ..nn.momentum import ema_update, enqueue, frozen_copy
from .config import SSCLConfig, TJAEConfig
from .losses import info_nce

HOW_TO_TRAIN = "esmr sing train"


# ---- SSCL ---------------------------------------------------------------------------------------------------
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


class MoCo(Pretrained, nn.Module):
    """Query/key encoders + queue. forward(query_mel, key_mel, neg_mel=None) -> loss (training only);
    inference uses `encoder_q` (see embed_mel)."""

    MODEL_TYPE = "sscl"
    CONFIG_CLASS = SSCLConfig
    HOW_TO_TRAIN = HOW_TO_TRAIN

    def __init__(self, cfg: SSCLConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder_q = SSCLEncoder(cfg)
        self.encoder_k = frozen_copy(self.encoder_q)
        self.register_buffer("queue", F.normalize(torch.randn(cfg.queue_size, cfg.dim), dim=1))
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))

    def momentum_update(self) -> None:
        ema_update(self.encoder_k, self.encoder_q, self.cfg.momentum)

    def enqueue(self, keys: torch.Tensor) -> None:
        """Write keys (B, D) at the pointer, wrapping around; oldest keys are overwritten first."""
        enqueue(self.queue, self.queue_ptr, keys)

    def forward(self, query: torch.Tensor, key: torch.Tensor, neg: torch.Tensor | None = None) -> torch.Tensor:
        q = self.encoder_q(query)
        with torch.no_grad():
            self.momentum_update()
            k = self.encoder_k(key)
            kn = self.encoder_k(neg) if neg is not None else None
        loss = info_nce(q, k, self.queue.clone().detach(), self.cfg.temperature, kn)
        self.enqueue(k)
        return loss


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


# ---- TJAE ---------------------------------------------------------------------------------------------------
class CausalConv1d(nn.Conv1d):
    """Conv1d whose output at t depends on inputs <= t only (left padding (kernel-1)*dilation)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, dilation: int = 1):
        super().__init__(c_in, c_out, kernel, dilation=dilation)
        self.left = (kernel - 1) * dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:   # (B, C, T) -> (B, C', T)
        return super().forward(F.pad(x, (self.left, 0)))


class TJAE(Pretrained, nn.Module):
    """forward(mel (B, n_mels, T)) -> (reconstruction of normalize(mel) (B, n_mels, T), latent (B, latent, T))."""

    MODEL_TYPE = "tjae"
    CONFIG_CLASS = TJAEConfig
    HOW_TO_TRAIN = HOW_TO_TRAIN

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
