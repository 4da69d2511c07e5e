"""The singer's range from the pitch track, the "is this singing?" check, and the transposition choice.

Pitch: SwiftF0 (Nieradzik 2025, swift-f0, MIT) through the prosody encoder, 16 ms frames, voiced = confidence
>= 0.5. MIDI pitch m = 69 + 12 log2(f / 440 Hz).

Singing vs speech: singing holds notes; speech glides. A frame is "sustained" when it lies in a run of voiced frames
whose pitch neither glides nor spreads (see sustained_mask). sustained_ratio = sustained frames / voiced frames;
measured (docs/singing.md): rendered melodies with or without vibrato 0.99-1.0, piper speech 0.0-0.46 (slowed
speech highest); clips under MIN_SUSTAINED_RATIO are rejected.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.notes import midi_to_name
from ..encoders import get_encoder
from ..errors import AudioError

FRAME_S = 256 / 16000        # SwiftF0 hop, s
MIN_SECONDS = 8.0            # shortest clip accepted (the product asks for 10-30 s; a little slack)
MIN_VOICED_S = 3.0           # voiced pitch needed to estimate a range, s
SUSTAIN_S = 0.32             # window of a held note, s (20 frames)
MAX_SLOPE_ST_S = 2.5         # |pitch slope| inside a held note, semitones / s
MAX_SPREAD_ST = 2.5          # max - min pitch inside a held note, semitones
MIN_SUSTAINED_RATIO = 0.6    # share of voiced frames in held notes for a clip to count as singing
RANGE_PERCENTILES = (10.0, 90.0)


def hz_to_midi(f_hz: np.ndarray | float) -> np.ndarray:
    return 69.0 + 12.0 * np.log2(np.asarray(f_hz, dtype=np.float64) / 440.0)


def midi_to_hz(m: np.ndarray | float) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(m, dtype=np.float64) - 69.0) / 12.0)


def pitch_track(samples16k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(f0_hz (F,), voiced (F,) bool) on the 16 ms grid, via the shared prosody encoder's SwiftF0."""
    return get_encoder("prosody").pitch(np.asarray(samples16k, dtype=np.float32))


