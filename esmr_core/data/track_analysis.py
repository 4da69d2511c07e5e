"""The per-track step of a catalogue build, shared by the local engine (data/catalog.py) and the Ray engine
(data/catalog_ray.py): decode a source track, choose its most representative excerpt, write it as Ogg/Opus,
score it with vibenet (valence, energy, ...) and the project's music encoder."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..audio import load_music
from ..encoders import get_encoder
from ..encoders.music import vibenet_scores
from ..errors import AudioError
from ..files import atomic_write

ANALYSIS_SR = 16000          # Hz: excerpt choice, features, vibenet
EXCERPT_SR = 48000           # Hz: Opus only takes 8/12/16/24/48 kHz


def encode_opus(y: np.ndarray, out_path: Path, bitrate_kbps: float = 48.0, sr: int = EXCERPT_SR) -> None:
    """Write mono float32 `y` (at `sr` Hz) as Ogg/Opus, atomically. libsndfile exposes the Opus bitrate only as
    compression_level in [0, 1]; measured here it maps linearly to ~57 kbit/s at 0.8 and ~32 at 0.9."""
    import soundfile as sf
    level = float(np.clip(0.9 - (bitrate_kbps - 32.0) / 250.0, 0.0, 1.0))
    atomic_write(out_path, lambda tmp: sf.write(tmp, np.clip(y, -1.0, 1.0), sr, format="OGG", subtype="OPUS",
                                                compression_level=level))


def frame_features(y: np.ndarray, sr: int = ANALYSIS_SR, hop: int = 512) -> np.ndarray:
    """Per-frame MFCC (13) + chroma (12) + log-RMS (1), shape (T, 26), at hop/sr seconds per frame."""
    import librosa
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=13, hop_length=hop, n_fft=2048)
    chroma = librosa.feature.chroma_stft(y=y, sr=sr, hop_length=hop, n_fft=2048)
    rms = np.log(librosa.feature.rms(y=y, hop_length=hop, frame_length=2048) + 1e-5)
    t = min(mfcc.shape[1], chroma.shape[1], rms.shape[1])
    return np.concatenate([mfcc[:, :t], chroma[:, :t], rms[:, :t]]).T


def choose_excerpt(y: np.ndarray, sr: int = ANALYSIS_SR, excerpt_s: float = 30.0, skip_intro: float = 0.12,
                   skip_outro: float = 0.05, step_s: float = 1.0) -> float:
    """Start (s) of the most representative `excerpt_s` window of mono `y`.

    Frames (MFCC/chroma/log-RMS, standardised per track) are scored by their distance to the track's median
    frame; the chosen window has the smallest mean frame distance, i.e. its frames are the most typical of the
    track. (Scoring the distance of the window's *mean* to the track mean instead favours windows that mix a
    contrasting intro with the body, whose average lands near the global mean.) Windows starting in the first
    `skip_intro` fraction or reaching into the last `skip_outro` fraction are excluded when the track is long
    enough. Tracks no longer than the excerpt start at 0.
    """
    dur = len(y) / sr
    if dur <= excerpt_s + step_s:
        return 0.0
    hop = 2048                                                          # 128 ms frames at 16 kHz: cheap on long tracks
    feats = frame_features(y, sr, hop)                                  # (T, 26)
    feats = (feats - feats.mean(0)) / (feats.std(0) + 1e-6)
    frame_dist = np.linalg.norm(feats - np.median(feats, axis=0), axis=1)   # (T,)
    fps = sr / hop
    win = max(1, min(int(round(excerpt_s * fps)), len(frame_dist)))
    csum = np.concatenate([[0.0], np.cumsum(frame_dist)])
    starts_s = np.arange(0.0, dur - excerpt_s + 1e-9, step_s)
    first = np.clip((starts_s * fps).astype(int), 0, len(frame_dist) - win)
    score = (csum[first + win] - csum[first]) / win
    allowed = (starts_s >= skip_intro * dur) & (starts_s + excerpt_s <= (1 - skip_outro) * dur)
    if not allowed.any():
        allowed = starts_s >= min(skip_intro * dur, dur - excerpt_s)
    score = np.where(allowed, score, np.inf)
    return float(starts_s[int(np.argmin(score))])


def _fade(y: np.ndarray, sr: int, fade_s: float = 0.5) -> np.ndarray:
    n = min(int(fade_s * sr), len(y) // 4)
    if n > 0:
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        y = y.copy()
        y[:n] *= ramp
        y[-n:] *= ramp[::-1]
    return y


def music_encoder():
    """The project's music encoder (esmr_core.encoders "music": librosa descriptors + vibenet)."""
    return get_encoder("music")


def _load(path: Path, sr: int, offset_s: float = 0.0, duration_s: float | None = None) -> np.ndarray:
    return np.asarray(load_music(path, sr=sr, offset_s=offset_s, duration_s=duration_s), dtype=np.float32)


def _analyse(path: Path, root: Path, rel_path: str, excerpt_s: float, bitrate_kbps: float,
             encoder) -> tuple[dict[str, Any], np.ndarray]:
    """Decode, choose and encode the excerpt, score it. Returns (row fields, feature vector)."""
    y = _load(path, ANALYSIS_SR)
    if y.size < ANALYSIS_SR // 2 or not np.isfinite(y).all() or np.abs(y).max() < 1e-4:
        raise AudioError(f"{path} is shorter than 0.5 s or silent")
    duration = len(y) / ANALYSIS_SR
    start = choose_excerpt(y, ANALYSIS_SR, excerpt_s)
    seg = y[int(start * ANALYSIS_SR): int((start + excerpt_s) * ANALYSIS_SR)]
    scores = {k: float(v) for k, v in vibenet_scores(seg).items()}
    vec = np.asarray(encoder.encode(seg), dtype=np.float32).reshape(-1)
    hi = _load(path, EXCERPT_SR, offset_s=start, duration_s=min(excerpt_s, duration - start))
    peak = float(np.abs(hi).max()) if hi.size else 0.0
    if peak > 0.99:   # the downmix of a loud stereo master can clip
        hi = hi * (0.99 / peak)
    encode_opus(_fade(hi, EXCERPT_SR), root / rel_path, bitrate_kbps)
    fields = {"duration_s": round(duration, 3), "excerpt_start_s": round(start, 3),
              "excerpt_s": round(min(excerpt_s, duration - start), 3), "valence_raw": round(scores["valence"], 4),
              "energy_raw": round(scores["energy"], 4), "vibenet": {k: round(v, 4) for k, v in scores.items()}}
    return fields, vec


def analyse_job(path: Path, key: str, root: Path, excerpt_s: float, bitrate_kbps: float,
                encoder) -> tuple[dict[str, Any] | None, np.ndarray | None, str | None]:
    """The per-track step both engines run: (row fields, feature vector, None), or (None, None, reason) for a
    file that cannot be used. The excerpt goes to a pending name (excerpts/.pending-KEY.opus) that the build
    renames once the track's id is known."""
    from threadpoolctl import threadpool_limits

    rel = f"excerpts/.pending-{key}.opus"
    try:
        # one BLAS/OpenMP thread: the sums then run in the same order in every process, so both engines
        # (a Ray worker gets other thread settings than this process) give bit-identical features
        with threadpool_limits(limits=1):
            fields, vec = _analyse(Path(path), Path(root), rel, excerpt_s, bitrate_kbps, encoder)
    except AudioError as exc:
        return None, None, f"{path}: {exc}"
    fields["path"] = rel
    return fields, vec, None
