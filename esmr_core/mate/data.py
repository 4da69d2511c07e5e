"""MATE's training data: log-mels and sentence vectors of every row of a speech collection (cached under
cache_dir()/mate), the emotion targets, and batches of utterances. N utterances, M mel bands, T frames,
C emotions, E text size."""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..audio import load_audio
from ..data.manifest import load_collection
from ..emotion import EMOTIONS
from ..encoders import get_encoder
from ..errors import AudioError, EsmrError
from ..files import atomic_write
from ..paths import REPO_ROOT, cache_dir
from .config import MateConfig
from .model import LogMel, crop_or_pad

log = logging.getLogger(__name__)


@dataclass
class MateData:
    """Cached inputs of a speech collection."""

    ids: list[str]
    mels: list[np.ndarray]        # N x (M, T_i) float32 log-mel, T_i <= max_frames
    text: np.ndarray              # (N, E) float32 sentence vectors
    has_text: np.ndarray          # (N,) bool
    targets: np.ndarray           # (N, C) emotion distribution (soft when the corpus gives votes)
    arousal: np.ndarray           # (N,) 1..5
    valence: np.ndarray           # (N,) 1..5
    groups: np.ndarray            # (N,) sentence groups for the folds
    splits: np.ndarray            # (N,) "train" / "val" / "test" / ""
    lexically_neutral: np.ndarray  # (N,) bool

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def labels(self) -> np.ndarray:
        return self.targets.argmax(1)


def speech_dir(value: str | Path) -> Path:
    """A speech collection folder named in a config or on the command line: absolute, relative to the working
    directory or to the repository; EsmrError saying how to build it when there is none."""
    path = Path(value)
    if not path.is_absolute() and not path.exists():
        path = REPO_ROOT / path
    if not (path / "collection.json").is_file():
        raise EsmrError(f"no speech collection at {path}; build it (`esmr corpus bootstrap`, or `make corpus`) "
                        "or pass --speech DIR")
    return path


def emotion_target(row: dict, emotions: Sequence[str] = EMOTIONS) -> np.ndarray:
    """(C,) target distribution: normalised `label_votes` {emotion: count} when present, else one-hot `label`."""
    t = np.zeros(len(emotions), np.float32)
    votes = row.get("label_votes")
    if votes:
        for lab, n in votes.items():
            if lab in emotions:
                t[emotions.index(lab)] += float(n)
    if t.sum() <= 0:
        if row["label"] not in emotions:
            raise EsmrError(f"row {row.get('id')}: label {row['label']!r} is not one of {list(emotions)}")
        t[emotions.index(row["label"])] = 1.0
    return t / t.sum()


@torch.no_grad()
def mels_of(samples: np.ndarray, cfg: MateConfig, logmel: LogMel | None = None) -> np.ndarray:
    """16 kHz mono samples (L,) -> (M, T) float32 log-mel, centre-cropped to cfg.max_seconds."""
    y = crop_or_pad(np.asarray(samples, np.float32), int(cfg.max_seconds * cfg.sample_rate))
    if y.size < cfg.n_fft:
        raise AudioError(f"clip too short for MATE ({y.size} samples); record at least 0.1 s of speech")
    logmel = logmel or LogMel(cfg)
    return logmel(torch.from_numpy(y)[None])[0].numpy()