def sustained_mask(midi: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    """Frames inside held notes. midi: (F,) MIDI pitch (any value where unvoiced); voiced: (F,) bool.

    A window of SUSTAIN_S seconds is a held note when all its frames are voiced, the least-squares slope of its
    pitch is under MAX_SLOPE_ST_S semitones/s (a glide is not) and its pitch spread (max - min) is under
    MAX_SPREAD_ST (vibrato of +-1 semitone passes). Every frame of such a window is sustained."""
    from numpy.lib.stride_tricks import sliding_window_view

    w = int(round(SUSTAIN_S / FRAME_S))
    out = np.zeros(len(midi), dtype=bool)
    if len(midi) < w:
        return out
    seg = sliding_window_view(np.asarray(midi, np.float64), w)            # (F-w+1, w)
    ok = sliding_window_view(np.asarray(voiced, bool), w).all(axis=1)
    x = np.arange(w) - (w - 1) / 2.0
    slope = (seg - seg.mean(axis=1, keepdims=True)) @ x / float(x @ x) / FRAME_S   # semitones / s
    ok &= (np.abs(slope) < MAX_SLOPE_ST_S) & (np.ptp(seg, axis=1) < MAX_SPREAD_ST)
    for i in np.flatnonzero(ok):
        out[i:i + w] = True
    return out & np.asarray(voiced, bool)


@dataclass(frozen=True)
class VoiceRange:
    """A singer's comfortable range: robust percentiles of voiced MIDI pitch."""

    low_midi: int
    high_midi: int
    low_hz: float
    high_hz: float
    median_midi: float
    voiced_s: float
    sustained_ratio: float   # share of voiced frames in held notes, [0, 1]

    def as_dict(self) -> dict:
        return {"low": midi_to_name(self.low_midi), "high": midi_to_name(self.high_midi),
                "low_hz": round(self.low_hz, 1), "high_hz": round(self.high_hz, 1),
                "low_midi": self.low_midi, "high_midi": self.high_midi,
                "voiced_s": round(self.voiced_s, 2), "sustained_ratio": round(self.sustained_ratio, 3)}


def estimate_range(f0_hz: np.ndarray, voiced: np.ndarray, duration_s: float, *,
                   check_singing: bool = True) -> VoiceRange:
    """Range from a pitch track. Raises AudioError for a too short clip, too little pitch, or speech."""
    if duration_s < MIN_SECONDS:
        raise AudioError(f"the recording has {duration_s:.1f} s of sound; sing for at least 10 s (10-30 s is best)")
    voiced = np.asarray(voiced, bool) & np.isfinite(f0_hz) & (np.asarray(f0_hz) > 0)
    voiced_s = float(voiced.sum() * FRAME_S)
    if voiced_s < MIN_VOICED_S:
        raise AudioError(f"found only {voiced_s:.1f} s of pitched voice; sing (not speak or whisper) a melody "
                         f"for 10-30 s, holding the notes, close to the microphone")
    midi = np.where(voiced, hz_to_midi(np.where(voiced, f0_hz, 440.0)), 0.0)
    ratio = float(sustained_mask(midi, voiced).sum() / voiced.sum())
    if check_singing and ratio < MIN_SUSTAINED_RATIO:
        raise AudioError(f"this sounds like speech, not singing: only {100 * ratio:.0f}% of the voiced sound is in "
                         f"held notes; sing a tune with sustained notes (la-la-la or a song you know)")
    lo, hi = np.percentile(midi[voiced], RANGE_PERCENTILES)
    low, high = int(np.floor(lo + 0.5)), int(np.floor(hi + 0.5))
    return VoiceRange(low, high, float(midi_to_hz(low)), float(midi_to_hz(high)),
                      float(np.median(midi[voiced])), voiced_s, ratio)


# ---- songs against a range -----------------------------------------------------------------------------
def melody_arrays(notes) -> tuple[np.ndarray, np.ndarray]:
    """[[midi, start, dur], ...] -> (pitches (N,) int, durations (N,) float beats)."""
    arr = np.asarray(notes, dtype=np.float64).reshape(-1, 3)
    return arr[:, 0].astype(int), np.maximum(arr[:, 2], 1e-3)


def range_fit(pitches: np.ndarray, durations: np.ndarray, low: int, high: int, shift: int = 0) -> float:
    """Duration-weighted share of melody notes inside [low, high] after transposing by `shift`, in [0, 1]."""
    p = pitches + shift
    inside = (p >= low) & (p <= high)
    return float(durations[inside].sum() / durations.sum())


def excursion_penalty(pitches: np.ndarray, low: int, high: int, shift: int = 0, free: float = 1.0,
                      zero_at: float = 4.0) -> float:
    """1.0 while no note lies more than `free` semitones outside [low, high] after `shift`, falling linearly to 0 at
    `zero_at` semitones: a singer can stretch a semitone past a range estimated from one clip, not a third."""
    p = pitches + shift
    worst = float(max(0.0, low - p.min(), p.max() - high))
    return float(np.clip(1.0 - (worst - free) / (zero_at - free), 0.0, 1.0))


def best_transposition(pitches: np.ndarray, durations: np.ndarray, low: int, high: int, max_shift: int = 6,
                       octaves: tuple[int, ...] = (-2, -1, 0, 1, 2)) -> tuple[int, int, float]:
    """(shift, octave, fit): the key change `shift` in [-max_shift, max_shift] semitones and the octave
    displacement (the same key an octave lower or higher, as men and women sing the same song) maximising
    range_fit at shift + 12 * octave. Ties: smallest |shift|, then smallest |octave|, then the placement that
    centres the melody in the range, then the lower shift."""
    centre = (low + high) / 2.0
    mid = (pitches.min() + pitches.max()) / 2.0
    best = None
    for s in range(-max_shift, max_shift + 1):
        for o in octaves:
            total = s + 12 * o
            fit = range_fit(pitches, durations, low, high, total)
            key = (-round(fit, 9), abs(s), abs(o), abs(mid + total - centre), s)
            if best is None or key < best[0]:
                best = (key, s, o, fit)
    return best[1], best[2], best[3]
