"""Configuration of the singing encoders and of their training run (docs/methods.md section 3).

`SSCLConfig` and `TJAEConfig` are stored in a checkpoint's config.json (read strictly by esmr_core.config.from_dict:
an unknown key is refused); `TrainConfig` describes one `esmr sing train` run; `load_config(path, **overrides)`
reads a JSON file of a TrainConfig, strictly.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import from_dict, read_json
from . import features as fx

POLICIES = ("timbre", "expression", "plain")
MODELS = ("sscl", "tjae")


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

    def __post_init__(self) -> None:
        self.channels = tuple(int(c) for c in self.channels)
        if self.policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}, got {self.policy!r}")


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

    def __post_init__(self) -> None:
        self.dilations = tuple(int(d) for d in self.dilations)


@dataclass
class TrainConfig:
    """Everything an `esmr sing train` run needs (the model configs keep their defaults)."""

    sscl_steps: int = 300          # optimiser steps per SSCL policy
    tjae_steps: int = 200          # optimiser steps of TJAE
    batch: int = 32                # SSCL crops per step (TJAE always uses 32)
    sscl_lr: float = 1e-3          # AdamW peak learning rate (one-cycle schedule), SSCL
    tjae_lr: float = 2e-3          # same, TJAE
    with_ablation: bool = True     # also train SSCL "plain" (written to work/sscl-plain, not shipped)
    only: tuple[str, ...] = MODELS  # which models to train: "sscl", "tjae"
    max_speech: int = 200          # bootstrap speech clips added to the training audio, at most
    seed: int = 0
    work: str = "data/singing"     # cache of precomputed views and the ablation model

    def __post_init__(self) -> None:
        self.only = tuple(self.only)
        bad = [m for m in self.only if m not in MODELS]
        if bad or not self.only:
            raise ValueError(f"only must name some of {MODELS}, got {list(self.only)}")


def load_config(path: str | Path, **overrides: Any) -> TrainConfig:
    """Read a JSON training config; keyword overrides that are not None win."""
    d = read_json(path, "singing training config")
    d.update({k: v for k, v in overrides.items() if v is not None})
    return from_dict(TrainConfig, d, f"singing training config {path}")
