"""Prosody and voice-quality descriptors of a speech clip: pitch, loudness, rhythm, spectral shape.

44 numbers in the fixed order of FEATURE_NAMES (units in the names: st = semitones re 100 Hz, db = dB,
khz = kHz, per_s = per second). They are raw descriptors on different scales: standardise them
(e.g. with the training set's mean/std or a BatchNorm head) before mixing them with other features.

Frame grid: 16 ms (256 samples at 16 kHz), the grid of the SwiftF0 pitch tracker.
- pitch: SwiftF0 (Nieradzik 2025, swift-f0, MIT; ONNX inside the package), voiced = confidence >= 0.5.
- loudness: frame RMS in dBFS over "active" frames (within 40 dB of the clip's 99th percentile), so
  leading/trailing silence does not dominate.
- rhythm: syllable nuclei after de Jong & Wempe (2009, "Praat script to detect syllable nuclei and measure
  speech rate automatically"): peaks of the 300-3000 Hz band intensity (where vowels carry their energy)
  that stand at least 2 dB above their surroundings, lie at least 48 ms apart, above
  max(median, p99 - 25 dB), and fall on voiced frames.
- spectral shape on the long-term average spectrum of voiced frames: alpha ratio and Hammarberg index as
  in eGeMAPS (Eyben et al. 2016), spectral slope 0-5 kHz; spectral centroid and MFCC 1..13 per frame.
A clip with no voiced frames gets zeros for the pitch and rhythm features (never NaN).
"""
from __future__ import annotations

import numpy as np
from scipy.signal import find_peaks

from .base import AudioEncoder

SAMPLE_RATE = 16000
HOP = 256                # samples, 16 ms; SwiftF0's frame period
N_FFT = 512              # 32 ms window
FMIN_HZ, FMAX_HZ = 50.0, 1000.0
FLOOR_DB = -100.0
N_MFCC = 13

FEATURE_NAMES: tuple[str, ...] = (
    "f0_median_st", "f0_mean_st", "f0_range_st", "f0_std_st", "f0_delta_std_st", "f0_slope_st_per_s",
    "voiced_ratio",
    "rms_mean_db", "rms_std_db", "rms_p95_db", "rms_range_db",
    "nuclei_per_voiced_s", "nuclei_per_s",
    "centroid_mean_khz", "centroid_std_khz", "alpha_ratio_db", "hammarberg_db", "spectral_slope_db_per_khz",
    *(f"mfcc{i}_mean" for i in range(1, N_MFCC + 1)),
    *(f"mfcc{i}_std" for i in range(1, N_MFCC + 1)),
)


def hz_to_st(f0_hz: np.ndarray) -> np.ndarray:
    """Frequency in Hz -> semitones relative to 100 Hz."""
    return 12.0 * np.log2(np.asarray(f0_hz, dtype=np.float64) / 100.0)


