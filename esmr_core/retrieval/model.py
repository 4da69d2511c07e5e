"""The speech-music joint embedding model (METHODS.md 1 and 2), MoCo-style in one small file.

Two towers map frozen-encoder features into one L2-normalised space where a speech query retrieves music by
cosine; an emotion head reads the speech embedding; a momentum (EMA) copy of the music tower fills a queue of
music embeddings (+ mood labels) kept as buffers, so the queue is saved with the model.

Heads follow MoCo v3 (Chen, Xie, He 2021; facebookresearch/moco-v3) as Doh et al.'s reference code
(seungheondoh/speech-to-music) uses them: Linear -> BatchNorm -> ReLU -> Linear -> BatchNorm(affine=False).
The momentum update is ALBEF's / MoCo's theta_m <- m * theta_m + (1 - m) * theta (reimplemented).
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..emotion import EMOTIONS, MUSIC_MOODS
from ..errors import ModelUnavailableError
from ..nn.checkpoint import read_checkpoint, write_checkpoint


@dataclass
class JointConfig:
    speech_dim: int = 690  # size of the concatenated frozen speech features (e.g. prosody + timbre + minilm)
    music_dim: int = 64  # size of the frozen music features
    embed_dim: int = 128  # size of the joint space
    hidden_dim: int = 512  # hidden width of each projection head
    dropout: float = 0.1  # dropout on the standardised inputs (training only)
    n_emotions: int = len(EMOTIONS)  # classes of the emotion head
    emotion_hidden: int = 64  # hidden width of the emotion head
    momentum: bool = False  # keep an EMA copy of the music tower and a queue of its embeddings
    momentum_m: float = 0.995  # EMA momentum m in theta_m <- m theta_m + (1 - m) theta
    queue_size: int = 1024  # K, momentum music embeddings kept in the queue
    space: str = "VAD"  # emotion space of the label similarity the model was trained with ("VA" | "VAD")
    emotions: list[str] = field(default_factory=lambda: list(EMOTIONS))  # speech label set, head order
    moods: list[str] = field(default_factory=lambda: list(MUSIC_MOODS))  # music label set, queue label ids

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "JointConfig":
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown JointConfig fields {unknown}")
        return cls(**d)


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


class JointModel(nn.Module):
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
            self.music_m = copy.deepcopy(self.music)
            for p in self.music_m.parameters():
                p.requires_grad_(False)
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
        for p_m, p in zip(self.music_m.parameters(), self.music.parameters()):
            p_m.mul_(self.cfg.momentum_m).add_(p.detach(), alpha=1 - self.cfg.momentum_m)
        for b_m, b in zip(self.music_m.buffers(), self.music.buffers()):
            b_m.copy_(b)

    @torch.no_grad()
    def encode_music_momentum(self, x: torch.Tensor) -> torch.Tensor:
        """Music features (B, music_dim) -> momentum embeddings (B, D), unit length, no gradient."""
        return F.normalize(self.music_m(x), dim=-1)

    @torch.no_grad()
    def enqueue(self, z: torch.Tensor, labels: torch.Tensor) -> None:
        """Write momentum embeddings (B, D) and their mood ids (B,) into the ring buffer."""
        k = self.cfg.queue_size
        n = min(len(z), k)
        idx = (self.queue_ptr + torch.arange(n, device=z.device)) % k
        self.queue[idx] = z[-n:].detach()
        self.queue_labels[idx] = labels[-n:]
        self.queue_ptr.fill_(int((self.queue_ptr + n) % k))

    # ---- persistence --------------------------------------------------------------------------------------
    def save_pretrained(self, directory: str | Path, extra: dict[str, Any] | None = None) -> Path:
        """Write config.json (model config, feature spec, label sets, emotion space, `extra` under "meta")
        and model.safetensors into directory."""
        payload = {"model_type": "esmr-joint", "config": asdict(self.cfg), "feature_spec": self.feature_spec,
                   "emotions": list(self.cfg.emotions), "moods": list(self.cfg.moods), "space": self.cfg.space,
                   "meta": extra or {}}
        return write_checkpoint(directory, payload, self)

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> "JointModel":
        """Rebuild from config.json alone and load model.safetensors with strict=True; eval mode."""
        payload, state = read_checkpoint(directory, "joint-model",
                                         "esmr train --config esmr_core/configs/default.json")
        if payload.get("model_type") != "esmr-joint":
            raise ModelUnavailableError(f"{directory} holds a {payload.get('model_type')!r} model, not esmr-joint")
        model = cls(JointConfig.from_dict(payload["config"]), payload.get("feature_spec"))
        model.load_state_dict(state, strict=True)
        return model.eval()
