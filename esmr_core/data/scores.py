"""Reading songs from music21's corpus: a part's notes, lyrics and fermatas, the key, a tempo, whether a melody
suits an untrained singer; one song dict per Bach chorale, CC0 SATB song or Essen folk song (no audio yet)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .notes import Note, melody_range

MAX_RANGE, MIN_STEPWISE, MAX_LEAP = 19, 0.5, 12  # semitones; share of steps <= 2 semitones; semitones


def corpus_dir() -> Path:
    from music21 import corpus

    return Path(corpus.getComposer("bach")[0]).parent.parent


def part_notes(part) -> tuple[list[Note], list[tuple[float, str, str]], list[float]]:
    """(notes, lyrics [(start, text, syllabic)], fermata ends) of one music21 part; top note of chords."""
    from music21 import expressions, harmony

    notes, lyrics, fermatas = [], [], []
    for n in part.stripTies().flatten().notes:
        if isinstance(n, harmony.ChordSymbol) or float(n.quarterLength) <= 0:
            continue
        start, dur = float(n.offset), float(n.quarterLength)
        notes.append((max(p.midi for p in n.pitches), start, dur))
        if n.lyrics and n.lyrics[0].text:
            lyrics.append((start, n.lyrics[0].text.strip(), n.lyrics[0].syllabic or "single"))
        if any(isinstance(e, expressions.Fermata) for e in n.expressions):
            fermatas.append(start + dur)
    return notes, lyrics, fermatas


def key_name(score) -> tuple[str, str, int]:
    k = score.analyze("key")
    return f"{k.tonic.name.replace('-', 'b')} {k.mode}", k.mode, k.tonic.pitchClass


def singable(melody: Sequence[Note]) -> str | None:
    """None when a melody suits an untrained singer, else the reason it does not."""
    if len(melody) < 12:
        return "too few notes"
    lo, hi = melody_range(melody)
    if hi - lo > MAX_RANGE:
        return f"range {hi - lo} semitones"
    steps = np.abs(np.diff([m for m, _, _ in melody]))
    if steps.max() > MAX_LEAP:
        return "leap wider than an octave"
    if float(np.mean(steps <= 2)) < MIN_STEPWISE:
        return "too few steps"
    if min(d for _, _, d in melody) < 0.2:
        return "ornamental fast notes"
    return None


def contour(melody: Sequence[Note]) -> tuple[int, ...]:
    return tuple(int(b[0] - a[0]) for a, b in zip(melody[:10], melody[1:11]))


def _tempo(melody: Sequence[Note], mode: str, target_s: float) -> int:
    """Quarter-note bpm that makes the median note last about `target_s` seconds (minor: 10% slower)."""
    median = float(np.median([d for _, _, d in melody]))
    bpm = 60.0 * median / target_s * (0.9 if mode == "minor" else 1.0)
    return int(np.clip(round(bpm), 56, 144))


def lyrics_text(lyrics: Sequence[tuple[float, str, str]], end: float) -> str:
    out = ""
    for start, text, syllabic in lyrics:
        if start < end:
            out += text + ("" if syllabic in ("begin", "middle") else " ")
    return re.sub(r"\s+", " ", out).strip()


def satb_tempo(score, mode: str) -> int:
    """Deterministic quarter-note tempo (bpm) for a four-part chorale from its metre and note density.

    Start from 76 beats per minute on the metre's beat (4/4: quarter; 2/2, 3/2: half; 6/8: dotted quarter),
    rescaled so that the four parts together make about the same number of onsets per second whatever the
    metre: quarter bpm = 76 * (beat in quarters)**0.5 / density**0.7, where density = mean onsets per quarter
    note per part (1.0: plain quarters; more with passing eighths). Minor keys 8% slower; clipped to 48..132."""
    ts = score.recurse().getElementsByClass("TimeSignature").first()
    beat = float(ts.beatDuration.quarterLength) if ts is not None else 1.0
    parts = score.parts[:4]
    length = max(float(p.highestTime) for p in parts) or 1.0
    onsets = np.mean([len(p.stripTies().flatten().notes) for p in parts])
    density = max(0.25, onsets / length)
    bpm = 76.0 * beat ** 0.5 / density ** 0.7 * (0.92 if mode == "minor" else 1.0)
    return int(np.clip(round(bpm), 48, 132))


def _satb(score, rel: str) -> tuple[list[Note], list, list[float], list[list[Note]], str, str] | None:
    if [p.partName for p in score.parts[:4]] != ["Soprano", "Alto", "Tenor", "Bass"]:
        return None
    melody, lyrics, fermatas = part_notes(score.parts[0])
    if not lyrics or singable(melody):
        return None
    key, mode, _ = key_name(score)
    return melody, lyrics, fermatas, [part_notes(p)[0] for p in score.parts[1:4]], key, mode


def cc0_song(rel: str, title: str, composer: str, origin: str, collection: str) -> dict[str, Any] | None:
    """A non-Bach SATB song whose embedded rights field says public domain + CC0 encoding -> song dict."""
    from music21 import corpus

    score = corpus.parse(rel)
    rights = str(score.metadata.copyright or "") if score.metadata else ""
    if "public domain" not in rights.lower() or "cc0" not in rights.lower():
        return None  # not verifiably unrestricted: leave it out
    got = _satb(score, rel)
    if got is None:
        return None
    melody, lyrics, fermatas, lower, key, mode = got
    return {"id": f"{Path(rel).parent.name}-{Path(rel).stem}".replace("_", "-"), "title": title,
            "composer": composer, "corpus_path": rel, "collection": collection, "family": "cc0",
            "origin": origin, "key": key, "mode": mode, "melody": melody, "lyrics_all": lyrics,
            "fermatas": fermatas, "tempo_bpm": satb_tempo(score, mode), "lower_parts": lower, "bars": None,
            "rights": rights}


def chorale(rel: str) -> dict[str, Any] | None:
    """A Bach chorale with parts Soprano/Alto/Tenor/Bass and lyrics -> song dict (no audio yet), or None."""
    from music21 import corpus

    score = corpus.parse(rel)
    if len(score.parts) != 4:
        return None
    got = _satb(score, rel)
    if got is None:
        return None
    melody, lyrics, fermatas, lower, key, mode = got
    text = re.sub(r"^\W*\d+\W*", "", lyrics_text(lyrics, float("inf")))  # drop a verse number
    first_line = " ".join(re.split(r"[,;.:!?]", text)[0].split()[:6])
    bwv = Path(rel).stem.replace("bwv", "")
    return {"id": f"bach-bwv{bwv}", "title": f"{first_line} (BWV {bwv})", "composer": "J. S. Bach",
            "corpus_path": rel, "collection": "Bach chorales", "family": "bach", "origin": "Germany",
            "key": key, "mode": mode, "melody": melody, "lyrics_all": lyrics, "fermatas": fermatas,
            "tempo_bpm": satb_tempo(score, mode), "lower_parts": lower, "bars": None}


def essen_chunks(name: str) -> list[str]:
    text = (corpus_dir() / "essenFolksong" / f"{name}.abc").read_text(encoding="utf-8", errors="replace")
    return [c for c in re.split(r"\n(?=X:)", text) if c.startswith("X:")]


def essen_song(name: str, chunk: str) -> dict[str, Any] | None:
    """One Essen folk song (ABC text) -> song dict (no audio yet), or None when unsuitable."""
    from music21 import converter

    field = lambda tag: (re.findall(rf"^{tag}:\s*(.*)$", chunk, flags=re.M) or [""])[0].strip()  # noqa: E731
    try:
        score = converter.parseData(chunk, format="abc")
    except Exception:  # a malformed ABC entry: skip it
        return None
    part = score.parts[0] if hasattr(score, "parts") and len(score.parts) else score
    melody, _, _ = part_notes(part)
    if not melody or singable(melody):
        return None
    key, mode, tonic = key_name(score)
    code = (field("N") or field("X")).lower().replace(" ", "")
    title = re.sub(r"\s*\(\d+-\d+\)|,?\s*S\.\s*\d+.*$", "", field("T")).strip().title().replace("'S", "'s")
    title = title or f"Essen {code}"
    genre = field("R").rstrip("]")
    bars = [float(m.offset) for m in part.getElementsByClass("Measure")]
    target = 0.6 if "wiegen" in genre.lower() else 0.42
    return {"id": f"essen-{name}-{code}", "title": title, "composer": "traditional",
            "corpus_path": f"essenFolksong/{name}.abc#{code.upper()}", "collection": "Essen Folksong Collection",
            "family": "essen", "origin": field("O").split(",")[-1].strip() or "unknown", "genre": genre,
            "key": key, "mode": mode, "melody": melody, "lyrics_all": [], "fermatas": [],
            "tempo_bpm": _tempo(melody, mode, target), "lower_parts": None, "bars": bars or [0.0], "tonic": tonic}
