"""Voice timbre: resemblyzer's 256-d speaker embedding (d-vector).

Resemblyzer (resemble-ai/Resemblyzer, Apache-2.0) is the GE2E speaker encoder of Wan et al. (2018,
"Generalized end-to-end loss for speaker verification"); its weights ship inside the package.
Its own `preprocess_wav` normalises volume to -30 dBFS and removes long silences with webrtcvad.
That trimming can leave nothing (or a sliver) of a short, quiet or non-speech clip, and digital silence
makes its volume normalisation divide by zero; both cases are guarded here:
- silent input (peak below 1e-4) -> the zero vector;
- if the VAD keeps less than half a second (or less than a quarter of the clip), the untrimmed,
  volume-normalised clip is embedded instead.
Output: (256,) float32, L2 norm 1 (or all zeros for silence).
"""
from __future__ import annotations

import warnings

import numpy as np

from .base import AudioEncoder

SAMPLE_RATE = 16000
SILENT_PEAK = 1e-4
MIN_KEEP_S = 0.5


class TimbreEncoder(AudioEncoder):
    """`encode(samples (T,) float32 at 16 kHz) -> (256,) float32` unit-norm d-vector."""

    name = "timbre"
    version = "1"
    modality = "speech"
    sample_rate = SAMPLE_RATE
    dim = 256
    min_seconds = 0.1

    def __init__(self) -> None:
        super().__init__()
        self._model = None

    def _load(self) -> None:
        import torch

        with warnings.catch_warnings():   # its imports warn about scipy / pkg_resources deprecations
            warnings.simplefilter("ignore")
            from resemblyzer import VoiceEncoder
            import resemblyzer.audio  # noqa: F401

        with torch.inference_mode():
            self._model = VoiceEncoder("cpu", verbose=False).eval()
        # Warm up (first LSTM / mel call is slow), so the first user request is not.
        self._embed(np.sin(np.linspace(0, 2000, SAMPLE_RATE * 2)).astype(np.float32) * 0.1)

    def preprocess(self, samples: np.ndarray) -> np.ndarray:
        """Volume-normalise and trim long silences as resemblyzer does, guarded against emptying the clip."""
        from resemblyzer.audio import normalize_volume, trim_long_silences
        from resemblyzer.hparams import audio_norm_target_dBFS

        wav = normalize_volume(samples.astype(np.float64), audio_norm_target_dBFS, increase_only=True)
        wav = np.clip(wav, -1.0, 1.0).astype(np.float32)   # its int16 conversion would wrap around
        trimmed = trim_long_silences(wav)
        if len(trimmed) < max(MIN_KEEP_S * SAMPLE_RATE, 0.25 * len(wav)):
            return wav
        return trimmed

    def _embed(self, wav: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self._model.embed_utterance(wav)

    def _encode(self, y: np.ndarray) -> np.ndarray:
        if np.abs(y).max() < SILENT_PEAK:
            return np.zeros(self.dim, dtype=np.float32)
        return self._embed(self.preprocess(y))
