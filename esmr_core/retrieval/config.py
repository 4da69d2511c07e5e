"""Configuration of the joint speech-music model and of its training run (docs/methods.md sections 1, 2).

`load_config(path, **overrides)` reads a JSON file (esmr_core/configs/*.json) strictly: unknown keys are
refused with the list of known ones."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import from_dict, read_json
from ..emotion import EMOTIONS, MUSIC_MOODS
from .losses import TEMPERATURE, LossConfig


@dataclass
class JointConfig:
    speech_dim: int = 684  # size of the concatenated frozen speech features (e.g. prosody 44 + timbre 256 + minilm 384)
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


@dataclass
class TrainConfig:
    name: str = "default"  # run / checkpoint name
    description: str = ""  # free text (what the config is for)
    modality: str = "fusion"  # speech features: "audio" (prosody + timbre), "text" (minilm), "fusion" (all),
    #                           "voice" (prosody), "voice-text" (prosody + minilm): see features.MODALITIES
    drop_speech_features: list[str] = field(default_factory=list)  # single speech features left out by name
    #                           (e.g. the MFCC means, which identify a speaker or a channel more than an emotion)
    space: str = "VAD"  # label-similarity space for the losses and positives: "VA" | "VAD"
    speech: str | list[str] = "data/bootstrap"  # speech collection folder, or several (their rows are pooled)
    catalog: str = ""  # music collection folder ("" = the bundled catalogue, assets/music)
    losses: dict[str, float] = field(default_factory=lambda: {"triplet": 1.0, "emotion": 1.0, "vad": 1.0})
    margin: float = 0.4  # triplet margin (cosine distance)
    temperature: float = TEMPERATURE  # InfoNCE / distillation temperature
    t1: float = 0.1  # KL temperature of label similarity
    t2: float = 0.1  # KL temperature of cosine similarity
    alpha: float = 0.4  # momentum distillation: weight of the momentum soft targets
    embed_dim: int = 128  # joint space size
    hidden_dim: int = 512  # projection head width
    dropout: float = 0.1  # input dropout
    text_dropout: float = 0.0  # share of training speech whose transcript block is zeroed ("no words"), so a
    #                            fusion model also serves queries without a transcript (ASR off or empty)
    text_weight_aug: float = 0.0  # share of the other training speech whose transcript block is scaled by a
    #                            uniform weight in [0, 1], so that partly trusted words (ASR confidence) are in range
    momentum: bool = False  # momentum music tower + queue + distilled InfoNCE targets
    momentum_m: float = 0.995  # EMA momentum
    queue_size: int = 1024  # momentum queue length
    lr: float = 1e-3  # AdamW peak learning rate
    weight_decay: float = 1e-2  # AdamW weight decay
    batch_size: int = 64  # speech clips per step
    epochs: int = 60  # maximum epochs
    warmup_epochs: int = 5  # linear warm-up, then cosine decay to 0
    patience: int = 15  # early stopping: epochs without a better validation MRR
    seed: int = 0  # seeds numpy, torch and the loss samplers

    def loss_config(self) -> LossConfig:
        return LossConfig(weights=dict(self.losses), margin=self.margin, temperature=self.temperature,
                          t1=self.t1, t2=self.t2, alpha=self.alpha)


def load_config(path: str | Path, **overrides: Any) -> TrainConfig:
    """Read a JSON training config; keyword overrides that are not None win."""
    d = read_json(path, "training config")
    d.update({k: v for k, v in overrides.items() if v is not None})
    return from_dict(TrainConfig, d, f"training config {path}")
