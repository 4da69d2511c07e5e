"""A channel-robust reading of one voice: the speech tower reads the clip as recorded AND a telephone-band copy
of it, and the two readings are pooled (test-time augmentation).

Why: a phone line (300-3400 Hz) or background noise changed the speech tower's emotion label for 26-28 % of the
val speakers' clips (scripts/val_channel.py), more than the issue allows (>= 0.80 agreement). A band-limited
copy is nearly the same whether or not the original already went through a phone line or picked up broadband
noise, so pooling it with the clip pulls the readings of the clean and the degraded clip together. Measured on
the corpus's val speakers (never on the benchmark's voices), label agreement with the clean clip, tower:
telephone 0.74 -> 0.86, 20 dB SNR 0.72 -> 0.83, 10 dB 0.71 -> 0.76, reverberation 0.74 -> 0.80, Opus 24 kbit/s
0.93 -> 0.95 (76 clips of 5 speakers at three prosody levels). The same pooling did not help MATE there
(reverberation 0.74 -> 0.61), so MATE reads the clip alone.

Pooling: the mean of the views' emotion probabilities and of their valence/arousal/dominance, and the
normalised mean of their joint embeddings for the music search. Costs one more feature extraction per query.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..data.emofilt import _telephone
from ..errors import EsmrError

VIEWS = ("telephone",)           # extra views read besides the clip itself (the service's default)
KNOWN_VIEWS = ("telephone",)


def telephone_view(samples16k: np.ndarray) -> np.ndarray:
    """The clip through a 300-3400 Hz band at 8 kHz (no mu-law), back at 16 kHz, same length, float32."""
    y = np.asarray(samples16k, dtype=np.float64)
    if y.ndim != 1 or y.size == 0 or not np.isfinite(y).all():
        raise EsmrError("a channel view needs one channel of finite 16 kHz samples")
    return _telephone(y, mu_law=False).astype(np.float32)


def views(samples16k: np.ndarray, extra: Sequence[str] = VIEWS) -> list[np.ndarray]:
    """[the clip, then each extra view] as 16 kHz float32 arrays."""
    bad = [v for v in extra if v not in KNOWN_VIEWS]
    if bad:
        raise EsmrError(f"unknown channel view(s) {bad}; choose from {KNOWN_VIEWS}")
    out = [np.asarray(samples16k, dtype=np.float32)]
    for v in extra:
        out.append(telephone_view(samples16k))
    return out


def pooled_reading(model: Any, x: np.ndarray) -> tuple[Any, np.ndarray, np.ndarray]:
    """Speech-tower reading of V views' features x (V, D) -> (z (1, E) unit torch tensor, probs (E_classes,),
    vad (1, 3) numpy): the mean of the views' probabilities and VAD, the normalised mean embedding."""
    import torch

    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or len(x) == 0:
        raise EsmrError("pooled_reading needs the features of at least one view, shaped (views, dim)")
    with torch.inference_mode():
        zs = model.encode_speech(torch.from_numpy(x))
        logits, vad = model.emotion_from_embedding(zs)
        probs = logits.softmax(-1).mean(0).numpy()
        z = torch.nn.functional.normalize(zs.mean(0, keepdim=True), dim=-1)
        vad = vad.mean(0, keepdim=True).numpy()
    return z, probs, vad
