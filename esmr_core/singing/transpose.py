"""Songs in the key the recommender advises: the backing track and the guide melody transposed at request time,
and the advice in words.

    plan = playback_plan(row, song)                 # which guide, and how far each file is shifted (semitones)
    files = KeyedAudio(folder).render(songs_dir, row, song)   # {"backing", "guide", "together": paths, "plan"}
    shift_words(-13) -> "1 octave and 1 semitone lower";  voice_type(45, 62) -> "baritone"

The recommender (recommend.song_factors) advises a song at a key change of `transpose_semitones` (-6..+6, the key
to sing in) plus `octave` octaves (the register the singer's range needs). The backing track is played in the
advised key (shifted by the key change only: an accompaniment an octave away from the singer is normal); the guide
melody is played where the singer is asked to sing (the key change and the octaves), from whichever of the song's
rendered guides needs the smaller shift. Shifting is librosa's phase vocoder + resampling (exact in frequency:
2**(n/12)), about 0.1 s for a 30 s file; the files are cached by song and shift in `folder`.
"""
from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import load_music
from ..files import atomic_write
from .synth import VOICE_TYPES

OUT_SR = 24000            # Hz, what the catalogue's renders use
MAX_FILES = 240           # cached renders kept in the folder (oldest deleted first): ~80 songs x 3 files
TOGETHER_GUIDE_DB = -3.0  # level of the guide in the "together" mix, relative to the backing


def shift_words(semitones: int) -> str:
    """A transposition in words: 0 -> "the original key"; +2 -> "2 semitones higher";
    -12 -> "1 octave lower"; -13 -> "1 octave and 1 semitone lower"."""
    n = int(semitones)
    if n == 0:
        return "the original key"
    octaves, rest = divmod(abs(n), 12)
    parts = []
    if octaves:
        parts.append(f"{octaves} octave{'s' if octaves > 1 else ''}")
    if rest:
        parts.append(f"{rest} semitone{'s' if rest > 1 else ''}")
    return " and ".join(parts) + (" higher" if n > 0 else " lower")


def voice_type(low_midi: float, high_midi: float) -> str:
    """The classical voice type whose comfortable range (singing.synth.VOICE_TYPES) overlaps a sung range most
    (ties: the nearest centre), e.g. "baritone"."""
    lo, hi = float(low_midi), float(high_midi)

    def score(item):
        name, (a, b) = item
        overlap = max(0.0, min(hi, b) - max(lo, a))
        return (overlap, -abs((lo + hi) / 2 - (a + b) / 2))

    return max(VOICE_TYPES.items(), key=score)[0]


def total_shift(song: dict[str, Any]) -> int:
    """Semitones from the written melody to where the singer is asked to sing (key change + octaves)."""
    return int(song["transpose_semitones"]) + 12 * int(song.get("octave", 0))


def playback_plan(row: dict[str, Any], song: dict[str, Any]) -> dict[str, Any]:
    """For a song row of the catalogue and its ranked result: {"backing": (relative path, shift),
    "guide": (relative path, shift), "guide_voice", "key_shift", "sing_shift"} with shifts in semitones."""
    key_shift, sing = int(song["transpose_semitones"]), total_shift(song)
    guides = row.get("guides") or []
    if not guides:
        raise ValueError(f"song {row.get('id')} has no guide vocal")
    # a guide rendered `g` semitones from the written melody needs `sing - g` to land where the singer sings
    g = min(guides, key=lambda g: (abs(sing - int(g.get("transpose_semitones", 0))), g.get("voice", "")))
    return {"backing": (row["backing"], key_shift), "guide": (g["path"], sing - int(g.get("transpose_semitones", 0))),
            "guide_voice": g.get("voice", ""), "key_shift": key_shift, "sing_shift": sing}


def shift_audio(y: np.ndarray, sr: int, semitones: float) -> np.ndarray:
    """Mono float audio shifted by `semitones` (same length, same rate)."""
    import librosa

    if semitones == 0:
        return np.asarray(y, dtype=np.float32)
    return librosa.effects.pitch_shift(np.asarray(y, dtype=np.float32), sr=sr, n_steps=float(semitones)).astype(np.float32)


class KeyedAudio:
    """Transposed renders of the song catalogue's backing tracks and guides, cached in one flat folder (audio
    files only, so a media server may serve the folder as it is). Thread-safe."""

    def __init__(self, folder: str | Path, max_files: int = MAX_FILES):
        self.folder = Path(folder)
        self.max_files = int(max_files)
        self._lock = threading.Lock()

    def _load(self, path: Path) -> np.ndarray:
        return load_music(path, sr=OUT_SR)

    def _name(self, songs_dir: Path, *parts: tuple[str, int]) -> Path:
        """A cache file named by its sources (path, size, mtime) and shifts."""
        ident = []
        for rel, _ in parts:
            stat = (songs_dir / rel).stat()
            ident.append(f"{(songs_dir / rel).resolve()}|{stat.st_size}|{stat.st_mtime_ns}")
        h = hashlib.sha1("||".join(ident).encode()).hexdigest()[:10]
        return self.folder / ("-with-".join(f"{Path(rel).stem}{shift:+d}" for rel, shift in parts) + f"-{h}.ogg")

    def _write(self, path: Path, y: np.ndarray) -> None:
        import soundfile as sf

        peak = float(np.max(np.abs(y))) if y.size else 0.0
        if peak > 0.99:
            y = y * (0.99 / peak)
        atomic_write(path, lambda tmp: sf.write(tmp, y, OUT_SR, format="OGG", subtype="VORBIS"))

    def _prune(self) -> None:
        files = sorted((p for p in self.folder.glob("*.ogg")), key=lambda p: p.stat().st_mtime)
        for p in files[: max(0, len(files) - self.max_files)]:
            try:
                p.unlink()
            except OSError:
                pass

    def render(self, songs_dir: str | Path, row: dict[str, Any], song: dict[str, Any]) -> dict[str, Any]:
        """{"backing", "guide", "together": paths of .ogg files in the folder, "plan": playback_plan(row, song)}:
        the backing in the advised key, the guide where the singer sings, and both together."""
        songs_dir = Path(songs_dir)
        plan = playback_plan(row, song)
        (b_rel, b_shift), (g_rel, g_shift) = plan["backing"], plan["guide"]
        out = {"backing": self._name(songs_dir, plan["backing"]), "guide": self._name(songs_dir, plan["guide"]),
               "together": self._name(songs_dir, plan["backing"], plan["guide"])}
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            missing = [k for k, p in out.items() if not p.is_file()]
            if missing:
                backing = shift_audio(self._load(songs_dir / b_rel), OUT_SR, b_shift)
                guide = shift_audio(self._load(songs_dir / g_rel), OUT_SR, g_shift)
                if not out["backing"].is_file():
                    self._write(out["backing"], backing)
                if not out["guide"].is_file():
                    self._write(out["guide"], guide)
                if not out["together"].is_file():
                    n = max(len(backing), len(guide))
                    mix = np.zeros(n, np.float32)
                    mix[: len(backing)] += backing
                    mix[: len(guide)] += guide * 10 ** (TOGETHER_GUIDE_DB / 20)
                    self._write(out["together"], mix)
                self._prune()
            for p in out.values():
                os.utime(p)
        return {**{k: str(p) for k, p in out.items()}, "plan": plan}


__all__ = ["KeyedAudio", "playback_plan", "shift_words", "voice_type", "total_shift", "shift_audio"]
