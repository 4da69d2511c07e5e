"""The singable-song catalogue: public-domain melodies from music21's corpus, rendered with FluidSynth.

A song row (collection kind "songs", see `manifest.py`) carries the melody as notes so that other code
(the singing recommender, synthetic singers) can re-render it in any register or check ranges:
    melody = [[midi, start_beats, dur_beats], ...]     beats = quarter notes, start 0 = first note
    tempo_bpm = quarter notes per minute;  audio files cover the first `excerpt_beats` beats.
Every song has one backing track (accompaniment only) and guide vocals (the melody alone on a voice-like
General MIDI patch) in two registers an octave apart; all files are aligned (same start, same length).

Sources (see assets/songs/CREDITS.md). Default (bundled) selection, all free of non-commercial terms:
Bach chorales (soprano = melody; alto, tenor, bass = backing) and two SATB songs whose music21 encodings carry
a CC0 rights field (Liliuokalani's "Aloha Oe", Johnson's "Lift Every Voice and Sing"). Opt-in only
(`include_noncommercial=True`, `esmr songs build --include-noncommercial`): Essen folk songs, whose encodings
music21 may distribute for NON-COMMERCIAL use only (monophonic; backing = a triad harmonisation of our own);
their rows say so (`noncommercial: true`, licence text) and so does CREDITS.md. Rendering: FluidSynth with
the FluidR3_GM soundfont (Debian `fluidsynth` + `fluid-soundfont-gm`), a small MIDI writer of our own.
"""
from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import EsmrError

Note = tuple[int, float, float]  # (midi, start_beats, dur_beats)

SOUNDFONT = Path(os.environ.get("ESMR_SOUNDFONT", "/usr/share/sounds/sf2/FluidR3_GM.sf2"))
# General MIDI programs (0-based, as sent in a MIDI program change) used here.
GM_NAMES: dict[int, str] = {
    0: "Acoustic Grand Piano", 19: "Church Organ", 24: "Acoustic Guitar (nylon)", 32: "Acoustic Bass",
    48: "String Ensemble 1", 21: "Accordion", 52: "Choir Aahs", 53: "Voice Oohs", 54: "Synth Voice",
}
VOICE_PROGRAMS = (52, 53, 54)
_PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


# ---- note names ---------------------------------------------------------------------------------------
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