class ProsodyEncoder(AudioEncoder):
    """`encode(samples (T,) float32 at 16 kHz) -> (44,) float32` in the order of FEATURE_NAMES."""

    name = "prosody"
    version = "1"
    modality = "speech"
    sample_rate = SAMPLE_RATE
    dim = len(FEATURE_NAMES)
    feature_names = FEATURE_NAMES
    min_seconds = 0.1

    def __init__(self) -> None:
        super().__init__()
        self._detector = None
        self._mel_fb = None
        self._dct = None

    def _load(self) -> None:
        import librosa
        from swift_f0 import SwiftF0

        # One ONNX thread and no busy-wait: the right setting on a shared server (see SwiftF0's docstring).
        self._detector = SwiftF0(threads=1, spin=False)
        self._mel_fb = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=40, fmin=20.0, fmax=8000.0)
        n_mels = self._mel_fb.shape[0]
        # Orthonormal DCT-II matrix (what librosa.feature.mfcc uses), rows 0..N_MFCC.
        k = np.arange(N_MFCC + 1)[:, None]
        n = np.arange(n_mels)[None, :]
        dct = np.cos(np.pi / n_mels * (n + 0.5) * k) * np.sqrt(2.0 / n_mels)
        dct[0] /= np.sqrt(2.0)
        self._dct = dct

    def pitch(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """F0 track: (pitch_hz (F,), voiced (F,) bool) on the 16 ms grid."""
        self.ensure_loaded()
        res = self._detector.detect(samples, SAMPLE_RATE, fmin=FMIN_HZ, fmax=FMAX_HZ)
        return res.pitch_hz, res.confidence >= 0.5

    def _encode(self, y: np.ndarray) -> np.ndarray:
        f0_hz, voiced = self.pitch(y)
        power = _power_spectrogram(y)                                   # (F', 257)
        n = min(len(voiced), power.shape[0])
        f0_hz, voiced, power = f0_hz[:n], voiced[:n], power[:n]

        rms_db = 10.0 * np.log10(np.maximum(power.sum(axis=1) * 2.0 / (N_FFT * np.sum(_WINDOW ** 2)), 1e-10))
        rms_db = np.maximum(rms_db, FLOOR_DB)                           # (n,) dBFS
        active = rms_db > np.percentile(rms_db, 99) - 40.0
        if rms_db.max() <= FLOOR_DB + 1e-6:
            active[:] = True

        feats = [*_pitch_stats(f0_hz, voiced), float(voiced.mean())]
        a = rms_db[active]
        p5, p95 = np.percentile(a, [5, 95])
        feats += [a.mean(), a.std(), p95, p95 - p5]
        vowel_db = 10.0 * np.log10(np.maximum(power[:, (FREQS >= 300) & (FREQS < 3000)].sum(axis=1), 1e-10))
        feats += _rate_stats(np.maximum(vowel_db, FLOOR_DB), voiced, len(y) / SAMPLE_RATE)
        feats += self._spectral_stats(power, active, voiced)
        return np.asarray(feats, dtype=np.float32)

    def _spectral_stats(self, power: np.ndarray, active: np.ndarray, voiced: np.ndarray) -> list[float]:
        freqs = FREQS
        pa = power[active]
        centroid = (pa @ freqs) / np.maximum(pa.sum(axis=1), 1e-12) / 1000.0      # kHz per frame
        sel = voiced & active if np.any(voiced & active) else active
        ltas = power[sel].mean(axis=0) + 1e-12                                    # long-term average spectrum
        band = lambda lo, hi: (freqs >= lo) & (freqs < hi)                        # noqa: E731
        alpha = 10.0 * np.log10(ltas[band(1000, 5000)].sum() / ltas[band(50, 1000)].sum())
        hammarberg = 10.0 * np.log10(ltas[band(0, 2000)].max() / ltas[band(2000, 5000)].max())
        b = band(0, 5000)
        slope = np.polyfit(freqs[b] / 1000.0, 10.0 * np.log10(ltas[b]), 1)[0]     # dB per kHz
        mel_db = 10.0 * np.log10(np.maximum(pa @ self._mel_fb.T, 1e-10))          # (frames, 40)
        mel_db = np.maximum(mel_db, mel_db.max() - 80.0)
        mfcc = (mel_db @ self._dct.T)[:, 1:]                                      # (frames, 13), c0 dropped
        return [centroid.mean(), centroid.std(), alpha, hammarberg, slope, *mfcc.mean(axis=0), *mfcc.std(axis=0)]


_WINDOW = np.hanning(N_FFT + 1)[:-1].astype(np.float64)   # periodic Hann
FREQS = np.fft.rfftfreq(N_FFT, 1.0 / SAMPLE_RATE)          # (257,) Hz


def _power_spectrogram(y: np.ndarray) -> np.ndarray:
    """|STFT|^2 with a 32 ms Hann window, 16 ms hop, frames centred on t = k * 16 ms: (frames, 257)."""
    padded = np.pad(y.astype(np.float64), (N_FFT // 2, N_FFT // 2))
    n_frames = 1 + (len(padded) - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n_frames)[:, None]
    return np.abs(np.fft.rfft(padded[idx] * _WINDOW, axis=1)) ** 2


def _pitch_stats(f0_hz: np.ndarray, voiced: np.ndarray) -> list[float]:
    """[median, mean, p95-p5 range, std, std of frame deltas, slope per s] of voiced F0 in semitones."""
    if voiced.sum() < 2:
        return [0.0] * 6
    st = hz_to_st(f0_hz[voiced])
    t = np.flatnonzero(voiced) * (HOP / SAMPLE_RATE)
    p5, p95 = np.percentile(st, [5, 95])
    both = voiced[1:] & voiced[:-1]
    deltas = np.diff(hz_to_st(np.maximum(f0_hz, 1e-3)))[both]
    delta_std = float(deltas.std()) if deltas.size else 0.0
    slope = float(np.polyfit(t, st, 1)[0]) if np.ptp(t) > 0 else 0.0
    return [float(np.median(st)), float(st.mean()), float(p95 - p5), float(st.std()), delta_std, slope]


def _rate_stats(band_db: np.ndarray, voiced: np.ndarray, duration_s: float) -> list[float]:
    """[syllable nuclei per second of voiced time, nuclei per second of the whole clip]."""
    n_voiced = int(voiced.sum())
    if n_voiced == 0:
        return [0.0, 0.0]
    threshold = max(float(np.median(band_db)), float(np.percentile(band_db, 99)) - 25.0)
    peaks, _ = find_peaks(band_db, height=threshold, prominence=2.0, distance=3)   # >= 48 ms apart
    near_voiced = voiced | np.r_[voiced[1:], False] | np.r_[False, voiced[:-1]]
    nuclei = int(near_voiced[peaks].sum())
    return [nuclei / (n_voiced * HOP / SAMPLE_RATE), nuclei / max(duration_s, 1e-3)]
