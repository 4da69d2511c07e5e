"""Frozen feature extractors behind one small registry.

    get_encoder("prosody").encode(samples16k)        # (44,)  pitch / loudness / rate / spectral shape
    get_encoder("timbre").encode(samples16k)         # (256,) resemblyzer d-vector
    get_encoder("minilm").encode_texts(["hello"])    # (1, 384) sentence embedding
    get_encoder("asr").transcribe(samples16k)        # "hello" (PocketSphinx, English)
    get_encoder("asr-minilm").encode(samples16k)     # (384,) transcript -> MiniLM
    get_encoder("music").encode(music16k)            # (68,)  librosa descriptors + vibenet
    get_encoder("hub:facebook/wav2vec2-base")        # transformers checkpoints (see hub.py), built on demand

Every encoder declares name, version, modality, sample_rate and dim (base.py). `get_encoder` returns one
shared instance per name, created on first request under a lock; model weights load lazily on first use.
"""
from __future__ import annotations

import threading
from typing import Callable

from ..errors import EsmrError
from .base import AudioEncoder, Encoder, TextEncoder


def _prosody():
    from .prosody import ProsodyEncoder
    return ProsodyEncoder()


def _timbre():
    from .timbre import TimbreEncoder
    return TimbreEncoder()


def _minilm():
    from .text import MiniLMEncoder
    return MiniLMEncoder()


def _asr():
    from .asr import AsrTranscriber
    return AsrTranscriber()


def _asr_minilm():
    from .asr import TranscriptEncoder
    return TranscriptEncoder(get_encoder("asr"), get_encoder("minilm"))


def _music():
    from .music import MusicEncoder
    return MusicEncoder()


_FACTORIES: dict[str, Callable[[], Encoder]] = {
    "prosody": _prosody,
    "timbre": _timbre,
    "minilm": _minilm,
    "asr": _asr,
    "asr-minilm": _asr_minilm,
    "music": _music,
}
_INSTANCES: dict[str, Encoder] = {}
_LOCK = threading.RLock()   # re-entrant: "asr-minilm" asks for "asr" and "minilm" while building


def list_encoders() -> list[str]:
    """Names of the built-in encoders (hub encoders are any "hub:<name or folder>")."""
    return list(_FACTORIES)


def get_encoder(name: str) -> Encoder:
    """The shared instance for `name` ("prosody", ..., or "hub:<checkpoint>[@mean]"), built once.

    Raises EsmrError for an unknown name, ModelUnavailableError when a hub checkpoint cannot be loaded.
    """
    with _LOCK:
        enc = _INSTANCES.get(name)
        if enc is not None:
            return enc
        if name in _FACTORIES:
            enc = _FACTORIES[name]()
        elif name.startswith("hub:") and len(name) > 4:
            from .hub import build_hub_encoder
            enc = build_hub_encoder(name[4:])
        else:
            known = ", ".join(list_encoders())
            raise EsmrError(f"unknown encoder '{name}'; choose one of {known}, or 'hub:<model name or folder>'")
        _INSTANCES[name] = enc
        return enc


__all__ = ["AudioEncoder", "Encoder", "TextEncoder", "get_encoder", "list_encoders"]
