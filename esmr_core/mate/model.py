"""MATE: Multimodal model using Audio and Text for Emotion recognition (METHODS.md section 4, seeds/003).

Reimplemented from the description in the KAIST "MATE" slides (Hong, Kim, Lee, Kim): a single-path fusion model.
Per utterance, an audio embedding (log-mel spectrogram -> small 2-D CNN) and a text embedding (a frozen sentence
encoder's vector of the transcript, computed outside this module) are concatenated; an LSTM runs over the
utterances of a dialogue (a lone utterance is a dialogue of one); an emotion head gives 7 logits and an
affective-state head gives arousal and valence on 1..5 as 4 * sigmoid(x) + 1, fed the LSTM feature plus the
emotion probabilities (switchable for the ablation).

Shapes: B dialogues, S utterances per dialogue, M mel bands, T frames (20 ms hop by default), E text size,
C = 7 emotions.
The model returns predictions, never losses (losses live in esmr_core.mate.train).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..emotion import EMOTIONS
from ..errors import ModelUnavailableError
from ..nn.blocks import conv2d_stack
from ..nn.checkpoint import read_checkpoint, write_checkpoint


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
    audio_dim: int = 128              # utterance audio embedding size (the seed used 816)
    # --- text branch (frozen sentence encoder, run outside the model) ---
    use_text: bool = True             # False: audio-only model (ablation)
    text_encoder: str = "minilm"      # esmr_core.encoders name, e.g. "minilm" or "hub:snunlp/KR-BERT-char16424"
    text_dim: int = 384               # size of that encoder's sentence vector (MiniLM 384, BERT-base 768)
    text_dropout: float = 0.3         # training only: probability of replacing the text by the "missing" vector
    # --- fusion ---
    lstm_hidden: int = 128            # LSTM hidden size (the seed used 2048)
    lstm_layers: int = 1              # stacked LSTM layers (the seed used 8)
    dropout: float = 0.2              # dropout on the fused and LSTM features
    emotion_to_affect: bool = True    # feed the emotion probabilities to the affective-state head
    emotions: tuple[str, ...] = field(default_factory=lambda: tuple(EMOTIONS))  # output label order

    def __post_init__(self) -> None:
        self.cnn_channels = tuple(int(c) for c in self.cnn_channels)
        self.emotions = tuple(self.emotions)
        if not (self.use_audio or self.use_text):
            raise ValueError("MateConfig: at least one of use_audio / use_text must be true")

    @property
    def max_frames(self) -> int:
        return int(self.max_seconds * self.sample_rate / self.hop_length) + 1

    def to_dict(self) -> dict:
        d = asdict(self)
        d["cnn_channels"] = list(self.cnn_channels)
        d["emotions"] = list(self.emotions)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "MateConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown MATE config keys {unknown}; known: {sorted(known)}")
        return cls(**d)


class LogMel(nn.Module):
    """Waveform (N, L) at config.sample_rate -> log-mel (N, M, T) in dB-like units (log(1e-6 + power))."""

    def __init__(self, cfg: MateConfig):
        super().__init__()
        import librosa  # filterbank only (Slaney mel scale, as librosa.feature.melspectrogram)

        fb = librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels)  # (M, n_fft//2+1)
        self.register_buffer("fb", torch.from_numpy(fb).float(), persistent=False)
        self.register_buffer("window", torch.hann_window(cfg.n_fft), persistent=False)
        self.n_fft, self.hop = cfg.n_fft, cfg.hop_length

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(wave, self.n_fft, self.hop, window=self.window, center=True, return_complex=True)
        power = spec.real ** 2 + spec.imag ** 2                      # (N, F, T)
        return torch.log(torch.matmul(self.fb, power) + 1e-6)        # (N, M, T)


class AudioCNN(nn.Module):
    """Log-mel (N, M, T) + valid frame counts (N,) -> utterance embedding (N, audio_dim).

    Input normalised per utterance (one mean and std over all bins: level-free, spectral shape kept), conv blocks
    that halve both axes, then masked mean + max pooling over time."""

    def __init__(self, cfg: MateConfig):
        super().__init__()
        self.blocks, c_in = conv2d_stack(cfg.cnn_channels)
        self.n_pool = len(cfg.cnn_channels)
        self.proj = nn.Linear(2 * c_in, cfg.audio_dim)

    def forward(self, mels: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        n, _, t = mels.shape
        frame_ok = torch.arange(t, device=mels.device)[None, :] < lengths[:, None]         # (N, T)
        m = frame_ok[:, None, :].float()                                                    # (N, 1, T)
        denom = (m.sum((1, 2), keepdim=True) * mels.shape[1]).clamp(min=1)
        mean = (mels * m).sum((1, 2), keepdim=True) / denom                                  # (N, 1, 1)
        var = ((mels - mean) ** 2 * m).sum((1, 2), keepdim=True) / denom
        x = ((mels - mean) / (var.sqrt() + 1e-3) * m)[:, None]                               # (N, 1, M, T)
        x = self.blocks(x)                                                                   # (N, C, M', T')
        x = x.mean(2)                                                                        # (N, C, T')
        t2 = x.shape[-1]
        l2 = (lengths // (2 ** self.n_pool)).clamp(min=1, max=t2)
        ok = (torch.arange(t2, device=x.device)[None, :] < l2[:, None])[:, None, :]         # (N, 1, T')
        mean_t = (x * ok).sum(-1) / l2[:, None]
        max_t = x.masked_fill(~ok, float("-inf")).amax(-1)
        return self.proj(torch.cat([mean_t, max_t], dim=1))                                 # (N, audio_dim)


class MateModel(nn.Module):
    """The MATE network. See the module docstring for the data flow."""

    def __init__(self, cfg: MateConfig):
        super().__init__()
        self.config = cfg
        self.logmel = LogMel(cfg)
        in_dim = 0
        if cfg.use_audio:
            self.audio = AudioCNN(cfg)
            in_dim += cfg.audio_dim
        if cfg.use_text:
            self.text_norm = nn.LayerNorm(cfg.text_dim)
            # learned stand-in for an utterance without transcript (no ASR / empty ASR)
            self.missing_text = nn.Parameter(torch.zeros(cfg.text_dim))
            in_dim += cfg.text_dim
        self.drop = nn.Dropout(cfg.dropout)
        self.lstm = nn.LSTM(in_dim, cfg.lstm_hidden, num_layers=cfg.lstm_layers, batch_first=True,
                            dropout=cfg.dropout if cfg.lstm_layers > 1 else 0.0)
        n_cls = len(cfg.emotions)
        self.emotion_head = nn.Linear(cfg.lstm_hidden, n_cls)
        aff_in = cfg.lstm_hidden + (n_cls if cfg.emotion_to_affect else 0)
        self.affect_head = nn.Sequential(nn.Linear(aff_in, cfg.lstm_hidden), nn.ReLU(), nn.Linear(cfg.lstm_hidden, 2))

    # ---- utterance-level pieces ----
    def wave_to_mels(self, wave: torch.Tensor) -> torch.Tensor:
        """(N, L) float waveform at sample_rate -> (N, M, T) log-mel."""
        return self.logmel(wave)

    def encode_utterances(self, mels: torch.Tensor | None, mel_lengths: torch.Tensor | None,
                          text: torch.Tensor | None, has_text: torch.Tensor | None) -> torch.Tensor:
        """Fused per-utterance features (N, audio_dim + text_dim) from mels (N, M, T), lengths (N,),
        text vectors (N, E) and has_text (N,): a bool mask (False -> the learned missing-text vector) or a
        weight in [0, 1] per utterance, blending the text towards that vector (how far the words are trusted)."""
        parts = []
        if self.config.use_audio:
            parts.append(self.audio(mels, mel_lengths))
        if self.config.use_text:
            if text is None and not parts:
                raise ValueError("a text-only MATE model needs text vectors")
            n = parts[0].shape[0] if parts else text.shape[0]
            if text is None:
                text = self.missing_text.expand(n, -1)
                has_text = torch.zeros(n, dtype=torch.bool, device=self.missing_text.device)
            keep = has_text[:, None].to(self.missing_text.dtype)                               # (N, 1) in [0, 1]
            if self.training and self.config.text_dropout > 0:
                keep = keep * (torch.rand(n, 1, device=keep.device) >= self.config.text_dropout)
            missing = self.missing_text.expand(n, -1)
            parts.append(missing + keep * (self.text_norm(text) - missing))
        return torch.cat(parts, dim=1)

    def forward(self, mels: torch.Tensor | None, mel_lengths: torch.Tensor | None, text: torch.Tensor | None,
                has_text: torch.Tensor | None, seq_lengths: torch.Tensor | None = None,
                seq_shape: tuple[int, int] | None = None) -> dict[str, torch.Tensor]:
        """Utterances flattened dialogue-major: N = B * S rows (pad rows allowed), seq_shape = (B, S).

        Without seq_shape every utterance is its own dialogue (B = N, S = 1). Returns
          logits (B, S, C), probs (B, S, C), arousal (B, S) and valence (B, S) on 1..5."""
        fused = self.drop(self.encode_utterances(mels, mel_lengths, text, has_text))        # (N, D)
        b, s = seq_shape if seq_shape is not None else (fused.shape[0], 1)
        x = fused.view(b, s, -1)                                                            # (B, S, D)
        if seq_lengths is not None and s > 1:
            packed = nn.utils.rnn.pack_padded_sequence(x, seq_lengths.cpu(), batch_first=True, enforce_sorted=False)
            h, _ = self.lstm(packed)
            h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=s)
        else:
            h, _ = self.lstm(x)                                                              # (B, S, H)
        h = self.drop(h)
        logits = self.emotion_head(h)                                                       # (B, S, C)
        probs = logits.softmax(-1)
        aff_in = torch.cat([h, probs], dim=-1) if self.config.emotion_to_affect else h
        av = 4.0 * torch.sigmoid(self.affect_head(aff_in)) + 1.0                            # (B, S, 2) on 1..5
        return {"logits": logits, "probs": probs, "arousal": av[..., 0], "valence": av[..., 1]}

    # ---- persistence ----
    def save_pretrained(self, directory: str | Path, extra: dict | None = None) -> Path:
        """Write config.json (+ `extra` metadata under "meta") and model.safetensors into directory."""
        payload = {"model_type": "mate", **self.config.to_dict()}
        if extra:
            payload["meta"] = extra
        return write_checkpoint(directory, payload, self)

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> "MateModel":
        """Rebuild from config.json and load model.safetensors with strict=True; eval mode."""
        d, state = read_checkpoint(directory, "MATE", "esmr mate train --config esmr_core/configs/mate.json")
        if d.pop("model_type", "mate") != "mate":
            raise ModelUnavailableError(f"{directory} does not hold a MATE checkpoint")
        d.pop("meta", None)
        model = cls(MateConfig.from_dict(d))
        model.load_state_dict(state, strict=True)
        return model.eval()


def crop_or_pad(samples: np.ndarray, n: int) -> np.ndarray:
    """Centre-crop a 1-D waveform to n samples (shorter ones are returned unchanged)."""
    if samples.shape[0] <= n:
        return samples
    start = (samples.shape[0] - n) // 2
    return samples[start:start + n]
