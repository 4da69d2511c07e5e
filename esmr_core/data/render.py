"""Rendering notes to audio with FluidSynth and the FluidR3_GM soundfont (Debian `fluidsynth` +
`fluid-soundfont-gm`; ESMR_SOUNDFONT points at another General MIDI .sf2): MIDI tracks, a melody alone, a
catalogue song's melody as a synthetic singer."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import EsmrError
from .midi import write_midi
from .notes import Note, melody_range

SOUNDFONT = Path(os.environ.get("ESMR_SOUNDFONT", "/usr/share/sounds/sf2/FluidR3_GM.sf2"))
# General MIDI programs (0-based, as sent in a MIDI program change) used here.
GM_NAMES: dict[int, str] = {
    0: "Acoustic Grand Piano", 19: "Church Organ", 24: "Acoustic Guitar (nylon)", 32: "Acoustic Bass",
    48: "String Ensemble 1", 21: "Accordion", 52: "Choir Aahs", 53: "Voice Oohs", 54: "Synth Voice",
}


def check_fluidsynth() -> None:
    if shutil.which("fluidsynth") is None:
        raise EsmrError("fluidsynth is not installed; run: sudo apt-get install fluidsynth fluid-soundfont-gm")
    if not SOUNDFONT.is_file():
        raise EsmrError(f"soundfont {SOUNDFONT} missing; run: sudo apt-get install fluid-soundfont-gm "
                        "(or set ESMR_SOUNDFONT to a General MIDI .sf2)")


def render_tracks(tracks: Sequence[tuple[int, Sequence[Note], int]], tempo_bpm: float, sr: int = 22050,
                  *, length_s: float | None = None, reverb: bool = True) -> np.ndarray:
    """Render MIDI tracks with FluidSynth -> mono float32 audio (n,) at `sr` Hz, peak-limited to 0.95.

    length_s: pad or cut to exactly this many seconds (None: FluidSynth's own length)."""
    import soundfile as sf

    check_fluidsynth()
    with tempfile.TemporaryDirectory(prefix="esmr-fs-") as tmp:
        mid, wav = Path(tmp) / "in.mid", Path(tmp) / "out.wav"
        write_midi(mid, tracks, tempo_bpm)
        cmd = ["fluidsynth", "-ni", "-q", "-g", "0.5", "-r", str(int(sr)), "-F", str(wav),
               "-o", f"synth.reverb.active={int(reverb)}", "-o", "synth.chorus.active=0", str(SOUNDFONT), str(mid)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0 or not wav.is_file():
            raise EsmrError(f"fluidsynth failed ({proc.returncode}): {proc.stderr.strip()[:300]}")
        y, _ = sf.read(str(wav), dtype="float32", always_2d=True)
    y = y.mean(axis=1)
    if length_s is not None:
        n = int(round(length_s * sr))
        y = np.pad(y, (0, max(0, n - len(y))))[:n]
    peak = float(np.abs(y).max()) if y.size else 0.0
    if peak > 0.95:
        y *= 0.95 / peak
    return y.astype(np.float32)


def render_melody(notes: Sequence[Sequence[float]], program: int = 53, transpose: int = 0, sr: int = 22050,
                  *, tempo_bpm: float = 90.0, velocity: int = 100, tail_s: float = 0.8) -> np.ndarray:
    """Render a melody alone (FluidSynth, dry) -> mono float32 audio (n,) at `sr` Hz.

    notes: [[midi, start_beats, dur_beats], ...] with beats = quarter notes at `tempo_bpm`; program: General
    MIDI program 0..127 (52 Choir Aahs, 53 Voice Oohs, 54 Synth Voice); transpose: semitones added to every
    note. The audio starts at beat 0 and lasts until the last note ends plus `tail_s` seconds."""
    if not len(notes):
        raise EsmrError("render_melody needs at least one note")
    if not 0 <= int(program) <= 127:
        raise EsmrError(f"program {program} is not a General MIDI program (0..127)")
    shifted = [(int(n[0]) + int(transpose), float(n[1]), float(n[2])) for n in notes]
    lo, hi = melody_range(shifted)
    if lo < 0 or hi > 127:
        raise EsmrError(f"transposing by {transpose} puts the melody outside MIDI 0..127; choose a smaller shift")
    end_beats = max(s + d for _, s, d in shifted)
    return render_tracks([(int(program), shifted, velocity)], tempo_bpm, sr,
                         length_s=end_beats * 60.0 / tempo_bpm + tail_s, reverb=False)


def excerpt_notes(row: dict[str, Any]) -> list[Note]:
    """The melody notes a song's audio files cover (those starting before `excerpt_beats`)."""
    end = float(row.get("excerpt_beats", float("inf")))
    return [(int(m), float(s), min(float(d), end - float(s))) for m, s, d in row["melody"] if float(s) < end]


def render_song_voice(row: dict[str, Any], program: int = 53, transpose: int = 0, sr: int = 22050,
                      *, full: bool = False, velocity: int = 100) -> np.ndarray:
    """A catalogue song's melody as a synthetic singer: patch `program`, shifted by `transpose` semitones.
    Covers the excerpt (aligned with the song's backing track) unless full=True. -> float32 (n,) at `sr`."""
    notes = [tuple(n) for n in row["melody"]] if full else excerpt_notes(row)
    return render_melody(notes, program, transpose, sr, tempo_bpm=float(row["tempo_bpm"]), velocity=velocity)
