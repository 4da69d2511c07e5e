"""Frozen-encoder features for the joint model: one query fast, or a whole collection through the cache.

A *feature spec* (stored in every joint checkpoint's config.json) names the encoders whose outputs are
concatenated, in order, with their versions and output sizes:
    {"modality": "fusion",
     "speech": [{"name": "prosody", "version": "...", "dim": 44}, {"name": "timbre", ...}, {"name": "minilm", ...}],
     "music":  [{"name": "music", "version": "...", "dim": ...}]}
Speech modalities: "audio" = prosody + timbre, "text" = minilm (transcript), "fusion" = all three;
"voice" = prosody alone and "voice-text" = prosody + minilm keep the speaker embedding out of the emotion path.
Audio arrives as float32 mono at 16 kHz (esmr_core.audio); encoders with another rate get it resampled.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..errors import EsmrError
from ..logs import progress as progress_bar
from ..nn.checkpoint import check_encoders
from ..encoders import get_encoder
from ..errors import AudioError
from ..audio import load_audio, load_music

MODALITIES: dict[str, tuple[str, ...]] = {
    "audio": ("prosody", "timbre"),
    "text": ("minilm",),
    "fusion": ("prosody", "timbre", "minilm"),
    # without the speaker embedding: the voice's prosody alone, and prosody + words
    "voice": ("prosody",),
    "voice-text": ("prosody", "minilm"),
}
SAMPLE_RATE = 16_000


def is_text_encoder(enc: Any) -> bool:
    return hasattr(enc, "encode_texts")


def make_spec(modality: str, music_encoders: Sequence[str] = ("music",),
              drop_speech_features: Sequence[str] = ()) -> dict[str, Any]:
    """The feature spec of a modality with the installed encoders' versions and sizes.

    drop_speech_features: names of single features (an encoder's `feature_names`, e.g. "mfcc1_mean") left out
    of the speech side; the spec entry then records them under "drop" and its "dim" counts the kept ones."""
    if modality not in MODALITIES:
        raise EsmrError(f"unknown speech modality {modality!r}; choose one of {sorted(MODALITIES)}")
    drop = set(drop_speech_features)

    def entry(name: str, side: str) -> dict[str, Any]:
        enc = get_encoder(name)
        e = {"name": enc.name, "version": str(enc.version), "dim": int(enc.dim)}
        names = tuple(getattr(enc, "feature_names", ()) or ())
        gone = [n for n in names if n in drop] if side == "speech" else []
        if gone:
            e.update(full_dim=int(enc.dim), drop=gone, dim=int(enc.dim) - len(gone))
        return e

    spec = {"modality": modality, "speech": [entry(n, "speech") for n in MODALITIES[modality]],
            "music": [entry(n, "music") for n in music_encoders]}
    unknown = drop - {n for e in spec["speech"] for n in e.get("drop", ())}
    if unknown:
        raise EsmrError(f"drop_speech_features names no feature of the {modality!r} encoders: {sorted(unknown)}")
    return spec


def spec_dim(spec: dict[str, Any], side: str) -> int:
    """Total input size of one side ("speech" | "music") of a spec."""
    return int(sum(e["dim"] for e in spec[side]))


def _encoders(spec: dict[str, Any], side: str) -> list[Any]:
    """The installed encoders of one side of a spec, each checked against the recorded version and size."""
    return check_encoders(spec[side], "the checkpoint", "esmr train")


def _kept(entry: dict[str, Any], enc: Any) -> np.ndarray | None:
    """Column indices of an encoder's output that a spec entry keeps (None = all)."""
    drop = set(entry.get("drop", ()))
    if not drop:
        return None
    return np.array([i for i, n in enumerate(enc.feature_names) if n not in drop], dtype=np.int64)


def _select(x: np.ndarray, entry: dict[str, Any], enc: Any) -> np.ndarray:
    cols = _kept(entry, enc)
    return x if cols is None else x[..., cols]


def _at_rate(samples: np.ndarray, enc: Any) -> np.ndarray:
    rate = int(getattr(enc, "sample_rate", SAMPLE_RATE) or SAMPLE_RATE)
    if rate == SAMPLE_RATE:
        return samples
    import librosa

    return librosa.resample(samples, orig_sr=SAMPLE_RATE, target_sr=rate).astype(np.float32)


def _audio_features(enc: Any, samples: np.ndarray) -> np.ndarray:
    return np.asarray(enc.encode(_at_rate(np.asarray(samples, dtype=np.float32), enc)), dtype=np.float32).reshape(-1)


def text_columns(spec: dict[str, Any]) -> list[tuple[int, int]]:
    """[start, stop) column ranges of the text encoders inside a spec's speech feature vector."""
    out, start = [], 0
    for e in spec["speech"]:
        if is_text_encoder(get_encoder(e["name"])):
            out.append((start, start + int(e["dim"])))
        start += int(e["dim"])
    return out


def blank_text(x: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
    """Copy of speech features (N, Ds) with the text blocks zeroed: "no transcript" (what empty text gives)."""
    x = np.array(x, dtype=np.float32, copy=True)
    for a, b in text_columns(spec):
        x[..., a:b] = 0.0
    return x


def speech_vector(samples16k: np.ndarray | None, text: str | None, spec: dict[str, Any],
                  text_weight: float = 1.0) -> np.ndarray:
    """Features of ONE speech query for a checkpoint's spec: (speech_dim,) float32.

    samples16k: mono float32 at 16 kHz (needed when the spec has audio encoders); text: the transcript
    (from ASR or the user). With audio encoders present, a missing transcript (None or "") gives a zero text
    block, which models trained with `text_dropout` read as "words unknown"; a text-only spec needs text.
    text_weight in [0, 1] scales the text block towards that "unknown" point: how far the words are trusted
    (1 for typed words; the recogniser's calibrated confidence for recognised ones).
    """
    parts = []
    encs = _encoders(spec, "speech")
    audio_present = any(not is_text_encoder(enc) for enc in encs)
    for entry, enc in zip(spec["speech"], encs):
        if is_text_encoder(enc):
            if not (text or "").strip() and not audio_present:
                raise EsmrError("this model reads only the words: pass a transcript (or type what was said)")
            vec = np.asarray(enc.encode_texts([text or ""]), dtype=np.float32).reshape(-1)
            parts.append(vec * np.float32(text_weight))
        else:
            if samples16k is None or len(samples16k) == 0:
                raise EsmrError("this model listens to the voice: pass a recording")
            parts.append(_select(_audio_features(enc, samples16k), entry, enc))
    return np.concatenate(parts).astype(np.float32)


def music_vector(samples16k: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
    """Features of ONE music clip (mono float32, 16 kHz) for a spec: (music_dim,) float32."""
    return np.concatenate([_audio_features(enc, samples16k) for enc in _encoders(spec, "music")]).astype(np.float32)


def _cached(cache: Any, key: str | bytes, enc: Any, fn: Callable[[], np.ndarray]) -> np.ndarray:
    if cache is None:
        return fn()
    return np.asarray(cache.get_or_compute(key, enc, fn), dtype=np.float32)


def _catalog_npz(collection: Any, enc: Any) -> dict[str, np.ndarray] | None:
    """Precomputed music features shipped beside a catalogue (features.npz), when they match `enc`."""
    path = collection.root / "features.npz"
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as npz:
        data = {k: npz[k] for k in npz.files}
    name = str(data.get("encoder_name", data.get("encoder", "")))
    version = str(data.get("encoder_version", data.get("version", "")))
    if name != enc.name or version != str(enc.version):
        return None
    matrix = next((data[k] for k in ("features", "matrix", "X") if k in data), None)
    if matrix is None or "ids" not in data or matrix.shape[1] != enc.dim:
        return None
    return {str(i): row for i, row in zip(data["ids"], matrix.astype(np.float32))}


def collection_matrix(collection: Any, spec: dict[str, Any], cache: Any = None, progress: bool = True,
                      skip_bad: bool = False) -> np.ndarray:
    """Features of every row of a speech or music collection: (N, speech_dim or music_dim) float32.

    Audio encoders run on the row's file through the FeatureCache (a second call costs seconds); a text
    encoder reads row["text"]; music rows use the catalogue's features.npz when its encoder matches.
    skip_bad: a row whose audio cannot be used (AudioError, e.g. no voice found) gets a row of NaN instead of
    stopping the whole run (drop those rows with `np.isfinite(X).all(1)`).
    """
    side = "speech" if collection.kind == "speech" else "music"
    blocks = []
    for entry, enc in zip(spec[side], _encoders(spec, side)):
        pre = _catalog_npz(collection, enc) if side == "music" else None
        rows_out = []
        for row in progress_bar(collection.rows, f"{enc.name} features", progress):
            if pre is not None and row["id"] in pre:
                rows_out.append(pre[row["id"]])
            elif is_text_encoder(enc):
                text = str(row.get("text") or "")
                rows_out.append(_cached(cache, text.encode("utf-8"), enc,
                                        lambda t=text: np.asarray(enc.encode_texts([t]), dtype=np.float32).reshape(-1)))
            else:
                path = collection.path(row)
                # speech: validated, VAD-trimmed voice; music: the excerpt as it is
                load = (lambda p: load_audio(p).samples) if side == "speech" else load_music
                try:
                    rows_out.append(_cached(cache, str(path), enc, lambda p=path: _audio_features(enc, load(p))))
                except AudioError:
                    if not skip_bad:
                        raise
                    rows_out.append(np.full(enc.dim, np.nan, dtype=np.float32))
        blocks.append(_select(np.stack(rows_out).reshape(len(collection.rows), -1), entry, enc))
    return np.concatenate(blocks, axis=1).astype(np.float32)
