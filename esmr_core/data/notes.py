"""Note names and melody helpers: MIDI numbers <-> scientific pitch names, a melody's range.

Dependency-free, so the singing runtime (range names, keys) imports it without the catalogue builder.
A note is (midi, start_beats, dur_beats), beats = quarter notes.
"""
from __future__ import annotations

import re
from typing import Sequence

from ..errors import EsmrError

Note = tuple[int, float, float]  # (midi, start_beats, dur_beats)

_PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def midi_to_name(m: int) -> str:
    """MIDI note number -> scientific pitch name with sharps: 60 -> "C4", 61 -> "C#4", 21 -> "A0"."""
    m = int(m)
    if not 0 <= m <= 127:
        raise EsmrError(f"MIDI note {m} is outside 0..127")
    return f"{_PITCH_CLASSES[m % 12]}{m // 12 - 1}"


def name_to_midi(s: str) -> int:
    """Pitch name -> MIDI number. Accepts "C4", "c#4", "Db4", "E♭4", "F##2", "C-1" (octave -1) and music21's
    "B-3" (B flat 3): a "-" before the octave is a minus sign unless that would give an octave below -1."""
    text = str(s).strip().replace("♯", "#").replace("♭", "b")
    match = re.fullmatch(r"([A-Ga-g])([#b\-]*?)(-?\d+)", text)
    if match and int(match.group(3)) < -1:
        match = re.fullmatch(r"([A-Ga-g])([#b\-]*)(\d+)", text)
    if not match:
        raise EsmrError(f"{s!r} is not a note name; write a letter, optional #/b and an octave, e.g. 'C4' or 'Bb3'")
    letter, acc, octave = match.groups()
    shift = acc.count("#") - acc.count("b") - acc.count("-")
    m = _LETTER_PC[letter.upper()] + shift + 12 * (int(octave) + 1)
    if not 0 <= m <= 127:
        raise EsmrError(f"note {s!r} is outside the MIDI range C-1..G9")
    return m


def melody_range(notes: Sequence[Sequence[float]]) -> tuple[int, int]:
    """(lowest, highest) MIDI number of a melody."""
    if not len(notes):
        raise EsmrError("the melody has no notes")
    pitches = [int(n[0]) for n in notes]
    return min(pitches), max(pitches)