# ---- MIDI writing and FluidSynth rendering ---------------------------------------------------------------
def _varlen(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def write_midi(path: str | Path, tracks: Sequence[tuple[int, Sequence[Note], int]], tempo_bpm: float,
               ppq: int = 480) -> None:
    """Write a format-1 Standard MIDI File. tracks: (program 0..127, notes, velocity 1..127), one channel each
    (channel 9, the drum channel, is skipped). Note times are in quarter-note beats."""
    if not 20 <= tempo_bpm <= 400:
        raise EsmrError(f"tempo {tempo_bpm} bpm is implausible; use 20..400")
    chunks = []
    tempo = struct.pack(">I", round(60_000_000 / tempo_bpm))[1:]
    chunks.append(b"\x00\xff\x51\x03" + tempo + b"\x00\xff\x2f\x00")
    for i, (program, notes, velocity) in enumerate(tracks):
        ch = i if i < 9 else i + 1
        events: list[tuple[int, int, bytes]] = []  # (tick, order: off before on, bytes)
        for midi, start, dur in notes:
            on, off = round(start * ppq), round((start + dur) * ppq)
            if off <= on or not 0 <= midi <= 127:
                continue
            events.append((on, 1, bytes([0x90 | ch, int(midi), int(velocity)])))
            events.append((off, 0, bytes([0x80 | ch, int(midi), 0])))
        events.sort(key=lambda e: (e[0], e[1]))
        data, last = bytearray(b"\x00" + bytes([0xC0 | ch, int(program)])), 0
        for tick, _, ev in events:
            data += _varlen(tick - last) + ev
            last = tick
        data += b"\x00\xff\x2f\x00"
        chunks.append(bytes(data))
    body = struct.pack(">4sIHHH", b"MThd", 6, 1, len(chunks), ppq)
    body += b"".join(struct.pack(">4sI", b"MTrk", len(c)) + c for c in chunks)
    Path(path).write_bytes(body)


def _check_fluidsynth() -> None:
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

    _check_fluidsynth()
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


def fit_transpose(row: dict[str, Any], low_midi: int, high_midi: int, *, octaves_only: bool = False) -> int:
    """Semitone shift that puts a song's melody range inside a singer's range [low_midi, high_midi], centred;
    when the range is too small, the shift that centres the melody in it. octaves_only: multiples of 12."""
    lo, hi = int(row["low_midi"]), int(row["high_midi"])
    shift = ((low_midi + high_midi) - (lo + hi)) / 2.0
    return int(12 * round(shift / 12)) if octaves_only else int(round(shift))


# ---- reading scores from music21's corpus -------------------------------------------------------------------
ENCODING_NOTE = ("music21's corpus/license.txt: each piece is out of copyright in the US or licensed for use, "
                 "encodings are distributed with the encoders' permission, and restrictions, where any, are stated "
                 "in licences embedded in the files or their directories; corpus/bach has no such licence file and "
                 "its .mxl files carry no <rights> element (MuseScore 2.1 / music21 5.3 exports, 2018), so no "
                 "non-commercial or other restriction is stated for them")
LICENCES = {
    "bach": ("public domain (J. S. Bach, 1685-1750); encoding: music21 corpus, no stated restriction",
             "Tune and harmonisation by J. S. Bach, public domain. MusicXML encoding from music21's corpus (" +
             ENCODING_NOTE + "). Audio rendered by this project with FluidR3_GM (MIT)."),
    "cc0": ("public domain (published before 1929); encoding: CC0 (Michael Scott Asato Cuthbert)",
            "Song published before 1929, public domain in the US. MusicXML encoding in music21's corpus by "
            "Michael Scott Asato Cuthbert, dedicated to the public domain (CC0) per the file's <rights> field. "
            "Audio rendered by this project with FluidR3_GM (MIT)."),
    "essen": ("public domain (traditional tune); encoding: Essen Folksong Collection, NON-COMMERCIAL use only",
              "Traditional tune, public domain. Encoding: Essen Folksong Collection (EsAC; H. Schaffrath, "
              "E. Dahlig-Turek), ABC by Seymour Schlien, distributed in music21's corpus with permission for "
              "non-commercial distribution and use (corpus/essenFolksong/license.txt). Harmonisation and audio "
              "made by this project with FluidR3_GM (MIT)."),
}
# Essen files and how many songs to take from each: lullabies, farewell/love/dance/night songs, ballads,
# Luxembourgish, Irish and Chinese (Han) songs, for varied keys, modes and moods.
NONCOMMERCIAL_FAMILIES = frozenset({"essen"})  # encodings whose licence forbids commercial use
ESSEN_QUOTAS = (("kinder0", 5), ("altdeu10", 4), ("boehme20", 4), ("erk20", 4), ("erk30", 4), ("fink0", 4),
                ("ballad10", 3), ("lux", 4), ("irl", 4), ("han1", 3), ("han2", 3))
N_CHORALES = 60
# SATB songs (besides Bach) whose embedded rights field puts the encoding in the public domain (checked at
# build time): (corpus path, title, composer, year, origin, collection).
CC0_SONGS = (("liliuokalani/aloha_oe.mxl", "Aloha Oe", "Liliuokalani", "Hawaii", "Liliuokalani"),
             ("johnson_j_r/lift_every_voice.mxl", "Lift Every Voice and Sing", "J. Rosamond Johnson (music), "
              "James Weldon Johnson (words)", "USA", "Johnson"))
MAX_RANGE, MIN_STEPWISE, MAX_LEAP = 19, 0.5, 12  # semitones; share of steps <= 2 semitones; semitones
SR, MAX_SECONDS, OPUS_LEVEL = 24000, 30.0, 0.96  # Opus needs 8/12/16/24/48 kHz; level 0.96 ~ 17 kbit/s
GUIDE_SETS = (((52, "high-choir-aahs"), (54, "low-synth-voice")), ((53, "high-voice-oohs"), (52, "low-choir-aahs")))
ESSEN_BACKINGS = (0, 24, 48, 21)  # piano, nylon guitar, strings, accordion
CHORALE_BACKINGS = (19, 48)  # church organ, strings


def _corpus_dir() -> Path:
    from music21 import corpus

    return Path(corpus.getComposer("bach")[0]).parent.parent


def _part_notes(part) -> tuple[list[Note], list[tuple[float, str, str]], list[float]]:
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


def _key_name(score) -> tuple[str, str, int]:
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


def _contour(melody: Sequence[Note]) -> tuple[int, ...]:
    return tuple(int(b[0] - a[0]) for a, b in zip(melody[:10], melody[1:11]))


def _tempo(melody: Sequence[Note], mode: str, target_s: float) -> int:
    """Quarter-note bpm that makes the median note last about `target_s` seconds (minor: 10% slower)."""
    median = float(np.median([d for _, _, d in melody]))
    bpm = 60.0 * median / target_s * (0.9 if mode == "minor" else 1.0)
    return int(np.clip(round(bpm), 56, 144))


def _excerpt_end(melody: Sequence[Note], fermatas: Sequence[float], limit: float) -> float:
    """End (beats) of the last phrase finishing before `limit` beats: a rest, a long note or a fermata."""
    ends = [s + d for _, s, d in melody]
    if ends[-1] <= limit:
        return ends[-1]
    median = float(np.median([d for _, _, d in melody]))
    phrase = [e for i, e in enumerate(ends) if e <= limit and (
        e in fermatas or melody[i][2] >= 1.5 * median or (i + 1 < len(melody) and melody[i + 1][1] > e + 1e-6))]
    good = [e for e in phrase if e >= 0.4 * limit]
    return max(good) if good else max(e for e in ends if e <= limit)


def _lyrics_text(lyrics: Sequence[tuple[float, str, str]], end: float) -> str:
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
    melody, lyrics, fermatas = _part_notes(score.parts[0])
    if not lyrics or singable(melody):
        return None
    key, mode, _ = _key_name(score)
    return melody, lyrics, fermatas, [_part_notes(p)[0] for p in score.parts[1:4]], key, mode


def _cc0_song(rel: str, title: str, composer: str, origin: str, collection: str) -> dict[str, Any] | None:
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


def _chorale(rel: str) -> dict[str, Any] | None:
    """A Bach chorale with parts Soprano/Alto/Tenor/Bass and lyrics -> song dict (no audio yet), or None."""
    from music21 import corpus

    score = corpus.parse(rel)
    if len(score.parts) != 4:
        return None
    got = _satb(score, rel)
    if got is None:
        return None
    melody, lyrics, fermatas, lower, key, mode = got
    text = re.sub(r"^\W*\d+\W*", "", _lyrics_text(lyrics, float("inf")))  # drop a verse number
    first_line = " ".join(re.split(r"[,;.:!?]", text)[0].split()[:6])
    bwv = Path(rel).stem.replace("bwv", "")
    return {"id": f"bach-bwv{bwv}", "title": f"{first_line} (BWV {bwv})", "composer": "J. S. Bach",
            "corpus_path": rel, "collection": "Bach chorales", "family": "bach", "origin": "Germany",
            "key": key, "mode": mode, "melody": melody, "lyrics_all": lyrics, "fermatas": fermatas,
            "tempo_bpm": satb_tempo(score, mode), "lower_parts": lower, "bars": None}


def _essen_chunks(name: str) -> list[str]:
    text = (_corpus_dir() / "essenFolksong" / f"{name}.abc").read_text(encoding="utf-8", errors="replace")
    return [c for c in re.split(r"\n(?=X:)", text) if c.startswith("X:")]


def _essen(name: str, chunk: str) -> dict[str, Any] | None:
    """One Essen folk song (ABC text) -> song dict (no audio yet), or None when unsuitable."""
    from music21 import converter

    field = lambda tag: (re.findall(rf"^{tag}:\s*(.*)$", chunk, flags=re.M) or [""])[0].strip()  # noqa: E731
    try:
        score = converter.parseData(chunk, format="abc")
    except Exception:  # a malformed ABC entry: skip it
        return None
    part = score.parts[0] if hasattr(score, "parts") and len(score.parts) else score
    melody, _, _ = _part_notes(part)
    if not melody or singable(melody):
        return None
    key, mode, tonic = _key_name(score)
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


# ---- selection, building, summary ---------------------------------------------------------------------------
def essen_songs(limit: int | None = None) -> list[dict[str, Any]]:
    """NON-COMMERCIAL material: Essen folk songs per ESSEN_QUOTAS, in a fixed order (no dedup across sets).
    Only reached through select_songs(include_noncommercial=True) or directly."""
    out: list[dict[str, Any]] = []
    limit = limit if limit is not None else 10**9
    for name, quota in ESSEN_QUOTAS:
        chunks, got = _essen_chunks(name), 0
        step = max(1, len(chunks) // (quota * 3))
        for j in sorted(range(len(chunks)), key=lambda j: (j % step, j)):
            if got >= quota or len(out) >= limit:
                break
            song = _essen(name, chunks[j])
            if song is not None:
                out.append(song)
                got += 1
    return out


def select_songs(limit: int | None = None, *, include_noncommercial: bool = False) -> list[dict[str, Any]]:
    """The catalogue's songs in a fixed order: N_CHORALES Bach chorales, the CC0_SONGS, and only when
    include_noncommercial=True the ESSEN_QUOTAS folk songs (encodings licensed for non-commercial use only).
    Deterministic: files are visited in a fixed spread-out order; repeated tunes (same title or same
    opening contour) are skipped. limit: stop after this many songs (tests, quick builds)."""
    import warnings

    warnings.filterwarnings("ignore", module="music21")
    limit = limit if limit is not None else 10**9
    chosen: list[dict[str, Any]] = []
    titles, contours = set(), set()

    def take(song: dict[str, Any] | None) -> bool:
        if song is None or song["title"].lower() in titles or _contour(song["melody"]) in contours:
            return False
        titles.add(song["title"].lower())
        contours.add(_contour(song["melody"]))
        chosen.append(song)
        return True

    bach = sorted((p.name for p in (_corpus_dir() / "bach").glob("bwv*.mxl") if "-" not in p.name),
                  key=lambda n: [int(x) for x in re.findall(r"\d+", n)])
    count = 0
    for name in sorted(bach, key=lambda n: (bach.index(n) % 7, bach.index(n))):
        if count >= N_CHORALES or len(chosen) >= limit:
            break
        count += take(_chorale(f"bach/{name}"))
    for spec in CC0_SONGS:
        if len(chosen) >= limit:
            break
        take(_cc0_song(*spec))
    if include_noncommercial:
        for song in essen_songs():
            if len(chosen) >= limit:
                break
            take(song)
    return chosen[:limit]


def _clip_notes(notes: Sequence[Note], end: float) -> list[Note]:
    return [(m, s, min(d, end - s)) for m, s, d in notes if s < end]


def _write_audio(path: Path, y: np.ndarray, sr: int) -> None:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), y, sr, format="OGG", subtype="OPUS", compression_level=OPUS_LEVEL)


