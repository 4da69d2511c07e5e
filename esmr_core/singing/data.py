"""Training data of the singing encoders, all rendered or bundled here (nothing downloaded):
  - the song catalogue's guide vocals (assets/songs, 2 per song);
  - catalogue melodies of the even-indexed songs re-rendered by synthetic singers with TRAIN_PROGRAMS,
    TRAIN_TYPES registers and TRAIN_VIBRATO (evaluation singers use other patches, registers, vibrato and songs);
  - the bootstrap speech corpus (data/bootstrap) when it exists (up to `max_speech` clips).
Each waveform is cut into 2.5 s crops; per crop the log-mel and two pitch-shifted log-mels are precomputed once
and cached under data/singing/ (git-ignored). Then the views of each SSCL policy and TJAE's input corruption.

Policies (which augmented copy of the anchor is the positive and which is an extra, per-sample negative):
  timbre      positive = time-stretched anchor, negative = pitch-shifted anchor  (tempo changes nothing, pitch/formant
              changes make another voice)
  expression  positive = pitch-shifted anchor,  negative = time-stretched anchor
  plain       positive = another crop of the same clip, no extra negative (instance discrimination: the ablation)
"""
from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

import numpy as np
import torch

from ..audio import load_music
from ..data.manifest import load_collection
from ..errors import EsmrError
from ..files import atomic_write
from . import features as fx
from . import synth

log = logging.getLogger(__name__)

CROP_S = 2.5


def song_rows(songs_dir: Path) -> list[dict]:
    """The song catalogue's rows; EsmrError saying how to build it when the folder holds none."""
    try:
        return load_collection(songs_dir, "songs").rows
    except (FileNotFoundError, ValueError) as exc:
        raise EsmrError(f"no song catalogue: {exc}; build it with: esmr songs build") from None


def training_waveforms(rows: list[dict], songs_dir: Path, *, speech_dir: Path | None = None, max_speech: int = 200,
                       seconds: float = 12.0, seed: int = 0) -> list[np.ndarray]:
    """All training audio as 16 kHz float32 waveforms."""
    rng = np.random.default_rng(seed)
    waves = []
    for row in rows:
        for g in row.get("guides", []):
            waves.append(load_music(songs_dir / g["path"], sr=fx.SR))
    log.info(f"training audio: {len(waves)} guide vocals")
    train_singers = synth.singers(synth.TRAIN_PROGRAMS, synth.TRAIN_TYPES, synth.TRAIN_VIBRATO)
    for i, row in enumerate(rows[::2]):
        for j in range(3):
            singer = train_singers[int(rng.integers(len(train_singers)))]
            start = int(rng.integers(0, max(1, len(row["melody"]) // 2)))
            waves.append(synth.sing(singer, row, seconds, start_note=start, seed=i * 3 + j)[0])
    log.info(f"training audio: + {len(rows[::2]) * 3} synthetic singer renders")
    if speech_dir is not None and (speech_dir / "collection.json").is_file():
        coll = load_collection(speech_dir, "speech")
        for row in coll.rows[:max_speech]:
            waves.append(load_music(coll.path(row), sr=fx.SR))
        log.info(f"training audio: + {min(max_speech, len(coll.rows))} bootstrap speech clips")
    return waves


def crops(waves: list[np.ndarray], crop_s: float = CROP_S) -> list[np.ndarray]:
    """Non-overlapping crops of crop_s seconds with some sound (peak > 0.01)."""
    n = int(crop_s * fx.SR)
    out = []
    for y in waves:
        for s in range(0, len(y) - n + 1, n):
            c = y[s:s + n]
            if np.abs(c).max() > 0.01:
                out.append((0.5 * c / np.abs(c).max()).astype(np.float32))
    return out


def make_views(y: np.ndarray, rng: np.random.Generator, n_shift: int = 2) -> dict[str, torch.Tensor]:
    """Precompute the augmentations of one crop y (T,) at 16 kHz: base log-mel (M, F) and n_shift pitch-shifted
    copies (n_shift, M, F), shifts drawn from +-[2, 6] semitones (float16 to save memory)."""
    base = fx.logmel(y)
    shifts = rng.uniform(2.0, 6.0, n_shift) * rng.choice([-1.0, 1.0], n_shift)
    shifted = torch.stack([fx.pitch_shift_mel(y, float(s)) for s in shifts])
    return {"base": base.half(), "shifted": shifted.half()}


def precompute_views(waves_crops: list[np.ndarray], cache: Path | None, seed: int = 0
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """(bases (N, M, F) float16, shifted (N, 2, M, F) float16), cached in `cache` keyed by the audio's hash."""
    h = hashlib.sha1()
    for c in waves_crops:
        h.update(c[:: 97].tobytes())
    key = h.hexdigest()[:16]
    if cache is not None and (cache / f"views-{key}.pt").is_file():
        d = torch.load(cache / f"views-{key}.pt")
        return d["bases"], d["shifted"]
    rng = np.random.default_rng(seed)
    t = time.time()
    views = [make_views(c, rng) for c in waves_crops]
    bases = torch.stack([v["base"] for v in views])
    shifted = torch.stack([v["shifted"] for v in views])
    log.info(f"views: {len(views)} crops in {time.time() - t:.0f} s")
    if cache is not None:
        atomic_write(cache / f"views-{key}.pt", lambda tmp: torch.save({"bases": bases, "shifted": shifted}, tmp))
    return bases, shifted


def batch_views(bases: torch.Tensor, shifted: torch.Tensor, policy: str, crop: int,
                rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(query, key, extra negative or None), each (B, M, crop), for one batch.
    bases: (B, M, F) log-mel; shifted: (B, S, M, F) pitch-shifted copies of the same crops."""
    b = len(bases)
    qs, ks, ns = [], [], []
    for i in range(b):
        base = bases[i].float()
        rate = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.15, 0.35))
        stretched = fx.stretch_frames(base, 2.0 ** rate)
        pitched = shifted[i, int(rng.integers(shifted.shape[1]))].float()
        qs.append(fx.random_crop(base, crop, rng))
        if policy == "timbre":
            ks.append(fx.random_crop(stretched, crop, rng))
            ns.append(fx.random_crop(pitched, crop, rng))
        elif policy == "expression":
            ks.append(fx.random_crop(pitched, crop, rng))
            ns.append(fx.random_crop(stretched, crop, rng))
        else:
            ks.append(fx.random_crop(base, crop, rng))
    neg = torch.stack(ns) if ns else None
    return torch.stack(qs), torch.stack(ks), neg


def mask_input(mel: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """TJAE's denoising corruption: zero 2 random time spans (<= 12 frames) and 2 band spans (<= 8 bands). (B, M, T)."""
    x = mel.clone()
    b, m, t = x.shape
    for i in range(b):
        for _ in range(2):
            w = int(rng.integers(1, 13))
            s = int(rng.integers(0, max(1, t - w)))
            x[i, :, s:s + w] = 0
            w = int(rng.integers(1, 9))
            s = int(rng.integers(0, max(1, m - w)))
            x[i, s:s + w, :] = 0
    return x
