"""Synthetic singers: catalogue melodies rendered with FluidSynth on a General MIDI patch, in a known range,
with optional vibrato. They are the training audio of the singing encoders and the ground truth of the evaluation.

Training and evaluation use disjoint patches, registers and vibrato settings:
  training patches      TRAIN_PROGRAMS (the catalogue's guide patches 52-54 and orchestral instruments)
  validation (weights)  VALID_PROGRAMS (guide patches), registers VALID_TYPES, training vibrato
  test (tables)         TEST_PROGRAMS (voice-like and reed/string patches never trained on), registers
                        TEST_TYPES, vibrato TEST_VIBRATO (never trained on)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..data.render import render_melody
from . import features as fx

# comfortable ranges (MIDI low, high) of voice types; ~19 semitones each
VOICE_TYPES: dict[str, tuple[int, int]] = {
    "bass": (40, 60), "baritone": (43, 63), "tenor": (48, 67),
    "alto": (53, 72), "mezzo": (57, 76), "soprano": (60, 79),
}
TRAIN_TYPES = ("bass", "tenor", "alto", "soprano")
VALID_TYPES = ("bass", "tenor", "alto", "soprano")
TEST_TYPES = ("baritone", "mezzo", "bass", "soprano")
# GM programs (0-based): 52 Choir Aahs, 53 Voice Oohs, 54 Synth Voice, 56 Trumpet, 65 Alto Sax, 68 Oboe,
# 71 Clarinet, 40 Violin, 42 Cello, 73 Flute, 60 French Horn, 70 Bassoon
TRAIN_PROGRAMS = (52, 53, 54, 56, 65, 68, 71, 40, 42, 73, 60, 70)
VALID_PROGRAMS = (53, 54)
# 85 Lead 6 (voice), 91 Pad 4 (choir), 66 Tenor Sax, 69 English Horn, 41 Viola, 74 Recorder
TEST_PROGRAMS = (85, 91, 66, 69, 41, 74)
TRAIN_VIBRATO = ((0.0, 0.0), (5.0, 0.3))          # (rate Hz, depth semitones)
TEST_VIBRATO = (6.2, 0.6)


@dataclass(frozen=True)
class Singer:
    """A synthetic voice: GM patch, true comfortable range (MIDI), vibrato."""

    program: int
    voice_type: str
    vibrato: tuple[float, float] = (0.0, 0.0)

    @property
    def range(self) -> tuple[int, int]:
        return VOICE_TYPES[self.voice_type]

    @property
    def key(self) -> str:
        return f"p{self.program}-{self.voice_type}-v{self.vibrato[0]:g}x{self.vibrato[1]:g}"


def notes_for_seconds(row: dict[str, Any], seconds: float, start_note: int = 0) -> list[tuple[int, float, float]]:
    """Consecutive melody notes of a song row covering about `seconds` s, re-timed to start at beat 0."""
    notes = [tuple(n) for n in row["melody"]][start_note:]
    if not notes:
        notes = [tuple(n) for n in row["melody"]]
    t0, beats = float(notes[0][1]), seconds * float(row["tempo_bpm"]) / 60.0
    return [(int(m), float(s) - t0, float(d)) for m, s, d in notes if float(s) - t0 < beats]


def centre_shift(notes: Sequence[Sequence[float]], low: int, high: int) -> int:
    """Semitones that centre the notes' range in [low, high]."""
    pitches = [int(n[0]) for n in notes]
    return int(round((low + high) / 2.0 - (min(pitches) + max(pitches)) / 2.0))


def sing(singer: Singer, row: dict[str, Any], seconds: float = 14.0, start_note: int = 0,
         seed: int = 0) -> tuple[np.ndarray, list[tuple[int, float, float]]]:
    """Render `seconds` of a song's melody by `singer`, centred in the singer's range.
    Returns (audio (T,) float32 at 16 kHz, the sung notes after transposition)."""
    notes = notes_for_seconds(row, seconds, start_note)
    shift = centre_shift(notes, *singer.range)
    y = render_melody(notes, singer.program, shift, fx.SR, tempo_bpm=float(row["tempo_bpm"]), tail_s=0.3)
    rate, depth = singer.vibrato
    if depth > 0:
        y = fx.vibrato(y, rate, depth, phase=float(np.random.default_rng(seed).uniform(0, 2 * np.pi)))
    peak = float(np.abs(y).max()) or 1.0
    return (0.5 * y / peak).astype(np.float32), [(m + shift, s, d) for m, s, d in notes]


def singers(programs: Sequence[int], types: Sequence[str], vibrato: Sequence[tuple[float, float]]) -> list[Singer]:
    return [Singer(p, t, v) for p in programs for t in types for v in vibrato]