def render_song(song: dict[str, Any], index: int, out: Path, *, sr: int = SR,
                max_seconds: float = MAX_SECONDS) -> dict[str, Any]:
    """Render one selected song (backing + two guides) into out/audio and return its manifest row."""
    from ..emotion import mood_from_va

    bpm, melody = float(song["tempo_bpm"]), song["melody"]
    end = _excerpt_end(melody, song["fermatas"], max_seconds * bpm / 60.0)
    length_s = end * 60.0 / bpm + 1.0
    if song["lower_parts"] is not None:
        program = CHORALE_BACKINGS[index % len(CHORALE_BACKINGS)]
        tracks = [(program, _clip_notes(p, end), 58) for p in song["lower_parts"]]
    else:
        program = ESSEN_BACKINGS[index % len(ESSEN_BACKINGS)]
        tracks = harmonise(melody, song["tonic"], song["mode"], song["bars"], end, program)
    sid = song["id"]
    _write_audio(out / "audio" / f"{sid}-backing.ogg", render_tracks(tracks, bpm, sr, length_s=length_s), sr)
    lo, hi = melody_range(melody)
    high_shift = 12 * int(round((69 - (lo + hi) / 2) / 12))  # whole octaves: the key stays the same
    guides = []
    for (prog, voice), shift in zip(GUIDE_SETS[index % len(GUIDE_SETS)], (high_shift, high_shift - 12)):
        y = render_melody(_clip_notes(melody, end), prog, shift, sr, tempo_bpm=bpm, tail_s=1.0)
        y = np.pad(y, (0, max(0, int(length_s * sr) - len(y))))[: int(length_s * sr)]
        rel = f"audio/{sid}-{voice.split('-')[0]}.ogg"
        _write_audio(out / rel, y, sr)
        guides.append({"voice": voice, "register": voice.split("-")[0], "patch": GM_NAMES[prog], "program": prog,
                       "transpose_semitones": shift, "low_note": midi_to_name(lo + shift),
                       "high_note": midi_to_name(hi + shift), "path": rel})
    valence = 0.72 if song["mode"] == "major" else 0.32  # heuristic mood tag: mode -> valence, tempo -> arousal
    lic, detail = LICENCES[song["family"]]
    if song.get("rights"):
        detail += f" Rights field of the encoding: \"{song['rights']}\"."
    return {
        "id": sid, "title": song["title"], "composer": song["composer"], "origin": song["origin"],
        "source": f"music21 corpus: {song['corpus_path']} ({song['collection']})", "corpus_path": song["corpus_path"],
        "collection": song["collection"], "licence": lic, "licence_detail": detail,
        "noncommercial": song["family"] in NONCOMMERCIAL_FAMILIES,
        "key": song["key"], "mode": song["mode"], "tempo_bpm": bpm,
        "mood": mood_from_va(valence, float(np.clip((bpm - 50) / 90, 0, 1))),
        "low_note": midi_to_name(lo), "high_note": midi_to_name(hi), "low_midi": lo, "high_midi": hi,
        "lyrics": _lyrics_text(song["lyrics_all"], end),
        "melody": [[m, round(s, 4), round(d, 4)] for m, s, d in melody],
        "excerpt_beats": round(end, 4), "duration_s": round(length_s, 3),
        "full_duration_s": round(max(s + d for _, s, d in melody) * 60 / bpm, 2),
        "backing": f"audio/{sid}-backing.ogg", "backing_instrument": GM_NAMES[program], "guides": guides,
    }


