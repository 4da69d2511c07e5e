"""The speech-music joint embedding model (docs/methods.md sections 1 and 2), MoCo-style in one small file.

Two towers map frozen-encoder features into one L2-normalised space where a speech query retrieves music by
cosine; an emotion head reads the speech embedding; a momentum (EMA) copy of the music tower fills a queue of
music embeddings (+ mood labels) kept as buffers, so the queue is saved with the model.

Heads follow MoCo v3 (Chen, Xie, He 2021; facebookresearch/moco-v3) as Doh et al.'s reference code
(seungheondoh/speech-to-music) uses them: Linear -> BatchNorm -> ReLU -> Linear -> BatchNorm(affine=False).
The momentum update is ALBEF's / MoCo's theta_m <- m * theta_m + (1 - m) * theta (reimplemented).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import from_dict
from ..nn.checkpoint import Pretrained
from ..nn.momentum import ema_update, enqueue, frozen_copy
from .config import JointConfig


def projection_head(in_dim: int, hidden: int, out: int) -> nn.Sequential:
    """MoCo v3 2-layer MLP: (B, in_dim) -> (B, out)."""
    return nn.Sequential(
        nn.Linear(in_dim, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
        nn.Linear(hidden, out, bias=False), nn.BatchNorm1d(out, affine=False),
    )


class Tower(nn.Module):
    """Standardise (buffers mean/std from the training set) -> dropout -> projection head."""

    def __init__(self, in_dim: int, cfg: JointConfig):
        super().__init__()
        self.register_buffer("mean", torch.zeros(in_dim))
        self.register_buffer("std", torch.ones(in_dim))
        self.drop = nn.Dropout(cfg.dropout)
        self.head = projection_head(in_dim, cfg.hidden_dim, cfg.embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, in_dim) -> (B, D), not normalised
        return self.head(self.drop((x - self.mean) / self.std))


class JointModel(Pretrained, nn.Module):
    MODEL_TYPE = "esmr-joint"
    CONFIG_CLASS = JointConfig
    HOW_TO_TRAIN = "esmr train --config esmr_core/configs/default.json"

    def __init__(self, cfg: JointConfig, feature_spec: dict[str, Any] | None = None):
        super().__init__()
        self.cfg = cfg
        self.feature_spec = feature_spec or {}  # encoders (names, versions, dims) that make the inputs
        self.speech = Tower(cfg.speech_dim, cfg)
        self.music = Tower(cfg.music_dim, cfg)
        self.emotion_head = nn.Sequential(
            nn.Linear(cfg.embed_dim, cfg.emotion_hidden), nn.ReLU(inplace=True),
            nn.Linear(cfg.emotion_hidden, cfg.n_emotions + 3),  # 7 logits + valence/arousal/dominance
        )
        if cfg.momentum:
            self.music_m = frozen_copy(self.music)
            self.register_buffer("queue", F.normalize(torch.randn(cfg.queue_size, cfg.embed_dim), dim=1))
            self.register_buffer("queue_labels", torch.full((cfg.queue_size,), -1, dtype=torch.long))  # -1 empty
            self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))

    # ---- inference ---------------------------------------------------------------------------------------
    def encode_speech(self, x: torch.Tensor) -> torch.Tensor:
        """Speech features (B, speech_dim) -> joint embeddings (B, D), unit length."""
        return F.normalize(self.speech(x), dim=-1)

    def encode_music(self, x: torch.Tensor) -> torch.Tensor:
        """Music features (B, music_dim) -> joint embeddings (B, D), unit length."""
        return F.normalize(self.music(x), dim=-1)

    def emotion_from_embedding(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Joint speech embeddings (B, D) -> emotion logits (B, 7), valence/arousal/dominance (B, 3) in [0, 1]."""
        out = self.emotion_head(z)
        return out[:, : self.cfg.n_emotions], torch.sigmoid(out[:, self.cfg.n_emotions:])

    def predict_emotion(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Speech features (B, speech_dim) -> (probabilities over cfg.emotions (B, 7), VAD in [0, 1] (B, 3))."""
        logits, vad = self.emotion_from_embedding(self.encode_speech(x))
        return logits.softmax(dim=-1), vad

    # ---- momentum + queue ----------------------------------------------------------------------------------
    @torch.no_grad()
    def momentum_update(self) -> None:
        """theta_m <- m * theta_m + (1 - m) * theta for the music tower (buffers copied)."""
        ema_update(self.music_m, self.music, self.cfg.momentum_m)

    @torch.no_grad()
    def encode_music_momentum(self, x: torch.Tensor) -> torch.Tensor:
        """Music features (B, music_dim) -> momentum embeddings (B, D), unit length, no gradient."""
        return F.normalize(self.music_m(x), dim=-1)

    @torch.no_grad()
    def enqueue(self, z: torch.Tensor, labels: torch.Tensor) -> None:
        """Write momentum embeddings (B, D) and their mood ids (B,) into the ring buffer."""
        enqueue(self.queue, self.queue_ptr, z, self.queue_labels, labels)

    # ---- persistence (esmr_core/nn/checkpoint.py) -----------------------------------------------------------
    def encoders(self) -> list[dict[str, Any]]:
        """The frozen encoders of both sides, as the feature spec records them (checked when loading)."""
        return [{k: e[k] for k in ("name", "version", "dim", "full_dim") if k in e}
                for side in ("speech", "music") for e in self.feature_spec.get(side, [])]

    def sections(self) -> dict[str, Any]:
        return {"feature_spec": self.feature_spec}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> "JointModel":
        return cls(from_dict(JointConfig, payload["config"], "esmr-joint config"), payload.get("feature_spec"))
