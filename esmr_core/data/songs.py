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
their rows say so (`noncommercial: true`, licence text) and so does CREDITS.md.

The pieces, one module each: notes.py (note names, ranges), midi.py (MIDI writer), render.py (FluidSynth
rendering), scores.py (reading music21's corpus), harmony.py (triad accompaniment); this module selects the
songs, renders them and writes the collection.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..emotion import mood_from_va
from ..errors import EsmrError
from ..files import atomic_write, atomic_write_text
from ..paths import default_songs_dir
from .harmony import harmonise
from .manifest import load_collection, new_collection
from .notes import Note, melody_range, midi_to_name
from .render import GM_NAMES, check_fluidsynth, render_melody, render_tracks
from .scores import chorale, cc0_song, contour, corpus_dir, essen_chunks, essen_song, lyrics_text

log = logging.getLogger(__name__)

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
SR, MAX_SECONDS, OPUS_LEVEL = 24000, 30.0, 0.96  # Opus needs 8/12/16/24/48 kHz; level 0.96 ~ 17 kbit/s
GUIDE_SETS = (((52, "high-choir-aahs"), (54, "low-synth-voice")), ((53, "high-voice-oohs"), (52, "low-choir-aahs")))
ESSEN_BACKINGS = (0, 24, 48, 21)  # piano, nylon guitar, strings, accordion
CHORALE_BACKINGS = (19, 48)  # church organ, strings


def essen_songs(limit: int | None = None) -> list[dict[str, Any]]:
    """NON-COMMERCIAL material: Essen folk songs per ESSEN_QUOTAS, in a fixed order (no dedup across sets).
    Only reached through select_songs(include_noncommercial=True) or directly."""
    out: list[dict[str, Any]] = []
    limit = limit if limit is not None else 10**9
    for name, quota in ESSEN_QUOTAS:
        chunks, got = essen_chunks(name), 0
        step = max(1, len(chunks) // (quota * 3))
        for j in sorted(range(len(chunks)), key=lambda j: (j % step, j)):
            if got >= quota or len(out) >= limit:
                break
            song = essen_song(name, chunks[j])
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
        if song is None or song["title"].lower() in titles or contour(song["melody"]) in contours:
            return False
        titles.add(song["title"].lower())
        contours.add(contour(song["melody"]))
        chosen.append(song)
        return True

    bach = sorted((p.name for p in (corpus_dir() / "bach").glob("bwv*.mxl") if "-" not in p.name),
                  key=lambda n: [int(x) for x in re.findall(r"\d+", n)])
    count = 0
    for name in sorted(bach, key=lambda n: (bach.index(n) % 7, bach.index(n))):
        if count >= N_CHORALES or len(chosen) >= limit:
            break
        count += take(chorale(f"bach/{name}"))
    for spec in CC0_SONGS:
        if len(chosen) >= limit:
            break
        take(cc0_song(*spec))
    if include_noncommercial:
        for song in essen_songs():
            if len(chosen) >= limit:
                break
            take(song)
    return chosen[:limit]

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



def _clip_notes(notes: Sequence[Note], end: float) -> list[Note]:
    return [(m, s, min(d, end - s)) for m, s, d in notes if s < end]


def _write_audio(path: Path, y: np.ndarray, sr: int) -> None:
    import soundfile as sf

    atomic_write(path, lambda tmp: sf.write(tmp, y, sr, format="OGG", subtype="OPUS",
                                            compression_level=OPUS_LEVEL))


def render_song(song: dict[str, Any], index: int, out: Path, *, sr: int = SR,
                max_seconds: float = MAX_SECONDS) -> dict[str, Any]:
    """Render one selected song (backing + two guides) into out/audio and return its manifest row."""
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
        "lyrics": lyrics_text(song["lyrics_all"], end),
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
    atomic_write_text(root / "CREDITS.md", "\n".join(lines) + "\n")


def build_catalogue(out: str | Path, *, limit: int | None = None, max_seconds: float = MAX_SECONDS,
                    sr: int = SR, include_noncommercial: bool = False):
    """Select songs, render them and write the collection (manifest, collection.json, CREDITS.md) to `out`.
    Audio files of songs no longer selected are removed. include_noncommercial: add the Essen folk songs
    (non-commercial licence; refused for the bundled folder assets/songs). Returns the saved Collection."""
    check_fluidsynth()
    out = Path(out)
    if include_noncommercial and out.resolve() == default_songs_dir().resolve():
        raise EsmrError(f"non-commercial songs must stay out of the bundled catalogue {out}; "
                        "pass another --out folder with --include-noncommercial")
    songs = select_songs(limit, include_noncommercial=include_noncommercial)
    rows = []
    for i, song in enumerate(songs):
        rows.append(render_song(song, i, out, sr=sr, max_seconds=max_seconds))
        log.info(f"[{i + 1}/{len(songs)}] {song['id']}: {song['title']} ({song['key']}, {song['tempo_bpm']} bpm)")
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
    root = Path(root)
    try:
        coll = load_collection(root, "songs")
    except (EsmrError, FileNotFoundError, ValueError) as exc:
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
