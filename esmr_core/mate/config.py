"""MATE's configuration: the model config (`MateConfig`, stored in a checkpoint's config.json) and the training
run's (`TrainConfig`, which holds the model config, so one object describes a run); `load_config` reads a JSON
file of a TrainConfig, strictly (an unknown key is refused). Example: esmr_core/configs/mate.json."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import from_dict, read_json
from ..emotion import EMOTIONS


@dataclass
class MateConfig:
    # --- audio front end (log-mel) ---
    sample_rate: int = 16000          # Hz; input audio must already be at this rate
    n_fft: int = 640                  # samples (40 ms window)
    hop_length: int = 320             # samples (20 ms hop)
    n_mels: int = 40                  # mel bands
    max_seconds: float = 4.0          # longer clips are centre-cropped to this many seconds
    # --- audio branch (2-D CNN) ---
    use_audio: bool = True            # False: text-only model (ablation)
    cnn_channels: tuple[int, ...] = (8, 16, 32)  # one conv block (conv3x3-BN-ReLU-pool2) per entry
    audio_dim: int = 128              # utterance audio embedding size (the paper's model used 816)
    band_norm: bool = False           # True: normalise each mel band by its own mean over time (cepstral mean
    #                                   normalisation per band) instead of one mean over all bins: a fixed channel
    #                                   colouration no longer reaches the CNN
    band_hz: tuple[float, ...] = ()    # (lo, hi): the CNN reads only the mel bands with centres in lo..hi Hz (e.g.
    #                                   300-3400, a telephone band, so a phone line cannot change what it sees);
    #                                   () = every band
    tilt_features: int = 0            # with band_norm: 1 or 2 numbers summarising the removed band means (slope,
    #                                   curvature over the 400-3000 Hz bands) fed beside the CNN pooling
    # --- text branch (frozen sentence encoder, run outside the model) ---
    use_text: bool = True             # False: audio-only model (ablation)
    text_encoder: str = "minilm"      # esmr_core.encoders name, e.g. "minilm" or "hub:snunlp/KR-BERT-char16424"
    text_dim: int = 384               # size of that encoder's sentence vector (MiniLM 384, BERT-base 768)
    text_dropout: float = 0.3         # training only: probability of replacing the text by the "missing" vector
    # --- fusion ---
    lstm_hidden: int = 128            # LSTM hidden size (the paper's model used 2048)
    lstm_layers: int = 1              # stacked LSTM layers (the paper's model used 8)
    dropout: float = 0.2              # dropout on the fused and LSTM features
    emotion_to_affect: bool = True    # feed the emotion probabilities to the affective-state head
    emotions: tuple[str, ...] = field(default_factory=lambda: tuple(EMOTIONS))  # output label order

    def __post_init__(self) -> None:
        self.cnn_channels = tuple(int(c) for c in self.cnn_channels)
        self.band_hz = tuple(float(f) for f in self.band_hz)
        if self.band_hz and (len(self.band_hz) != 2 or not 0 <= self.band_hz[0] < self.band_hz[1]):
            raise ValueError("MateConfig: band_hz must be () or (lo, hi) in Hz with lo < hi")
        self.emotions = tuple(self.emotions)
        if self.tilt_features not in (0, 1, 2) or (self.tilt_features and not self.band_norm):
            raise ValueError("MateConfig: tilt_features must be 0, 1 or 2, and needs band_norm")
        if not (self.use_audio or self.use_text):
            raise ValueError("MateConfig: at least one of use_audio / use_text must be true")

    @property
    def max_frames(self) -> int:
        return int(self.max_seconds * self.sample_rate / self.hop_length) + 1


@dataclass
class TrainConfig:
    """Everything a MATE training run needs: the model, the data, the loss and the optimiser."""

    model: MateConfig = field(default_factory=MateConfig)  # a dict in a config file
    speech: str | list[str] = "data/bootstrap"  # speech collection folder, or several (their rows are pooled)
    train_splits: list[str] | None = None  # rows trained on: these splits (None: every row outside the test split)
    lam: float = 0.75                 # lambda: weight of the emotion term (1 - lambda on arousal + valence MSE)
    class_balanced: bool = False      # Cui et al. weights + BCE emotion term instead of KL
    beta: float = 0.99                # class-balancing beta (0.9 .. 0.999)
    epochs: int = 12
    batch_size: int = 32
    lr: float = 2e-3                  # AdamW, one-cycle schedule
    weight_decay: float = 1e-4
    text_weight_aug: float = 0.0      # share of training utterances whose words get a random trust weight in
    #                                   [0, 1] (recognised words are weighted by the recogniser's confidence)
    channel_aug: float = 0.0          # share of training utterances read through a random channel in the log-mel
    #                                   domain (esmr_core.mate.augment: phone band, EQ, noise floor, reverb, gain)
    channel_aug_params: dict[str, Any] = field(default_factory=dict)  # overrides of the channel's ranges
    #                                   (esmr_core.mate.augment.ChannelAugParams fields), e.g. {"p_band": 0.7}
    consistency: float = 0.0          # weight of the consistency term: each batch is also read through a random
    #                                   channel and its readings are pulled to the unaugmented ones (UDA-style)
    consistency_av: float = 1.0       # weight of arousal/valence inside that term (beside the symmetric KL)
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.model, dict):
            self.model = from_dict(MateConfig, self.model, "MATE model config")
        if self.train_splits is not None:
            self.train_splits = [str(s) for s in self.train_splits]


def load_config(path: str | Path, **overrides: Any) -> TrainConfig:
    """A TrainConfig from a JSON file ({"model": {...MateConfig}, "speech": ..., ...TrainConfig fields}; keys
    starting with "_" are comments); keyword overrides that are not None win."""
    d = read_json(path, "MATE config")
    d = {k: v for k, v in d.items() if not k.startswith("_")}
    d.update({k: v for k, v in overrides.items() if v is not None})
    return from_dict(TrainConfig, d, f"MATE config {path}")