def prepare_data(speech: str | Path | Sequence[str | Path], cfg: MateConfig, *, use_cache: bool = True) -> MateData:
    """Log-mels and text vectors of every row of a speech collection (or of several, rows pooled in order),
    cached under cache_dir()/mate. A folder is found as speech_dir finds it."""
    if isinstance(speech, (list, tuple)):
        parts = [prepare_data(d, cfg, use_cache=use_cache) for d in speech]
        if not parts:
            raise EsmrError("no speech collection given")
        return MateData(ids=[i for p in parts for i in p.ids], mels=[m for p in parts for m in p.mels],
                        **{f: np.concatenate([getattr(p, f) for p in parts])
                           for f in ("text", "has_text", "targets", "arousal", "valence", "groups", "splits",
                                     "lexically_neutral")})
    speech = speech_dir(speech)
    coll = load_collection(speech, "speech")   # CollectionError (an EsmrError) when it cannot be read
    if not coll.rows:
        raise EsmrError(f"speech collection {speech} is empty")
    key = hashlib.sha1(json.dumps([coll.rows, cfg.sample_rate, cfg.n_fft, cfg.hop_length, cfg.n_mels,
                                   cfg.max_seconds, cfg.text_encoder], sort_keys=True).encode()).hexdigest()[:16]
    cache = cache_dir() / "mate" / f"{key}.npz"
    rows = coll.rows
    if use_cache and cache.is_file():
        z = np.load(cache, allow_pickle=False)
        mel_all, offsets, text = z["mels"], z["offsets"], z["text"]
    else:
        logmel, mels, t0 = LogMel(cfg), [], time.time()
        for i, row in enumerate(rows):
            y = load_audio(coll.path(row), require_voice=False).samples   # as the app's front end reads it
            mels.append(mels_of(np.asarray(y, np.float32), cfg, logmel))
            if (i + 1) % 200 == 0:
                log.info("MATE log-mels %d/%d (%.0f s)", i + 1, len(rows), time.time() - t0)
        texts = [str(r.get("text") or "") for r in rows]
        text = get_encoder(cfg.text_encoder).encode_texts(texts).astype(np.float32)
        offsets = np.cumsum([0] + [m.shape[1] for m in mels])
        mel_all = np.concatenate(mels, axis=1).astype(np.float32)
        if use_cache:
            def write(tmp: str) -> None:
                with open(tmp, "wb") as fh:
                    np.savez(fh, mels=mel_all, offsets=offsets, text=text)

            atomic_write(cache, write)
    if text.shape[1] != cfg.text_dim:
        raise EsmrError(f"text encoder {cfg.text_encoder!r} gives {text.shape[1]}-d vectors but the config says "
                        f"text_dim={cfg.text_dim}; fix text_dim in the config")
    mels = [mel_all[:, offsets[i]:offsets[i + 1]] for i in range(len(rows))]
    return MateData(
        ids=[r["id"] for r in rows], mels=mels, text=text,
        has_text=np.array([bool(str(r.get("text") or "").strip()) for r in rows]),
        targets=np.stack([emotion_target(r, cfg.emotions) for r in rows]),
        arousal=np.array([1 + 4 * float(r["arousal"]) for r in rows], np.float32),
        valence=np.array([1 + 4 * float(r["valence"]) for r in rows], np.float32),
        groups=np.array([str(r.get("sentence_id", r.get("text", r["id"]))) for r in rows]),
        splits=np.array([str(r.get("split", "")) for r in rows]),
        lexically_neutral=np.array([bool(r.get("lexically_neutral", False)) for r in rows]),
    )


def collate(data: MateData, idx: Sequence[int]) -> dict[str, torch.Tensor]:
    """A batch of single utterances: mels (n, M, T_max) zero-padded, lengths, text, has_text, targets."""
    idx = np.asarray(idx)
    lens = np.array([data.mels[i].shape[1] for i in idx])
    mels = np.zeros((len(idx), data.mels[idx[0]].shape[0], lens.max()), np.float32)
    for j, i in enumerate(idx):
        mels[j, :, :lens[j]] = data.mels[i]
    return {"mels": torch.from_numpy(mels), "lengths": torch.from_numpy(lens),
            "text": torch.from_numpy(data.text[idx]), "has_text": torch.from_numpy(data.has_text[idx]),
            "targets": torch.from_numpy(data.targets[idx]), "arousal": torch.from_numpy(data.arousal[idx]),
            "valence": torch.from_numpy(data.valence[idx])}
