"""What every frozen encoder declares, and the input checks they share.

An encoder is a deterministic, frozen feature extractor. It declares
  name         registry key, e.g. "prosody" or "hub:facebook/wav2vec2-base"
  version      bumped whenever its output for the same input changes (part of the feature-cache key)
  modality     "speech" | "music" | "text"
  sample_rate  Hz of the audio it takes (0 for text encoders)
  dim          length of one output vector
Audio encoders: `encode(samples (T,) float32 mono at sample_rate) -> (dim,) float32`.
Text encoders: `encode_texts(list of N str) -> (N, dim) float32`.
Heavy models are loaded lazily on first use (`_load`), once, under a lock, so building the registry is cheap
and an instance can be shared between threads.
"""
from __future__ import annotations

import threading
from typing import Sequence

import numpy as np

from ..errors import AudioError, EsmrError

MODALITIES = ("speech", "music", "text")


class Encoder:
    """Base of all encoders and the transcriber: metadata plus lazy, thread-safe loading."""

    name: str = ""
    version: str = "1"
    modality: str = ""
    sample_rate: int = 0
    dim: int = 0

    def __init__(self) -> None:
        self._load_lock = threading.Lock()
        self._loaded = False

    def _load(self) -> None:
        """Load models (override). Called once, under a lock, before the first encode."""

    def ensure_loaded(self) -> "Encoder":
        """Load the models now (normally done on first use); returns self."""
        if not self._loaded:
            with self._load_lock:
                if not self._loaded:
                    _quiet_transformers()
                    self._load()
                    self._loaded = True
        return self

    @property
    def cache_key(self) -> str:
        """`name@version`: what a cached feature depends on besides the input."""
        return f"{self.name}@{self.version}"

    def info(self) -> dict:
        """Metadata as a JSON-able dict."""
        return {"name": self.name, "version": self.version, "modality": self.modality,
                "sample_rate": self.sample_rate, "dim": self.dim}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim}, sample_rate={self.sample_rate})"


class AudioEncoder(Encoder):
    """Audio in, one vector out. `min_seconds` is the shortest input accepted."""

    min_seconds: float = 0.1

    def encode(self, samples: np.ndarray) -> np.ndarray:
        """(T,) mono float32 at `self.sample_rate` -> (dim,) float32."""
        x = check_samples(samples, self.sample_rate, self.min_seconds, who=self.name)
        self.ensure_loaded()
        out = np.asarray(self._encode(x), dtype=np.float32).reshape(-1)
        if out.shape != (self.dim,):  # a bug, not bad input
            raise RuntimeError(f"encoder {self.name} returned shape {out.shape}, declared ({self.dim},)")
        return out

    def _encode(self, samples: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


class TextEncoder(Encoder):
    """Texts in, one vector per text out."""

    modality = "text"

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """N strings -> (N, dim) float32. Empty (or whitespace-only) strings give zero vectors."""
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        if not all(isinstance(t, str) for t in texts):
            raise EsmrError(f"{self.name}: encode_texts takes a list of strings")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        keep = [i for i, t in enumerate(texts) if t.strip()]
        if keep:
            self.ensure_loaded()
            vecs = np.asarray(self._encode_texts([texts[i].strip() for i in keep]), dtype=np.float32)
            out[keep] = vecs
        return out

    def encode(self, text: str) -> np.ndarray:
        """One string -> (dim,) float32."""
        return self.encode_texts([text])[0]

    def _encode_texts(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


def check_samples(samples: np.ndarray, sample_rate: int, min_seconds: float = 0.0, who: str = "encoder") -> np.ndarray:
    """Validate a mono waveform and return it as contiguous float32 (T,).

    Raises AudioError (with what to do) for non-arrays, multichannel, empty, too short or non-finite input.
    """
    try:
        x = np.asarray(samples, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise AudioError(f"{who}: audio must be a numeric array of samples ({exc})") from None
    if x.ndim == 2 and 1 in x.shape:
        x = x.reshape(-1)
    if x.ndim != 1:
        raise AudioError(f"{who}: expected mono audio of shape (T,), got {x.shape}; downmix it first "
                         "(esmr_core.audio.load_audio does this)")
    if x.size == 0:
        raise AudioError(f"{who}: the audio is empty; record or upload a clip with sound in it")
    if x.size < int(min_seconds * sample_rate):
        raise AudioError(f"{who}: the audio is {x.size / sample_rate:.2f} s long; give at least "
                         f"{min_seconds:g} s")
    if not np.isfinite(x).all():
        raise AudioError(f"{who}: the audio contains NaN or infinite samples; re-export the file")
    return np.ascontiguousarray(x)


def _quiet_transformers() -> None:
    """No "Loading weights" progress bars from transformers on stderr (the CLI's stderr is for errors)."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover - transformers is a dependency
        return
    hf_logging.disable_progress_bar()
