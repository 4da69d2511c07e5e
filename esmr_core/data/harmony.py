"""A simple accompaniment for a monophonic tune: one diatonic triad per bar (or half bar), as MIDI tracks."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .notes import Note


def _triads(tonic: int, mode: str) -> list[tuple[int, tuple[int, ...], bool]]:
    """Diatonic triads to harmonise with: (root pc, pitch classes, primary?). Minor uses a major V."""
    if mode == "minor":
        degrees = [(0, (0, 3, 7), True), (5, (5, 8, 0), True), (7, (7, 11, 2), True), (8, (8, 0, 3), False),
                   (3, (3, 7, 10), False)]
    else:
        degrees = [(0, (0, 4, 7), True), (5, (5, 9, 0), True), (7, (7, 11, 2), True), (9, (9, 0, 4), False),
                   (2, (2, 5, 9), False)]
    return [((tonic + r) % 12, tuple((tonic + p) % 12 for p in pcs), prim) for r, pcs, prim in degrees]


def harmonise(melody: Sequence[Note], tonic: int, mode: str, bars: Sequence[float], end: float,
              program: int) -> list[tuple[int, list[Note], int]]:
    """A simple accompaniment for a monophonic tune: one diatonic triad per bar (half bar in bars of 4+
    beats) chosen to cover the melody's notes (duration-weighted), primary chords preferred, tonic at the end.
    Returns MIDI tracks: bass (Acoustic Bass, roots around C2-B2) and chords (`program`, around F3-E4)."""
    edges = sorted({b for b in bars if b < end} | {0.0})
    windows: list[tuple[float, float]] = []
    for a, b in zip(edges, edges[1:] + [end]):
        windows += [(a, (a + b) / 2), ((a + b) / 2, b)] if b - a >= 4 else [(a, b)]
    triads, chords, prev = _triads(tonic, mode), [], None
    for i, (a, b) in enumerate(windows):
        weight = {}
        for root, pcs, primary in triads:
            cover = sum(min(s + d, b) - max(s, a) for m, s, d in melody if s < b and s + d > a and m % 12 in pcs)
            weight[root] = cover - (0 if primary else 0.25 * (b - a)) + (0.1 * (b - a) if root == prev else 0)
        best = max(triads, key=lambda t: weight[t[0]])
        if i == len(windows) - 1 and melody[-1][0] % 12 in triads[0][1]:
            best = triads[0]
        chords.append((a, b, best))
        prev = best[0]
    sustained = program in (19, 21, 48)
    bass, upper = [], []
    for a, b, (root, pcs, _) in chords:
        bass.append((36 + root % 12, a, b - a))
        hits = [a] if sustained else list(np.arange(a, b - 1e-6, 1.0))
        for t in hits:
            dur = (b - a) if sustained else min(1.0, b - t)
            upper += [(53 + (pc - 53) % 12, float(t), float(dur)) for pc in pcs]
    return [(32, bass, 70), (program, upper, 55 if sustained else 62)]
