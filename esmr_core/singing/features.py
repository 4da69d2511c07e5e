"""Shared signal helpers of the singing models: log-mel frames and cheap augmentations.

Frame grid: 16 kHz audio, hop 256 samples (16 ms), 1024-sample window, 64 mel bands 50-8000 Hz, log10 power
compressed as log(1 + 1e4 * power) / log(1e4) so a full-scale tone is about 1 and silence 0.

Augmentations are deliberately cheap (2 shared CPU cores), after the policies of Yakura, Watanabe and Goto
("Self-supervised contrastive learning for singing voices", TASLP 2022):
- pitch shift: resample the waveform by 2**(s/12) (pitch AND formants move, as a different singer would), then
  put the mel frames back on the original time axis by linear interpolation, so only pitch/timbre changes;
- time stretch: linear interpolation of the mel frames along time (tempo changes, pitch does not);
- vibrato: a sinusoidal time warp of the waveform (frequency modulation), used to make synthetic singers.
"""
from __future__ import annotations

import math

import numpy as np
import torch

SR = 16000
HOP = 256           # samples, 16 ms
N_FFT = 1024
N_MELS = 64
FMIN, FMAX = 50.0, 8000.0
FRAMES_PER_S = SR / HOP  # 62.5

_MEL_FB: torch.Tensor | None = None


def _mel_fb() -> torch.Tensor:
    global _MEL_FB
    if _MEL_FB is None:
        import librosa

        fb = librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=N_MELS, fmin=FMIN, fmax=FMAX)  # (64, 513)
        _MEL_FB = torch.from_numpy(fb.astype(np.float32))
    return _MEL_FB


def logmel(samples: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Waveform (T,) or (B, T) float at 16 kHz -> log-mel (N_MELS, F) or (B, N_MELS, F), float32 in ~[0, 1]."""
    x = torch.as_tensor(np.asarray(samples, dtype=np.float32) if not torch.is_tensor(samples) else samples)
    squeeze = x.dim() == 1
    x = x.reshape(-1, x.shape[-1]).float()
    if x.shape[-1] < N_FFT:
        x = torch.nn.functional.pad(x, (0, N_FFT - x.shape[-1]))
    spec = torch.stft(x, N_FFT, HOP, window=torch.hann_window(N_FFT), return_complex=True, center=True)
    power = spec.abs().pow(2) / (N_FFT / 2) ** 2                       # (B, 513, F), full-scale sine ~ 0.25
    mel = torch.matmul(_mel_fb(), power)                              # (B, 64, F)
    out = torch.log1p(1e4 * mel) / math.log(1e4)
    return out[0] if squeeze else out


def resample_ratio(y: np.ndarray, ratio: float) -> np.ndarray:
    """Play `y` `ratio` times faster (pitch up by 12*log2(ratio) semitones, length / ratio). Linear interpolation."""
    n_out = max(1, int(round(len(y) / ratio)))
    pos = np.arange(n_out, dtype=np.float64) * ratio
    return np.interp(pos, np.arange(len(y)), y).astype(np.float32)


def stretch_frames(mel: torch.Tensor, rate: float, n_frames: int | None = None) -> torch.Tensor:
    """Time-stretch mel frames (..., M, F) by `rate` (>1 faster, fewer frames); optionally resize to n_frames."""
    f = mel.shape[-1]
    n = n_frames if n_frames is not None else max(1, int(round(f / rate)))
    x = mel.reshape(-1, mel.shape[-2], f)
    out = torch.nn.functional.interpolate(x, size=n, mode="linear", align_corners=False)
    return out.reshape(*mel.shape[:-1], n)


def pitch_shift_mel(y: np.ndarray, semitones: float) -> torch.Tensor:
    """Log-mel of `y` shifted by `semitones` (formants move with it), on y's own time axis: (N_MELS, F)."""
    ref = logmel(y)
    shifted = logmel(resample_ratio(y, 2.0 ** (semitones / 12.0)))
    return stretch_frames(shifted, 1.0, n_frames=ref.shape[-1])


def vibrato(y: np.ndarray, rate_hz: float, depth_semitones: float, sr: int = SR, phase: float = 0.0) -> np.ndarray:
    """Add vibrato: pitch oscillates +-depth_semitones at rate_hz (a sinusoidal time warp). Same length as y."""
    if depth_semitones <= 0 or rate_hz <= 0:
        return y.astype(np.float32)
    t = np.arange(len(y)) / sr
    # instantaneous speed 1 + a*cos(2 pi f t) ~ 2**(depth/12 * cos): a = 2**(depth/12) - 1
    a = 2.0 ** (depth_semitones / 12.0) - 1.0
    warp = t + a / (2 * np.pi * rate_hz) * np.sin(2 * np.pi * rate_hz * t + phase)
    return np.interp(np.clip(warp * sr, 0, len(y) - 1), np.arange(len(y)), y).astype(np.float32)


def random_crop(mel: torch.Tensor, n_frames: int, rng: np.random.Generator) -> torch.Tensor:
    """A random window of n_frames frames from (..., M, F) (zero-padded when shorter)."""
    f = mel.shape[-1]
    if f < n_frames:
        return torch.nn.functional.pad(mel, (0, n_frames - f))
    start = int(rng.integers(0, f - n_frames + 1))
    return mel[..., start:start + n_frames]
