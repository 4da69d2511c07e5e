"""MATE: Multimodal model using Audio and Text for Emotion recognition (docs/methods.md section 4).

Reimplemented from the description in the KAIST "MATE" slides (Hong, Kim, Lee, Kim): a single-path fusion model.
Per utterance, an audio embedding (log-mel spectrogram -> small 2-D CNN) and a text embedding (a frozen sentence
encoder's vector of the transcript, computed outside this module) are concatenated; an LSTM runs over the
utterances of a dialogue (a lone utterance is a dialogue of one); an emotion head gives 7 logits and an
affective-state head gives arousal and valence on 1..5 as 4 * sigmoid(x) + 1, fed the LSTM feature plus the
emotion probabilities (switchable for the ablation).

Shapes: B dialogues, S utterances per dialogue, M mel bands, T frames (20 ms hop by default), E text size,
C = 7 emotions.
The model returns predictions, never losses (losses live in esmr_core.mate.losses). Its config, MateConfig, is in
esmr_core.mate.config; a checkpoint records the text encoder's name, version and size, checked at load.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..encoders import get_encoder
from ..nn.blocks import conv2d_stack
from ..nn.checkpoint import Pretrained, encoder_entry
from .config import MateConfig


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
        self.band_norm, self.n_tilt = cfg.band_norm, cfg.tilt_features
        self.bands = band_selection(cfg)                                                   # None: all bands
        self.proj = nn.Linear(2 * c_in + cfg.tilt_features, cfg.audio_dim)
        if cfg.tilt_features:
            basis = tilt_basis(cfg)
            self.register_buffer("tilt_basis", basis if self.bands is None else basis[:, self.bands],
                                 persistent=False)                                         # (K, M)

    def forward(self, mels: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if self.bands is not None:
            mels = mels[:, self.bands]
        n, _, t = mels.shape
        frame_ok = torch.arange(t, device=mels.device)[None, :] < lengths[:, None]         # (N, T)
        m = frame_ok[:, None, :].float()                                                    # (N, 1, T)
        denom = (m.sum((1, 2), keepdim=True) * mels.shape[1]).clamp(min=1)
        if self.band_norm:   # per-band (cepstral) mean normalisation, Atal 1974 / Furui 1981
            mean = (mels * m).sum(2, keepdim=True) / m.sum(2, keepdim=True).clamp(min=1)     # (N, M, 1)
        else:
            mean = (mels * m).sum((1, 2), keepdim=True) / denom                              # (N, 1, 1)
        var = ((mels - mean) ** 2 * m).sum((1, 2), keepdim=True) / denom
        x = ((mels - mean) / (var.sqrt() + 1e-3) * m)[:, None]                               # (N, 1, M, T)
        tilt = (mean[..., 0] @ self.tilt_basis.T) if self.n_tilt else None                  # (N, K)
        x = self.blocks(x)                                                                   # (N, C, M', T')
        x = x.mean(2)                                                                        # (N, C, T')
        t2 = x.shape[-1]
        l2 = (lengths // (2 ** self.n_pool)).clamp(min=1, max=t2)
        ok = (torch.arange(t2, device=x.device)[None, :] < l2[:, None])[:, None, :]         # (N, 1, T')
        mean_t = (x * ok).sum(-1) / l2[:, None]
        max_t = x.masked_fill(~ok, float("-inf")).amax(-1)
        return self.proj(torch.cat([mean_t, max_t] + ([tilt] if tilt is not None else []), dim=1))  # (N, audio_dim)


def mel_centres(cfg: MateConfig) -> np.ndarray:
    """(M,) centre frequencies (Hz) of LogMel's Slaney mel bands."""
    import librosa

    return librosa.mel_frequencies(cfg.n_mels + 2, fmin=0.0, fmax=cfg.sample_rate / 2.0)[1:-1]


def band_selection(cfg: MateConfig) -> list[int] | None:
    """Indices of the mel bands the CNN reads (cfg.band_hz: centres in lo..hi Hz), None for all of them."""
    if not cfg.band_hz:
        return None
    f = mel_centres(cfg)
    sel = [i for i, c in enumerate(f) if cfg.band_hz[0] <= c <= cfg.band_hz[1]]
    if len(sel) < 2 ** len(cfg.cnn_channels):
        raise ValueError(f"MateConfig: band_hz {cfg.band_hz} keeps {len(sel)} mel bands, fewer than the "
                         f"{2 ** len(cfg.cnn_channels)} the CNN's pooling needs; widen it or use more n_mels")
    return sel


def tilt_basis(cfg: MateConfig, lo_hz: float = 400.0, hi_hz: float = 3000.0) -> torch.Tensor:
    """(K, M) least-squares projections giving, from a per-band log level (M,), the slope (K >= 1) and the
    curvature (K = 2) of a polynomial in log frequency fitted over the bands with centres in lo_hz..hi_hz (inside
    a telephone band, so a band limit does not move them); per octave, in the log-mel's natural-log units."""
    f = mel_centres(cfg)
    sel = (f >= lo_hz) & (f <= hi_hz)
    z = np.log2(f[sel] / np.sqrt(lo_hz * hi_hz))                                # octaves around the middle
    design = np.stack([np.ones_like(z), z, z ** 2 - np.mean(z ** 2)], 1)        # (M_sel, 3)
    pinv = np.linalg.pinv(design)                                               # (3, M_sel)
    basis = np.zeros((2, len(f)))
    basis[:, sel] = pinv[1:3]
    return torch.from_numpy(basis[:cfg.tilt_features]).float()


class MateModel(Pretrained, nn.Module):
    """The MATE network. See the module docstring for the data flow."""

    MODEL_TYPE = "mate"
    CONFIG_CLASS = MateConfig
    HOW_TO_TRAIN = "esmr mate train --config esmr_core/configs/mate.json"

    def __init__(self, cfg: MateConfig):
        super().__init__()
        self.cfg = cfg
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
        if self.cfg.use_audio:
            parts.append(self.audio(mels, mel_lengths))
        if self.cfg.use_text:
            if text is None and not parts:
                raise ValueError("a text-only MATE model needs text vectors")
            n = parts[0].shape[0] if parts else text.shape[0]
            if text is None:
                text = self.missing_text.expand(n, -1)
                has_text = torch.zeros(n, dtype=torch.bool, device=self.missing_text.device)
            keep = has_text[:, None].to(self.missing_text.dtype)                               # (N, 1) in [0, 1]
            if self.training and self.cfg.text_dropout > 0:
                keep = keep * (torch.rand(n, 1, device=keep.device) >= self.cfg.text_dropout)
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
        aff_in = torch.cat([h, probs], dim=-1) if self.cfg.emotion_to_affect else h
        av = 4.0 * torch.sigmoid(self.affect_head(aff_in)) + 1.0                            # (B, S, 2) on 1..5
        return {"logits": logits, "probs": probs, "arousal": av[..., 0], "valence": av[..., 1]}

    @property
    def config(self) -> MateConfig:
        return self.cfg

    def encoders(self) -> list[dict[str, Any]]:
        """The frozen text encoder whose sentence vectors the model reads (none for an audio-only model)."""
        return [encoder_entry(get_encoder(self.cfg.text_encoder))] if self.cfg.use_text else []


def crop_or_pad(samples: np.ndarray, n: int) -> np.ndarray:
    """Centre-crop a 1-D waveform to n samples (shorter ones are returned unchanged)."""
    if samples.shape[0] <= n:
        return samples
    start = (samples.shape[0] - n) // 2
    return samples[start:start + n]
