"""Descriptors of a music excerpt: librosa rhythm / loudness / timbre / tonality statistics + vibenet.

`MusicEncoder.encode(samples (T,) float32 mono at 16 kHz) -> (68,) float32` in the order of FEATURE_NAMES
(units in the names). Raw descriptors on different scales: standardise before use.
Spectral frames: 128 ms Hann window (n_fft 2048), 32 ms hop, at 16 kHz (content above 8 kHz is ignored).
- tempo: librosa.feature.tempo on the spectral-flux onset envelope (BPM); onset rate: peaks of that envelope.
- key clarity / mode: correlation of the mean chroma vector with the 24 rotated Krumhansl-Kessler key
  profiles (Krumhansl & Kessler 1982; the Krumhansl-Schmuckler key-finding algorithm): key_clarity = the
  best correlation, mode = best major minus best minor correlation (> 0 sounds major).
- vibenet (github.com/jaeheonshim/vibenet, GPL-3.0+; EfficientNet ONNX inside the package, trained on Spotify
  audio features) in [0,1]: VIBENET_KEYS order. `vibenet_scores(samples16k) -> dict` for the catalogue builder.
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy.signal import find_peaks

from .base import AudioEncoder, check_samples
from . import get_encoder

SAMPLE_RATE = 16000
N_FFT, HOP = 2048, 512
N_MFCC = 13
PITCH_CLASSES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
VIBENET_KEYS: tuple[str, ...] = ("valence", "energy", "danceability", "acousticness", "instrumentalness",
                                 "liveness", "speechiness")
# Krumhansl & Kessler (1982) probe-tone ratings, tonic first.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

FEATURE_NAMES: tuple[str, ...] = (
    "tempo_bpm", "onset_rate_per_s",
    "rms_mean_db", "rms_std_db", "rms_p95_db", "rms_range_db",
    "centroid_mean_khz", "centroid_std_khz", "bandwidth_mean_khz", "bandwidth_std_khz",
    "rolloff_mean_khz", "rolloff_std_khz", "flatness_mean", "flatness_std",
    *(f"contrast{i}_mean_db" for i in range(1, 8)),
    *(f"chroma_{pc}_mean" for pc in PITCH_CLASSES),
    "key_clarity", "mode_major_minus_minor",
    *(f"mfcc{i}_mean" for i in range(1, N_MFCC + 1)),
    *(f"mfcc{i}_std" for i in range(1, N_MFCC + 1)),
    *(f"vibenet_{k}" for k in VIBENET_KEYS),
)


def key_profile_scores(chroma_mean: np.ndarray) -> tuple[float, float, int, bool]:
    """(12,) mean chroma -> (key_clarity, major-minus-minor, tonic pitch class 0..11, is_major)."""
    c = np.asarray(chroma_mean, dtype=np.float64)
    if np.ptp(c) < 1e-9:
        return 0.0, 0.0, 0, True
    corr = lambda p: np.array([np.corrcoef(c, np.roll(p, k))[0, 1] for k in range(12)])   # noqa: E731
    major, minor = corr(KK_MAJOR), corr(KK_MINOR)
    is_major = major.max() >= minor.max()
    tonic = int(np.argmax(major if is_major else minor))
    return float(max(major.max(), minor.max())), float(major.max() - minor.max()), tonic, bool(is_major)


class MusicEncoder(AudioEncoder):
    """`encode(samples (T,) float32 at 16 kHz) -> (68,) float32` in the order of FEATURE_NAMES."""

    name = "music"
    version = "1"
    modality = "music"
    sample_rate = SAMPLE_RATE
    dim = len(FEATURE_NAMES)
    feature_names = FEATURE_NAMES
    min_seconds = 1.0

    def __init__(self) -> None:
        super().__init__()
        self._vibenet = None

    def _load(self) -> None:
        with warnings.catch_warnings():   # pydub (imported by vibenet) warns that ffmpeg is absent: not needed
            warnings.simplefilter("ignore")
            import vibenet

            self._vibenet = vibenet.load_model()

    def vibenet_scores(self, samples: np.ndarray) -> dict[str, float]:
        """(T,) float32 at 16 kHz -> {valence, energy, danceability, acousticness, instrumentalness,
        liveness, speechiness}, each in [0,1]."""
        y = check_samples(samples, SAMPLE_RATE, self.min_seconds, who=self.name)
        self.ensure_loaded()
        result = self._vibenet.predict([y], sr=SAMPLE_RATE)[0].to_dict()
        return {k: float(result[k]) for k in VIBENET_KEYS}

    def descriptors(self, y: np.ndarray) -> np.ndarray:
        """The librosa part: (61,) float64, FEATURE_NAMES without the vibenet entries."""
        import librosa

        power = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP)) ** 2            # (1025, frames)
        mag = np.sqrt(power)
        freqs = librosa.fft_frequencies(sr=SAMPLE_RATE, n_fft=N_FFT)
        mel_db = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=SAMPLE_RATE, n_mels=64))
        duration = len(y) / SAMPLE_RATE

        onset_env = librosa.onset.onset_strength(S=mel_db, sr=SAMPLE_RATE, hop_length=HOP)
        tempo = float(librosa.feature.tempo(onset_envelope=onset_env, sr=SAMPLE_RATE, hop_length=HOP)[0])
        env = onset_env / max(float(onset_env.max()), 1e-9)
        peaks, _ = find_peaks(env, height=float(env.mean()), prominence=0.1, distance=2)   # >= 64 ms apart
        feats = [tempo, len(peaks) / duration]

        rms_db = 20.0 * np.log10(np.maximum(librosa.feature.rms(S=mag, frame_length=N_FFT)[0], 1e-5))
        active = rms_db > np.percentile(rms_db, 99) - 50.0
        a = rms_db[active]
        p5, p95 = np.percentile(a, [5, 95])
        feats += [a.mean(), a.std(), p95, p95 - p5]

        m = mag[:, active]
        for values, scale in ((librosa.feature.spectral_centroid(S=m, freq=freqs)[0], 1e-3),
                              (librosa.feature.spectral_bandwidth(S=m, freq=freqs)[0], 1e-3),
                              (librosa.feature.spectral_rolloff(S=m, freq=freqs, roll_percent=0.85)[0], 1e-3),
                              (librosa.feature.spectral_flatness(S=m)[0], 1.0)):
            feats += [values.mean() * scale, values.std() * scale]
        contrast = librosa.feature.spectral_contrast(S=m, sr=SAMPLE_RATE, n_fft=N_FFT, fmin=100.0, n_bands=6)
        feats += list(contrast.mean(axis=1))

        chroma = librosa.feature.chroma_stft(S=power[:, active], sr=SAMPLE_RATE, n_fft=N_FFT, tuning=0.0)
        chroma_mean = chroma.mean(axis=1)
        clarity, mode, _, _ = key_profile_scores(chroma_mean)
        feats += [*chroma_mean, clarity, mode]

        mfcc = librosa.feature.mfcc(S=mel_db[:, active], n_mfcc=N_MFCC + 1)[1:]       # (13, frames)
        feats += [*mfcc.mean(axis=1), *mfcc.std(axis=1)]
        return np.asarray(feats, dtype=np.float64)

    def _encode(self, y: np.ndarray) -> np.ndarray:
        if np.abs(y).max() < 1e-5:   # digital silence: nothing to describe, and vibenet's dB scale breaks
            return np.zeros(self.dim, dtype=np.float32)
        scores = self.vibenet_scores(y)
        return np.concatenate([self.descriptors(y), [scores[k] for k in VIBENET_KEYS]]).astype(np.float32)


def vibenet_scores(samples16k: np.ndarray) -> dict[str, float]:
    """vibenet's seven scores in [0,1] for a 16 kHz excerpt (shared "music" encoder instance)."""
    return get_encoder("music").vibenet_scores(samples16k)