def write_credits(root: Path, rows: Sequence[dict[str, Any]]) -> None:
    """CREDITS.md: sources and licences of every row; non-commercial rows get a warning and a marked line."""
    nc = [r for r in rows if r.get("noncommercial")]
    lines = [
        "# Song catalogue credits", "",
        "Every melody is a public-domain tune taken from the corpus bundled with music21 (BSD-3-Clause software;",
        "the corpus files keep their own terms, see below). Backing tracks and guide vocals were made by this",
        "project (`esmr songs build`) with FluidSynth and the FluidR3_GM soundfont (Frank Wen, MIT licence,",
        "Debian package fluid-soundfont-gm; see /usr/share/doc/fluid-soundfont-gm/copyright).", "",
    ]
    if nc:
        lines += [f"**WARNING: this catalogue includes {len(nc)} songs whose encodings are licensed for "
                  "NON-COMMERCIAL use only (marked NON-COMMERCIAL below). It was built with "
                  "`--include-noncommercial` and must not be used or redistributed commercially.**", ""]
    else:
        lines += ["No song here carries a non-commercial restriction (built without `--include-noncommercial`).", ""]
    for family, label in (("bach", "Bach chorales"), ("cc0", "Other songs (CC0 encodings)"),
                          ("essen", "Essen folk songs (NON-COMMERCIAL)")):
        if any(r["licence"] == LICENCES[family][0] for r in rows):
            lines.append(f"- {label}: " + LICENCES[family][1])
    lines += ["", "| id | title | source in music21's corpus | licence |", "|---|---|---|---|"]
    lines += [f"| {r['id']} | {r['title']} | {r['corpus_path']} | "
              f"{'NON-COMMERCIAL: ' if r.get('noncommercial') else ''}{r['licence']} |" for r in rows]
    (root / "CREDITS.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def build_catalogue(out: str | Path, *, limit: int | None = None, max_seconds: float = MAX_SECONDS,
                    sr: int = SR, include_noncommercial: bool = False, log=print):
    """Select songs, render them and write the collection (manifest, collection.json, CREDITS.md) to `out`.
    Audio files of songs no longer selected are removed. include_noncommercial: add the Essen folk songs
    (non-commercial licence; refused for the bundled folder assets/songs). Returns the saved Collection."""
    from ..paths import default_songs_dir
    from .manifest import new_collection

    _check_fluidsynth()
    out = Path(out)
    if include_noncommercial and out.resolve() == default_songs_dir().resolve():
        raise EsmrError(f"non-commercial songs must stay out of the bundled catalogue {out}; "
                        "pass another --out folder with --include-noncommercial")
    songs = select_songs(limit, include_noncommercial=include_noncommercial)
    rows = []
    for i, song in enumerate(songs):
        rows.append(render_song(song, i, out, sr=sr, max_seconds=max_seconds))
        log(f"[{i + 1}/{len(songs)}] {song['id']}: {song['title']} ({song['key']}, {song['tempo_bpm']} bpm)")
    keep = {r["backing"] for r in rows} | {g["path"] for r in rows for g in r["guides"]}
    for f in (out / "audio").glob("*"):
        if f"audio/{f.name}" not in keep:
            f.unlink()
    n_nc = sum(bool(r["noncommercial"]) for r in rows)
    name = "singable public-domain songs" + (" (INCLUDES NON-COMMERCIAL-ONLY songs)" if n_nc else "")
    coll = new_collection(out, "songs", name=name, sample_rate=sr, max_seconds=max_seconds,
                          soundfont="FluidR3_GM (MIT)", builder="esmr songs build", noncommercial_songs=n_nc)
    coll.rows = rows
    coll.save()
    write_credits(out, rows)
    return coll


def catalogue_info(root: str | Path) -> dict[str, Any]:
    """Summary of a song collection: songs, distinct guide voices, size (MB, all files), melody range."""
    from .manifest import load_collection

    root = Path(root)
    try:
        coll = load_collection(root, "songs")
    except (FileNotFoundError, ValueError) as exc:
        raise EsmrError(f"{exc}; build one with: esmr songs build --out {root}") from None
    size = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
    lows = [int(r["low_midi"]) for r in coll.rows]
    highs = [int(r["high_midi"]) for r in coll.rows]
    return {"songs": len(coll), "voices": len({g["voice"] for r in coll.rows for g in r["guides"]}),
            "size_mb": round(size / 1e6, 2),
            "lowest_note": midi_to_name(min(lows)) if lows else None,
            "highest_note": midi_to_name(max(highs)) if highs else None,
            "keys": len({r["key"] for r in coll.rows}),
            "minor": sum(r.get("mode") == "minor" for r in coll.rows),
            "with_lyrics": sum(bool(r.get("lyrics")) for r in coll.rows),
            "noncommercial": sum(bool(r.get("noncommercial")) for r in coll.rows),
            "duration_s": round(sum(float(r.get("duration_s", 0)) for r in coll.rows), 1)}
